import Foundation
import RelaisCore
import RelaisSQLite

/// ``HubTransaction`` over one SQLite connection, used only on its worker's thread.
///
/// Records keep their merge state and per-field sequences in a compact binary form
/// (``RecordCodec``); conflict reports keep theirs as JSON; every other row is plain columns.
/// Statements are the connection's cached ones, so the hot paths (a record read and upsert per
/// write) prepare nothing.
final class SQLiteHubTransaction: HubTransaction {
    let db: Connection
    private let encoder: JSONEncoder
    private let decoder = JSONDecoder()

    init(db: Connection) {
        self.db = db
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
    }

    // MARK: - Coding helpers

    private func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T {
        try decoder.decode(type, from: Data((text ?? "null").utf8))
    }

    private static func int(_ value: UInt64) -> SQLiteValue { .integer(Int64(bitPattern: value)) }
    private static func int(_ value: UInt64?) -> SQLiteValue { value.map { .integer(Int64(bitPattern: $0)) } ?? .null }
    private static func text(_ value: String?) -> SQLiteValue { value.map(SQLiteValue.text) ?? .null }
    private static func u64(_ row: Row, _ index: Int32) -> UInt64 { UInt64(bitPattern: row.int64(at: index)) }
    private static func optionalU64(_ row: Row, _ index: Int32) -> UInt64? {
        row.isNull(at: index) ? nil : UInt64(bitPattern: row.int64(at: index))
    }

    private func rows<T>(_ sql: String, _ arguments: [SQLiteValue], _ make: (Row) throws -> T) throws -> [T] {
        var result: [T] = []
        try db.query(sql, arguments) { row in result.append(try make(row)) }
        return result
    }

    private func first<T>(_ sql: String, _ arguments: [SQLiteValue], _ make: (Row) throws -> T) throws -> T? {
        var result: T?
        try db.query(sql, arguments) { row in
            if result == nil { result = try make(row) }
        }
        return result
    }

    // MARK: - Meta

    func meta() throws -> HubMeta {
        let found = try first("SELECT head, purge_horizon, hub_counter, hub_clock, next_replica FROM meta WHERE id = 1", []) { row in
            HubMeta(
                head: Self.u64(row, 0), purgeHorizon: Self.u64(row, 1), hubCounter: Self.u64(row, 2),
                hubClock: HLC(rawValue: Self.u64(row, 3)), nextReplica: UInt32(truncatingIfNeeded: row.int64(at: 4)))
        }
        guard let found else { throw HubError.storeMissing.with("The meta row is missing.") }
        return found
    }

    func setMeta(_ meta: HubMeta) throws {
        try db.execute(
            "UPDATE meta SET head = ?, purge_horizon = ?, hub_counter = ?, hub_clock = ?, next_replica = ? WHERE id = 1",
            [Self.int(meta.head), Self.int(meta.purgeHorizon), Self.int(meta.hubCounter), Self.int(meta.hubClock.rawValue),
             .integer(Int64(meta.nextReplica))])
    }

    func nextSequence() throws -> UInt64 {
        UInt64(bitPattern: try db.scalar("UPDATE meta SET head = head + 1 WHERE id = 1 RETURNING head")?.int64Value ?? 0)
    }

    // MARK: - Users, tokens, enrollments

    private func makeUser(_ row: Row) throws -> HubUser {
        HubUser(
            name: row.text(at: 0) ?? "", role: Role(rawValue: row.text(at: 1) ?? "") ?? .rep,
            territories: try decode([String].self, row.text(at: 2)), scopeVersion: row.int64(at: 3),
            createdAt: Self.u64(row, 4))
    }

    func user(named name: String) throws -> HubUser? {
        try first("SELECT name, role, territories, scope_version, created_at FROM users WHERE name = ?", [.text(name)], makeUser)
    }

    func users() throws -> [HubUser] {
        try rows("SELECT name, role, territories, scope_version, created_at FROM users ORDER BY name", [], makeUser)
    }

