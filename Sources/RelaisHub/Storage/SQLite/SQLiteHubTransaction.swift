import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite

/// ``HubTransaction`` over one SQLite connection, used only on its worker's thread
/// (`@unchecked Sendable` for that reason: ``SQLiteWorker`` runs one body at a time).
///
/// Records keep their merge state and per-field sequences in a compact binary form
/// (``RecordCodec``); conflict reports keep theirs as JSON; every other row is plain columns.
/// Statements are the connection's cached ones, so the hot paths (a record read and upsert per
/// write) prepare nothing.
final class SQLiteHubTransaction: HubTransaction, @unchecked Sendable {
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

    nonisolated(nonsending) func meta() async throws -> HubMeta {
        let found = try first(
            "SELECT head, purge_horizon, hub_counter, hub_clock, next_replica, purged_up_to FROM meta WHERE id = 1", []
        ) { row in
            HubMeta(
                head: Self.u64(row, 0), purgeHorizon: Self.u64(row, 1), purgedUpTo: Self.u64(row, 5),
                hubCounter: Self.u64(row, 2), hubClock: HLC(rawValue: Self.u64(row, 3)),
                nextReplica: UInt32(truncatingIfNeeded: row.int64(at: 4)))
        }
        guard let found else { throw HubStoreError.missing.with("The meta row is missing.") }
        return found
    }

    nonisolated(nonsending) func hubEpoch() async throws -> String {
        guard let epoch = try db.scalar("SELECT hub_epoch FROM hub_identity WHERE id = 1")?.textValue else {
            throw HubStoreError.missing.with("The hub identity row is missing.")
        }
        return epoch
    }

    /// Two statements rather than `UPDATE … RETURNING head`: SQLite runs a `RETURNING` clause as a
    /// trigger program, with a table for its rows, on every run: 8–18 µs of each write of a push
    /// against 1.5–3.5 µs for the two (docs/PERFORMANCE.md).
    nonisolated(nonsending) func nextSequence() async throws -> UInt64 {
        try db.execute("UPDATE meta SET head = head + 1 WHERE id = 1", [])
        return UInt64(bitPattern: try db.scalar("SELECT head FROM meta WHERE id = 1")?.int64Value ?? 0)
    }

    /// One writer: nothing to wait for.
    nonisolated(nonsending) func lockRecords(_ keys: [RecordKey]) async throws {}

    nonisolated(nonsending) func takeReplicaNumber() async throws -> ReplicaID {
        let next = try db.scalar(
            "UPDATE meta SET next_replica = next_replica + 1 WHERE id = 1 RETURNING next_replica - 1")
        return ReplicaID(UInt32(truncatingIfNeeded: next?.int64Value ?? 0))
    }

    nonisolated(nonsending) func takeHubDot(physicalMillis: UInt64) async throws -> (counter: UInt64, hlc: HLC) {
        let meta = try await meta()
        var clock = HybridLogicalClock(last: meta.hubClock)
        let hlc = clock.now(physicalMillis: physicalMillis)
        let counter = meta.hubCounter + 1
        try db.execute(
            "UPDATE meta SET hub_counter = ?, hub_clock = ? WHERE id = 1", [Self.int(counter), Self.int(hlc.rawValue)])
        return (counter, hlc)
    }

    nonisolated(nonsending) func raisePurgeHorizon(to seq: UInt64) async throws {
        try db.execute(
            "UPDATE meta SET purge_horizon = max(purge_horizon, ?1), purged_up_to = max(purged_up_to, ?1) WHERE id = 1",
            [Self.int(seq)])
    }

    nonisolated(nonsending) func raisePurgedUpTo(_ seq: UInt64) async throws {
        try db.execute("UPDATE meta SET purged_up_to = max(purged_up_to, ?) WHERE id = 1", [Self.int(seq)])
    }

    nonisolated(nonsending) func renewHubEpoch(_ epoch: String, replicaGap: UInt32, counterGap: UInt64) async throws {
        try db.execute("UPDATE hub_identity SET hub_epoch = ? WHERE id = 1", [.text(epoch)])
        try db.execute(
            "UPDATE meta SET next_replica = next_replica + ?, hub_counter = hub_counter + ? WHERE id = 1",
            [.integer(Int64(replicaGap)), Self.int(counterGap)])
    }

    // MARK: - Users, tokens, enrollments

    private static let userColumns = "name, role, territories, scope_version, created_at, disabled_at"

    private func makeUser(_ row: Row) throws -> HubUser {
        HubUser(
            name: row.text(at: 0) ?? "", role: Role(rawValue: row.text(at: 1) ?? "") ?? .rep,
            territories: try decode([String].self, row.text(at: 2)), scopeVersion: row.int64(at: 3),
            createdAt: Self.u64(row, 4), disabledAt: Self.optionalU64(row, 5))
    }

    nonisolated(nonsending) func user(named name: String) async throws -> HubUser? {
        try first("SELECT \(Self.userColumns) FROM users WHERE name = ?", [.text(name)], makeUser)
    }

    nonisolated(nonsending) func users() async throws -> [HubUser] {
        try rows("SELECT \(Self.userColumns) FROM users ORDER BY name", [], makeUser)
    }

