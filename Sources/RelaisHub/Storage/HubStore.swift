public import RelaisCore

/// Where the hub keeps its state: one contract, two engines — ``SQLiteHubStore`` (one file, the
/// embedded default) and ``PostgresHubStore`` (several hub processes on one database) — both run
/// through one shared test suite (`HubStoreContractTests`).
///
/// All work happens in transactions given as closures, so that the sync logic (authorize, clamp,
/// merge) lives once, in ``HubService``, above the stores:
///
/// ```swift
/// let seq = try await store.write { tx in
///     let seq = try await tx.nextSequence()
///     try await tx.updateRecord(record.with(seq: seq))
///     return seq
/// }
/// ```
///
/// ## Contract
///
/// - **Atomic and durable.** ``write(_:)`` runs `body` atomically: everything it did is durable
///   (`fsync`) when `write` returns, and nothing it did remains when it throws. Stores may run several
///   concurrent writes in one physical transaction (SQLite's group commit), each isolated so that one
///   body's failure undoes only its own work.
/// - **Bodies may run more than once.** A store with concurrent writers (PostgreSQL) re-runs a body
///   from the start, in a fresh transaction, after a serialization failure, a deadlock or a unique
///   violation (two hubs inserting the same row). A body must therefore be safe to re-run: its only
///   effects go through the transaction; it computes everything else from what it reads. Secrets and
///   times made before the call are reused as they are.
/// - **Bodies run where the store wants them.** Bodies and the transaction's operations are
///   `nonisolated(nonsending)`: they run on the executor the store calls them from. The SQLite store
///   calls them on its writer's (or a reader's) own thread, so SQLite's blocking calls never run on
///   the Swift concurrency pool; the PostgreSQL store calls them from the request's task and awaits
///   its connection. A body must not keep the transaction past its return.
/// - **Reads in a write lock what they read.** In a write transaction, ``HubReadTransaction/record(collection:id:)``,
///   ``HubReadTransaction/device(replica:)`` and ``HubReadTransaction/conflict(id:)`` lock the row
///   they return until the transaction ends (PostgreSQL: `FOR UPDATE`), so that a read-merge-write
///   of one record by two hubs cannot lose either write.
/// - **Sequences never let a pull skip a late commit.** ``HubTransaction/nextSequence()`` hands out
///   the hub's global sequence. ``HubMeta/head``, as a read sees it, is a *high-water mark*: every
///   sequence at or below it is committed (or was never used) in that read's snapshot, and no record
///   above it is served. SQLite has one writer, so commit order is sequence order. PostgreSQL takes
///   sequences under a row lock held until commit (docs/SYNC.md, "Sequences with several writers").
/// - **Inserts and updates are distinct.** An `insert…` of a row whose key exists fails (a unique
///   violation: PostgreSQL retries the body, which then sees the row). An `update…` or `set…` of a
///   missing row changes nothing and is not an error unless it says so. A `delete…` of a missing row
///   is not an error.
/// - **Every list has a stated order** on columns of the rows, never on an engine's row id.
/// - **A failed operation ends the body.** A body must not catch a store error and carry on: on
///   PostgreSQL the transaction is already aborted (the store then rolls back and rethrows, re-running
///   the body when the error asks for it). Text values hold no NUL character (PostgreSQL refuses it).
/// - ``read(_:)`` sees one consistent snapshot of committed state.
public protocol HubStore: Sendable {
    /// Runs `body` in a write transaction and returns its result once committed durably.
    func write<T: Sendable>(
        _ body: nonisolated(nonsending) @escaping @Sendable (any HubTransaction) async throws -> T
    ) async throws -> T

    /// Runs `body` in a read-only snapshot.
    func read<T: Sendable>(
        _ body: nonisolated(nonsending) @escaping @Sendable (any HubReadTransaction) async throws -> T
    ) async throws -> T

    /// How the store has committed so far.
    func statistics() -> HubStoreStatistics

    /// How many bytes the store takes, and how many are left where it lives (`/metrics`, the size
    /// alert of Deploy/prometheus).
    func size() async throws -> HubStoreSize

    /// Runs what the store needs in the background (PostgreSQL's connection pool) until the task is
    /// cancelled. Until it runs, a PostgreSQL store's transactions wait. Run it in the service group,
    /// or use ``HubStoreLocation/withStore(create:configuration:logger:_:)``.
    func run() async throws

    /// Finishes queued work and closes the store. Later calls throw ``HubStoreError/unavailable``.
    func close() async

