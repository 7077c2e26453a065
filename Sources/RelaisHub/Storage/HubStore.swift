public import RelaisCore

/// Where the hub keeps its state: one protocol, one implementation per engine (``SQLiteHubStore``
/// now, a PostgreSQL store next), all run through one shared test suite.
///
/// All work happens in transactions given as closures, so that the sync logic (authorize, clamp,
/// merge) lives once, in ``HubService``, above the stores:
///
/// ```swift
/// let head = try await store.write { tx in
///     let seq = try tx.nextSequence()
///     try tx.putRecord(record.with(seq: seq))
///     return seq
/// }
/// ```
///
/// ## Contract
///
/// - ``write(_:)`` runs `body` atomically: everything it did is durable (`fsync`) when `write`
///   returns, and nothing it did remains when it throws. Stores may run several concurrent writes in
///   one physical transaction (group commit), each isolated so that one body's failure undoes only
///   its own work.
/// - Sequences (``HubTransaction/nextSequence()``) are handed out inside write transactions. A
///   pull must never skip a change that commits after a later-numbered one. SQLite has one writer,
///   so commit order is sequence order. A store with concurrent writers (PostgreSQL) must make
///   pulls stop below the lowest sequence still held by an uncommitted transaction — for example by
///   taking the sequence under a table lock held to commit, or by recording in-flight sequences and
///   serving pulls only up to the lowest in-flight one — and say which in its documentation.
/// - ``read(_:)`` sees one consistent snapshot of committed state.
/// - Bodies run off the Swift concurrency pool (the SQLite store has its own threads); they must
///   not block on async work, and must not keep the transaction past their return.
public protocol HubStore: Sendable {
    /// Runs `body` in a write transaction and returns its result once committed durably.
    func write<T: Sendable>(_ body: @escaping @Sendable (any HubTransaction) throws -> T) async throws -> T

    /// Runs `body` in a read-only snapshot.
    func read<T: Sendable>(_ body: @escaping @Sendable (any HubReadTransaction) throws -> T) async throws -> T

    /// How the store has committed so far.
    func statistics() -> HubStoreStatistics

    /// Finishes queued work and closes the store. Later calls throw ``HubError/unavailable``.
    func close() async
}

/// The reads a transaction offers.
public protocol HubReadTransaction {
    // MARK: Meta

    /// The hub's singleton state.
    func meta() throws -> HubMeta

    // MARK: Users, tokens, enrollments

    func user(named name: String) throws -> HubUser?
    func users() throws -> [HubUser]
    func apiToken(hash: String) throws -> APIToken?
    func enrollment(codeHash: String) throws -> Enrollment?

    // MARK: Devices

    func device(replica: ReplicaID) throws -> Device?
    func device(tokenHash: String) throws -> Device?
    func devices() throws -> [Device]

    // MARK: Records

    func record(collection: String, id: String) throws -> StoredRecord?
    /// Live and deleted records whose parent reference is `parentID`.
    func children(of parentID: String) throws -> [StoredRecord]
    /// Records with `seq` after `cursor` in sequence order, at most `limit`: all of them when `scopes`
    /// is `nil`, else those whose scope is in `scopes`. Tombstones included.
    func records(after cursor: UInt64, scopes: Set<String>?, limit: Int) throws -> [StoredRecord]
    /// Records with `seq` after `cursor` whose scope is not in `scopes` (or is `nil`) and that moved
    /// after `cursor`, in sequence order, at most `limit`: the candidates for revocation.
    func movedAway(after cursor: UInt64, scopes: Set<String>, limit: Int) throws -> [StoredRecord]
    /// The first scope move of a record after `cursor`, if any.
    func firstMove(collection: String, id: String, after cursor: UInt64) throws -> ScopeMove?
    /// Every live (not deleted) record, for exports; `body` is called in collection then id order.
    func forEachLiveRecord(_ body: (StoredRecord) throws -> Void) throws
    /// Tombstones with `seq` after `seq`, in sequence order, at most `limit`.
    func tombstones(after seq: UInt64, limit: Int) throws -> [StoredRecord]

    // MARK: Push results

    func writeResult(replica: ReplicaID, counter: UInt64) throws -> StoredWriteResult?

    // MARK: Conflicts and events

    func conflict(id: String) throws -> ConflictReport?
    /// Reports matching `filter`, newest first.
    func conflicts(_ filter: ConflictFilter) throws -> [ConflictReport]
    func conflictCount(status: ConflictStatus?) throws -> Int
    /// Events, newest first.
    func events(limit: Int) throws -> [HubEvent]

    // MARK: Write history

    /// The accepted writes on a record, newest first, at most `limit`: those that carried `field`, or
    /// deleted the record; every one when `field` is `nil`.
    func history(collection: String, recordID: String, field: String?, limit: Int) throws -> [HistoryEntry]
}

/// The writes a transaction offers, besides its reads.
public protocol HubTransaction: HubReadTransaction {
    func setMeta(_ meta: HubMeta) throws
    /// Takes the next sequence number (the head, plus one) and records it as the head.
    func nextSequence() throws -> UInt64

    func insertUser(_ user: HubUser) throws
    func updateUser(_ user: HubUser) throws
    func insertAPIToken(_ token: APIToken) throws
    func insertEnrollment(_ enrollment: Enrollment) throws
    func updateEnrollment(_ enrollment: Enrollment) throws

    func insertDevice(_ device: Device) throws
    func updateDevice(_ device: Device) throws

    /// Inserts or replaces a record.
    func putRecord(_ record: StoredRecord) throws
    func deleteRecord(collection: String, id: String) throws
    func insertMove(_ move: ScopeMove) throws
    /// Forgets moves at or below `seq` (no device with a cursor below the purge horizon is served).
    func deleteMoves(upTo seq: UInt64) throws

    func insertWriteResult(_ result: StoredWriteResult) throws

    func insertConflict(_ report: ConflictReport) throws
    func updateConflict(_ report: ConflictReport) throws

    /// Appends an event; returns its id.
    @discardableResult
    func insertEvent(_ event: HubEvent) throws -> Int64

    /// Appends an accepted write to the history (one row per write).
    func insertHistory(_ entry: HistoryEntry) throws
    /// Forgets a record's history (its tombstone was purged).
    func deleteHistory(collection: String, recordID: String) throws
}
