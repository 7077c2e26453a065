import Foundation
import Logging
import RelaisCore
import RelaisSQLite
import Synchronization

/// The replica's storage engine: one SQLite connection (the file's only writer in this process) and
/// every read and write of the replica file. Not `Sendable`: ``Replica`` (an actor) owns one.
///
/// Every method that writes runs inside ``write(_:)``, which opens an immediate transaction and stamps
/// the edits made with plain SQL since the last one before doing anything else.
final class ReplicaStore {
    let db: Connection
    /// The data schema the file is laid out for: the program's, or a newer one received from the hub
    /// (``adopt(_:)``), kept in the file. Published to ``published`` whenever it changes.
    private(set) var schema: Schema {
        didSet { published.set(schema) }
    }
    /// ``schema`` as ``Replica`` reads it from any thread.
    let published: PublishedSchema
    /// The schema this program was built with (or asked for).
    private let programSchema: Schema
    let configuration: Replica.Configuration
    let logger: Logger
    /// Where the device token is kept, beside the file (``TokenFile``).
    let tokenFile: TokenFile

    /// Copies of the counter and HLC state, read again at the start of every write transaction
    /// (``catchUp()``) and written back in the same transaction.
    private(set) var counter: UInt64 = 0
    private var clock = HybridLogicalClock()
    private var relaxedSync = false

    init(path: String, schema: Schema, configuration: Replica.Configuration, logger: Logger) throws {
        self.schema = schema
        self.published = PublishedSchema(schema)
        self.programSchema = schema
        self.configuration = configuration
        self.logger = logger
        self.tokenFile = TokenFile(replica: path)
        do {
            db = try Connection(path: path)
            try db.configureForDurability(journalMode: .wal, synchronous: .full)
            try db.execute(Self.tuning)
            if let maxFileBytes = configuration.maxFileBytes {
                let pageSize = try db.scalar("PRAGMA page_size")?.int64Value ?? 4096
                try db.execute("PRAGMA max_page_count = \(max(1, maxFileBytes / max(1, pageSize)))")
            }
        } catch {
            throw ReplicaError(.storage, "cannot open the replica file \(path): \(error)")
        }
        try migrate(requested: schema)
        try moveTokenOut()
        try loadClocks()
    }