    /// Where the store is, for logs and messages (never a password).
    var location: String { get }
}

extension HubStore {
    /// Nothing to run in the background.
    public func run() async throws {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
    }
}

/// The room a store takes.
public struct HubStoreSize: Sendable, Hashable {
    /// Bytes the store's files (SQLite: the database and its write-ahead log) or database take.
    public var used: Int64
    /// Bytes left on the file system that holds a SQLite store; `nil` for PostgreSQL, whose server
    /// watches its own disk.
    public var available: Int64?

    public init(used: Int64, available: Int64?) {
        self.used = used
        self.available = available
    }
}

/// The reads a transaction offers.
///
/// Every method is `nonisolated(nonsending)`: see the contract of ``HubStore``.
public protocol HubReadTransaction: Sendable {
    // MARK: Meta

    /// The hub's singleton state. `head` is the high-water mark of this snapshot (see ``HubStore``).
    nonisolated(nonsending) func meta() async throws -> HubMeta
    /// The hub epoch: a random text made when the store was created and renewed at every restore
    /// (``HubWriteTransaction/renewHubEpoch(_:replicaGap:counterGap:)``). Laptops compare it on every
    /// sync (docs/SYNC.md "A restored hub").
    nonisolated(nonsending) func hubEpoch() async throws -> String

    // MARK: Users, tokens, enrollments

    nonisolated(nonsending) func user(named name: String) async throws -> HubUser?
    /// Every user, by name.
    nonisolated(nonsending) func users() async throws -> [HubUser]
    nonisolated(nonsending) func apiToken(hash: String) async throws -> APIToken?
    /// Every admin API token, revoked ones included, by creation time, then hash.
    nonisolated(nonsending) func apiTokens() async throws -> [APIToken]
    nonisolated(nonsending) func enrollment(codeHash: String) async throws -> Enrollment?

    // MARK: Devices

    nonisolated(nonsending) func device(replica: ReplicaID) async throws -> Device?
    nonisolated(nonsending) func device(tokenHash: String) async throws -> Device?
    /// The device whose last rotation replaced the token with this hash (``Device/previousTokenHash``).
    nonisolated(nonsending) func device(previousTokenHash: String) async throws -> Device?
    /// Every device, by replica number.
    nonisolated(nonsending) func devices() async throws -> [Device]

    // MARK: Records

