import Foundation
import Logging
import NIOCore
import PostgresNIO
import RelaisCore
import Synchronization

/// ``HubTransaction`` over one leased PostgreSQL connection, inside a transaction that
/// ``PostgresHubStore`` began (`READ COMMITTED` for a write, `REPEATABLE READ READ ONLY` for a read).
///
/// Every statement is parameterized (`PostgresQuery` interpolation binds its values). Rows map to the
/// same values as in ``SQLiteHubTransaction``: records keep their merge state in ``RecordCodec``'s
/// binary form, conflict reports theirs as the same JSON text, and every `u64` is stored as its bit
/// pattern.
///
/// `@unchecked Sendable`: a body uses its transaction from one task, one operation at a time (as the
/// contract asks); the only state shared with the store (whether a statement failed, whether the body
/// returned) is behind a mutex.
final class PostgresHubTransaction: HubTransaction, @unchecked Sendable {
    private let connection: PostgresConnection
    private let logger: Logger
    /// A write transaction: reads of a record, a device or a conflict report lock the row.
    private let locksReads: Bool
    private let status = Mutex<(finished: Bool, failure: (any Error)?)>((false, nil))
    private let encoder: JSONEncoder
    private let decoder = JSONDecoder()
    /// A write transaction's locked head, record cache and waiting inserts (``PostgresWriteBehind``).
    private var writeBehind = PostgresWriteBehind()

    init(connection: PostgresConnection, logger: Logger, locksReads: Bool) {
        self.connection = connection
        self.logger = logger
        self.locksReads = locksReads
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
    }

    /// Ends the transaction's use (later calls throw) and returns the first database error a
    /// statement raised, if any: PostgreSQL aborts the whole transaction on one.
    func finish() -> (any Error)? {
        status.withLock { status in
            status.finished = true
            return status.failure
        }
    }

    // MARK: - Statement helpers