    /// Moves the token an older program kept in the replica file into the token file, then erases it
    /// from the replica file (its page overwritten, the log truncated).
    private func moveTokenOut() throws {
        guard let token = try stateText("token") else { return }
        if let replica = try stateInt("replica"), tokenFile.token(for: UInt32(replica)) != token {
            try tokenFile.write(replica: UInt32(replica), token: token)
        }
        try db.execute("PRAGMA secure_delete = ON")
        try db.transaction(.immediate) { try db.execute("DELETE FROM _relais_state WHERE key = 'token'") }
        try db.execute("PRAGMA secure_delete = OFF")
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Connection settings for the pull path (they change no durability promise).
    ///
    /// - `cache_size`: 32 MiB instead of 2 MiB. A pull page of 1,000 records inserts into two
    ///   indexes keyed by random UUIDs; with the default cache most of those inserts read their leaf
    ///   back from the log or the file.
    /// - `wal_autocheckpoint`: 8,192 pages (32 MiB of log) instead of 1,000. Each page of 1,000
    ///   records writes more than 1,000 pages to the log, so the default checkpointed (and synced)
    ///   after every page; a checkpoint every few pages writes each page once per checkpoint.
    /// - `journal_size_limit`: the log file is truncated back to 16 MiB after a checkpoint, so a
    ///   bootstrap does not leave a large file behind.
    static let tuning = """
        PRAGMA cache_size = -32768;
        PRAGMA wal_autocheckpoint = 8192;
        PRAGMA journal_size_limit = 16777216;
        """

    // MARK: - Transactions

    /// Runs `body` in an immediate transaction, after stamping the raw SQL edits captured so far.
    /// Commits with `synchronous=FULL`: use it for every transaction that holds a user's edit.
    func write<T>(_ body: () throws -> T) throws -> T {
        // An edit always commits with FULL, even if restoring it after a sync transaction failed.
        if relaxedSync { try restoreFullSync() }
        return try transact(body)
    }

    /// Runs `body` like ``write(_:)``, but commits with `synchronous=NORMAL` when it holds no edit of
    /// the user: for the sync engine's own transactions (a pull page with its cursor, a push answer,
    /// bookkeeping), whose loss in a power cut the next sync repairs (Durability.md, "Rule: what the
    /// hub still holds may be lost in a power cut, never the user's edit").
    ///
    /// When raw SQL edits are waiting to be stamped, or when `durable` is set, the transaction
    /// commits with `FULL` like any edit. A later `FULL` commit (any edit, or a push batch leaving)
    /// syncs the whole log, this transaction's frames included.
    ///
    /// - Parameter durable: Commit with `FULL` anyway (a pull page holding a tombstone or a
    ///   revocation: see ``pageNeedsDurableCommit(_:)``).
    func syncWrite<T>(durable: Bool = false, _ body: () throws -> T) throws -> T {
        if durable { return try write(body) }
        let captured = try db.scalar("SELECT EXISTS(SELECT 1 FROM _relais_capture)")?.int64Value != 0
        if captured { return try write(body) }
        if !relaxedSync {
            try db.execute("PRAGMA synchronous = NORMAL")
            relaxedSync = true
        }
        let result = Result { try transact(body) }
        try restoreFullSync()
        return try result.get()
    }

    private func restoreFullSync() throws {
        try db.execute("PRAGMA synchronous = FULL")
        relaxedSync = false
    }

    private func transact<T>(_ body: () throws -> T) throws -> T {
        do {
            return try db.transaction(.immediate) {
                try catchUp()
                try stampCaptured()
                try forgetStaleOverlays()
                return try body()
            }
        } catch let error as SQLiteError where error.isFull {
            try? loadClocks()
            throw ReplicaError.storageFull
        } catch {
            try? loadClocks()
            throw error
        }
    }

    /// Replaces this file's database by `source`'s whole (SQLite's backup API), in one transaction
    /// committed with `synchronous=FULL`, then reads the clocks from it. The file stays in WAL mode,
    /// and this connection reads the new tables from then on.
    ///
    /// - Throws: ``ReplicaError/storageFull`` when the copy does not fit; nothing changed then.
    func replaceWhole(with source: Connection) throws {
        if relaxedSync { try restoreFullSync() }
        do {
            try source.backup(into: db)
        } catch let error where error.isFull {
            throw ReplicaError.storageFull
        }
        try loadClocks()
    }

    /// Runs `body` with capture switched off: the sync engine's own writes are not edits.
    /// Must be called inside a transaction.
    ///
    /// The `_relais_engine` row makes the capture triggers' guard false, which is all correctness
    /// needs. A section that writes many rows of collection tables (`rows`, at least
    /// ``triggersOffRows``: a pull page, an import, a repair) also switches this connection's
    /// triggers off when the file holds no trigger but ours, so that a page of 1,000 records does not
    /// run (and skip) 2,000 trigger programs; a trigger of the user's own on a collection table keeps
    /// them on, so that it still runs for the rows the sync engine writes. Smaller sections (an edit's
    /// stamp, a push answer, marking a batch in flight) leave them on: switching them off and on
    /// again makes SQLite prepare every statement of the connection again at its next use (it codes a
    /// table's triggers into each statement that writes it), which cost an edit made through the API
    /// more than all its own statements.
    func engine<T>(rows: Int = 0, _ body: () throws -> T) throws -> T {
        try db.execute("INSERT INTO _relais_engine(writing) VALUES (1)", [])
        let triggersOff = rows >= Self.triggersOffRows ? try !hasTriggersOfItsUser() : false
        if triggersOff { db.triggersEnabled = false }
        defer { if triggersOff { db.triggersEnabled = true } }
        let result = try body()
        try db.execute("DELETE FROM _relais_engine", [])
        return result
    }

    /// From this many rows of collection tables written in one ``engine(rows:_:)`` section, the
    /// connection's triggers are switched off for it.
    static let triggersOffRows = 64

    /// Whether the file has triggers besides the capture triggers (its user's own, made with the
    /// `sqlite3` shell: an audit table, a column kept up to date).
    func hasTriggersOfItsUser() throws -> Bool {
        try db.scalar(
            #"SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name NOT LIKE '\_relais\_%' ESCAPE '\')"#
        )?.int64Value == 1
    }

    // MARK: - Layout and migrations

    /// Lays the file out for its schema: the one it keeps (received from the hub), or `requested` (the
    /// program's) for a new file, a file from before files kept their schema, or when `requested` is
    /// a newer compatible successor of the kept one.
    private func migrate(requested: Schema) throws {
        try db.transaction(.immediate) {
            try db.execute(ReplicaSQL.bookkeeping)
            // A crash can't leave the switch on (it is only set inside transactions), but a file
            // edited by hand could: capture must never stay off.
            try db.execute("DELETE FROM _relais_engine", [])
            let stored = try stateInt("schema_version")
            if let text = try stateText("schema") {
                let kept: SchemaDefinition
                do {
                    kept = try SchemaDefinition(text: text)
                } catch {
                    throw ReplicaError(
                        .schemaTooNew,
                        "this replica file uses a schema (version \(stored ?? 0)) this program cannot read: upgrade relais (\(error))"
                    )
                }
                if requested.version > kept.version, (try? requested.changes(from: kept.schema)) != nil {
                    // The program brings a newer successor: it is the file's schema from now on.
                    try db.execute("DELETE FROM _relais_state WHERE key = 'schema'", [])
                    schema = requested
                } else {
                    schema = kept.schema
                }
            } else if let stored, stored > requested.version {
                throw ReplicaError(
                    .schemaTooNew,
                    "this replica file uses schema version \(stored), newer than this program's \(requested.version): upgrade relais"
                )
            }
            try layOut(from: stored)
        }
    }

    /// Takes a data schema received from the hub (`GET /v1/schema`): when it is a newer compatible
    /// successor of the file's (``Schema/changes(from:)``), adds its tables and columns, replaces the
    /// capture triggers and keeps its text, in one transaction that first stamps the edits captured so
    /// far. Pending writes, confirmed states and the cursor stay as they are.
    ///
    /// - Returns: the changes made (empty when the file already runs it).
    /// - Throws: ``ReplicaError/Code/invalid`` when it cannot replace the file's schema in place.
    @discardableResult
    func adopt(_ definition: SchemaDefinition) throws -> [SchemaChange] {
        let changes: [SchemaChange]
        do {
            changes = try definition.schema.changes(from: schema)
        } catch {
            throw ReplicaError(
                .invalid, "the hub's schema version \(definition.version) cannot replace this file's in place: \(error)"
            )
        }
        guard definition.version > schema.version else { return [] }
        let previous = schema
        try write {
            schema = definition.schema
            do {
                try layOut(from: previous.version)
                try setState("schema", .text(definition.text))
            } catch {
                schema = previous
                throw error
            }
        }
        logger.notice(
            "replica: data schema migrated",
            metadata: [
                "relais.from": "\(previous.version)", "relais.to": "\(definition.version)",
                "relais.changes": "\(changes.map(\.description).joined(separator: "; "))",
            ])
        return changes
    }

    /// Creates what ``schema`` needs that the file lacks (tables, columns: nothing is removed), and
    /// the capture triggers. Runs inside a transaction.
    private func layOut(from stored: Int?) throws {
        if stored != schema.version {
            for collection in schema.collections {
                try db.execute(ReplicaSQL.createTable(collection))
                var existing = Set<String>()
                try db.query("SELECT name FROM pragma_table_info(?)", [.text(collection.name)]) { row in
                    existing.insert(row.text(at: 0) ?? "")
                }
                for field in collection.fields where !existing.contains(field.name) {
                    try db.execute(
                        "ALTER TABLE \(ReplicaSQL.quote(collection.name)) ADD COLUMN "
                            + "\(ReplicaSQL.quote(field.name)) \(ColumnCodec.sqlType(field.type))")
                }
                for name in ReplicaSQL.triggerNames(collection.name) {
                    try db.execute("DROP TRIGGER IF EXISTS \(name)")
                }
            }
            let description = stored == nil ? "create replica" : "migrate from schema \(stored!)"
            try db.execute(
                "INSERT OR REPLACE INTO _relais_migrations(version, description, applied_at) VALUES (?, ?, ?)",
                [
                    .integer(Int64(schema.version)), .text(description),
                    .text(StorageCodec.iso(millis: wallMillis())),
                ])
            try setState("schema_version", .integer(Int64(schema.version)))
        }
        let triggersCurrent = try stateInt("capture_triggers") == ReplicaSQL.captureTriggersVersion
        for collection in schema.collections {
            for name in ReplicaSQL.legacyTriggerNames(collection.name) {
                try db.execute("DROP TRIGGER IF EXISTS \(name)")
            }
            if !triggersCurrent {
                for name in ReplicaSQL.triggerNames(collection.name) {
                    try db.execute("DROP TRIGGER IF EXISTS \(name)")
                }
            }
            for trigger in ReplicaSQL.triggers(collection) {
                try db.execute(trigger)
            }
        }
        if !triggersCurrent {
            try setState("capture_triggers", .integer(Int64(ReplicaSQL.captureTriggersVersion)))
        }
        try forgetStaleOverlays()
    }

    /// Removes every confirmed state (`_relais_overlay`) with no pending write and no captured change
    /// to become one. Such a state is stale: an insert's BEFORE trigger keeps the row it would
    /// replace before SQLite finds the conflict that makes `INSERT OR IGNORE` or `ON CONFLICT DO
    /// NOTHING` do nothing (and, before the update trigger skipped them, an UPDATE that changed
    /// nothing left one too). A pull then changes the row, and a later edit would take that older
    /// state as the record's confirmed one: a refused edit, or a page of a record with pending writes,
    /// would derive the row from it, dropping what the pull brought (docs/RELIABILITY.md, bug 36).
    /// Run when the file is opened and in every write transaction once captured changes are stamped.
    func forgetStaleOverlays() throws {
        try db.cachedStatement(
            """
            DELETE FROM _relais_overlay WHERE NOT EXISTS (
                SELECT 1 FROM _relais_pending AS p
                WHERE p.collection = _relais_overlay.collection AND p.record_id = _relais_overlay.record_id
            ) AND NOT EXISTS (
                SELECT 1 FROM _relais_capture AS c
                WHERE c.collection = _relais_overlay.collection AND c.record_id = _relais_overlay.record_id
            )
            """
        ).execute()
    }

    // MARK: - State

    /// The file whose `_relais_state` a state function reads or writes: this replica's own, or a
    /// snapshot's attached as `snapshot` that is about to replace it whole
    /// (``replaceTheFile(withSnapshotAt:info:)``).
    enum StateFile: String {
        case main, snapshot
    }

    func state(_ key: String, in file: StateFile = .main) throws -> SQLiteValue? {
        try db.scalar("SELECT value FROM \(file.rawValue)._relais_state WHERE key = ?", [.text(key)])
    }

    func stateInt(_ key: String, in file: StateFile = .main) throws -> Int? {
        guard let value = try state(key, in: file) else { return nil }
        switch value {
        case .integer(let i): return Int(i)
        case .real(let d): return Int(d)
        case .text(let s): return Int(s)
        default: return nil
        }
    }

    func stateText(_ key: String) throws -> String? {
        guard let value = try state(key) else { return nil }
        switch value {
        case .text(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// Sets a state value. An existing key is updated in place: `INSERT OR REPLACE` would delete and
    /// re-insert the row, writing the key's index page as well as the table's on every stamping.
    func setState(_ key: String, _ value: SQLiteValue, in file: StateFile = .main) throws {
        let table = "\(file.rawValue)._relais_state"
        try db.execute("UPDATE \(table) SET value = ? WHERE key = ?", [value, .text(key)])
        if db.changes == 0 {
            try db.execute("INSERT INTO \(table)(key, value) VALUES (?, ?)", [.text(key), value])
        }
    }

    /// Reads again what another connection may have changed since this one's last transaction: the
    /// counter, the HLC and the schema. Run first in every write transaction, under SQLite's write
    /// lock, so no other writer moves them before this transaction commits.
    ///
    /// Another process may write the file between two transactions of this connection: `relais set`
    /// or `relais import` beside a running `relais agent`, two programs embedding the library. A
    /// counter kept from before would give a new write a dot the other process already gave one of
    /// its writes, and the second would replace the first in `_relais_pending`: a write lost
    /// without a word. A schema kept from before would leave the edits of a collection the other
    /// process added uncaptured (docs/SYNC.md "One file, several processes").
    private func catchUp() throws {
        // Never below a pending write's counter, even were the stored one behind (a program built
        // before this rule, still running beside this one): a new write's insert would fail on it,
        // and with it every transaction of the file.
        let highestPending = try db.scalar("SELECT max(counter) FROM _relais_pending")?.int64Value ?? 0
        counter = max(try storedCounter, UInt64(max(0, highestPending)))
        // The clock only moves forward: this connection may have seen a later time from the hub.
        let stored = HLC(rawValue: UInt64(bitPattern: Int64(try stateInt("hlc") ?? 0)))
        if stored > clock.last { clock = HybridLogicalClock(last: stored) }
        if let version = try stateInt("schema_version"), version != schema.version {
            schema = try schemaKept(version: version)
        }
    }

    /// The schema the file now runs, laid out by another process: the one it keeps (received from
    /// the hub), or this program's when that is the one.
    private func schemaKept(version: Int) throws -> Schema {
        if let text = try stateText("schema"), let kept = try? SchemaDefinition(text: text), kept.version == version {
            return kept.schema
        }
        if programSchema.version == version { return programSchema }
        throw ReplicaError(
            .schemaTooNew,
            "another program moved this replica file to schema version \(version), which this one cannot run: upgrade relais"
        )
    }

    private func loadClocks() throws {
        counter = UInt64(try stateInt("counter") ?? 0)
        clock = HybridLogicalClock(last: HLC(rawValue: UInt64(bitPattern: Int64(try stateInt("hlc") ?? 0))))
    }

    private func saveClocks(in file: StateFile = .main) throws {
        try setState("counter", .integer(Int64(counter)), in: file)
        try setState("hlc", .integer(Int64(bitPattern: clock.last.rawValue)), in: file)
    }

    func wallMillis() -> UInt64 { configuration.wallClock() }

    /// The replica number (0 until enrolled: writes are still stamped, and re-stamped at enrollment).
    var replica: ReplicaID {
        get throws { ReplicaID(UInt32(try stateInt("replica") ?? 0)) }
    }

    /// The next HLC time for a local write.
    func nextHLC() -> HLC { clock.now(physicalMillis: wallMillis()) }

    /// Moves the HLC past a time seen from the hub.
    func observe(_ hlc: HLC) { _ = clock.receive(hlc, physicalMillis: wallMillis()) }

    func nextCounter() -> UInt64 {
        counter += 1
        return counter
    }

    func persistClocks(in file: StateFile = .main) throws { try saveClocks(in: file) }

    /// The counter as the file holds it: another process may have taken dots since this
    /// connection's last transaction (``catchUp()``). What the hub is told the replica has used.
    var storedCounter: UInt64 {
        get throws { UInt64(try stateInt("counter") ?? 0) }
    }

    /// Restarts the counter (a renewed replica's dots start over under its new number).
    func setCounter(_ value: UInt64) { counter = value }

    // MARK: - Rows

    func collection(_ name: String) throws -> CollectionSchema {
        guard let collection = schema.collection(name) else {
            throw ReplicaError.invalid(.unknownCollection(name))
        }
        return collection
    }

    /// The raw column values of a visible row, in field order, or nil when absent.
    func readRaw(_ collection: CollectionSchema, id: String) throws -> [SQLiteValue]? {
        let columns = collection.fields.map { ReplicaSQL.quote($0.name) }.joined(separator: ", ")
        let statement = try db.cachedStatement(
            "SELECT \(columns) FROM \(ReplicaSQL.quote(collection.name)) WHERE id = ?")
        try statement.bind([.text(id)])
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return (0..<collection.fields.count).map { statement.value(at: Int32($0)) }
    }

    /// A visible row as field values (values that do not fit their field read as null).
    func readRow(_ collection: CollectionSchema, id: String) throws -> [String: Value]? {
        guard let raw = try readRaw(collection, id: id) else { return nil }
        var values: [String: Value] = [:]
        for (field, column) in zip(collection.fields, raw) {
            values[field.name] = (try? ColumnCodec.value(column, field: field, collection: collection.name)) ?? .null
        }
        return values
    }

    /// Replaces a visible row (nil deletes it). Call inside ``engine(_:)`` unless it is an edit.
    func writeRow(_ collection: CollectionSchema, id: String, values: [String: Value]?) throws {
        let table = ReplicaSQL.quote(collection.name)
        guard let values else {
            try db.cachedStatement("DELETE FROM \(table) WHERE id = ?").execute([.text(id)])
            return
        }
        let columns = collection.fields.map { ReplicaSQL.quote($0.name) }
        let sql =
            "INSERT INTO \(table)(id, \(columns.joined(separator: ", "))) VALUES (?\(String(repeating: ", ?", count: columns.count))) "
            + "ON CONFLICT(id) DO UPDATE SET " + columns.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        let statement = try db.cachedStatement(sql)
        try statement.bind(text: id, at: 1)
        for (i, field) in collection.fields.enumerated() {
            try ColumnCodec.bind(values[field.name] ?? .null, to: statement, at: Int32(i + 2))
        }
        try statement.execute()
    }

    // MARK: - Bookkeeping rows

    struct Meta {
        var vector: VersionVector
        var deleted: Bool
    }

    func loadMeta(_ key: RecordKey) throws -> Meta? {
        let statement = try db.cachedStatement(
            "SELECT vector, deleted FROM _relais_records WHERE collection = ? AND record_id = ?")
        try statement.bind([.text(key.collection), .text(key.id)])
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return Meta(vector: StorageCodec.decodeVector(statement.text(at: 0)), deleted: statement.int64(at: 1) != 0)
    }

    func loadPending(_ key: RecordKey) throws -> [PendingWrite] {
        var writes: [PendingWrite] = []
        try db.query(
            """
            SELECT counter, context, hlc, is_delete, fields, in_flight FROM _relais_pending
            WHERE collection = ? AND record_id = ? ORDER BY counter
            """, [.text(key.collection), .text(key.id)]
        ) { row in
            writes.append(
                PendingWrite(
                    counter: UInt64(row.int64(at: 0)), collection: key.collection, recordID: key.id,
                    context: StorageCodec.decodeVector(row.text(at: 1)),
                    hlc: HLC(rawValue: UInt64(bitPattern: row.int64(at: 2))),
                    isDelete: row.int64(at: 3) != 0, fields: StorageCodec.decodeFields(row.text(at: 4) ?? "{}"),
                    inFlight: row.int64(at: 5) != 0))
        }
        return writes
    }

    /// Stores a pending write. A `new` write's counter was just taken: a row already holding it
    /// fails the transaction rather than being replaced (two writes on one dot would lose one).
    func savePending(_ write: PendingWrite, new: Bool = false) throws {
        try db.execute(
            """
            INSERT \(new ? "" : "OR REPLACE ")INTO _relais_pending(counter, collection, record_id, context, hlc, is_delete, fields, in_flight, stamped_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(Int64(write.counter)), .text(write.collection), .text(write.recordID),
                .text(StorageCodec.encode(write.context)), .integer(Int64(bitPattern: write.hlc.rawValue)),
                .integer(write.isDelete ? 1 : 0), .text(StorageCodec.encode(write.fields)),
                .integer(write.inFlight ? 1 : 0), .text(StorageCodec.iso(millis: write.hlc.physicalMillis)),
            ])
    }

    func deletePending(counter: UInt64) throws {
        try db.execute("DELETE FROM _relais_pending WHERE counter = ?", [.integer(Int64(counter))])
    }

    /// The record's confirmed state: its overlay, or else, with no values, whether its bookkeeping
    /// row says the hub holds it alive (a record without pending writes, or one imported by a file
    /// from before imports kept an overlay).
    func loadConfirmed(_ key: RecordKey, _ collection: CollectionSchema) throws -> ConfirmedState {
        try loadOverlay(key, collection)
            ?? ConfirmedState(exists: try loadMeta(key).map { !$0.deleted } ?? false, values: [:])
    }

    func loadOverlay(_ key: RecordKey, _ collection: CollectionSchema) throws -> ConfirmedState? {
        let statement = try db.cachedStatement(
            "SELECT confirmed_exists, confirmed FROM _relais_overlay WHERE collection = ? AND record_id = ?")
        try statement.bind([.text(key.collection), .text(key.id)])
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return ConfirmedState(
            exists: statement.int64(at: 0) != 0,
            values: StorageCodec.decodeColumns(statement.text(at: 1), collection: collection))
    }

    /// Whether the record has an overlay (nil: none) and, if so, whether its confirmed state exists,
    /// without reading the confirmed values.
    func overlayExists(_ key: RecordKey) throws -> Bool? {
        let statement = try db.cachedStatement(
            "SELECT confirmed_exists FROM _relais_overlay WHERE collection = ? AND record_id = ?")
        try statement.bind([.text(key.collection), .text(key.id)])
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return statement.int64(at: 0) != 0
    }

    func saveOverlay(_ key: RecordKey, _ state: ConfirmedState, _ collection: CollectionSchema) throws {
        try db.execute(
            "INSERT OR REPLACE INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed) VALUES (?, ?, ?, ?)",
            [
                .text(key.collection), .text(key.id), .integer(state.exists ? 1 : 0),
                .text(StorageCodec.encodeColumns(state.values, collection: collection)),
            ])
    }

    func deleteOverlay(_ key: RecordKey) throws {
        try db.execute(
            "DELETE FROM _relais_overlay WHERE collection = ? AND record_id = ?",
            [.text(key.collection), .text(key.id)])
    }

    /// Adds a write to the visible rejected list.
    func reject(
        _ key: RecordKey, isDelete: Bool, fieldsJSON: String, dot: Dot?, hlc: HLC?, code: String, reason: String,
        source: String
    ) throws {
        try db.execute(
            """
            INSERT INTO _relais_rejected(collection, record_id, is_delete, fields, dot_replica, dot_counter, hlc, code, reason, source, rejected_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(key.collection), .text(key.id), .integer(isDelete ? 1 : 0), .text(fieldsJSON),
                dot.map { .integer(Int64($0.replica.rawValue)) } ?? .null,
                dot.map { .integer(Int64($0.counter)) } ?? .null,
                hlc.map { .integer(Int64(bitPattern: $0.rawValue)) } ?? .null,
                .text(code), .text(reason), .text(source), .text(StorageCodec.iso(millis: wallMillis())),
            ])
    }

    /// Re-derives the visible row of a record from its confirmed state and its pending writes, and
    /// drops the overlay once no pending write is left. Call inside ``engine(_:)``.
    func settle(_ key: RecordKey, _ collection: CollectionSchema, confirmed: ConfirmedState, pending: [PendingWrite])
        throws
    {
        try writeRow(collection, id: key.id, values: confirmed.applying(pending))
        if pending.isEmpty {
            try deleteOverlay(key)
        } else {
            try saveOverlay(key, confirmed, collection)
        }
    }
}

/// A replica file's current schema, shared by ``ReplicaStore`` (which changes it) and ``Replica``
/// (which reads it from any thread).
final class PublishedSchema: Sendable {
    private let value: Mutex<Schema>

    init(_ schema: Schema) { value = Mutex(schema) }

    var schema: Schema { value.withLock { $0 } }

    func set(_ schema: Schema) { value.withLock { $0 = schema } }
}