    nonisolated(nonsending) func record(collection: String, id: String) async throws -> StoredRecord?
    /// Live and deleted records whose parent reference is `parentID`, in sequence order.
    nonisolated(nonsending) func children(of parentID: String) async throws -> [StoredRecord]
    /// Records with `seq` after `cursor` and at most the snapshot's head, in sequence order, at most
    /// `limit`: all of them when `scopes` is `nil`, else those whose scope is in `scopes`. Tombstones
    /// included. Their states come encoded, as a pull page reads them (``records(after:scopes:limit:)``
    /// decodes them).
    nonisolated(nonsending) func recordRows(after cursor: UInt64, scopes: Set<String>?, limit: Int) async throws
        -> [StoredRecordRow]
    /// Records with `seq` after `cursor` (and at most the head) whose scope is not in `scopes` (or is
    /// `nil`) and that moved after `movedAfter` (at most `cursor`), in sequence order, at most `limit`:
    /// the candidates for revocation.
    nonisolated(nonsending) func movedAway(after cursor: UInt64, movedAfter: UInt64, scopes: Set<String>, limit: Int)
        async throws -> [StoredRecord]
    /// Every scope move of a record after `cursor`, in sequence order.
    nonisolated(nonsending) func moves(collection: String, id: String, after cursor: UInt64) async throws
        -> [ScopeMove]
    /// The first scope move of a record after `cursor`, if any.
    nonisolated(nonsending) func firstMove(collection: String, id: String, after cursor: UInt64) async throws
        -> ScopeMove?
    /// ``firstMove(collection:id:after:)`` of each of `keys` at once, keyed by record; records that did
    /// not move after `cursor` are absent. A pull page asks this once for all its records (SQLite, in
    /// process, asks ``firstMove(collection:id:after:)`` for each when a move came after `cursor`;
    /// PostgreSQL, across a network, answers in one statement).
    nonisolated(nonsending) func firstMoves(of keys: [RecordKey], after cursor: UInt64) async throws
        -> [RecordKey: ScopeMove]
    /// Every live (not deleted) record, for exports; `body` is called in (collection, id) order and the
    /// records are streamed, never all held at once.
    nonisolated(nonsending) func forEachLiveRecord(_ body: (StoredRecord) throws -> Void) async throws
    /// Tombstones with `seq` after `seq`, in sequence order, at most `limit`.
    nonisolated(nonsending) func tombstones(after seq: UInt64, limit: Int) async throws -> [StoredRecord]
    /// Every live record whose scope is in `scopes` (`nil`: every live record) with its stored digest
    /// (``StoredRecord/digest``), or its state when it has none, in no stated order; streamed. Without
    /// `keys`, a row with a stored digest may come with an empty collection and id.
    ///
    /// With `stored` false, every row comes with its key and state and no digest (the stored ones were
    /// computed under another schema: ``digestSchema()``).
    nonisolated(nonsending) func forEachDigestRow(
        scopes: Set<String>?, keys: Bool, stored: Bool, _ body: (DigestRow) throws -> Void
    ) async throws
    /// The count and XOR (two big-endian halves) of the hashes of the stored digests of every live
    /// record whose scope is in `scopes` (`nil`: every live record); each live record without a
    /// stored digest goes to `undigested` with its key and state. What a view's digest needs, without
    /// a row per record (the default reads ``forEachDigestRow(scopes:keys:stored:_:)``).
    nonisolated(nonsending) func sumStoredDigests(
        scopes: Set<String>?, undigested: (DigestRow) throws -> Void
    ) async throws -> (count: UInt64, high: UInt64, low: UInt64)
    /// The fingerprint of the schema the stored digests were computed under (``HubTransaction/resetDigests(schema:)``);
    /// `nil` before any.
    nonisolated(nonsending) func digestSchema() async throws -> String?
    /// The data schema in force: the highest version applied (``HubTransaction/insertSchema(_:)``);
    /// `nil` before any.
    nonisolated(nonsending) func currentSchema() async throws -> StoredSchema?
    /// The version of the data schema in force, `nil` before any: one row, read at every push and
    /// pull so that a hub notices a schema applied by `relais-hub schema apply` while it serves.
    nonisolated(nonsending) func schemaVersion() async throws -> Int?
    /// Live records without a stored digest (written before digests), after `key` in (collection, id)
    /// order, at most `limit`.
    nonisolated(nonsending) func undigestedRecords(after key: RecordKey?, limit: Int) async throws -> [StoredRecordRow]
    /// The last verification each device reported (``DeviceVerification``), by replica.
    nonisolated(nonsending) func verifications() async throws -> [DeviceVerification]

    // MARK: Push results

    nonisolated(nonsending) func writeResult(replica: ReplicaID, counter: UInt64) async throws -> StoredWriteResult?
    /// ``writeResult(replica:counter:)`` of each of `counters` at once, keyed by counter; counters with
    /// no stored result are absent. A push asks this once for its whole batch (the default asks for
    /// each: right for a store in process, not across a network).
    nonisolated(nonsending) func writeResults(replica: ReplicaID, counters: [UInt64]) async throws
        -> [UInt64: StoredWriteResult]

    // MARK: Conflicts and events

    nonisolated(nonsending) func conflict(id: String) async throws -> ConflictReport?
    /// The page of reports matching `filter` (its `limit` and `offset`), newest first: by
    /// `createdAt`, then `seq`, then `id`, all descending.
    nonisolated(nonsending) func conflicts(_ filter: ConflictFilter) async throws -> [ConflictReport]
    /// How many reports match `filter` (its page ignored).
    nonisolated(nonsending) func conflictCount(_ filter: ConflictFilter) async throws -> Int
    /// Every report matching `filter` (its page ignored), newest first as ``conflicts(_:)``, streamed
    /// in pages: memory stays bounded however many there are.
    nonisolated(nonsending) func forEachConflict(_ filter: ConflictFilter, _ body: (ConflictReport) throws -> Void)
        async throws
    /// Events of the given kinds (every kind when `nil`), newest first (by id), at most `limit`.
    nonisolated(nonsending) func events(kinds: Set<HubEvent.Kind>?, limit: Int) async throws -> [HubEvent]

    // MARK: Write history

    /// Every accepted write of `collection` that carried `field`, and every delete, in (record id,
    /// sequence) order, streamed: the reports' history of a field over the whole file (retention
    /// reads the customers' statuses).
    nonisolated(nonsending) func forEachFieldHistory(
        collection: String, field: String, _ body: (HistoryEntry) throws -> Void
    ) async throws
    /// The accepted writes on a record, newest first (by `seq`), at most `limit`: those that carried
    /// `field`, or deleted the record; every one when `field` is `nil`.
    nonisolated(nonsending) func history(collection: String, recordID: String, field: String?, limit: Int)
        async throws -> [HistoryEntry]

