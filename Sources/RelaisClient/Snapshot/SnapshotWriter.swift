public import Logging
public import RelaisCore
public import RelaisProtocol
import RelaisSQLite

/// Builds a snapshot: a replica file of one user's view, made from the pages a device of that view
/// pulling from cursor 0 would receive, applied by the code a laptop runs (docs/SYNC.md "Snapshot
/// bootstrap"). The hub serves it to fresh laptops, which copy its records in and pull what changed
/// after its cursor.
///
/// The file has no identity (no replica number, token or hub epoch) and no pending write: a laptop
/// takes only records from it.
///
/// ```swift
/// let writer = try SnapshotWriter(path: path, schema: .crm)
/// var cursor: UInt64 = 0
/// var more = true
/// while more {
///     let page = try await pageAfter(cursor)
///     try writer.add(page)
///     (cursor, more) = (page.nextCursor, page.more)
/// }
/// try writer.finish()
/// ```
public final class SnapshotWriter {
    private let store: ReplicaStore
    private var batch = PullBatch(recordLimit: SyncOptions().applyBatchRecords)
    private var finished = false
    /// Records and revocations received so far.
    public private(set) var received = 0

    /// Creates the file at `path` (which must not exist) for `schema`.
    public init(path: String, schema: Schema, logger: Logger = Logger(label: "relais.snapshot")) throws {
        store = try ReplicaStore(path: path, schema: schema, configuration: Replica.Configuration(), logger: logger)
        // The generation a fresh laptop's first bootstrap gives its records: one that takes this
        // file whole keeps them as they are.
        try store.syncWrite { try store.setState("generation", .integer(1)) }
    }

    /// Applies the next page, in order. Pages are applied in batches, as a sync applies them.
    public func add(_ page: Relais_V1_PullResponse) throws {
        precondition(!finished, "SnapshotWriter.add called after finish()")
        received += page.records.count + page.revocations.count
        if batch.add(page) { _ = try store.applyPages(batch.take()) }
    }

    /// The cursor the file stands at: its last applied page's.
    public var cursor: UInt64 {
        get throws { try store.cursor }
    }

    /// Applies what is held and leaves the file whole on its own (no write-ahead log beside it),
    /// ready to be copied. Call once, after the page with `more` false.
    public func finish() throws {
        precondition(!finished, "SnapshotWriter.finish called twice")
        finished = true
        _ = try store.applyPages(batch.take())
        try store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try store.db.execute("PRAGMA journal_mode = DELETE")
    }
}
