public import Foundation
public import Logging
public import RelaisCore
import RelaisSQLite

/// A salesperson's local replica: a plain SQLite file that works offline and syncs with the hub.
///
/// Each collection of the schema is a plain table (`customers`, `contacts`, `interactions`) with one
/// column per field, so any SQLite tool reads it, and an edit made with plain SQL is captured and
/// synced exactly like one made through this API.
///
/// ```swift
/// let replica = try Replica.open(path: "claire.relais")
/// let id = try await replica.add("customers", [
///     "name": .text("Café Müller"), "territory": .text("north"), "status": .text("prospect"),
/// ])
/// try await replica.set("customers", id: id, ["phone": .text("+33 1 23 45 67 89")])
/// let customer = try await replica.get("customers", id: id)
/// print(try await replica.status().pending)   // 1: the two edits coalesced into one write
/// ```
///
/// Every edit commits with its capture in one SQLite transaction (WAL, `synchronous=FULL`): once a
/// call returns, the edit survives a power cut. See <doc:Durability>.
///
/// `Replica` is an actor: it owns the file's one writing connection in this process. Another
/// process (the `sqlite3` shell, the `relais` tool) may open the same file at the same time; SQLite
/// serialises the writers.
public actor Replica {
    let store: ReplicaStore
    /// The file's path.
    public nonisolated let path: String
    private nonisolated let currentSchema: PublishedSchema

    /// The data schema the file runs: the program's, or a newer one the hub sent (docs/CRM.md
    /// "Changing the schema"); it changes when a sync migrates the file.
    public nonisolated var schema: Schema { currentSchema.schema }

    private init(store: ReplicaStore, path: String) {
        self.store = store
        self.currentSchema = store.published
        self.path = path
    }

    /// Migrates the file to a schema the hub sent (``ReplicaStore/adopt(_:)``).
    @discardableResult
    func adopt(_ definition: SchemaDefinition) throws -> [SchemaChange] {
        try store.adopt(definition)
    }

    /// Opens a replica file, creating it (and its tables) when `create` is true and it does not exist.
    /// The file, its write-ahead log and any folder made for it are its owner's alone
    /// (``ReplicaFiles``).
    ///
    /// An existing file made under an older schema is migrated (new tables and columns added, nothing
    /// removed); a file made by a newer program is refused with ``ReplicaError/Code/schemaTooNew``.
    ///
    /// - Throws: ``ReplicaError`` (``ReplicaError/Code/badFile`` when the file does not exist and
    ///   `create` is false).
    public static func open(
        path: String, schema: Schema = .crm, create: Bool = true, configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "relais.replica")
    ) throws -> Replica {
        if !create, !FileManager.default.fileExists(atPath: path) {
            throw ReplicaError(.badFile, "no replica file at \(path): run `relais enroll` first")
        }
        try ReplicaFiles.prepare(path)
        let store = try ReplicaStore(path: path, schema: schema, configuration: configuration, logger: logger)
        return Replica(store: store, path: path)
    }

    /// Runs `body` with the storage engine (for the sync engine and tests).
    func withStore<T>(_ body: (ReplicaStore) throws -> T) throws -> T {
        try body(store)
    }

    // MARK: - Edits

    /// Adds a record and returns its new id (a lowercase UUID made here: offline creation never collides).
    ///
    /// - Throws: ``ReplicaError/Code/invalid`` when a value does not fit the schema, a required field is
    ///   missing, or (for a rep) a field is written by the office only. Nothing is written then.
    @discardableResult
    public func add(_ collection: String, _ values: [String: Value]) throws -> String {
        let id = store.configuration.makeID().uuidString.lowercased()
        try add(collection, id: id, values)
        return id
    }

    /// Adds a record with a given id (a UUID).
    public func add(_ collection: String, id: String, _ values: [String: Value]) throws {
        let schema = try store.collection(collection)
        guard FieldType.isUUID(id) else { throw ReplicaError.invalid(.invalidID(collection, id)) }
        let id = id.lowercased()
        let checked = try check(schema, values, creating: true)
        try store.write {
            if try store.readRaw(schema, id: id) != nil {
                throw ReplicaError(.alreadyExists, "\(collection) \(id) already exists")
            }
            try store.writeRow(schema, id: id, values: checked)
            try store.stampCaptured()
        }
    }

    /// Sets some fields of a record (`.null` clears one).
    ///
    /// - Throws: ``ReplicaError/Code/notFound`` when the record is not on this replica.
    public func set(_ collection: String, id: String, _ values: [String: Value]) throws {
        let schema = try store.collection(collection)
        let id = id.lowercased()
        let checked = try check(schema, values, creating: false)
        guard !checked.isEmpty else { return }
        try store.write {
            guard try store.readRaw(schema, id: id) != nil else {
                throw ReplicaError(.notFound, "no \(collection) record \(id)")
            }
            let names = checked.keys.sorted()
            let statement = try store.db.prepare(
                "UPDATE \(ReplicaSQL.quote(collection)) SET "
                    + names.map { "\(ReplicaSQL.quote($0)) = ?" }.joined(separator: ", ") + " WHERE id = ?")
            for (i, name) in names.enumerated() {
                try ColumnCodec.bind(checked[name]!, to: statement, at: Int32(i + 1))
            }
            try statement.bind(text: id, at: Int32(names.count + 1))
            try statement.execute()
            try store.stampCaptured()
        }
    }

    /// Deletes a record.
    ///
    /// - Throws: ``ReplicaError/Code/notFound`` when the record is not on this replica.
    public func delete(_ collection: String, id: String) throws {
        let schema = try store.collection(collection)
        let id = id.lowercased()
        try store.write {
            guard try store.readRaw(schema, id: id) != nil else {
                throw ReplicaError(.notFound, "no \(collection) record \(id)")
            }
            try store.writeRow(schema, id: id, values: nil)
            try store.stampCaptured()
        }
    }

    /// Checks values against the schema, returning them in canonical form.
    private func check(_ collection: CollectionSchema, _ values: [String: Value], creating: Bool) throws
        -> [String: Value]
    {
        let role = try store.stateText("role") ?? ""
        var checked: [String: Value] = [:]
        do {
            for (name, value) in values {
                guard let field = collection.field(name) else {
                    throw ValidationError.unknownField(collection.name, name)
                }
                let canonical = try field.type.validate(value, collection: collection.name, field: name)
                if field.required, canonical.isNull { throw ValidationError.requiredMissing(collection.name, name) }
                checked[name] = canonical
                if field.hubOnly, role == "rep", !(creating && canonical.isNull) {
                    throw ReplicaError(
                        .invalid, "\(collection.name).\(name): written by the office only (hub_only_field)")
                }
            }
            if creating {
                for field in collection.fields where field.required && checked[field.name] == nil {
                    throw ValidationError.requiredMissing(collection.name, field.name)
                }
            }
        } catch let error as ValidationError {
            throw ReplicaError.invalid(error)
        }
        return checked
    }

    // MARK: - Reads

    /// The record `id` of `collection`, or nil when this replica does not hold it.
    public func get(_ collection: String, id: String) throws -> Record? {
        let schema = try store.collection(collection)
        guard let values = try store.readRow(schema, id: id.lowercased()) else { return nil }
        return Record(collection: collection, id: id.lowercased(), values: values)
    }

    /// The records of `collection` whose fields equal the given values, sorted by id.
    public func list(_ collection: String, where filter: [String: Value] = [:]) throws -> [Record] {
        let schema = try store.collection(collection)
        var conditions: [String] = []
        var arguments: [SQLiteValue] = []
        for name in filter.keys.sorted() {
            guard let field = schema.field(name) else {
                throw ReplicaError.invalid(.unknownField(collection, name))
            }
            let value = try validated(field, filter[name]!, collection: collection)
            conditions.append("\(ReplicaSQL.quote(name)) IS ?")
            arguments.append(ColumnCodec.column(value))
        }
        let columns = schema.fields.map { ReplicaSQL.quote($0.name) }.joined(separator: ", ")
        var sql = "SELECT id, \(columns) FROM \(ReplicaSQL.quote(collection))"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY id"
        var records: [Record] = []
        try store.db.query(sql, arguments) { row in
            var values: [String: Value] = [:]
            for (i, field) in schema.fields.enumerated() {
                values[field.name] =
                    (try? ColumnCodec.value(row.value(at: Int32(i + 1)), field: field, collection: collection)) ?? .null
            }
            records.append(Record(collection: collection, id: row.text(at: 0) ?? "", values: values))
        }
        return records
    }

    private func validated(_ field: FieldSchema, _ value: Value, collection: String) throws -> Value {
        do {
            return try field.type.validate(value, collection: collection, field: field.name)
        } catch {
            throw ReplicaError.invalid(error)
        }
    }

    /// The number of pending writes (raw SQL edits included: they are stamped first).
    public func pendingCount() throws -> Int {
        try store.write {
            Int(try store.db.scalar("SELECT count(*) FROM _relais_pending")?.int64Value ?? 0)
        }
    }

    /// The writes that will never be applied, newest last, with their code and reason.
    public func rejected() throws -> [RejectedWrite] {
        var result: [RejectedWrite] = []
        try store.write {
            try store.db.query(
                "SELECT id, collection, record_id, is_delete, fields, code, reason, source, rejected_at FROM _relais_rejected ORDER BY id"
            ) { row in
                result.append(
                    RejectedWrite(
                        id: row.int64(at: 0), collection: row.text(at: 1) ?? "", recordID: row.text(at: 2) ?? "",
                        isDelete: row.int64(at: 3) != 0, values: StorageCodec.displayColumns(row.text(at: 4) ?? "{}"),
                        code: row.text(at: 5) ?? "", reason: row.text(at: 6) ?? "", source: row.text(at: 7) ?? "",
                        rejectedAt: row.text(at: 8) ?? ""))
            }
        }
        return result
    }

    /// The conflict reports the hub raised on this replica's writes, as the push answers named them.
    public func conflicts() throws -> [SeenConflict] {
        var result: [SeenConflict] = []
        try store.db.query(
            "SELECT conflict_id, collection, record_id, dot_replica, dot_counter, seen_at FROM _relais_conflicts ORDER BY seen_at, conflict_id"
        ) { row in
            result.append(
                SeenConflict(
                    id: row.text(at: 0) ?? "", collection: row.text(at: 1) ?? "", recordID: row.text(at: 2) ?? "",
                    dot: Dot(replica: ReplicaID(UInt32(row.int64(at: 3))), counter: UInt64(row.int64(at: 4))),
                    seenAt: row.text(at: 5) ?? ""))
        }
        return result
    }

    /// Where the replica stands. Stamps raw SQL edits first, so `pending` counts them.
    public func status() throws -> Status {
        try store.write {
            let db = store.db
            let territories =
                (try store.stateText("territories")).flatMap { ColumnCodec.parseJSONArray($0) } ?? []
            return Status(
                replica: UInt32(try store.stateInt("replica") ?? 0),
                epoch: UInt32(try store.stateInt("epoch") ?? 0),
                pending: Int(try db.scalar("SELECT count(*) FROM _relais_pending")?.int64Value ?? 0),
                inFlight: Int(
                    try db.scalar("SELECT count(*) FROM _relais_pending WHERE in_flight = 1")?.int64Value ?? 0),
                rejected: Int(try db.scalar("SELECT count(*) FROM _relais_rejected")?.int64Value ?? 0),
                conflicts: Int(try db.scalar("SELECT count(*) FROM _relais_conflicts")?.int64Value ?? 0),
                cursor: try store.cursor,
                lastSyncMillis: try store.stateInt("last_sync").map { UInt64($0) },
                hub: try store.stateText("hub"),
                user: try store.stateText("user"),
                role: try store.stateText("role"),
                territories: territories,
                counter: try store.storedCounter,
                schemaVersion: try store.stateInt("schema_version") ?? schema.version,
                bootstrapping: try store.stateInt("bootstrapping") == 1,
                tokenExpiresMillis: try store.stateInt("token_expires_at").flatMap { $0 > 0 ? UInt64($0) : nil },
                hasToken: store.tokenFile.token(for: UInt32(try store.stateInt("replica") ?? 0)) != nil)
        }
    }

    /// The device identity, or nil before enrollment.
    public func identity() throws -> Identity? {
        guard let hub = try store.stateText("hub") else { return nil }
        let replica = UInt32(try store.stateInt("replica") ?? 0)
        return Identity(
            hub: hub, replica: replica, epoch: UInt32(try store.stateInt("epoch") ?? 0),
            token: store.tokenFile.token(for: replica) ?? "", user: try store.stateText("user") ?? "",
            role: try store.stateText("role") ?? "",
            territories: (try store.stateText("territories")).flatMap { ColumnCodec.parseJSONArray($0) } ?? [])
    }

    /// Stores the identity the hub gave at enrollment: the token in the token file (``TokenFile``),
    /// the rest in the replica file.
    public func setIdentity(_ identity: Identity) throws {
        try store.tokenFile.write(replica: identity.replica, token: identity.token)
        try store.write {
            try store.setState("hub", .text(identity.hub))
            try store.setState("replica", .integer(Int64(identity.replica)))
            try store.setState("epoch", .integer(Int64(identity.epoch)))
            try store.setState("user", .text(identity.user))
            try store.setState("role", .text(identity.role))
            try store.setState("territories", .text(ColumnCodec.jsonArray(identity.territories)))
        }
    }

    /// How this laptop reaches its hub (``HubSecurity``), as `relais enroll` stored it.
    public func hubSecurity() throws -> HubSecurity {
        HubSecurity(
            caFile: try store.stateText("hub_ca_file"), allowInsecure: try store.stateInt("hub_insecure") == 1)
    }

    /// Stores how this laptop reaches its hub.
    public func setHubSecurity(_ security: HubSecurity) throws {
        try store.write {
            if let caFile = security.caFile {
                try store.setState("hub_ca_file", .text(caFile))
            } else {
                try store.setState("hub_ca_file", .null)
            }
            try store.setState("hub_insecure", .integer(security.allowInsecure ? 1 : 0))
        }
    }

    /// Stores the hub epoch received at enrollment (docs/SYNC.md "A restored hub").
    func rememberHubEpoch(_ epoch: String) throws {
        try store.write { try store.rememberHubEpoch(epoch) }
    }

    /// Every record of every collection, as the canonical export (`relais export --json`), which
    /// compares byte for byte with the hub's `relais-hub export --user`.
    public func export(pretty: Bool = true) throws -> Data {
        var records: [String: [CanonicalExport.Record]] = [:]
        for collection in schema.collectionNames {
            records[collection] = try list(collection).map {
                CanonicalExport.Record(id: $0.id, values: $0.values.filter { !$0.value.isNull })
            }
        }
        return try CanonicalExport.json(schema: schema, records: records, pretty: pretty)
    }
}