    // MARK: Admin web sessions

    /// The admin web session `id`, expired or not.
    nonisolated(nonsending) func adminSession(id: String) async throws -> AdminSession?
}

/// The writes a transaction offers, besides its reads: narrow operations that say what they mean,
/// so that two hubs writing at once never write back an old copy of a row over a newer one.
public protocol HubTransaction: HubReadTransaction {
    // MARK: Counters

    /// Locks the records with these keys that exist, in key order, until the transaction ends: a
    /// write that touches several records takes their locks before its first sequence, so that two
    /// hubs never wait for each other in a cycle (SQLite, with one writer, does nothing). PostgreSQL
    /// takes the head's lock first (as it does before any record read in a write), and keeps the
    /// records for the transaction's later reads: after this call, reading one of them costs nothing.
    /// With no keys it takes the head's lock alone: no other write that takes a sequence (a push,
    /// which may raise reports) commits until this transaction ends, so what it reads stays true.
    nonisolated(nonsending) func lockRecords(_ keys: [RecordKey]) async throws

    /// Takes the next sequence number and records it as the head. See ``HubStore`` on the high-water
    /// mark: on PostgreSQL this holds a lock until the transaction ends.
    nonisolated(nonsending) func nextSequence() async throws -> UInt64
    /// Takes the next replica number to hand out (each is handed out once, even across a rollback).
    nonisolated(nonsending) func takeReplicaNumber() async throws -> ReplicaID
    /// Takes the hub replica's (0) next dot for an admin's write: the counter after the last one, and
    /// the HLC `HybridLogicalClock(last:).now(physicalMillis:)` gives after the last one taken.
    nonisolated(nonsending) func takeHubDot(physicalMillis: UInt64) async throws -> (counter: UInt64, hlc: HLC)
    /// Raises the purge horizon to `seq` (never lowers it), and ``HubMeta/purgedUpTo`` with it.
    nonisolated(nonsending) func raisePurgeHorizon(to seq: UInt64) async throws
    /// Raises ``HubMeta/purgedUpTo`` to `seq` (never lowers it).
    nonisolated(nonsending) func raisePurgedUpTo(_ seq: UInt64) async throws
    /// Makes `epoch` the hub epoch and moves the numbers the hub hands out past what a newer copy of
    /// this store may have handed out: the next replica number by `replicaGap`, the hub replica's (0)
    /// counter by `counterGap` (after a restore: docs/SYNC.md "A restored hub").
    nonisolated(nonsending) func renewHubEpoch(_ epoch: String, replicaGap: UInt32, counterGap: UInt64) async throws

    // MARK: Users, tokens, enrollments

    nonisolated(nonsending) func insertUser(_ user: HubUser) async throws
    /// Sets a user's role and territories and bumps their scope version by one; returns the user as
    /// stored, or `nil` when there is no such user.
    nonisolated(nonsending) func setUserAccess(name: String, role: Role, territories: [String]) async throws -> HubUser?
    /// Sets when a user was disabled (`nil`: enabled again); returns the user as stored, or `nil` when
    /// there is no such user.
    nonisolated(nonsending) func setUserDisabled(name: String, at time: UInt64?) async throws -> HubUser?
    nonisolated(nonsending) func insertAPIToken(_ token: APIToken) async throws
    /// Revokes the token with this hash if it is not revoked yet; returns whether it was.
    nonisolated(nonsending) func revokeAPIToken(hash: String, at time: UInt64) async throws -> Bool
    /// Revokes every token of `user` not yet revoked; returns how many.
    @discardableResult
    nonisolated(nonsending) func revokeAPITokens(user: String, at time: UInt64) async throws -> Int
    nonisolated(nonsending) func insertEnrollment(_ enrollment: Enrollment) async throws
    /// Marks an enrollment code used by `replica`, with the hash of the enrollment's attempt and the
    /// token it was given, sealed (``Enrollment/sealedToken``), only if it is still unused; returns
    /// whether it was.
    nonisolated(nonsending) func useEnrollment(
        codeHash: String, at time: UInt64, replica: ReplicaID, attemptHash: String?, sealedToken: String?
    ) async throws -> Bool
    /// Ends every code of `user` still unused and unexpired at `time`: its expiry becomes `time`.
    /// Returns how many.
    @discardableResult
    nonisolated(nonsending) func expireEnrollments(user: String, at time: UInt64) async throws -> Int
    /// Forgets the attempt and the sealed token of every code used at or before `time`: its enrollment is
    /// no longer answered again (``Enrollment/answersAgainForMillis``). Returns how many.
    @discardableResult
    nonisolated(nonsending) func forgetEnrollmentAttempts(usedAtOrBefore time: UInt64) async throws -> Int