    func insertUser(_ user: HubUser) throws {
        try db.execute(
            "INSERT INTO users (name, role, territories, scope_version, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(user.name), .text(user.role.rawValue), .text(try json(user.territories)), .integer(user.scopeVersion),
             Self.int(user.createdAt)])
    }

    func updateUser(_ user: HubUser) throws {
        try db.execute(
            "UPDATE users SET role = ?, territories = ?, scope_version = ? WHERE name = ?",
            [.text(user.role.rawValue), .text(try json(user.territories)), .integer(user.scopeVersion), .text(user.name)])
    }

    func apiToken(hash: String) throws -> APIToken? {
        try first("SELECT token_hash, user, created_at, revoked_at FROM api_tokens WHERE token_hash = ?", [.text(hash)]) { row in
            APIToken(
                tokenHash: row.text(at: 0) ?? "", user: row.text(at: 1) ?? "", createdAt: Self.u64(row, 2),
                revokedAt: Self.optionalU64(row, 3))
        }
    }

    func insertAPIToken(_ token: APIToken) throws {
        try db.execute(
            "INSERT INTO api_tokens (token_hash, user, created_at, revoked_at) VALUES (?, ?, ?, ?)",
            [.text(token.tokenHash), .text(token.user), Self.int(token.createdAt), Self.int(token.revokedAt)])
    }

    func enrollment(codeHash: String) throws -> Enrollment? {
        try first(
            "SELECT code_hash, user, created_at, expires_at, used_at, replica FROM enrollments WHERE code_hash = ?",
            [.text(codeHash)]
        ) { row in
            Enrollment(
                codeHash: row.text(at: 0) ?? "", user: row.text(at: 1) ?? "", createdAt: Self.u64(row, 2),
                expiresAt: Self.u64(row, 3), usedAt: Self.optionalU64(row, 4),
                replica: row.isNull(at: 5) ? nil : ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 5))))
        }
    }

    func insertEnrollment(_ enrollment: Enrollment) throws {
        try db.execute(
            "INSERT INTO enrollments (code_hash, user, created_at, expires_at, used_at, replica) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(enrollment.codeHash), .text(enrollment.user), Self.int(enrollment.createdAt),
             Self.int(enrollment.expiresAt), Self.int(enrollment.usedAt),
             enrollment.replica.map { .integer(Int64($0.rawValue)) } ?? .null])
    }

    func updateEnrollment(_ enrollment: Enrollment) throws {
        try db.execute(
            "UPDATE enrollments SET used_at = ?, replica = ? WHERE code_hash = ?",
            [Self.int(enrollment.usedAt), enrollment.replica.map { .integer(Int64($0.rawValue)) } ?? .null,
             .text(enrollment.codeHash)])
    }

    // MARK: - Devices

    private static let deviceColumns = """
        replica, user, token_hash, name, epoch, lineage, created_at, revoked_at, renewed_to, highest_counter, \
        ack_cursor, scope_version, last_seen_at, clamped_writes
        """

    private func makeDevice(_ row: Row) -> Device {
        Device(
            replica: ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 0))), user: row.text(at: 1) ?? "",
            tokenHash: row.text(at: 2) ?? "", name: row.text(at: 3) ?? "",
            epoch: UInt32(truncatingIfNeeded: row.int64(at: 4)),
            lineage: ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 5))), createdAt: Self.u64(row, 6),
            revokedAt: Self.optionalU64(row, 7),
            renewedTo: row.isNull(at: 8) ? nil : ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 8))),
            highestCounter: Self.u64(row, 9), acknowledgedCursor: Self.u64(row, 10), scopeVersion: row.int64(at: 11),
            lastSeenAt: Self.optionalU64(row, 12), clampedWrites: row.int64(at: 13))
    }

    func device(replica: ReplicaID) throws -> Device? {
        try first("SELECT \(Self.deviceColumns) FROM devices WHERE replica = ?", [.integer(Int64(replica.rawValue))], makeDevice)
    }

    func device(tokenHash: String) throws -> Device? {
        try first("SELECT \(Self.deviceColumns) FROM devices WHERE token_hash = ?", [.text(tokenHash)], makeDevice)
    }

    func devices() throws -> [Device] {
        try rows("SELECT \(Self.deviceColumns) FROM devices ORDER BY replica", [], makeDevice)
    }

    private func deviceArguments(_ device: Device) -> [SQLiteValue] {
        [.integer(Int64(device.replica.rawValue)), .text(device.user), .text(device.tokenHash), .text(device.name),
         .integer(Int64(device.epoch)), .integer(Int64(device.lineage.rawValue)), Self.int(device.createdAt),
         Self.int(device.revokedAt), device.renewedTo.map { .integer(Int64($0.rawValue)) } ?? .null,
         Self.int(device.highestCounter), Self.int(device.acknowledgedCursor), .integer(device.scopeVersion),
         Self.int(device.lastSeenAt), .integer(device.clampedWrites)]
    }

    func insertDevice(_ device: Device) throws {
        try db.execute(
            "INSERT INTO devices (\(Self.deviceColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            deviceArguments(device))
    }

    func updateDevice(_ device: Device) throws {
        try db.execute(
            "INSERT OR REPLACE INTO devices (\(Self.deviceColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            deviceArguments(device))
    }

    // MARK: - Records

    private static let recordColumns = "collection, id, seq, whole_since, scope, parent_id, deleted_at, state"

    private func makeRecord(_ row: Row) throws -> StoredRecord {
        let collection = row.text(at: 0) ?? ""
        let id = row.text(at: 1) ?? ""
        let (state, fields) = try row.withUnsafeBytes(at: 7) { try RecordCodec.decode($0, collection: collection, id: id) }
        return StoredRecord(
            state: state, seq: Self.u64(row, 2), wholeSince: Self.u64(row, 3), scope: row.text(at: 4),
            parentID: row.text(at: 5), deletedAt: Self.optionalU64(row, 6), fields: fields)
    }

    func record(collection: String, id: String) throws -> StoredRecord? {
        try first(
            "SELECT \(Self.recordColumns) FROM records WHERE collection = ? AND id = ?", [.text(collection), .text(id)],
            makeRecord)
    }

    func children(of parentID: String) throws -> [StoredRecord] {
        try rows("SELECT \(Self.recordColumns) FROM records WHERE parent_id = ? ORDER BY seq", [.text(parentID)], makeRecord)
    }

    func records(after cursor: UInt64, scopes: Set<String>?, limit: Int) throws -> [StoredRecord] {
        guard let scopes else {
            return try rows(
                "SELECT \(Self.recordColumns) FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                [Self.int(cursor), .integer(Int64(limit))], makeRecord)
        }
        // One ordered range scan of the (scope, seq) index per scope, merged here: a single query with
        // `scope IN (...)` would sort every matching row on each page, which makes a bootstrap
        // quadratic in the territory's size.
        var merged: [StoredRecord] = []
        for scope in scopes.sorted() {
            merged += try rows(
                "SELECT \(Self.recordColumns) FROM records WHERE scope = ? AND seq > ? ORDER BY seq LIMIT ?",
                [.text(scope), Self.int(cursor), .integer(Int64(limit))], makeRecord)
        }
        if scopes.count > 1 { merged.sort { $0.seq < $1.seq } }
        return Array(merged.prefix(limit))
    }

    func movedAway(after cursor: UInt64, scopes: Set<String>, limit: Int) throws -> [StoredRecord] {
        // Driven by the (few) moves after the cursor, not by every record changed since.
        try rows(
            """
            SELECT \(Self.recordColumns) FROM records r
            WHERE (r.collection, r.id) IN (SELECT collection, record_id FROM moves WHERE seq > ?1)
              AND r.seq > ?1
              AND (r.scope IS NULL OR r.scope NOT IN (SELECT value FROM json_each(?2)))
            ORDER BY r.seq LIMIT ?3
            """,
            [Self.int(cursor), .text(try json(scopes.sorted())), .integer(Int64(limit))], makeRecord)
    }

    func firstMove(collection: String, id: String, after cursor: UInt64) throws -> ScopeMove? {
        try first(
            """
            SELECT seq, from_scope, to_scope FROM moves WHERE collection = ? AND record_id = ? AND seq > ?
            ORDER BY seq LIMIT 1
            """,
            [.text(collection), .text(id), Self.int(cursor)]
        ) { row in
            ScopeMove(
                seq: Self.u64(row, 0), collection: collection, recordID: id, fromScope: row.text(at: 1),
                toScope: row.text(at: 2))
        }
    }

    func forEachLiveRecord(_ body: (StoredRecord) throws -> Void) throws {
        let statement = try db.prepare(
            "SELECT \(Self.recordColumns) FROM records WHERE deleted_at IS NULL ORDER BY collection, id")
        try statement.forEachRow { row in try body(try makeRecord(row)) }
    }

    func tombstones(after seq: UInt64, limit: Int) throws -> [StoredRecord] {
        try rows(
            "SELECT \(Self.recordColumns) FROM records WHERE deleted_at IS NOT NULL AND seq > ? ORDER BY seq LIMIT ?",
            [Self.int(seq), .integer(Int64(limit))], makeRecord)
    }

    func putRecord(_ record: StoredRecord) throws {
        try db.execute(
            """
            INSERT OR REPLACE INTO records (\(Self.recordColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(record.collection), .text(record.id), Self.int(record.seq), Self.int(record.wholeSince),
             Self.text(record.scope), Self.text(record.parentID), Self.int(record.deletedAt),
             .blob(RecordCodec.encode(record.state, fields: record.fields))])
    }

    func deleteRecord(collection: String, id: String) throws {
        try db.execute("DELETE FROM records WHERE collection = ? AND id = ?", [.text(collection), .text(id)])
    }

    func insertMove(_ move: ScopeMove) throws {
        try db.execute(
            "INSERT INTO moves (seq, collection, record_id, from_scope, to_scope) VALUES (?, ?, ?, ?, ?)",
            [Self.int(move.seq), .text(move.collection), .text(move.recordID), Self.text(move.fromScope),
             Self.text(move.toScope)])
    }

    func deleteMoves(upTo seq: UInt64) throws {
        try db.execute("DELETE FROM moves WHERE seq <= ?", [Self.int(seq)])
    }

    // MARK: - Write results

    func writeResult(replica: ReplicaID, counter: UInt64) throws -> StoredWriteResult? {
        try first(
            "SELECT digest, status, conflict_ids, code, reason FROM write_results WHERE replica = ? AND counter = ?",
            [.integer(Int64(replica.rawValue)), Self.int(counter)]
        ) { row in
            StoredWriteResult(
                dot: Dot(replica: replica, counter: counter), digest: row.blob(at: 0) ?? [],
                status: StoredWriteResult.Status(rawValue: row.text(at: 1) ?? "") ?? .rejected,
                conflictIDs: (row.text(at: 2) ?? "").split(separator: ",").map(String.init), code: row.text(at: 3) ?? "",
                reason: row.text(at: 4) ?? "")
        }
    }

    func insertWriteResult(_ result: StoredWriteResult) throws {
        try db.execute(
            """
            INSERT INTO write_results (replica, counter, digest, status, conflict_ids, code, reason)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [.integer(Int64(result.dot.replica.rawValue)), Self.int(result.dot.counter), .blob(result.digest),
             .text(result.status.rawValue), .text(result.conflictIDs.joined(separator: ",")), .text(result.code),
             .text(result.reason)])
    }

    // MARK: - Conflicts

    private static let conflictColumns = """
        id, created_at, seq, collection, record_id, field, rule, base, chosen, competitors, status, scope, resolution
        """

    private func makeConflict(_ row: Row) throws -> ConflictReport {
        let base: Value? = row.isNull(at: 7) ? nil : try decode(Value.self, row.text(at: 7))
        let chosen: Value? = row.isNull(at: 8) ? nil : try decode(Value.self, row.text(at: 8))
        let conflict = Conflict(
            collection: row.text(at: 3) ?? "", recordID: row.text(at: 4) ?? "", field: row.text(at: 5),
            rule: row.text(at: 6) ?? "", base: base, values: try decode([Competitor].self, row.text(at: 9)),
            chosen: chosen, status: ConflictStatus(rawValue: row.text(at: 10) ?? "") ?? .open)
        let resolution: ConflictResolution? =
            row.isNull(at: 12) ? nil : try decode(ConflictResolution.self, row.text(at: 12))
        return ConflictReport(
            id: row.text(at: 0) ?? "", createdAt: Self.u64(row, 1), seq: Self.u64(row, 2), conflict: conflict,
            scope: row.text(at: 11), resolution: resolution)
    }

    private func conflictArguments(_ report: ConflictReport) throws -> [SQLiteValue] {
        let conflict = report.conflict
        return [
            .text(report.id), Self.int(report.createdAt), Self.int(report.seq), .text(conflict.collection),
            .text(conflict.recordID), Self.text(conflict.field), .text(conflict.rule),
            try conflict.base.map { .text(try json($0)) } ?? .null,
            try conflict.chosen.map { .text(try json($0)) } ?? .null, .text(try json(conflict.values)),
            .text(conflict.status.rawValue), Self.text(report.scope),
            try report.resolution.map { .text(try json($0)) } ?? .null,
        ]
    }

    func conflict(id: String) throws -> ConflictReport? {
        try first("SELECT \(Self.conflictColumns) FROM conflicts WHERE id = ?", [.text(id)], makeConflict)
    }

    func conflicts(_ filter: ConflictFilter) throws -> [ConflictReport] {
        try rows(
            """
            SELECT \(Self.conflictColumns) FROM conflicts
            WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR collection = ?2) AND (?3 IS NULL OR record_id = ?3)
            ORDER BY created_at DESC, rowid DESC LIMIT ?4 OFFSET ?5
            """,
            [Self.text(filter.status?.rawValue), Self.text(filter.collection), Self.text(filter.recordID),
             .integer(Int64(filter.limit)), .integer(Int64(filter.offset))], makeConflict)
    }

    func conflictCount(status: ConflictStatus?) throws -> Int {
        Int(
            try db.scalar(
                "SELECT count(*) FROM conflicts WHERE ?1 IS NULL OR status = ?1", [Self.text(status?.rawValue)]
            )?.int64Value ?? 0)
    }

    func insertConflict(_ report: ConflictReport) throws {
        try db.execute(
            "INSERT INTO conflicts (\(Self.conflictColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            try conflictArguments(report))
    }

    func updateConflict(_ report: ConflictReport) throws {
        try db.execute(
            "INSERT OR REPLACE INTO conflicts (\(Self.conflictColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            try conflictArguments(report))
    }

    // MARK: - Events

    func events(limit: Int) throws -> [HubEvent] {
        try rows("SELECT id, at, kind, replica, user, detail FROM events ORDER BY id DESC LIMIT ?", [.integer(Int64(limit))]) {
            row in
            HubEvent(
                id: row.int64(at: 0), at: Self.u64(row, 1), kind: HubEvent.Kind(rawValue: row.text(at: 2) ?? ""),
                replica: row.isNull(at: 3) ? nil : ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 3))),
                user: row.text(at: 4), detail: row.text(at: 5) ?? "")
        }
    }

    @discardableResult
    func insertEvent(_ event: HubEvent) throws -> Int64 {
        try db.execute(
            "INSERT INTO events (at, kind, replica, user, detail) VALUES (?, ?, ?, ?, ?)",
            [Self.int(event.at), .text(event.kind.rawValue), event.replica.map { .integer(Int64($0.rawValue)) } ?? .null,
             Self.text(event.user), .text(event.detail)])
        return db.lastInsertRowID
    }

    // MARK: - Write history

    func history(collection: String, recordID: String, field: String?, limit: Int) throws -> [HistoryEntry] {
        // A field name is a schema identifier; quoted in the JSON path all the same.
        let path: SQLiteValue = field.map { .text("$.\"" + $0.replacingOccurrences(of: "\"", with: "") + "\"") } ?? .null
        return try rows(
            """
            SELECT seq, collection, record_id, replica, counter, hlc, user, at, fields, deleted FROM write_history
            WHERE collection = ?1 AND record_id = ?2 AND (?3 IS NULL OR deleted = 1 OR json_type(fields, ?3) IS NOT NULL)
            ORDER BY seq DESC LIMIT ?4
            """,
            [.text(collection), .text(recordID), path, .integer(Int64(limit))]
        ) { row in
            HistoryEntry(
                seq: Self.u64(row, 0), collection: row.text(at: 1) ?? "", recordID: row.text(at: 2) ?? "",
                dot: Dot(replica: ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 3))), counter: Self.u64(row, 4)),
                hlc: HLC(rawValue: Self.u64(row, 5)), user: row.text(at: 6) ?? "", at: Self.u64(row, 7),
                fields: try decode([String: Value].self, row.text(at: 8)), deleted: row.int64(at: 9) != 0)
        }
    }

    func insertHistory(_ entry: HistoryEntry) throws {
        try db.execute(
            """
            INSERT INTO write_history (seq, collection, record_id, replica, counter, hlc, user, at, fields, deleted)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [Self.int(entry.seq), .text(entry.collection), .text(entry.recordID), .integer(Int64(entry.dot.replica.rawValue)),
             Self.int(entry.dot.counter), Self.int(entry.hlc.rawValue), .text(entry.user), Self.int(entry.at),
             .text(try HistoryJSON.encode(entry.fields) ?? json(entry.fields)), .integer(entry.deleted ? 1 : 0)])
    }

    func deleteHistory(collection: String, recordID: String) throws {
        try db.execute(
            "DELETE FROM write_history WHERE collection = ? AND record_id = ?", [.text(collection), .text(recordID)])
    }
}