    nonisolated(nonsending) func insertUser(_ user: HubUser) async throws {
        try db.execute(
            "INSERT INTO users (\(Self.userColumns)) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .text(user.name), .text(user.role.rawValue), .text(try json(user.territories)),
                .integer(user.scopeVersion),
                Self.int(user.createdAt), Self.int(user.disabledAt),
            ])
    }

    nonisolated(nonsending) func setUserAccess(name: String, role: Role, territories: [String]) async throws -> HubUser?
    {
        let sorted = Array(Set(territories)).sorted()
        try db.execute(
            "UPDATE users SET role = ?, territories = ?, scope_version = scope_version + 1 WHERE name = ?",
            [.text(role.rawValue), .text(try json(sorted)), .text(name)])
        return try await user(named: name)
    }

    nonisolated(nonsending) func setUserDisabled(name: String, at time: UInt64?) async throws -> HubUser? {
        try db.execute("UPDATE users SET disabled_at = ? WHERE name = ?", [Self.int(time), .text(name)])
        return try await user(named: name)
    }

    private func makeAPIToken(_ row: Row) -> APIToken {
        APIToken(
            tokenHash: row.text(at: 0) ?? "", user: row.text(at: 1) ?? "", createdAt: Self.u64(row, 2),
            revokedAt: Self.optionalU64(row, 3))
    }

    nonisolated(nonsending) func apiToken(hash: String) async throws -> APIToken? {
        try first(
            "SELECT token_hash, user, created_at, revoked_at FROM api_tokens WHERE token_hash = ?", [.text(hash)],
            makeAPIToken)
    }

    nonisolated(nonsending) func apiTokens() async throws -> [APIToken] {
        try rows(
            "SELECT token_hash, user, created_at, revoked_at FROM api_tokens ORDER BY created_at, token_hash", [],
            makeAPIToken)
    }

    nonisolated(nonsending) func revokeAPIToken(hash: String, at time: UInt64) async throws -> Bool {
        try db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            [Self.int(time), .text(hash)])
        return db.changes > 0
    }

    nonisolated(nonsending) func revokeAPITokens(user: String, at time: UInt64) async throws -> Int {
        try db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL", [Self.int(time), .text(user)])
        return db.changes
    }

    nonisolated(nonsending) func insertAPIToken(_ token: APIToken) async throws {
        try db.execute(
            "INSERT INTO api_tokens (token_hash, user, created_at, revoked_at) VALUES (?, ?, ?, ?)",
            [.text(token.tokenHash), .text(token.user), Self.int(token.createdAt), Self.int(token.revokedAt)])
    }

    nonisolated(nonsending) func enrollment(codeHash: String) async throws -> Enrollment? {
        try first(
            """
            SELECT code_hash, user, created_at, expires_at, used_at, replica, attempt_hash, sealed_token
            FROM enrollments WHERE code_hash = ?
            """,
            [.text(codeHash)]
        ) { row in
            Enrollment(
                codeHash: row.text(at: 0) ?? "", user: row.text(at: 1) ?? "", createdAt: Self.u64(row, 2),
                expiresAt: Self.u64(row, 3), usedAt: Self.optionalU64(row, 4),
                replica: row.isNull(at: 5) ? nil : ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 5))),
                attemptHash: row.text(at: 6), sealedToken: row.text(at: 7))
        }
    }

    nonisolated(nonsending) func insertEnrollment(_ enrollment: Enrollment) async throws {
        try db.execute(
            """
            INSERT INTO enrollments
                (code_hash, user, created_at, expires_at, used_at, replica, attempt_hash, sealed_token)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(enrollment.codeHash), .text(enrollment.user), Self.int(enrollment.createdAt),
                Self.int(enrollment.expiresAt), Self.int(enrollment.usedAt),
                enrollment.replica.map { .integer(Int64($0.rawValue)) } ?? .null,
                enrollment.attemptHash.map { .text($0) } ?? .null, enrollment.sealedToken.map { .text($0) } ?? .null,
            ])
    }

    nonisolated(nonsending) func useEnrollment(
        codeHash: String, at time: UInt64, replica: ReplicaID, attemptHash: String?, sealedToken: String?
    ) async throws -> Bool {
        try db.execute(
            """
            UPDATE enrollments SET used_at = ?, replica = ?, attempt_hash = ?, sealed_token = ?
            WHERE code_hash = ? AND used_at IS NULL
            """,
            [
                Self.int(time), .integer(Int64(replica.rawValue)), attemptHash.map { .text($0) } ?? .null,
                sealedToken.map { .text($0) } ?? .null, .text(codeHash),
            ])
        return db.changes > 0
    }

    nonisolated(nonsending) func expireEnrollments(user: String, at time: UInt64) async throws -> Int {
        try db.execute(
            "UPDATE enrollments SET expires_at = ? WHERE user = ? AND used_at IS NULL AND expires_at > ?",
            [Self.int(time), .text(user), Self.int(time)])
        return db.changes
    }

    nonisolated(nonsending) func forgetEnrollmentAttempts(usedAtOrBefore time: UInt64) async throws -> Int {
        try db.execute(
            """
            UPDATE enrollments SET attempt_hash = NULL, sealed_token = NULL
            WHERE sealed_token IS NOT NULL AND used_at <= ?
            """, [Self.int(time)])
        return db.changes
    }

    // MARK: - Devices

    private static let deviceColumns = """
        replica, user, token_hash, name, epoch, lineage, created_at, revoked_at, renewed_to, highest_counter, \
        ack_cursor, scope_version, last_seen_at, clamped_writes, token_expires_at, previous_token_hash, \
        previous_token_until, wipe_requested_at, wiped_at, wipe_saved_writes, wipe_unsaved_writes
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
            lastSeenAt: Self.optionalU64(row, 12), clampedWrites: row.int64(at: 13),
            tokenExpiresAt: Self.optionalU64(row, 14), previousTokenHash: row.text(at: 15),
            previousTokenUntil: Self.optionalU64(row, 16), wipeRequestedAt: Self.optionalU64(row, 17),
            wipedAt: Self.optionalU64(row, 18), wipeSavedWrites: row.isNull(at: 19) ? nil : row.int64(at: 19),
            wipeUnsavedWrites: row.isNull(at: 20) ? nil : row.int64(at: 20))
    }

    nonisolated(nonsending) func device(replica: ReplicaID) async throws -> Device? {
        try first(
            "SELECT \(Self.deviceColumns) FROM devices WHERE replica = ?", [.integer(Int64(replica.rawValue))],
            makeDevice)
    }

    nonisolated(nonsending) func device(tokenHash: String) async throws -> Device? {
        try first("SELECT \(Self.deviceColumns) FROM devices WHERE token_hash = ?", [.text(tokenHash)], makeDevice)
    }

    nonisolated(nonsending) func device(previousTokenHash hash: String) async throws -> Device? {
        try first("SELECT \(Self.deviceColumns) FROM devices WHERE previous_token_hash = ?", [.text(hash)], makeDevice)
    }

    nonisolated(nonsending) func devices() async throws -> [Device] {
        try rows("SELECT \(Self.deviceColumns) FROM devices ORDER BY replica", [], makeDevice)
    }

    private func deviceArguments(_ device: Device) -> [SQLiteValue] {
        [
            .integer(Int64(device.replica.rawValue)), .text(device.user), .text(device.tokenHash), .text(device.name),
            .integer(Int64(device.epoch)), .integer(Int64(device.lineage.rawValue)), Self.int(device.createdAt),
            Self.int(device.revokedAt), device.renewedTo.map { .integer(Int64($0.rawValue)) } ?? .null,
            Self.int(device.highestCounter), Self.int(device.acknowledgedCursor), .integer(device.scopeVersion),
            Self.int(device.lastSeenAt), .integer(device.clampedWrites), Self.int(device.tokenExpiresAt),
            device.previousTokenHash.map { .text($0) } ?? .null, Self.int(device.previousTokenUntil),
            Self.int(device.wipeRequestedAt), Self.int(device.wipedAt),
            device.wipeSavedWrites.map { .integer($0) } ?? .null,
            device.wipeUnsavedWrites.map { .integer($0) } ?? .null,
        ]
    }

    nonisolated(nonsending) func insertDevice(_ device: Device) async throws {
        try db.execute(
            "INSERT INTO devices (\(Self.deviceColumns)) VALUES (\(Array(repeating: "?", count: 21).joined(separator: ", ")))",
            deviceArguments(device))
    }

    nonisolated(nonsending) func revokeLineage(_ lineage: ReplicaID, at time: UInt64) async throws -> Int {
        try db.execute(
            "UPDATE devices SET revoked_at = ? WHERE lineage = ? AND revoked_at IS NULL",
            [Self.int(time), .integer(Int64(lineage.rawValue))])
        return db.changes
    }

    nonisolated(nonsending) func revokeDevices(user: String, at time: UInt64) async throws -> Int {
        try db.execute(
            "UPDATE devices SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL", [Self.int(time), .text(user)])
        return db.changes
    }

    nonisolated(nonsending) func setRenewed(replica: ReplicaID, to successor: ReplicaID) async throws {
        try db.execute(
            "UPDATE devices SET renewed_to = ? WHERE replica = ?",
            [.integer(Int64(successor.rawValue)), .integer(Int64(replica.rawValue))])
    }

    nonisolated(nonsending) func rotateToken(
        replica: ReplicaID, tokenHash: String, expiresAt: UInt64?, previousUntil: UInt64
    ) async throws {
        try db.execute(
            """
            UPDATE devices SET previous_token_hash = token_hash, previous_token_until = ?, token_hash = ?,
                token_expires_at = ? WHERE replica = ?
            """,
            [Self.int(previousUntil), .text(tokenHash), Self.int(expiresAt), .integer(Int64(replica.rawValue))])
    }

    nonisolated(nonsending) func requestWipe(lineage: ReplicaID, at time: UInt64) async throws -> Int {
        try db.execute(
            """
            UPDATE devices SET wipe_requested_at = ?
            WHERE lineage = ? AND revoked_at IS NULL AND wipe_requested_at IS NULL
            """, [Self.int(time), .integer(Int64(lineage.rawValue))])
        return db.changes
    }

    nonisolated(nonsending) func recordWipe(
        replica: ReplicaID, at time: UInt64, savedWrites: Int64, unsavedWrites: Int64
    ) async throws {
        try db.execute(
            "UPDATE devices SET wiped_at = ?, wipe_saved_writes = ?, wipe_unsaved_writes = ? WHERE replica = ?",
            [Self.int(time), .integer(savedWrites), .integer(unsavedWrites), .integer(Int64(replica.rawValue))])
        try db.execute(
            """
            UPDATE devices SET revoked_at = ?
            WHERE lineage = (SELECT lineage FROM devices WHERE replica = ?) AND revoked_at IS NULL
            """, [Self.int(time), .integer(Int64(replica.rawValue))])
    }

    nonisolated(nonsending) func recordPush(
        replica: ReplicaID, highestCounter counter: UInt64, clampedWrites: Int64, seenAt time: UInt64
    ) async throws {
        try db.execute(
            """
            UPDATE devices SET highest_counter = max(highest_counter, ?), clamped_writes = clamped_writes + ?,
                last_seen_at = ? WHERE replica = ?
            """,
            [Self.int(counter), .integer(clampedWrites), Self.int(time), .integer(Int64(replica.rawValue))])
    }

    nonisolated(nonsending) func acknowledgePull(
        replica: ReplicaID, cursor: UInt64, scopeVersion: Int64?, seenAt time: UInt64
    ) async throws {
        try db.execute(
            """
            UPDATE devices SET ack_cursor = ?, scope_version = coalesce(?, scope_version), last_seen_at = ?
            WHERE replica = ?
            """,
            [
                Self.int(cursor), scopeVersion.map { .integer($0) } ?? .null, Self.int(time),
                .integer(Int64(replica.rawValue)),
            ])
    }

    // MARK: - Records

    private static let recordColumns = "collection, id, seq, whole_since, scope, parent_id, deleted_at, state"

    private func makeRecord(_ row: Row) throws -> StoredRecord {
        try makeRow(row).decoded()
    }

    private func makeRow(_ row: Row) -> StoredRecordRow {
        StoredRecordRow(
            collection: row.text(at: 0) ?? "", id: row.text(at: 1) ?? "", seq: Self.u64(row, 2),
            wholeSince: Self.u64(row, 3), scope: row.text(at: 4), parentID: row.text(at: 5),
            deletedAt: Self.optionalU64(row, 6), state: row.blob(at: 7) ?? [])
    }

    nonisolated(nonsending) func record(collection: String, id: String) async throws -> StoredRecord? {
        try first(
            "SELECT \(Self.recordColumns) FROM records WHERE collection = ? AND id = ?",
            [.text(collection), .text(id)],
            makeRecord)
    }

    nonisolated(nonsending) func children(of parentID: String) async throws -> [StoredRecord] {
        try rows(
            "SELECT \(Self.recordColumns) FROM records WHERE parent_id = ? ORDER BY seq", [.text(parentID)], makeRecord)
    }

    nonisolated(nonsending) func recordRows(after cursor: UInt64, scopes: Set<String>?, limit: Int) async throws
        -> [StoredRecordRow]
    {
        guard let scopes else {
            return try rows(
                "SELECT \(Self.recordColumns) FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                [Self.int(cursor), .integer(Int64(limit))], makeRow)
        }
        // One ordered range scan of the (scope, seq) index per scope, merged here: a single query with
        // `scope IN (...)` would sort every matching row on each page, which makes a bootstrap
        // quadratic in the territory's size.
        var merged: [StoredRecordRow] = []
        for scope in scopes.sorted() {
            merged += try rows(
                "SELECT \(Self.recordColumns) FROM records WHERE scope = ? AND seq > ? ORDER BY seq LIMIT ?",
                [.text(scope), Self.int(cursor), .integer(Int64(limit))], makeRow)
        }
        if scopes.count > 1 { merged.sort { $0.seq < $1.seq } }
        return Array(merged.prefix(limit))
    }

    nonisolated(nonsending) func movedAway(after cursor: UInt64, movedAfter: UInt64, scopes: Set<String>, limit: Int)
        async throws -> [StoredRecord]
    {
        // Driven by the (few) moves after `movedAfter`, not by every record changed since.
        try rows(
            """
            SELECT \(Self.recordColumns) FROM records r
            WHERE (r.collection, r.id) IN (SELECT collection, record_id FROM moves WHERE seq > ?4)
              AND r.seq > ?1
              AND (r.scope IS NULL OR r.scope NOT IN (SELECT value FROM json_each(?2)))
            ORDER BY r.seq LIMIT ?3
            """,
            [Self.int(cursor), .text(try json(scopes.sorted())), .integer(Int64(limit)), Self.int(movedAfter)],
            makeRecord)
    }

    nonisolated(nonsending) func moves(collection: String, id: String, after cursor: UInt64) async throws
        -> [ScopeMove]
    {
        try rows(
            "SELECT seq, from_scope, to_scope FROM moves WHERE collection = ? AND record_id = ? AND seq > ? ORDER BY seq",
            [.text(collection), .text(id), Self.int(cursor)]
        ) { row in
            ScopeMove(
                seq: Self.u64(row, 0), collection: collection, recordID: id, fromScope: row.text(at: 1),
                toScope: row.text(at: 2))
        }
    }

    nonisolated(nonsending) func firstMove(collection: String, id: String, after cursor: UInt64) async throws
        -> ScopeMove?
    {
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

    /// One probe of the (collection, record_id, seq) index per record, in process, but only when a
    /// move came after `cursor` at all: moves are rare, and a page of records that did not move is
    /// then answered by one read of the last move's sequence (the table's key).
    nonisolated(nonsending) func firstMoves(of keys: [RecordKey], after cursor: UInt64) async throws
        -> [RecordKey: ScopeMove]
    {
        guard !keys.isEmpty, let last = try db.scalar("SELECT max(seq) FROM moves")?.int64Value,
            UInt64(bitPattern: last) > cursor
        else { return [:] }
        var moves: [RecordKey: ScopeMove] = [:]
        for key in Set(keys) {
            moves[key] = try await firstMove(collection: key.collection, id: key.id, after: cursor)
        }
        return moves
    }

    nonisolated(nonsending) func forEachLiveRecord(_ body: (StoredRecord) throws -> Void) async throws {
        let statement = try db.prepare(
            "SELECT \(Self.recordColumns) FROM records WHERE deleted_at IS NULL ORDER BY collection, id")
        try statement.forEachRow { row in try body(try makeRecord(row)) }
    }

    nonisolated(nonsending) func tombstones(after seq: UInt64, limit: Int) async throws -> [StoredRecord] {
        try rows(
            "SELECT \(Self.recordColumns) FROM records WHERE deleted_at IS NOT NULL AND seq > ? ORDER BY seq LIMIT ?",
            [Self.int(seq), .integer(Int64(limit))], makeRecord)
    }

    nonisolated(nonsending) func insertRecord(_ record: StoredRecord) async throws {
        try db.execute(
            "INSERT INTO records (\(Self.recordColumns), digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            recordArguments(record))
    }

    nonisolated(nonsending) func updateRecord(_ record: StoredRecord) async throws {
        try db.execute(
            """
            UPDATE records SET seq = ?3, whole_since = ?4, scope = ?5, parent_id = ?6, deleted_at = ?7, state = ?8,
                digest = ?9
            WHERE collection = ?1 AND id = ?2
            """,
            recordArguments(record))
    }

    private func recordArguments(_ record: StoredRecord) -> [SQLiteValue] {
        [
            .text(record.collection), .text(record.id), Self.int(record.seq), Self.int(record.wholeSince),
            Self.text(record.scope), Self.text(record.parentID), Self.int(record.deletedAt),
            .blob(RecordCodec.encode(record.state, fields: record.fields)),
            record.digest.map { .blob($0.stored) } ?? .null,
        ]
    }

    nonisolated(nonsending) func forEachDigestRow(
        scopes: Set<String>?, keys: Bool, stored: Bool, _ body: (DigestRow) throws -> Void
    ) async throws {
        // Stored digests without keys come from `records_scope_seq` alone (it holds them); the rows
        // without one (or all of them, when the stored ones are not this schema's) with their state.
        let queries: [String] =
            !stored
            ? ["SELECT collection, id, NULL, state FROM records WHERE deleted_at IS NULL"]
            : keys
                ? [
                    "SELECT collection, id, digest, CASE WHEN digest IS NULL THEN state END FROM records WHERE deleted_at IS NULL"
                ]
                : [
                    "SELECT '', '', digest, NULL FROM records INDEXED BY records_scope_seq WHERE deleted_at IS NULL AND digest IS NOT NULL",
                    "SELECT collection, id, NULL, state FROM records INDEXED BY records_scope_seq WHERE deleted_at IS NULL AND digest IS NULL",
                ]
        for query in queries {
            if let scopes {
                let statement = try db.prepare("\(query) AND scope = ?")
                for scope in scopes.sorted() {
                    try statement.forEachRow([.text(scope)]) { row in try body(Self.digestRow(row)) }
                }
            } else {
                try db.prepare(query).forEachRow { row in
                    try body(Self.digestRow(row))
                }
            }
        }
    }

    nonisolated(nonsending) func sumStoredDigests(
        scopes: Set<String>?, undigested: (DigestRow) throws -> Void
    ) async throws -> (count: UInt64, high: UInt64, low: UInt64) {
        // From `records_scope_seq` alone, each digest's bytes read in place.
        var (count, high, low): (UInt64, UInt64, UInt64) = (0, 0, 0)
        let sums = try db.prepare(
            "SELECT digest FROM records INDEXED BY records_scope_seq WHERE deleted_at IS NULL AND digest IS NOT NULL"
                + (scopes == nil ? "" : " AND scope = ?"))
        let rest = try db.prepare(
            "SELECT collection, id, NULL, state FROM records INDEXED BY records_scope_seq WHERE deleted_at IS NULL "
                + "AND digest IS NULL" + (scopes == nil ? "" : " AND scope = ?"))
        for arguments in scopes.map({ $0.sorted().map { [SQLiteValue.text($0)] } }) ?? [[]] {
            try sums.forEachRow(arguments) { row in
                row.withUnsafeBytes(at: 0) { bytes in
                    guard bytes.count == 24 else { return }
                    count += 1
                    high ^= UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                    low ^= UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
                }
            }
            try rest.forEachRow(arguments) { row in try undigested(Self.digestRow(row)) }
        }
        return (count, high, low)
    }

    private static func digestRow(_ row: Row) -> DigestRow {
        DigestRow(
            collection: row.text(at: 0) ?? "", id: row.text(at: 1) ?? "", digest: row.blob(at: 2),
            state: row.blob(at: 3))
    }

    nonisolated(nonsending) func undigestedRecords(after key: RecordKey?, limit: Int) async throws
        -> [StoredRecordRow]
    {
        try rows(
            """
            SELECT \(Self.recordColumns) FROM records
            WHERE (collection, id) > (?, ?) AND deleted_at IS NULL AND digest IS NULL
            ORDER BY collection, id LIMIT ?
            """, [.text(key?.collection ?? ""), .text(key?.id ?? ""), .integer(Int64(limit))], makeRow)
    }

    nonisolated(nonsending) func digestSchema() async throws -> String? {
        try db.scalar("SELECT digest_schema FROM hub_identity WHERE id = 1")?.textValue
    }

    nonisolated(nonsending) func currentSchema() async throws -> StoredSchema? {
        try first("SELECT version, definition, applied_at FROM data_schemas ORDER BY version DESC LIMIT 1", []) {
            row in
            StoredSchema(
                version: Int(row.int64(at: 0)), definition: row.text(at: 1) ?? "",
                appliedAt: UInt64(row.int64(at: 2)))
        }
    }

    nonisolated(nonsending) func schemaVersion() async throws -> Int? {
        try db.scalar("SELECT max(version) FROM data_schemas")?.int64Value.map { Int($0) }
    }

    nonisolated(nonsending) func insertSchema(_ schema: StoredSchema) async throws {
        try db.execute(
            "INSERT INTO data_schemas (version, definition, applied_at) VALUES (?, ?, ?)",
            [.integer(Int64(schema.version)), .text(schema.definition), Self.int(schema.appliedAt)])
    }

    nonisolated(nonsending) func resetDigests(schema: String) async throws {
        try db.execute("UPDATE records SET digest = NULL WHERE digest IS NOT NULL")
        try db.execute("UPDATE hub_identity SET digest_schema = ? WHERE id = 1", [.text(schema)])
    }

    nonisolated(nonsending) func setDigest(collection: String, id: String, seq: UInt64, digest: [UInt8]) async throws {
        try db.execute(
            "UPDATE records SET digest = ? WHERE collection = ? AND id = ? AND seq = ? AND digest IS NULL",
            [.blob(digest), .text(collection), .text(id), Self.int(seq)])
    }

    nonisolated(nonsending) func verifications() async throws -> [DeviceVerification] {
        try rows(
            "SELECT replica, at, outcome, records, differing, repaired, full FROM device_verifications ORDER BY replica",
            []
        ) { row in
            DeviceVerification(
                replica: ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 0))), at: Self.u64(row, 1),
                outcome: DeviceVerification.Outcome(rawValue: row.text(at: 2) ?? "") ?? .unrepaired,
                records: Self.u64(row, 3), differing: Self.u64(row, 4), repaired: Self.u64(row, 5),
                full: row.int64(at: 6) != 0)
        }
    }

    nonisolated(nonsending) func recordVerification(_ verification: DeviceVerification) async throws {
        try db.execute(
            """
            INSERT INTO device_verifications (replica, at, outcome, records, differing, repaired, full)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (replica) DO UPDATE SET at = excluded.at, outcome = excluded.outcome,
                records = excluded.records, differing = excluded.differing, repaired = excluded.repaired,
                full = excluded.full
            """,
            [
                .integer(Int64(verification.replica.rawValue)), Self.int(verification.at),
                .text(verification.outcome.rawValue), Self.int(verification.records),
                Self.int(verification.differing), Self.int(verification.repaired),
                .integer(verification.full ? 1 : 0),
            ])
    }

    nonisolated(nonsending) func deleteTombstone(collection: String, id: String, seq: UInt64) async throws -> Bool {
        try db.execute(
            "DELETE FROM records WHERE collection = ? AND id = ? AND seq = ? AND deleted_at IS NOT NULL",
            [.text(collection), .text(id), Self.int(seq)])
        return db.changes > 0
    }

    nonisolated(nonsending) func insertMove(_ move: ScopeMove) async throws {
        try db.execute(
            "INSERT INTO moves (seq, collection, record_id, from_scope, to_scope) VALUES (?, ?, ?, ?, ?)",
            [
                Self.int(move.seq), .text(move.collection), .text(move.recordID), Self.text(move.fromScope),
                Self.text(move.toScope),
            ])
    }

    @discardableResult
    nonisolated(nonsending) func deleteMoves(upTo seq: UInt64) async throws -> UInt64? {
        let highest = try db.scalar("SELECT max(seq) FROM moves WHERE seq <= ?", [Self.int(seq)])?.int64Value
        try db.execute("DELETE FROM moves WHERE seq <= ?", [Self.int(seq)])
        return highest.map { UInt64(bitPattern: $0) }
    }

    // MARK: - Write results

    nonisolated(nonsending) func writeResult(replica: ReplicaID, counter: UInt64) async throws -> StoredWriteResult? {
        try first(
            "SELECT digest, status, conflict_ids, code, reason FROM write_results WHERE replica = ? AND counter = ?",
            [.integer(Int64(replica.rawValue)), Self.int(counter)]
        ) { row in
            StoredWriteResult(
                dot: Dot(replica: replica, counter: counter), digest: row.blob(at: 0) ?? [],
                status: StoredWriteResult.Status(rawValue: row.text(at: 1) ?? "") ?? .rejected,
                conflictIDs: (row.text(at: 2) ?? "").split(separator: ",").map(String.init),
                code: row.text(at: 3) ?? "",
                reason: row.text(at: 4) ?? "")
        }
    }

    nonisolated(nonsending) func insertWriteResult(_ result: StoredWriteResult) async throws {
        try db.execute(
            """
            INSERT INTO write_results (replica, counter, digest, status, conflict_ids, code, reason)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(Int64(result.dot.replica.rawValue)), Self.int(result.dot.counter), .blob(result.digest),
                .text(result.status.rawValue), .text(result.conflictIDs.joined(separator: ",")), .text(result.code),
                .text(result.reason),
            ])
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
            try conflict.base.map { .text(try HistoryJSON.value($0) ?? json($0)) } ?? .null,
            try conflict.chosen.map { .text(try HistoryJSON.value($0) ?? json($0)) } ?? .null,
            .text(try HistoryJSON.competitors(conflict.values) ?? json(conflict.values)),
            .text(conflict.status.rawValue), Self.text(report.scope),
            try report.resolution.map { .text(try json($0)) } ?? .null,
        ]
    }

    nonisolated(nonsending) func conflict(id: String) async throws -> ConflictReport? {
        try first("SELECT \(Self.conflictColumns) FROM conflicts WHERE id = ?", [.text(id)], makeConflict)
    }

    /// The `WHERE` clause of a filter, its arguments numbered from 1, and the order of every list.
    private static let conflictWhere = """
        WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR collection = ?2) AND (?3 IS NULL OR field = ?3)
          AND (?4 IS NULL OR rule = ?4)
          AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(competitors) WHERE json_extract(value, '$.author') = ?5))
          AND (?6 IS NULL OR scope = ?6) AND (?7 IS NULL OR record_id = ?7)
          AND (?8 IS NULL OR created_at >= ?8) AND (?9 IS NULL OR created_at < ?9)
        """
    private static let conflictOrder = "ORDER BY created_at DESC, seq DESC, id DESC"

    private static func conflictFilterArguments(_ filter: ConflictFilter) -> [SQLiteValue] {
        [
            text(filter.status?.rawValue), text(filter.collection), text(filter.field), text(filter.rule),
            text(filter.user),
            text(filter.territory), text(filter.recordID), int(filter.from), int(filter.to),
        ]
    }

    nonisolated(nonsending) func conflicts(_ filter: ConflictFilter) async throws -> [ConflictReport] {
        try rows(
            "SELECT \(Self.conflictColumns) FROM conflicts \(Self.conflictWhere) \(Self.conflictOrder) LIMIT ?10 OFFSET ?11",
            Self.conflictFilterArguments(filter) + [.integer(Int64(filter.limit)), .integer(Int64(filter.offset))],
            makeConflict)
    }

    nonisolated(nonsending) func conflictCount(_ filter: ConflictFilter) async throws -> Int {
        Int(
            try db.scalar("SELECT count(*) FROM conflicts \(Self.conflictWhere)", Self.conflictFilterArguments(filter))?
                .int64Value ?? 0)
    }

    nonisolated(nonsending) func forEachConflict(_ filter: ConflictFilter, _ body: (ConflictReport) throws -> Void)
        async throws
    {
        // One statement stepped row by row: SQLite holds no more than a row in memory.
        let statement = try db.prepare(
            "SELECT \(Self.conflictColumns) FROM conflicts \(Self.conflictWhere) \(Self.conflictOrder)")
        try statement.forEachRow(Self.conflictFilterArguments(filter)) { row in try body(try makeConflict(row)) }
    }

    nonisolated(nonsending) func insertConflict(_ report: ConflictReport) async throws {
        try db.execute(
            "INSERT INTO conflicts (\(Self.conflictColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            try conflictArguments(report))
    }

    nonisolated(nonsending) func setResolution(conflictID: String, _ resolution: ConflictResolution) async throws {
        try db.execute(
            "UPDATE conflicts SET status = ?, resolution = ? WHERE id = ?",
            [.text(ConflictStatus.resolved.rawValue), .text(try json(resolution)), .text(conflictID)])
    }

    // MARK: - Events

    nonisolated(nonsending) func events(kinds: Set<HubEvent.Kind>?, limit: Int) async throws -> [HubEvent] {
        let kinds: SQLiteValue = try kinds.map { .text(try json($0.map(\.rawValue).sorted())) } ?? .null
        return try rows(
            """
            SELECT id, at, kind, replica, user, detail FROM events
            WHERE ?1 IS NULL OR kind IN (SELECT value FROM json_each(?1)) ORDER BY id DESC LIMIT ?2
            """,
            [kinds, .integer(Int64(limit))]
        ) {
            row in
            HubEvent(
                id: row.int64(at: 0), at: Self.u64(row, 1), kind: HubEvent.Kind(rawValue: row.text(at: 2) ?? ""),
                replica: row.isNull(at: 3) ? nil : ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 3))),
                user: row.text(at: 4), detail: row.text(at: 5) ?? "")
        }
    }

    @discardableResult
    nonisolated(nonsending) func insertEvent(_ event: HubEvent) async throws -> Int64 {
        try db.execute(
            "INSERT INTO events (at, kind, replica, user, detail) VALUES (?, ?, ?, ?, ?)",
            [
                Self.int(event.at), .text(event.kind.rawValue),
                event.replica.map { .integer(Int64($0.rawValue)) } ?? .null,
                Self.text(event.user), .text(event.detail),
            ])
        return db.lastInsertRowID
    }

    // MARK: - Write history

    nonisolated(nonsending) func history(collection: String, recordID: String, field: String?, limit: Int) async throws
        -> [HistoryEntry]
    {
        // A field name is a schema identifier; quoted in the JSON path all the same.
        let path: SQLiteValue =
            field.map { .text("$.\"" + $0.replacingOccurrences(of: "\"", with: "") + "\"") } ?? .null
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

    nonisolated(nonsending) func forEachFieldHistory(
        collection: String, field: String, _ body: (HistoryEntry) throws -> Void
    ) async throws {
        let statement = try db.prepare(
            """
            SELECT seq, collection, record_id, replica, counter, hlc, user, at, fields, deleted FROM write_history
            WHERE collection = ?1 AND (deleted = 1 OR json_type(fields, ?2) IS NOT NULL)
            ORDER BY record_id, seq
            """)
        try statement.bind([.text(collection), .text("$.\"" + field.replacingOccurrences(of: "\"", with: "") + "\"")])
        try statement.forEachRow { row in
            try body(
                HistoryEntry(
                    seq: Self.u64(row, 0), collection: row.text(at: 1) ?? "", recordID: row.text(at: 2) ?? "",
                    dot: Dot(
                        replica: ReplicaID(UInt32(truncatingIfNeeded: row.int64(at: 3))), counter: Self.u64(row, 4)),
                    hlc: HLC(rawValue: Self.u64(row, 5)), user: row.text(at: 6) ?? "", at: Self.u64(row, 7),
                    fields: try decode([String: Value].self, row.text(at: 8)), deleted: row.int64(at: 9) != 0))
        }
    }

    nonisolated(nonsending) func insertHistory(_ entry: HistoryEntry) async throws {
        try db.execute(
            """
            INSERT INTO write_history (seq, collection, record_id, replica, counter, hlc, user, at, fields, deleted)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                Self.int(entry.seq), .text(entry.collection), .text(entry.recordID),
                .integer(Int64(entry.dot.replica.rawValue)),
                Self.int(entry.dot.counter), Self.int(entry.hlc.rawValue), .text(entry.user), Self.int(entry.at),
                .text(try HistoryJSON.encode(entry.fields) ?? json(entry.fields)), .integer(entry.deleted ? 1 : 0),
            ])
    }

    nonisolated(nonsending) func deleteHistory(collection: String, recordID: String) async throws {
        try db.execute(
            "DELETE FROM write_history WHERE collection = ? AND record_id = ?", [.text(collection), .text(recordID)])
    }

    // MARK: - Admin web sessions

    nonisolated(nonsending) func adminSession(id: String) async throws -> AdminSession? {
        try first("SELECT id, user, csrf, expires_at FROM admin_sessions WHERE id = ?", [.text(id)]) { row in
            AdminSession(
                id: row.text(at: 0) ?? "", user: row.text(at: 1) ?? "", csrf: row.text(at: 2) ?? "",
                expiresAt: Self.u64(row, 3))
        }
    }

    nonisolated(nonsending) func insertAdminSession(_ session: AdminSession) async throws {
        try db.execute(
            "INSERT INTO admin_sessions (id, user, csrf, expires_at) VALUES (?, ?, ?, ?)",
            [.text(session.id), .text(session.user), .text(session.csrf), Self.int(session.expiresAt)])
    }

    nonisolated(nonsending) func touchAdminSession(id: String, expiresAt: UInt64) async throws {
        try db.execute("UPDATE admin_sessions SET expires_at = ? WHERE id = ?", [Self.int(expiresAt), .text(id)])
    }

    nonisolated(nonsending) func deleteAdminSession(id: String) async throws {
        try db.execute("DELETE FROM admin_sessions WHERE id = ?", [.text(id)])
    }

    nonisolated(nonsending) func deleteAdminSessions(user: String) async throws -> Int {
        try db.execute("DELETE FROM admin_sessions WHERE user = ?", [.text(user)])
        return db.changes
    }

    nonisolated(nonsending) func deleteExpiredAdminSessions(at time: UInt64) async throws {
        try db.execute("DELETE FROM admin_sessions WHERE expires_at <= ?", [Self.int(time)])
    }

    // MARK: - Coordination

    /// One writer at a time holds every lock: SQLite has a single writer.
    nonisolated(nonsending) func tryExclusive(_ name: String) async throws -> Bool { true }
}