    // MARK: Devices

    nonisolated(nonsending) func insertDevice(_ device: Device) async throws
    /// Revokes every device of `lineage` not yet revoked; returns how many.
    @discardableResult
    nonisolated(nonsending) func revokeLineage(_ lineage: ReplicaID, at time: UInt64) async throws -> Int
    /// Revokes every device of `user` not yet revoked; returns how many.
    @discardableResult
    nonisolated(nonsending) func revokeDevices(user: String, at time: UInt64) async throws -> Int
    /// Records that `replica` was renewed into `successor`.
    nonisolated(nonsending) func setRenewed(replica: ReplicaID, to successor: ReplicaID) async throws
    /// Replaces the token of `replica` by the one with hash `tokenHash`, valid until `expiresAt`; the
    /// replaced one becomes its ``Device/previousTokenHash``, renewing only until `previousUntil`.
    nonisolated(nonsending) func rotateToken(
        replica: ReplicaID, tokenHash: String, expiresAt: UInt64?, previousUntil: UInt64) async throws
    /// Marks every device of `lineage` neither revoked nor already marked for wipe at `time`;
    /// returns how many.
    @discardableResult
    nonisolated(nonsending) func requestWipe(lineage: ReplicaID, at time: UInt64) async throws -> Int
    /// Records that `replica` erased itself, with what it reported, and revokes its lineage.
    nonisolated(nonsending) func recordWipe(
        replica: ReplicaID, at time: UInt64, savedWrites: Int64, unsavedWrites: Int64) async throws
    /// After a push: raises the replica's highest counter to `counter` (never lowers it), adds
    /// `clampedWrites` to its count of clamped writes, and records when it was seen.
    nonisolated(nonsending) func recordPush(
        replica: ReplicaID, highestCounter counter: UInt64, clampedWrites: Int64,
        seenAt time: UInt64) async throws
    /// Stores a record's digest (``RecordDigest/stored``) if it has none and has not changed since `seq`.
    nonisolated(nonsending) func setDigest(collection: String, id: String, seq: UInt64, digest: [UInt8]) async throws
    /// Forgets every stored digest (the backfill computes them again) and records `schema` as the
    /// one the stored digests are computed under from now on.
    nonisolated(nonsending) func resetDigests(schema: String) async throws
    /// Records a data schema as the one in force (its version above every stored one).
    nonisolated(nonsending) func insertSchema(_ schema: StoredSchema) async throws
    /// Keeps a device's verification report, replacing its previous one.
    nonisolated(nonsending) func recordVerification(_ verification: DeviceVerification) async throws
    /// After a pull: the device acknowledged `cursor` (set, not raised: a device that bootstraps again
    /// starts from 0); from cursor 0 it also records the scope version it bootstraps under.
    nonisolated(nonsending) func acknowledgePull(
        replica: ReplicaID, cursor: UInt64, scopeVersion: Int64?,
        seenAt time: UInt64) async throws

    // MARK: Records

    /// Inserts a record that does not exist yet (a unique violation if it does).
    nonisolated(nonsending) func insertRecord(_ record: StoredRecord) async throws
    /// Replaces an existing record (its collection and id are the key).
    nonisolated(nonsending) func updateRecord(_ record: StoredRecord) async throws
    /// Deletes a record's tombstone if the record is still that tombstone: deleted, at sequence
    /// `seq`. A record revived or changed since keeps its row, and the answer is `false`. The purge
    /// reads tombstones without locking them: on PostgreSQL a push that revives one may commit while
    /// the purge's delete waits for the row, and the delete then finds the row at another sequence.
    nonisolated(nonsending) func deleteTombstone(collection: String, id: String, seq: UInt64) async throws -> Bool
    nonisolated(nonsending) func insertMove(_ move: ScopeMove) async throws
    /// Forgets moves at or below `seq` (no device with a cursor below the purge horizon is served);
    /// returns the highest sequence forgotten, `nil` when there was none (``HubMeta/purgedUpTo`` rises to it).
    @discardableResult
    nonisolated(nonsending) func deleteMoves(upTo seq: UInt64) async throws -> UInt64?