    /// Refuses use after the body returned or after a statement failed.
    private func checkUsable() throws {
        let refusal: HubStoreError? = status.withLock { status in
            if status.finished {
                return HubStoreError.failed.with("A store transaction was used after its body returned.")
            }
            if status.failure != nil {
                return HubStoreError.failed.with("A store transaction was used after one of its statements failed.")
            }
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Runs one statement; a database error is remembered (the transaction is aborted) and rethrown.
    private nonisolated(nonsending) func perform<T>(_ work: () async throws -> T) async throws -> T {
        try checkUsable()
        do {
            return try await work()
        } catch  where error is PSQLError || error is PostgresConnectionClosed {
            status.withLock { status in
                if status.failure == nil { status.failure = error }
            }
            throw error
        }
    }

    /// Sends what waits in ``PostgresWriteBehind`` as one statement. Runs before every other statement,
    /// and before `COMMIT` (``PostgresHubStore``).
    nonisolated(nonsending) func flush() async throws {
        _ = try await flushReadingMeta()
    }

    /// ``flush()``, answering the meta row as it stands after it (`nil`: nothing waited).
    private nonisolated(nonsending) func flushReadingMeta() async throws -> HubMeta? {
        let head = writeBehind.lockedHead == nil ? nil : writeBehind.lastSequence
        guard let query = try writeBehind.flushQuery(historyJSON: historyJSON) else { return nil }
        let rows = try await perform { try await connection.rows(of: query, logger: logger) }
        guard let row = rows.first else { throw HubStoreError.missing.with("The meta row is missing.") }
        var meta = try Self.makeMeta(row)
        if let head { meta.head = head }
        return meta
    }

    /// Every row of `query`, made into values.
    private nonisolated(nonsending) func rows<T>(_ query: PostgresQuery, _ make: (PostgresRow) throws -> T) async throws
        -> [T]
    {
        try await flush()
        return try await perform {
            var result: [T] = []
            for row in try await connection.rows(of: query, logger: logger) {
                result.append(try make(row))
            }
            return result
        }
    }

    /// The first row of `query`, made into a value.
    private nonisolated(nonsending) func first<T>(_ query: PostgresQuery, _ make: (PostgresRow) throws -> T)
        async throws -> T?
    {
        try await rows(query, make).first
    }

    /// How many rows one page of ``forEachLiveRecord(_:)`` and ``forEachConflict(_:_:)`` reads.
    static let streamPageSize = 1000

    /// Calls `body` with every row of a keyset-paged query, a page at a time: `page(after:)` is the
    /// query for the page after the given row (`nil`: the first page), limited to
    /// ``streamPageSize`` rows. Memory holds one page. The pages are read whole, not as a stream with
    /// back-pressure: postgres-nio crashes when a connection dies under a stream waiting for demand
    /// (`PostgresConnection+Closed.swift`).
    private nonisolated(nonsending) func forEachPaged<Key>(
        _ page: (Key?) -> PostgresQuery, key: (PostgresRow) throws -> Key, _ body: (PostgresRow) throws -> Void
    ) async throws {
        try await flush()
        var after: Key? = nil
        while true {
            let rows = try await perform { try await connection.rows(of: page(after), logger: logger) }
            for row in rows { try body(row) }
            guard rows.count >= Self.streamPageSize, let last = rows.last else { return }
            after = try key(last)
        }
    }

    /// Runs a statement and returns how many rows it returned (`RETURNING 1` counts changed rows).
    @discardableResult
    private nonisolated(nonsending) func execute(_ query: PostgresQuery) async throws -> Int {
        try await flush()
        return try await perform {
            try await connection.rows(of: query, logger: logger).count
        }
    }

    /// A history row's fields as the `fields` column holds them (HistoryJSON, as on SQLite).
    private func historyJSON(_ entry: HistoryEntry) throws -> String {
        try HistoryJSON.encode(entry.fields) ?? json(entry.fields)
    }

    private func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T {
        try decoder.decode(type, from: Data((text ?? "null").utf8))
    }

    private static func int(_ value: UInt64) -> Int64 { Int64(bitPattern: value) }
    private static func int(_ value: UInt64?) -> Int64? { value.map { Int64(bitPattern: $0) } }
    private static func u64(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) }
    private static func u64(_ value: Int64?) -> UInt64? { value.map { UInt64(bitPattern: $0) } }
    private static func replica(_ value: Int64) -> ReplicaID { ReplicaID(UInt32(truncatingIfNeeded: value)) }
    private static func replica(_ value: Int64?) -> ReplicaID? { value.map(replica) }
    private static func int(_ replica: ReplicaID) -> Int64 { Int64(replica.rawValue) }

    /// ` FOR UPDATE` in a write transaction (the contract: reads in a write lock what they read).
    private var lockClause: String { locksReads ? " FOR UPDATE" : "" }

    // MARK: - Meta

    private static func makeMeta(_ row: PostgresRow) throws -> HubMeta {
        let (head, horizon, counter, clock, next, purged) = try row.decode(
            (Int64, Int64, Int64, Int64, Int64, Int64).self)
        return HubMeta(
            head: u64(head), purgeHorizon: u64(horizon), purgedUpTo: u64(purged), hubCounter: u64(counter),
            hubClock: HLC(rawValue: u64(clock)), nextReplica: UInt32(truncatingIfNeeded: next))
    }

    /// With writes waiting, the statement that flushes them answers it (a push's last read).
    nonisolated(nonsending) func meta() async throws -> HubMeta {
        if let meta = try await flushReadingMeta() { return meta }
        let found = try await first(
            """
            SELECT h.head, m.purge_horizon, m.hub_counter, m.hub_clock, m.next_replica, m.purged_up_to
            FROM head h CROSS JOIN meta m WHERE h.id = 1 AND m.id = 1
            """, Self.makeMeta)
        guard let found else { throw HubStoreError.missing.with("The meta row is missing.") }
        return found
    }

    /// Takes the next sequence: the one after the head this transaction locked (``lockHead()``); the
    /// head row is written once, when the waiting writes are flushed.
    ///
    /// Why a pull never skips a late commit: the transaction holds the single row of the `head` table
    /// locked (`SELECT … FOR UPDATE`), and PostgreSQL holds a row lock until the transaction ends. A
    /// second transaction asking for a sequence waits for the first to commit (or roll back) and then
    /// reads the committed value. So sequences are handed out in commit order, and when a snapshot
    /// sees `head = H` committed, every transaction that took a sequence at or below `H` has committed
    /// too (or rolled back, and its numbers were handed out again). Reads serve records only up to
    /// their snapshot's `head` (``records(after:scopes:limit:)``, ``movedAway(after:scopes:limit:)``): a
    /// record that another transaction writes with a taken but uncommitted sequence is above every
    /// committed head, and is served once it commits, in order. The cost is that transactions that
    /// write records are serialized (as SQLite's single writer does) from their first record lock;
    /// their decoding, authentication and replay checks run in parallel.
    nonisolated(nonsending) func nextSequence() async throws -> UInt64 {
        try await lockHead()
        return writeBehind.nextSequence()
    }

    /// Locks the `head` row until the transaction ends, once: before any record is locked or read in a
    /// write transaction, so that every transaction takes the two kinds of lock in the same order, and
    /// so that what it read stays true (``PostgresWriteBehind``).
    private nonisolated(nonsending) func lockHead() async throws {
        guard locksReads, writeBehind.lockedHead == nil else { return }
        let head = try await first("SELECT head FROM head WHERE id = 1 FOR UPDATE") { try $0.decode(Int64.self) }
        guard let head else { throw HubStoreError.missing.with("The head row is missing.") }
        writeBehind.lock(head: Self.u64(head))
    }

    nonisolated(nonsending) func hubEpoch() async throws -> String {
        let found = try await first("SELECT hub_epoch FROM hub_identity WHERE id = 1") { try $0.decode(String.self) }
        guard let found else { throw HubStoreError.missing.with("The hub identity row is missing.") }
        return found
    }

    nonisolated(nonsending) func renewHubEpoch(_ epoch: String, replicaGap: UInt32, counterGap: UInt64) async throws {
        try await execute("UPDATE hub_identity SET hub_epoch = \(epoch) WHERE id = 1")
        try await execute(
            """
            UPDATE meta SET next_replica = next_replica + \(Int64(replicaGap)),
                hub_counter = hub_counter + \(Self.int(counterGap)) WHERE id = 1
            """)
    }

    nonisolated(nonsending) func takeReplicaNumber() async throws -> ReplicaID {
        let next = try await first(
            "UPDATE meta SET next_replica = next_replica + 1 WHERE id = 1 RETURNING next_replica - 1"
        ) { try $0.decode(Int64.self) }
        return Self.replica(next ?? 0)
    }

    nonisolated(nonsending) func takeHubDot(physicalMillis: UInt64) async throws -> (counter: UInt64, hlc: HLC) {
        // Locked: two hubs must not both take the counter after the same one.
        let found = try await first("SELECT hub_counter, hub_clock FROM meta WHERE id = 1 FOR UPDATE") {
            try $0.decode((Int64, Int64).self)
        }
        guard let (lastCounter, lastClock) = found else { throw HubStoreError.missing.with("The meta row is missing.") }
        var clock = HybridLogicalClock(last: HLC(rawValue: Self.u64(lastClock)))
        let hlc = clock.now(physicalMillis: physicalMillis)
        let counter = Self.u64(lastCounter) + 1
        try await execute(
            "UPDATE meta SET hub_counter = \(Self.int(counter)), hub_clock = \(Self.int(hlc.rawValue)) WHERE id = 1")
        return (counter, hlc)
    }

    nonisolated(nonsending) func raisePurgeHorizon(to seq: UInt64) async throws {
        try await execute(
            """
            UPDATE meta SET purge_horizon = greatest(purge_horizon, \(Self.int(seq))),
                purged_up_to = greatest(purged_up_to, \(Self.int(seq))) WHERE id = 1
            """)
    }

    nonisolated(nonsending) func raisePurgedUpTo(_ seq: UInt64) async throws {
        try await execute("UPDATE meta SET purged_up_to = greatest(purged_up_to, \(Self.int(seq))) WHERE id = 1")
    }

    // MARK: - Users, tokens, enrollments

    private static let userColumns = "name, role, territories, scope_version, created_at, disabled_at"

    private func makeUser(_ row: PostgresRow) throws -> HubUser {
        let (name, role, territories, scopeVersion, createdAt, disabledAt) = try row.decode(
            (String, String, String, Int64, Int64, Int64?).self)
        return HubUser(
            name: name, role: Role(rawValue: role) ?? .rep, territories: try decode([String].self, territories),
            scopeVersion: scopeVersion, createdAt: Self.u64(createdAt), disabledAt: Self.u64(disabledAt))
    }

    nonisolated(nonsending) func user(named name: String) async throws -> HubUser? {
        try await first("SELECT \(unescaped: Self.userColumns) FROM users WHERE name = \(name)", makeUser)
    }

    nonisolated(nonsending) func users() async throws -> [HubUser] {
        try await rows("SELECT \(unescaped: Self.userColumns) FROM users ORDER BY name", makeUser)
    }

    nonisolated(nonsending) func insertUser(_ user: HubUser) async throws {
        let territories = try json(user.territories)
        try await execute(
            """
            INSERT INTO users (\(unescaped: Self.userColumns))
            VALUES (\(user.name), \(user.role.rawValue), \(territories), \(user.scopeVersion), \(Self.int(user.createdAt)),
                    \(Self.int(user.disabledAt)))
            """)
    }

    nonisolated(nonsending) func setUserAccess(name: String, role: Role, territories: [String]) async throws -> HubUser?
    {
        let sorted = try json(Array(Set(territories)).sorted())
        return try await first(
            """
            UPDATE users SET role = \(role.rawValue), territories = \(sorted), scope_version = scope_version + 1
            WHERE name = \(name) RETURNING \(unescaped: Self.userColumns)
            """, makeUser)
    }

    nonisolated(nonsending) func setUserDisabled(name: String, at time: UInt64?) async throws -> HubUser? {
        try await first(
            """
            UPDATE users SET disabled_at = \(Self.int(time)) WHERE name = \(name)
            RETURNING \(unescaped: Self.userColumns)
            """, makeUser)
    }

    private static func makeAPIToken(_ row: PostgresRow) throws -> APIToken {
        let (tokenHash, user, createdAt, revokedAt) = try row.decode((String, String, Int64, Int64?).self)
        return APIToken(
            tokenHash: tokenHash, user: user, createdAt: Self.u64(createdAt), revokedAt: Self.u64(revokedAt))
    }

    nonisolated(nonsending) func apiToken(hash: String) async throws -> APIToken? {
        try await first(
            "SELECT token_hash, user_name, created_at, revoked_at FROM api_tokens WHERE token_hash = \(hash)",
            Self.makeAPIToken)
    }

    nonisolated(nonsending) func apiTokens() async throws -> [APIToken] {
        try await rows(
            "SELECT token_hash, user_name, created_at, revoked_at FROM api_tokens ORDER BY created_at, token_hash",
            Self.makeAPIToken)
    }

    nonisolated(nonsending) func revokeAPIToken(hash: String, at time: UInt64) async throws -> Bool {
        try await execute(
            """
            UPDATE api_tokens SET revoked_at = \(Self.int(time))
            WHERE token_hash = \(hash) AND revoked_at IS NULL RETURNING 1
            """) > 0
    }

    nonisolated(nonsending) func revokeAPITokens(user: String, at time: UInt64) async throws -> Int {
        try await execute(
            """
            UPDATE api_tokens SET revoked_at = \(Self.int(time))
            WHERE user_name = \(user) AND revoked_at IS NULL RETURNING 1
            """)
    }

    nonisolated(nonsending) func insertAPIToken(_ token: APIToken) async throws {
        try await execute(
            """
            INSERT INTO api_tokens (token_hash, user_name, created_at, revoked_at)
            VALUES (\(token.tokenHash), \(token.user), \(Self.int(token.createdAt)), \(Self.int(token.revokedAt)))
            """)
    }

    nonisolated(nonsending) func enrollment(codeHash: String) async throws -> Enrollment? {
        try await first(
            """
            SELECT code_hash, user_name, created_at, expires_at, used_at, replica, attempt_hash, sealed_token
            FROM enrollments WHERE code_hash = \(codeHash)
            """
        ) { row in
            let (hash, user, createdAt, expiresAt, usedAt, replica, attemptHash, sealedToken) = try row.decode(
                (String, String, Int64, Int64, Int64?, Int64?, String?, String?).self)
            return Enrollment(
                codeHash: hash, user: user, createdAt: Self.u64(createdAt), expiresAt: Self.u64(expiresAt),
                usedAt: Self.u64(usedAt), replica: Self.replica(replica), attemptHash: attemptHash,
                sealedToken: sealedToken)
        }
    }

    nonisolated(nonsending) func insertEnrollment(_ enrollment: Enrollment) async throws {
        let replica = enrollment.replica.map(Self.int)
        try await execute(
            """
            INSERT INTO enrollments
                (code_hash, user_name, created_at, expires_at, used_at, replica, attempt_hash, sealed_token)
            VALUES (\(enrollment.codeHash), \(enrollment.user), \(Self.int(enrollment.createdAt)),
                    \(Self.int(enrollment.expiresAt)), \(Self.int(enrollment.usedAt)), \(replica),
                    \(enrollment.attemptHash), \(enrollment.sealedToken))
            """)
    }

    nonisolated(nonsending) func useEnrollment(
        codeHash: String, at time: UInt64, replica: ReplicaID, attemptHash: String?, sealedToken: String?
    ) async throws -> Bool {
        try await execute(
            """
            UPDATE enrollments SET used_at = \(Self.int(time)), replica = \(Self.int(replica)),
                attempt_hash = \(attemptHash), sealed_token = \(sealedToken)
            WHERE code_hash = \(codeHash) AND used_at IS NULL RETURNING 1
            """) > 0
    }

    nonisolated(nonsending) func expireEnrollments(user: String, at time: UInt64) async throws -> Int {
        try await execute(
            """
            UPDATE enrollments SET expires_at = \(Self.int(time))
            WHERE user_name = \(user) AND used_at IS NULL AND expires_at > \(Self.int(time)) RETURNING 1
            """)
    }

    nonisolated(nonsending) func forgetEnrollmentAttempts(usedAtOrBefore time: UInt64) async throws -> Int {
        try await execute(
            """
            UPDATE enrollments SET attempt_hash = NULL, sealed_token = NULL
            WHERE sealed_token IS NOT NULL AND used_at <= \(Self.int(time)) RETURNING 1
            """)
    }

    // MARK: - Devices

    private static let deviceColumns = """
        replica, user_name, token_hash, name, epoch, lineage, created_at, revoked_at, renewed_to, highest_counter, \
        ack_cursor, scope_version, last_seen_at, clamped_writes, token_expires_at, previous_token_hash, \
        previous_token_until, wipe_requested_at, wiped_at, wipe_saved_writes, wipe_unsaved_writes
        """

    private func makeDevice(_ row: PostgresRow) throws -> Device {
        let (
            replica, user, tokenHash, name, epoch, lineage, createdAt, revokedAt, renewedTo, highestCounter,
            ackCursor, scopeVersion, lastSeenAt, clampedWrites, tokenExpiresAt, previousTokenHash, previousTokenUntil,
            wipeRequestedAt, wipedAt, wipeSaved, wipeUnsaved
        ) = try row.decode(
            (
                Int64, String, String, String, Int64, Int64, Int64, Int64?, Int64?, Int64, Int64, Int64, Int64?,
                Int64, Int64?, String?, Int64?, Int64?, Int64?, Int64?, Int64?
            ).self)
        return Device(
            replica: Self.replica(replica), user: user, tokenHash: tokenHash, name: name,
            epoch: UInt32(truncatingIfNeeded: epoch), lineage: Self.replica(lineage), createdAt: Self.u64(createdAt),
            revokedAt: Self.u64(revokedAt), renewedTo: Self.replica(renewedTo),
            highestCounter: Self.u64(highestCounter),
            acknowledgedCursor: Self.u64(ackCursor), scopeVersion: scopeVersion, lastSeenAt: Self.u64(lastSeenAt),
            clampedWrites: clampedWrites, tokenExpiresAt: Self.u64(tokenExpiresAt),
            previousTokenHash: previousTokenHash,
            previousTokenUntil: Self.u64(previousTokenUntil), wipeRequestedAt: Self.u64(wipeRequestedAt),
            wipedAt: Self.u64(wipedAt), wipeSavedWrites: wipeSaved, wipeUnsavedWrites: wipeUnsaved)
    }

    nonisolated(nonsending) func device(replica: ReplicaID) async throws -> Device? {
        try await first(
            "SELECT \(unescaped: Self.deviceColumns) FROM devices WHERE replica = \(Self.int(replica))\(unescaped: lockClause)",
            makeDevice)
    }

    nonisolated(nonsending) func device(tokenHash: String) async throws -> Device? {
        try await first(
            "SELECT \(unescaped: Self.deviceColumns) FROM devices WHERE token_hash = \(tokenHash)", makeDevice)
    }

    nonisolated(nonsending) func device(previousTokenHash hash: String) async throws -> Device? {
        try await first(
            "SELECT \(unescaped: Self.deviceColumns) FROM devices WHERE previous_token_hash = \(hash)", makeDevice)
    }

    nonisolated(nonsending) func devices() async throws -> [Device] {
        try await rows("SELECT \(unescaped: Self.deviceColumns) FROM devices ORDER BY replica", makeDevice)
    }

    nonisolated(nonsending) func insertDevice(_ device: Device) async throws {
        let renewedTo = device.renewedTo.map(Self.int)
        try await execute(
            """
            INSERT INTO devices (\(unescaped: Self.deviceColumns)) VALUES (
                \(Self.int(device.replica)), \(device.user), \(device.tokenHash), \(device.name), \(Int64(device.epoch)),
                \(Self.int(device.lineage)), \(Self.int(device.createdAt)), \(Self.int(device.revokedAt)), \(renewedTo),
                \(Self.int(device.highestCounter)), \(Self.int(device.acknowledgedCursor)), \(device.scopeVersion),
                \(Self.int(device.lastSeenAt)), \(device.clampedWrites), \(Self.int(device.tokenExpiresAt)),
                \(device.previousTokenHash), \(Self.int(device.previousTokenUntil)), \(Self.int(device.wipeRequestedAt)),
                \(Self.int(device.wipedAt)), \(device.wipeSavedWrites), \(device.wipeUnsavedWrites))
            """)
    }

    nonisolated(nonsending) func revokeLineage(_ lineage: ReplicaID, at time: UInt64) async throws -> Int {
        try await execute(
            """
            UPDATE devices SET revoked_at = \(Self.int(time))
            WHERE lineage = \(Self.int(lineage)) AND revoked_at IS NULL RETURNING 1
            """)
    }

    nonisolated(nonsending) func revokeDevices(user: String, at time: UInt64) async throws -> Int {
        try await execute(
            """
            UPDATE devices SET revoked_at = \(Self.int(time))
            WHERE user_name = \(user) AND revoked_at IS NULL RETURNING 1
            """)
    }

    nonisolated(nonsending) func setRenewed(replica: ReplicaID, to successor: ReplicaID) async throws {
        try await execute(
            "UPDATE devices SET renewed_to = \(Self.int(successor)) WHERE replica = \(Self.int(replica))")
    }

    nonisolated(nonsending) func rotateToken(
        replica: ReplicaID, tokenHash: String, expiresAt: UInt64?, previousUntil: UInt64
    ) async throws {
        try await execute(
            """
            UPDATE devices SET previous_token_hash = token_hash, previous_token_until = \(Self.int(previousUntil)),
                token_hash = \(tokenHash), token_expires_at = \(Self.int(expiresAt))
            WHERE replica = \(Self.int(replica))
            """)
    }

    nonisolated(nonsending) func requestWipe(lineage: ReplicaID, at time: UInt64) async throws -> Int {
        try await execute(
            """
            UPDATE devices SET wipe_requested_at = \(Self.int(time))
            WHERE lineage = \(Self.int(lineage)) AND revoked_at IS NULL AND wipe_requested_at IS NULL RETURNING 1
            """)
    }

    nonisolated(nonsending) func recordWipe(
        replica: ReplicaID, at time: UInt64, savedWrites: Int64, unsavedWrites: Int64
    ) async throws {
        try await execute(
            """
            UPDATE devices SET wiped_at = \(Self.int(time)), wipe_saved_writes = \(savedWrites),
                wipe_unsaved_writes = \(unsavedWrites) WHERE replica = \(Self.int(replica))
            """)
        try await execute(
            """
            UPDATE devices SET revoked_at = \(Self.int(time))
            WHERE lineage = (SELECT lineage FROM devices WHERE replica = \(Self.int(replica))) AND revoked_at IS NULL
            """)
    }

    nonisolated(nonsending) func forEachDigestRow(
        scopes: Set<String>?, keys: Bool, stored: Bool, _ body: (DigestRow) throws -> Void
    ) async throws {
        let all = scopes == nil
        let list = (scopes ?? []).sorted()
        let limit = Int64(Self.streamPageSize)
        // Served up to the snapshot's head, as pages are; a page at a time in key order (the key is
        // read even without `keys`: the next page starts after it).
        try await forEachPaged(
            { (after: (String, String)?) -> PostgresQuery in
                let (collection, id) = after ?? ("", "")
                return """
                    SELECT collection, id, CASE WHEN \(stored)::bool THEN digest END,
                           CASE WHEN NOT \(stored)::bool OR digest IS NULL THEN state END FROM records
                    WHERE deleted_at IS NULL AND seq <= \(unescaped: Self.snapshotHead)
                      AND (\(all)::bool OR scope = ANY(\(list)::text[]))
                      AND (collection, id) > (\(collection), \(id))
                    ORDER BY collection, id LIMIT \(limit)
                    """
            },
            key: { row in try row.decode((String, String).self) },
            { row in
                let (collection, id, digest, state) = try row.decode((String, String, ByteBuffer?, ByteBuffer?).self)
                try body(
                    DigestRow(
                        collection: collection, id: id, digest: digest.map { Array(buffer: $0) },
                        state: state.map { Array(buffer: $0) }))
            })
    }

    nonisolated(nonsending) func digestSchema() async throws -> String? {
        try await first("SELECT digest_schema FROM hub_identity WHERE id = 1") { try $0.decode(String?.self) } ?? nil
    }

    nonisolated(nonsending) func currentSchema() async throws -> StoredSchema? {
        try await first("SELECT version, definition, applied_at FROM data_schemas ORDER BY version DESC LIMIT 1") {
            row in
            let (version, definition, appliedAt) = try row.decode((Int64, String, Int64).self)
            return StoredSchema(version: Int(version), definition: definition, appliedAt: UInt64(appliedAt))
        }
    }

    nonisolated(nonsending) func schemaVersion() async throws -> Int? {
        try await first("SELECT max(version) FROM data_schemas") { try $0.decode(Int64?.self) }?.map { Int($0) }
    }

    nonisolated(nonsending) func insertSchema(_ schema: StoredSchema) async throws {
        try await execute(
            """
            INSERT INTO data_schemas (version, definition, applied_at)
            VALUES (\(Int64(schema.version)), \(schema.definition), \(Int64(schema.appliedAt)))
            """)
    }

    nonisolated(nonsending) func resetDigests(schema: String) async throws {
        try await execute("UPDATE records SET digest = NULL WHERE digest IS NOT NULL")
        try await execute("UPDATE hub_identity SET digest_schema = \(schema) WHERE id = 1")
    }

    nonisolated(nonsending) func undigestedRecords(after key: RecordKey?, limit: Int) async throws
        -> [StoredRecordRow]
    {
        try await rows(
            """
            SELECT \(unescaped: Self.recordColumns) FROM records
            WHERE (collection, id) > (\(key?.collection ?? ""), \(key?.id ?? "")) AND deleted_at IS NULL
              AND digest IS NULL
            ORDER BY collection, id LIMIT \(Int64(limit))
            """, makeRow)
    }

    nonisolated(nonsending) func setDigest(collection: String, id: String, seq: UInt64, digest: [UInt8]) async throws {
        try await execute(
            """
            UPDATE records SET digest = \(ByteBuffer(bytes: digest))
            WHERE collection = \(collection) AND id = \(id) AND seq = \(Self.int(seq)) AND digest IS NULL
            """)
    }

    nonisolated(nonsending) func verifications() async throws -> [DeviceVerification] {
        try await rows(
            """
            SELECT replica, at, outcome, records, differing, repaired, full_check FROM device_verifications
            ORDER BY replica
            """
        ) { row in
            let (replica, at, outcome, records, differing, repaired, full) = try row.decode(
                (Int64, Int64, String, Int64, Int64, Int64, Bool).self)
            return DeviceVerification(
                replica: ReplicaID(UInt32(truncatingIfNeeded: replica)), at: Self.u64(at),
                outcome: DeviceVerification.Outcome(rawValue: outcome) ?? .unrepaired, records: Self.u64(records),
                differing: Self.u64(differing), repaired: Self.u64(repaired), full: full)
        }
    }

    nonisolated(nonsending) func recordVerification(_ verification: DeviceVerification) async throws {
        try await execute(
            """
            INSERT INTO device_verifications (replica, at, outcome, records, differing, repaired, full_check)
            VALUES (\(Self.int(verification.replica)), \(Self.int(verification.at)), \(verification.outcome.rawValue),
                \(Self.int(verification.records)), \(Self.int(verification.differing)),
                \(Self.int(verification.repaired)), \(verification.full))
            ON CONFLICT (replica) DO UPDATE SET at = excluded.at, outcome = excluded.outcome,
                records = excluded.records, differing = excluded.differing, repaired = excluded.repaired,
                full_check = excluded.full_check
            """)
    }

    /// Waits for the next flush (``PostgresWriteBehind``): a push's last statement before its commit.
    nonisolated(nonsending) func recordPush(
        replica: ReplicaID, highestCounter counter: UInt64, clampedWrites: Int64, seenAt time: UInt64
    ) async throws {
        if writeBehind.devicePush != nil { try await flush() }
        try checkUsable()
        writeBehind.devicePush = PostgresWriteBehind.DevicePush(
            replica: replica, highestCounter: counter, clampedWrites: clampedWrites, seenAt: time)
    }

    nonisolated(nonsending) func acknowledgePull(
        replica: ReplicaID, cursor: UInt64, scopeVersion: Int64?, seenAt time: UInt64
    ) async throws {
        try await execute(
            """
            UPDATE devices SET ack_cursor = \(Self.int(cursor)),
                scope_version = coalesce(\(scopeVersion)::bigint, scope_version), last_seen_at = \(Self.int(time))
            WHERE replica = \(Self.int(replica))
            """)
    }

    // MARK: - Records

    private static let recordColumns = "collection, id, seq, whole_since, scope, parent_id, deleted_at, state"
    /// The same columns of the alias `r`.
    private static let recordColumnsOfR =
        "r.collection, r.id, r.seq, r.whole_since, r.scope, r.parent_id, r.deleted_at, r.state"
    /// The snapshot's high-water mark, for the statement it appears in.
    private static let snapshotHead = "(SELECT head FROM head WHERE id = 1)"

    private func makeRecord(_ row: PostgresRow) throws -> StoredRecord {
        try makeRow(row).decoded()
    }

    private func makeRow(_ row: PostgresRow) throws -> StoredRecordRow {
        let (collection, id, seq, wholeSince, scope, parentID, deletedAt, bytes) = try row.decode(
            (String, String, Int64, Int64, String?, String?, Int64?, ByteBuffer).self)
        return Self.makeRow(collection, id, seq, wholeSince, scope, parentID, deletedAt, bytes)
    }

    private static func makeRow(
        _ collection: String, _ id: String, _ seq: Int64, _ wholeSince: Int64, _ scope: String?, _ parentID: String?,
        _ deletedAt: Int64?, _ bytes: ByteBuffer
    ) -> StoredRecordRow {
        StoredRecordRow(
            collection: collection, id: id, seq: u64(seq), wholeSince: u64(wholeSince), scope: scope,
            parentID: parentID, deletedAt: u64(deletedAt), state: Array(buffer: bytes))
    }

    nonisolated(nonsending) func record(collection: String, id: String) async throws -> StoredRecord? {
        guard locksReads else {
            return try await first(
                "SELECT \(unescaped: Self.recordColumns) FROM records WHERE collection = \(collection) AND id = \(id)",
                makeRecord)
        }
        let key = RecordKey(collection: collection, id: id)
        if let cached = writeBehind.records[key] { return cached }
        try await lockHead()
        let found = try await first(
            """
            SELECT \(unescaped: Self.recordColumns) FROM records WHERE collection = \(collection) AND id = \(id)
            FOR UPDATE
            """, makeRecord)
        writeBehind.records[key] = .some(found)
        return found
    }

    /// Locks the head (``lockHead()``), then the records that exist, in one statement, and keeps them
    /// (and which keys are missing, and which ids have no child) for the rest of the transaction.
    nonisolated(nonsending) func lockRecords(_ keys: [RecordKey]) async throws {
        guard locksReads else { return }
        try await lockHead()
        let sorted = Set(keys).filter { writeBehind.records[$0] == nil }.sorted()
        guard !sorted.isEmpty else { return }
        // Rows locked in (collection, id) order: the order every hub takes them in. The same statement
        // (one snapshot, taken after the head's lock) names the ids among them that have children.
        let ids = Array(Set(sorted.map(\.id)))
        var parents: Set<String> = []
        let found = try await rows(
            """
            WITH locked AS (
                SELECT \(unescaped: Self.recordColumns) FROM records WHERE (collection, id) IN
                  (SELECT * FROM unnest(\(sorted.map(\.collection))::text[], \(sorted.map(\.id))::text[]))
                ORDER BY collection, id FOR UPDATE
            )
            SELECT false, \(unescaped: Self.recordColumns) FROM locked
            UNION ALL
            SELECT DISTINCT true, ''::text, parent_id, 0::bigint, 0::bigint, NULL::text, NULL::text, NULL::bigint, ''::bytea FROM records
            WHERE parent_id = ANY(\(ids)::text[])
            """
        ) { row -> StoredRecord? in
            let (isParent, collection, id, seq, wholeSince, scope, parentID, deletedAt, bytes) = try row.decode(
                (Bool, String, String, Int64, Int64, String?, String?, Int64?, ByteBuffer).self)
            if isParent {
                parents.insert(id)
                return nil
            }
            return try Self.makeRow(collection, id, seq, wholeSince, scope, parentID, deletedAt, bytes).decoded()
        }.compactMap { $0 }
        for key in sorted { writeBehind.records[key] = .some(nil) }
        for record in found {
            writeBehind.records[RecordKey(collection: record.collection, id: record.id)] = .some(record)
        }
        writeBehind.childless.formUnion(Set(ids).subtracting(parents))
    }

    nonisolated(nonsending) func children(of parentID: String) async throws -> [StoredRecord] {
        // No child in the database when the head was locked: every child is one this transaction wrote.
        if locksReads, writeBehind.childless.contains(parentID) { return writeBehind.cachedChildren(of: parentID) }
        return try await rows(
            "SELECT \(unescaped: Self.recordColumns) FROM records WHERE parent_id = \(parentID) ORDER BY seq",
            makeRecord)
    }

    nonisolated(nonsending) func recordRows(after cursor: UInt64, scopes: Set<String>?, limit: Int) async throws
        -> [StoredRecordRow]
    {
        let limit = Int64(max(0, limit))
        guard let scopes else {
            return try await rows(
                """
                SELECT \(unescaped: Self.recordColumns) FROM records
                WHERE seq > \(Self.int(cursor)) AND seq <= \(unescaped: Self.snapshotHead)
                ORDER BY seq LIMIT \(limit)
                """, makeRow)
        }
        // One ordered range scan of the (scope, seq) index per scope, merged by the outer sort: a plain
        // `scope = ANY(...)` would sort every matching row on each page, which makes a bootstrap
        // quadratic in the territory's size.
        return try await rows(
            """
            SELECT \(unescaped: Self.recordColumnsOfR) FROM unnest(\(scopes.sorted())::text[]) AS s (scope)
            CROSS JOIN LATERAL (
                SELECT \(unescaped: Self.recordColumns) FROM records
                WHERE records.scope = s.scope AND seq > \(Self.int(cursor)) AND seq <= \(unescaped: Self.snapshotHead)
                ORDER BY seq LIMIT \(limit)
            ) r
            ORDER BY r.seq LIMIT \(limit)
            """, makeRow)
    }

    nonisolated(nonsending) func movedAway(after cursor: UInt64, movedAfter: UInt64, scopes: Set<String>, limit: Int)
        async throws -> [StoredRecord]
    {
        // Driven by the (few) moves after `movedAfter`, not by every record changed since.
        let cursor = Self.int(cursor)
        return try await rows(
            """
            SELECT \(unescaped: Self.recordColumnsOfR) FROM records r
            WHERE (r.collection, r.id) IN (SELECT collection, record_id FROM moves WHERE seq > \(Self.int(movedAfter)))
              AND r.seq > \(cursor) AND r.seq <= \(unescaped: Self.snapshotHead)
              AND (r.scope IS NULL OR NOT (r.scope = ANY(\(scopes.sorted())::text[])))
            ORDER BY r.seq LIMIT \(Int64(max(0, limit)))
            """, makeRecord)
    }

    nonisolated(nonsending) func firstMove(collection: String, id: String, after cursor: UInt64) async throws
        -> ScopeMove?
    {
        try await first(
            """
            SELECT seq, from_scope, to_scope FROM moves
            WHERE collection = \(collection) AND record_id = \(id) AND seq > \(Self.int(cursor))
            ORDER BY seq LIMIT 1
            """
        ) { row in
            let (seq, from, to) = try row.decode((Int64, String?, String?).self)
            return ScopeMove(seq: Self.u64(seq), collection: collection, recordID: id, fromScope: from, toScope: to)
        }
    }

    nonisolated(nonsending) func moves(collection: String, id: String, after cursor: UInt64) async throws
        -> [ScopeMove]
    {
        try await rows(
            """
            SELECT seq, from_scope, to_scope FROM moves
            WHERE collection = \(collection) AND record_id = \(id) AND seq > \(Self.int(cursor))
            ORDER BY seq
            """
        ) { row in
            let (seq, from, to) = try row.decode((Int64, String?, String?).self)
            return ScopeMove(seq: Self.u64(seq), collection: collection, recordID: id, fromScope: from, toScope: to)
        }
    }

    nonisolated(nonsending) func firstMoves(of keys: [RecordKey], after cursor: UInt64) async throws
        -> [RecordKey: ScopeMove]
    {
        let unique = Array(Set(keys))
        guard !unique.isEmpty else { return [:] }
        // One probe of the (collection, record_id, seq) index per record, in one statement.
        let moves = try await rows(
            """
            SELECT k.collection, k.id, m.seq, m.from_scope, m.to_scope
            FROM unnest(\(unique.map(\.collection))::text[], \(unique.map(\.id))::text[]) AS k (collection, id)
            CROSS JOIN LATERAL (
                SELECT seq, from_scope, to_scope FROM moves
                WHERE moves.collection = k.collection AND moves.record_id = k.id AND seq > \(Self.int(cursor))
                ORDER BY seq LIMIT 1
            ) m
            """
        ) { row in
            let (collection, id, seq, from, to) = try row.decode((String, String, Int64, String?, String?).self)
            return ScopeMove(seq: Self.u64(seq), collection: collection, recordID: id, fromScope: from, toScope: to)
        }
        var result: [RecordKey: ScopeMove] = [:]
        for move in moves { result[RecordKey(collection: move.collection, id: move.recordID)] = move }
        return result
    }

    nonisolated(nonsending) func forEachLiveRecord(_ body: (StoredRecord) throws -> Void) async throws {
        let limit = Int64(Self.streamPageSize)
        try await forEachPaged(
            { (after: (String, String)?) -> PostgresQuery in
                guard let after else {
                    return """
                        SELECT \(unescaped: Self.recordColumns) FROM records WHERE deleted_at IS NULL
                        ORDER BY collection, id LIMIT \(limit)
                        """
                }
                return """
                    SELECT \(unescaped: Self.recordColumns) FROM records
                    WHERE deleted_at IS NULL AND (collection, id) > (\(after.0), \(after.1))
                    ORDER BY collection, id LIMIT \(limit)
                    """
            },
            key: { row in try row.decode((String, String).self) },
            { row in try body(try makeRecord(row)) })
    }

    nonisolated(nonsending) func tombstones(after seq: UInt64, limit: Int) async throws -> [StoredRecord] {
        try await rows(
            """
            SELECT \(unescaped: Self.recordColumns) FROM records
            WHERE deleted_at IS NOT NULL AND seq > \(Self.int(seq)) ORDER BY seq LIMIT \(Int64(max(0, limit)))
            """, makeRecord)
    }

    /// Waits for the next flush (``PostgresWriteBehind``).
    nonisolated(nonsending) func insertRecord(_ record: StoredRecord) async throws {
        try checkUsable()
        writeBehind.insert(record)
    }

    /// Waits for the next flush (``PostgresWriteBehind``).
    nonisolated(nonsending) func updateRecord(_ record: StoredRecord) async throws {
        try checkUsable()
        writeBehind.update(record)
    }

    nonisolated(nonsending) func deleteTombstone(collection: String, id: String, seq: UInt64) async throws -> Bool {
        // Under READ COMMITTED a delete that waited for a reviving push's row lock checks its
        // condition again on the row that push committed: a new sequence, so it deletes nothing.
        let deleted = try await execute(
            """
            DELETE FROM records
            WHERE collection = \(collection) AND id = \(id) AND seq = \(Self.int(seq)) AND deleted_at IS NOT NULL
            RETURNING 1
            """)
        guard deleted > 0 else { return false }
        writeBehind.records[RecordKey(collection: collection, id: id)] = .some(nil)
        return true
    }

    nonisolated(nonsending) func insertMove(_ move: ScopeMove) async throws {
        try await execute(
            """
            INSERT INTO moves (seq, collection, record_id, from_scope, to_scope)
            VALUES (\(Self.int(move.seq)), \(move.collection), \(move.recordID), \(move.fromScope), \(move.toScope))
            """)
    }

    @discardableResult
    nonisolated(nonsending) func deleteMoves(upTo seq: UInt64) async throws -> UInt64? {
        let highest = try await first(
            "WITH gone AS (DELETE FROM moves WHERE seq <= \(Self.int(seq)) RETURNING seq) SELECT max(seq) FROM gone"
        ) { try $0.decode(Int64?.self) }
        return Self.u64(highest ?? nil)
    }

    // MARK: - Write results

    private static func makeWriteResult(_ row: PostgresRow, replica: ReplicaID) throws -> StoredWriteResult {
        let (counter, digest, status, conflictIDs, code, reason) = try row.decode(
            (Int64, ByteBuffer, String, String, String, String).self)
        return StoredWriteResult(
            dot: Dot(replica: replica, counter: u64(counter)), digest: Array(digest.readableBytesView),
            status: StoredWriteResult.Status(rawValue: status) ?? .rejected,
            conflictIDs: conflictIDs.split(separator: ",").map(String.init), code: code, reason: reason)
    }

    nonisolated(nonsending) func writeResult(replica: ReplicaID, counter: UInt64) async throws -> StoredWriteResult? {
        try await first(
            """
            SELECT counter, digest, status, conflict_ids, code, reason FROM write_results
            WHERE replica = \(Self.int(replica)) AND counter = \(Self.int(counter))
            """
        ) { try Self.makeWriteResult($0, replica: replica) }
    }

    nonisolated(nonsending) func writeResults(replica: ReplicaID, counters: [UInt64]) async throws
        -> [UInt64: StoredWriteResult]
    {
        guard !counters.isEmpty else { return [:] }
        let found = try await rows(
            """
            SELECT counter, digest, status, conflict_ids, code, reason FROM write_results
            WHERE replica = \(Self.int(replica)) AND counter = ANY(\(counters.map { Int64(bitPattern: $0) })::bigint[])
            """
        ) { try Self.makeWriteResult($0, replica: replica) }
        var results: [UInt64: StoredWriteResult] = [:]
        for result in found { results[result.dot.counter] = result }
        return results
    }

    /// Waits for the next flush (``PostgresWriteBehind``).
    nonisolated(nonsending) func insertWriteResult(_ result: StoredWriteResult) async throws {
        try checkUsable()
        writeBehind.append(result)
    }

    // MARK: - Conflicts

    private static let conflictColumns = """
        id, created_at, seq, collection, record_id, field, rule, base, chosen, competitors, status, scope, resolution
        """

    private func makeConflict(_ row: PostgresRow) throws -> ConflictReport {
        let (
            id, createdAt, seq, collection, recordID, field, rule, base, chosen, competitors, status, scope,
            resolution
        ) = try row.decode(
            (
                String, Int64, Int64, String, String, String?, String, String?, String?, String, String, String?,
                String?
            ).self)
        let conflict = Conflict(
            collection: collection, recordID: recordID, field: field, rule: rule,
            base: try base.map { try decode(Value.self, $0) }, values: try decode([Competitor].self, competitors),
            chosen: try chosen.map { try decode(Value.self, $0) },
            status: ConflictStatus(rawValue: status) ?? .open)
        return ConflictReport(
            id: id, createdAt: Self.u64(createdAt), seq: Self.u64(seq), conflict: conflict, scope: scope,
            resolution: try resolution.map { try decode(ConflictResolution.self, $0) })
    }

    nonisolated(nonsending) func conflict(id: String) async throws -> ConflictReport? {
        try await first(
            "SELECT \(unescaped: Self.conflictColumns) FROM conflicts WHERE id = \(id)\(unescaped: lockClause)",
            makeConflict)
    }

    /// `SELECT <what> FROM conflicts WHERE <filter>`, the filter's values bound as parameters; `nil`
    /// values match everything (PostgreSQL plans each call with its values, so unused conditions fold
    /// away).
    private static func conflictQuery(_ what: String, _ filter: ConflictFilter) -> PostgresQuery {
        """
        SELECT \(unescaped: what) FROM conflicts
        WHERE (\(filter.status?.rawValue)::text IS NULL OR status = \(filter.status?.rawValue))
          AND (\(filter.collection)::text IS NULL OR collection = \(filter.collection))
          AND (\(filter.field)::text IS NULL OR field = \(filter.field))
          AND (\(filter.rule)::text IS NULL OR rule = \(filter.rule))
          AND (\(filter.user)::text IS NULL OR EXISTS (
                SELECT 1 FROM json_array_elements(replace(competitors, '\\u0000', '\\u0001')::json) AS c (value)
                WHERE c.value ->> 'author' = \(filter.user)))
          AND (\(filter.territory)::text IS NULL OR scope = \(filter.territory))
          AND (\(filter.recordID)::text IS NULL OR record_id = \(filter.recordID))
          AND (\(int(filter.from))::bigint IS NULL OR created_at >= \(int(filter.from)))
          AND (\(int(filter.to))::bigint IS NULL OR created_at < \(int(filter.to)))
        """
    }

    private static let conflictOrder = " ORDER BY created_at DESC, seq DESC, id DESC"

    nonisolated(nonsending) func conflicts(_ filter: ConflictFilter) async throws -> [ConflictReport] {
        var query = Self.conflictQuery(Self.conflictColumns, filter)
        query.sql += Self.conflictOrder
        query.sql += " LIMIT $\(query.binds.count + 1) OFFSET $\(query.binds.count + 2)"
        query.binds.append(Int64(max(0, filter.limit)))
        query.binds.append(Int64(max(0, filter.offset)))
        return try await rows(query, makeConflict)
    }

    nonisolated(nonsending) func conflictCount(_ filter: ConflictFilter) async throws -> Int {
        let count = try await first(Self.conflictQuery("count(*)", filter)) { try $0.decode(Int64.self) }
        return Int(count ?? 0)
    }

    nonisolated(nonsending) func forEachConflict(_ filter: ConflictFilter, _ body: (ConflictReport) throws -> Void)
        async throws
    {
        // Keyset pages in the list's order (newest first): memory holds a page, not the list.
        try await forEachPaged(
            { (after: (Int64, Int64, String)?) -> PostgresQuery in
                var query = Self.conflictQuery(Self.conflictColumns, filter)
                if let after {
                    let n = query.binds.count
                    query.sql += " AND (created_at, seq, id) < ($\(n + 1), $\(n + 2), $\(n + 3))"
                    query.binds.append(after.0)
                    query.binds.append(after.1)
                    query.binds.append(after.2)
                }
                query.sql += Self.conflictOrder + " LIMIT \(Self.streamPageSize)"
                return query
            },
            key: { row in
                let (id, createdAt, seq) = try row.decode((String, Int64, Int64).self)
                return (createdAt, seq, id)
            },
            { row in try body(try makeConflict(row)) })
    }

    nonisolated(nonsending) func insertConflict(_ report: ConflictReport) async throws {
        let conflict = report.conflict
        let base = try conflict.base.map { try HistoryJSON.value($0) ?? json($0) }
        let chosen = try conflict.chosen.map { try HistoryJSON.value($0) ?? json($0) }
        let competitors = try HistoryJSON.competitors(conflict.values) ?? json(conflict.values)
        let resolution = try report.resolution.map { try json($0) }
        try await execute(
            """
            INSERT INTO conflicts (\(unescaped: Self.conflictColumns)) VALUES (
                \(report.id), \(Self.int(report.createdAt)), \(Self.int(report.seq)), \(conflict.collection),
                \(conflict.recordID), \(conflict.field), \(conflict.rule), \(base), \(chosen), \(competitors),
                \(conflict.status.rawValue), \(report.scope), \(resolution))
            """)
    }

    nonisolated(nonsending) func setResolution(conflictID: String, _ resolution: ConflictResolution) async throws {
        let text = try json(resolution)
        try await execute(
            """
            UPDATE conflicts SET status = \(ConflictStatus.resolved.rawValue), resolution = \(text)
            WHERE id = \(conflictID)
            """)
    }

    // MARK: - Events

    nonisolated(nonsending) func events(kinds: Set<HubEvent.Kind>?, limit: Int) async throws -> [HubEvent] {
        let kinds = kinds.map { $0.map(\.rawValue).sorted() }
        return try await rows(
            """
            SELECT id, at, kind, replica, user_name, detail FROM events
            WHERE \(kinds)::text[] IS NULL OR kind = ANY(\(kinds)::text[])
            ORDER BY id DESC LIMIT \(Int64(max(0, limit)))
            """
        ) { row in
            let (id, at, kind, replica, user, detail) = try row.decode(
                (Int64, Int64, String, Int64?, String?, String).self)
            return HubEvent(
                id: id, at: Self.u64(at), kind: HubEvent.Kind(rawValue: kind), replica: Self.replica(replica),
                user: user, detail: detail)
        }
    }

    @discardableResult
    nonisolated(nonsending) func insertEvent(_ event: HubEvent) async throws -> Int64 {
        let replica = event.replica.map(Self.int)
        let id = try await first(
            """
            INSERT INTO events (at, kind, replica, user_name, detail)
            VALUES (\(Self.int(event.at)), \(event.kind.rawValue), \(replica), \(event.user), \(event.detail))
            RETURNING id
            """
        ) { try $0.decode(Int64.self) }
        return id ?? 0
    }

    // MARK: - Write history

    nonisolated(nonsending) func history(collection: String, recordID: String, field: String?, limit: Int)
        async throws -> [HistoryEntry]
    {
        // A key whose value is JSON null still counts as carried, as SQLite's `json_type` says.
        // PostgreSQL's JSON functions refuse an escaped NUL (`\u0000`, valid JSON, which HistoryJSON
        // writes for a NUL in a value): it is swapped for `\u0001` first, which changes no key.
        try await rows(
            """
            SELECT seq, collection, record_id, replica, counter, hlc, user_name, at, fields, deleted FROM write_history
            WHERE collection = \(collection) AND record_id = \(recordID)
              AND (\(field)::text IS NULL OR deleted
                   OR (replace(fields, '\\u0000', '\\u0001')::json -> \(field)::text) IS NOT NULL)
            ORDER BY seq DESC LIMIT \(Int64(max(0, limit)))
            """
        ) { row in
            let (seq, collection, recordID, replica, counter, hlc, user, at, fields, deleted) = try row.decode(
                (Int64, String, String, Int64, Int64, Int64, String, Int64, String, Bool).self)
            return HistoryEntry(
                seq: Self.u64(seq), collection: collection, recordID: recordID,
                dot: Dot(replica: Self.replica(replica), counter: Self.u64(counter)), hlc: HLC(rawValue: Self.u64(hlc)),
                user: user, at: Self.u64(at), fields: try decode([String: Value].self, fields), deleted: deleted)
        }
    }

    nonisolated(nonsending) func forEachFieldHistory(
        collection: String, field: String, _ body: (HistoryEntry) throws -> Void
    ) async throws {
        let limit = Int64(Self.streamPageSize)
        // As in ``history(collection:recordID:field:limit:)``: NUL swapped before the JSON functions.
        try await forEachPaged(
            { (after: (String, Int64)?) -> PostgresQuery in
                """
                SELECT seq, collection, record_id, replica, counter, hlc, user_name, at, fields, deleted
                FROM write_history
                WHERE collection = \(collection)
                  AND (record_id, seq) > (\(after?.0 ?? ""), \(after?.1 ?? -1))
                  AND (deleted OR (replace(fields, '\\u0000', '\\u0001')::json -> \(field)::text) IS NOT NULL)
                ORDER BY record_id, seq LIMIT \(limit)
                """
            },
            key: { row in
                let (seq, _, recordID) = try row.decode((Int64, String, String).self)
                return (recordID, seq)
            },
            { row in
                let (seq, collection, recordID, replica, counter, hlc, user, at, fields, deleted) = try row.decode(
                    (Int64, String, String, Int64, Int64, Int64, String, Int64, String, Bool).self)
                try body(
                    HistoryEntry(
                        seq: Self.u64(seq), collection: collection, recordID: recordID,
                        dot: Dot(replica: Self.replica(replica), counter: Self.u64(counter)),
                        hlc: HLC(rawValue: Self.u64(hlc)), user: user, at: Self.u64(at),
                        fields: try decode([String: Value].self, fields), deleted: deleted))
            })
    }

    /// Waits for the next flush (``PostgresWriteBehind``).
    nonisolated(nonsending) func insertHistory(_ entry: HistoryEntry) async throws {
        try checkUsable()
        writeBehind.append(entry)
    }

    nonisolated(nonsending) func deleteHistory(collection: String, recordID: String) async throws {
        try await execute("DELETE FROM write_history WHERE collection = \(collection) AND record_id = \(recordID)")
    }

    // MARK: - Admin web sessions

    nonisolated(nonsending) func adminSession(id: String) async throws -> AdminSession? {
        try await first("SELECT id, user_name, csrf, expires_at FROM admin_sessions WHERE id = \(id)") { row in
            let (id, user, csrf, expiresAt) = try row.decode((String, String, String, Int64).self)
            return AdminSession(id: id, user: user, csrf: csrf, expiresAt: Self.u64(expiresAt))
        }
    }

    nonisolated(nonsending) func insertAdminSession(_ session: AdminSession) async throws {
        try await execute(
            """
            INSERT INTO admin_sessions (id, user_name, csrf, expires_at)
            VALUES (\(session.id), \(session.user), \(session.csrf), \(Self.int(session.expiresAt)))
            """)
    }

    nonisolated(nonsending) func touchAdminSession(id: String, expiresAt: UInt64) async throws {
        try await execute("UPDATE admin_sessions SET expires_at = \(Self.int(expiresAt)) WHERE id = \(id)")
    }

    nonisolated(nonsending) func deleteAdminSession(id: String) async throws {
        try await execute("DELETE FROM admin_sessions WHERE id = \(id)")
    }

    nonisolated(nonsending) func deleteAdminSessions(user: String) async throws -> Int {
        try await execute("DELETE FROM admin_sessions WHERE user_name = \(user) RETURNING 1")
    }

    nonisolated(nonsending) func deleteExpiredAdminSessions(at time: UInt64) async throws {
        try await execute("DELETE FROM admin_sessions WHERE expires_at <= \(Self.int(time))")
    }

    // MARK: - Coordination

    /// `pg_try_advisory_xact_lock` on a key derived from `name`: held until this transaction ends, by
    /// one transaction of any hub on the database at a time.
    nonisolated(nonsending) func tryExclusive(_ name: String) async throws -> Bool {
        let key = PostgresHubSchema.advisoryKey("lock.\(name)")
        let taken = try await first("SELECT pg_try_advisory_xact_lock(\(key))") { try $0.decode(Bool.self) }
        return taken ?? false
    }
}