    nonisolated(nonsending) func insertWriteResult(_ result: StoredWriteResult) async throws

    // MARK: Conflicts, events, history

    nonisolated(nonsending) func insertConflict(_ report: ConflictReport) async throws
    /// Marks a report resolved with `resolution` (replacing an earlier decision: an overturn).
    nonisolated(nonsending) func setResolution(conflictID: String, _ resolution: ConflictResolution) async throws

    /// Appends an event; returns its id (ids grow).
    @discardableResult
    nonisolated(nonsending) func insertEvent(_ event: HubEvent) async throws -> Int64

    /// Appends an accepted write to the history (one row per write).
    nonisolated(nonsending) func insertHistory(_ entry: HistoryEntry) async throws
    /// Forgets a record's history (its tombstone was purged).
    nonisolated(nonsending) func deleteHistory(collection: String, recordID: String) async throws

    // MARK: Admin web sessions

    nonisolated(nonsending) func insertAdminSession(_ session: AdminSession) async throws
    /// Moves a session's expiry (it slides with use).
    nonisolated(nonsending) func touchAdminSession(id: String, expiresAt: UInt64) async throws
    nonisolated(nonsending) func deleteAdminSession(id: String) async throws
    /// Ends every session of `user`; returns how many.
    @discardableResult
    nonisolated(nonsending) func deleteAdminSessions(user: String) async throws -> Int
    /// Forgets sessions that expired at or before `time`.
    nonisolated(nonsending) func deleteExpiredAdminSessions(at time: UInt64) async throws

    // MARK: Coordination

    /// Takes the lock `name` until this transaction ends, if no other transaction (of any hub) holds
    /// it; returns whether it did. For work that one hub at a time must do (the tombstone purge).
    nonisolated(nonsending) func tryExclusive(_ name: String) async throws -> Bool
}

extension HubReadTransaction {
    public nonisolated(nonsending) func sumStoredDigests(
        scopes: Set<String>?, undigested: (DigestRow) throws -> Void
    ) async throws -> (count: UInt64, high: UInt64, low: UInt64) {
        var sum: (count: UInt64, high: UInt64, low: UInt64) = (0, 0, 0)
        try await forEachDigestRow(scopes: scopes, keys: false, stored: true) { row in
            guard let digest = row.digest else { return try undigested(row) }
            guard digest.count == 24 else { return }
            var halves: (UInt64, UInt64) = (0, 0)
            for i in 0..<8 {
                halves.0 = halves.0 << 8 | UInt64(digest[8 + i])
                halves.1 = halves.1 << 8 | UInt64(digest[16 + i])
            }
            sum = (sum.count + 1, sum.high ^ halves.0, sum.low ^ halves.1)
        }
        return sum
    }

    /// ``recordRows(after:scopes:limit:)``, decoded.
    public nonisolated(nonsending) func records(after cursor: UInt64, scopes: Set<String>?, limit: Int) async throws
        -> [StoredRecord]
    {
        try await recordRows(after: cursor, scopes: scopes, limit: limit).map { try $0.decoded() }
    }

    public nonisolated(nonsending) func writeResults(replica: ReplicaID, counters: [UInt64]) async throws
        -> [UInt64: StoredWriteResult]
    {
        var results: [UInt64: StoredWriteResult] = [:]
        for counter in Set(counters) {
            if let result = try await writeResult(replica: replica, counter: counter) { results[counter] = result }
        }
        return results
    }

    /// ``movedAway(after:movedAfter:scopes:limit:)`` of the records that moved after `cursor`.
    public nonisolated(nonsending) func movedAway(after cursor: UInt64, scopes: Set<String>, limit: Int) async throws
        -> [StoredRecord]
    {
        try await movedAway(after: cursor, movedAfter: cursor, scopes: scopes, limit: limit)
    }

    /// ``moves(collection:id:after:)`` of each of `keys`, keyed by record; records that did not move
    /// after `cursor` are absent. Asked only for the revocation candidates of a page, which are few.
    public nonisolated(nonsending) func moves(of keys: [RecordKey], after cursor: UInt64) async throws
        -> [RecordKey: [ScopeMove]]
    {
        var moves: [RecordKey: [ScopeMove]] = [:]
        for key in Set(keys) {
            let found = try await self.moves(collection: key.collection, id: key.id, after: cursor)
            if !found.isEmpty { moves[key] = found }
        }
        return moves
    }
}
