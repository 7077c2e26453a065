import Dispatch
import Foundation
public import Logging
import RelaisSQLite
import Synchronization

/// The embedded hub store: one SQLite file, `hub.sqlite`, in the hub's data folder (DESIGN §7).
///
/// The file is in WAL mode with `synchronous=FULL` (a push the hub answered survives a power cut)
/// and a busy timeout, so that `relais-hub user add` or `device revoke` can write from another
/// process while `serve` runs. Its schema is a list of versioned migrations recorded in the file;
/// before it applies one to an existing store it copies the store to `hub.sqlite.before-schema-N`.
///
/// ## Threads
///
/// SQLite calls block, and `fsync` blocks for milliseconds: none of it runs on the Swift concurrency
/// pool. One **writer** connection has its own thread (a serial executor on a dispatch queue);
/// **readers** (read-only connections, WAL snapshots) have theirs. Transaction bodies run on that
/// thread, one after the other (``HubStore``'s bodies are `nonisolated(nonsending)`), and async
/// callers suspend until their work is done. A body runs once: there is one writer, so nothing
/// ever asks for a re-run.
///
/// ## Group commit
///
/// Writes queue up while the writer commits. The writer then takes every queued write (up to
/// ``Configuration/maxGroupSize``), runs them in **one** transaction, each in its own savepoint
/// (one write's failure rolls back only its own work), commits once — one `fsync` for all — and
/// only then answers them all. Under load, many pushes share each commit; alone, a push commits at
/// once. Sequences are taken inside the transaction by the single writer, so commit order is
/// sequence order and a pull never skips a change that commits late.
///
/// ## Checkpoints
///
/// A commit writes and syncs the write-ahead log only. Copying the log into the file (a checkpoint)
/// runs on a connection and thread of its own once the log holds
/// ``Configuration/checkpointFrames`` pages, so that no push waits for it; SQLite's default would
/// run it inside the commit that passed 1,000 pages, which a push of 1,000 writes with random ids
/// does every time. Should the log reach ``Configuration/maxLogFrames`` all the same (the background
/// copy could not finish because commits never paused, or a reader held an old snapshot), the
/// writer copies it itself after answering that commit, as SQLite would.
public final class SQLiteHubStore: HubStore {
    /// Tuning of the store.
    public struct Configuration: Sendable {
        /// How long a write waits for another process's lock. Default 5 s.
        public var busyTimeout: Duration = .seconds(5)
        /// The most writes that share one commit. Default 256.
        public var maxGroupSize: Int = 256
        /// Read-only connections serving reads concurrently. Default 2.
        public var readers: Int = 2
        /// A ceiling on the store file's size in bytes (`PRAGMA max_page_count`), or `nil` for none.
        /// A write that would grow the file past it fails with ``HubStoreError/storageFull`` (507) and
        /// writes nothing; a ceiling below the current size holds the file at its current size.
        public var maxStoreBytes: Int64?
        /// The write-ahead log's length, in pages, from which a background connection copies it into
        /// the file. Default 4,096 (16 MiB of 4 KiB pages).
        public var checkpointFrames: Int = 4_096
        /// The length from which the writer copies the log into the file itself, after a commit.
        /// Default 16,384 (64 MiB).
        public var maxLogFrames: Int = 16_384

        public init() {}
    }

    /// The file name inside the data folder.
    public static let fileName = "hub.sqlite"
    /// The page cache of the store's writing connection, in KiB (64 MiB).
    static let writerCacheKiB = 65_536

    /// The path of the database file.
    public let path: String
    private let writer: SQLiteWorker
    private let checkpointer: SQLiteCheckpointer
    private let readers: [SQLiteWorker]
    private let nextReader = Atomic<Int>(0)
    private let logger: Logger

    /// Opens the store in `folder`.
    ///
    /// - Parameters:
    ///   - folder: The data folder.
    ///   - create: `true` to create a new store: the folder is created if missing, and a folder that
    ///     already holds a store is refused (``HubStoreError/exists``). `false` to open an existing
    ///     one (``HubStoreError/missing`` if there is none).
    ///   - now: The time recorded with applied migrations.
    public convenience init(
        folder: String, create: Bool, configuration: Configuration = .init(), now: UInt64 = 0,
        logger: Logger = Logger(label: "relais.hub.store")
    ) throws {
        let path = (folder as NSString).appendingPathComponent(Self.fileName)
        let exists = FileManager.default.fileExists(atPath: path)
        if create {
            if exists { throw HubStoreError.exists.with("The data folder already holds a hub store.", ["path": path]) }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } else if !exists {
            throw HubStoreError.missing.with(
                "No hub store in \(folder); run `relais-hub init --data \(folder)` first.", ["path": path])
        }
        try self.init(path: path, configuration: configuration, now: now, logger: logger)
    }

    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    public init(
        path: String, configuration: Configuration = .init(), now: UInt64 = 0,
        logger: Logger = Logger(label: "relais.hub.store")
    ) throws {
        self.path = path
        self.logger = logger
        let connection = try Connection(path: path)
        try connection.configureForDurability(busyTimeout: configuration.busyTimeout)
        let version = try connection.userVersion()
        if version > SQLiteHubSchema.currentVersion {
            throw HubStoreError.tooNew.with(
                "The store has schema version \(version); this relais-hub knows up to \(SQLiteHubSchema.currentVersion).",
                ["path": path])
        }
        if version > 0, version < SQLiteHubSchema.currentVersion {
            // An upgrade: keep the store as it was before changing its schema.
            let copy = path + ".before-schema-\(version)"
            if !FileManager.default.fileExists(atPath: copy) {
                try Self.copy(connection, into: copy).close()
                logger.notice(
                    "Backed up the store before upgrading its schema",
                    metadata: ["from": "\(version)", "to": "\(SQLiteHubSchema.currentVersion)", "backup": "\(copy)"])
            }
        }
        try SQLiteHubSchema.migrate(connection, now: now)
        if let maxStoreBytes = configuration.maxStoreBytes {
            let pageSize = try connection.scalar("PRAGMA page_size")?.int64Value ?? 4096
            try connection.execute("PRAGMA max_page_count = \(max(1, maxStoreBytes / max(1, pageSize)))")
        }
        // The writer's page cache: pushes with random ids touch pages all over the record, history
        // and result b-trees, and SQLite's default 2 MiB spilled them between commits (about 10 % more
        // ingest with 64 MiB in docs/PERFORMANCE.md's runs; readers keep the default).
        try connection.execute("PRAGMA cache_size = -\(Self.writerCacheKiB)")
        // Each push runs in a savepoint, which keeps the first image of every page it changes in a
        // sub-journal; past 64 KiB SQLite spills that to a temporary file, so a push of 1,000 writes
        // wrote some 2,000 pages there (about half the time of its record and history inserts).
        // In memory, it holds at most the pages of one push (the batch limit) until its release.
        try connection.execute("PRAGMA temp_store = MEMORY")
        let checkpointConnection = try Connection(path: path)
        try checkpointConnection.configureForDurability(busyTimeout: configuration.busyTimeout)
        checkpointer = SQLiteCheckpointer(connection: checkpointConnection, logger: logger)
        try connection.countLogFramesInsteadOfCheckpointing()
        writer = SQLiteWorker(
            connection: connection, label: "relais.hub.sqlite.writer", maxGroupSize: configuration.maxGroupSize,
            log: .init(
                checkpointer: checkpointer, checkpointFrames: configuration.checkpointFrames,
                maxFrames: configuration.maxLogFrames))
        var readers: [SQLiteWorker] = []
        for index in 0..<max(1, configuration.readers) {
            let reader = try Connection(path: path, mode: .readOnly)
            try reader.configureForDurability(busyTimeout: configuration.busyTimeout)
            readers.append(
                SQLiteWorker(connection: reader, label: "relais.hub.sqlite.reader.\(index)", maxGroupSize: nil))
        }
        self.readers = readers
    }

    public func write<T: Sendable>(
        _ body: nonisolated(nonsending) @escaping @Sendable (any HubTransaction) async throws -> T
    ) async throws -> T {
        try await writer.run(body)
    }

    public func read<T: Sendable>(
        _ body: nonisolated(nonsending) @escaping @Sendable (any HubReadTransaction) async throws -> T
    ) async throws -> T {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        return try await readers[index % readers.count].run(body)
    }

    public var location: String { path }

    public func statistics() -> HubStoreStatistics {
        var statistics = writer.statistics()
        statistics.backgroundCheckpoints = checkpointer.checkpoints
        return statistics
    }

    /// Copies the write-ahead log into the file now, on the checkpoint connection, after any copy
    /// under way, and returns once it is done (what a reader still needs stays in the log). For
    /// measurements that must count the copy a commit no longer waits for.
    public func copyLogIntoFile() async {
        await checkpointer.copyNow()
    }

    /// The database file and its `-wal` and `-shm` files; the free space of their file system.
    public func size() async throws -> HubStoreSize {
        let used = [path, path + "-wal", path + "-shm"].reduce(Int64(0)) { $0 + Self.size(of: $1) }
        let folder = (path as NSString).deletingLastPathComponent
        let free = (try? FileManager.default.attributesOfFileSystem(forPath: folder))?[.systemFreeSize] as? NSNumber
        return HubStoreSize(used: used, available: free?.int64Value)
    }

    public func close() async {
        await checkpointer.close()
        await writer.close()
        for reader in readers { await reader.close() }
    }
}

/// A serial executor on one dispatch queue: the thread a connection is used on. It is also the task
/// executor of the work it runs, so that nonisolated async code called from a transaction body stays
/// on it instead of moving to the concurrency pool.
final class SQLiteQueueExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async {
            job.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor())
        }
    }
}

/// One connection, its thread, and the queue of transactions waiting for it.
///
/// `@unchecked Sendable`: the connection and the transaction wrapper are touched only by the drain
/// task, which runs on `executor` and runs one job at a time; the job list and counters are behind a
/// mutex.
final class SQLiteWorker: @unchecked Sendable {
    /// A queued transaction: `run` does the work (inside a savepoint for a write), `complete`
    /// answers the caller.
    final class Job: @unchecked Sendable {
        let run: nonisolated(nonsending) (SQLiteHubTransaction) async throws -> Void
        let complete: ((any Error)?) -> Void

        init(
            run: nonisolated(nonsending) @escaping (SQLiteHubTransaction) async throws -> Void,
            complete: @escaping ((any Error)?) -> Void
        ) {
            self.run = run
            self.complete = complete
        }
    }

    private struct State {
        var jobs: [Job] = []
        var draining = false
        var closed = false
        var statistics = HubStoreStatistics()
    }

    /// When the writer's log is copied into the file (``SQLiteHubStore`` "Checkpoints").
    struct LogPolicy {
        var checkpointer: SQLiteCheckpointer
        var checkpointFrames: Int
        var maxFrames: Int
    }

    private let executor: SQLiteQueueExecutor
    private let connection: Connection
    private let transaction: SQLiteHubTransaction
    /// `nil` for a reader: each job is a deferred (read) transaction of its own.
    private let maxGroupSize: Int?
    /// The writer's, once its connection counts the log's frames instead of checkpointing.
    private let log: LogPolicy?
    private let state = Mutex(State())

    /// A worker over `connection`; `maxGroupSize` for the writer (group commit), `nil` for a reader.
    init(connection: Connection, label: String, maxGroupSize: Int?, log: LogPolicy? = nil) {
        self.connection = connection
        self.transaction = SQLiteHubTransaction(db: connection)
        self.executor = SQLiteQueueExecutor(label: label)
        self.maxGroupSize = maxGroupSize.map { max(1, $0) }
        self.log = log
    }

    func statistics() -> HubStoreStatistics {
        state.withLock { $0.statistics }
    }

    /// Queues a transaction and waits until it has run (for a write: until its group committed).
    func run<T: Sendable, Transaction>(
        _ body: nonisolated(nonsending) @escaping @Sendable (Transaction) async throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let box = ResultBox<T>()
            let job = Job(
                run: { transaction in
                    // The worker's transaction is every kind of transaction this store offers.
                    box.value = try await body(transaction as! Transaction)
                },
                complete: { error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let value = box.value {
                        continuation.resume(returning: value)
                    } else {
                        continuation.resume(
                            throwing: HubStoreError.failed.with("A transaction finished without a result."))
                    }
                })
            enqueue(job)
        }
    }

    private func enqueue(_ job: Job) {
        let start: Bool? = state.withLock { state in
            if state.closed { return nil }
            state.jobs.append(job)
            if state.draining { return false }
            state.draining = true
            return true
        }
        switch start {
        case nil: job.complete(HubStoreError.unavailable.with("The store is closed."))
        case true?: Task(executorPreference: executor) { await self.drain() }
        case false?: break
        }
    }

    /// Runs queued jobs until none is left: a group per commit for the writer, one by one for a reader.
    private func drain() async {
        while true {
            let group: [Job] = state.withLock { state in
                let taken = Array(state.jobs.prefix(maxGroupSize ?? 1))
                state.jobs.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            if group.isEmpty { return }
            if maxGroupSize == nil {
                await runRead(group[0])
            } else {
                await runGroup(group)
            }
        }
    }

    private func runRead(_ job: Job) async {
        do {
            try await connection.transaction(.deferred) { try await job.run(transaction) }
            job.complete(nil)
        } catch {
            job.complete(error)
        }
    }

    private struct GroupAborted: Error {
        var underlying: any Error
    }

    private func runGroup(_ group: [Job]) async {
        var outcomes: [(any Error)?] = []
        outcomes.reserveCapacity(group.count)
        let connection = self.connection
        let transaction = self.transaction
        do {
            try await connection.transaction(.immediate) {
                for job in group {
                    do {
                        // Nested: a savepoint, so that a throw undoes only this job's work.
                        try await connection.transaction { try await job.run(transaction) }
                        outcomes.append(nil)
                    } catch {
                        // Some failures (I/O, full disk) make SQLite roll back the whole transaction:
                        // then every job of the group, done or not, is lost and must fail.
                        guard connection.isInTransaction else { throw GroupAborted(underlying: error) }
                        outcomes.append(Self.storeFailure(error))
                    }
                }
            }
        } catch {
            let cause = (error as? GroupAborted)?.underlying ?? error
            let failure = Self.storeFailure(cause)
            state.withLock { $0.statistics.transactions += group.count }
            for (index, job) in group.enumerated() {
                job.complete(index < outcomes.count ? (outcomes[index] ?? failure) : failure)
            }
            return
        }
        state.withLock { state in
            state.statistics.transactions += group.count
            state.statistics.commits += 1
            state.statistics.largestGroup = max(state.statistics.largestGroup, group.count)
        }
        for (job, outcome) in zip(group, outcomes) {
            job.complete(outcome)
        }
        if let log, let frames = connection.logFramesAfterLastCommit {
            if frames >= log.maxFrames {
                // The background copy has not kept up: copy the log here, between two commits.
                _ = try? connection.checkpoint()
            } else if frames >= log.checkpointFrames {
                log.checkpointer.request()
            }
        }
    }

    /// A commit-level failure as callers see it: a busy file is "retry later", not a bug.
    private static func storeFailure(_ error: any Error) -> any Error {
        if let sqlite = error as? SQLiteError, sqlite.isBusy || sqlite.isLocked {
            return HubStoreError.unavailable.with(
                "The store is locked by another process.", ["sqlite": sqlite.description])
        }
        if let sqlite = error as? SQLiteError, sqlite.isFull {
            return HubStoreError.storageFull.with(HubStoreError.storageFull.message, ["sqlite": sqlite.description])
        }
        return error
    }

    /// Finishes queued work, refuses new work, and closes the connection.
    func close() async {
        state.withLock { $0.closed = true }
        let connection = self.connection
        await withTaskExecutorPreference(executor) {
            // Queued jobs finish first: the drain task runs on this executor too, and closing waits
            // for the connection's statements to be done.
            while state.withLock({ $0.draining }) { await Task.yield() }
            try? connection.close()
        }
    }
}

/// Copies the store's write-ahead log into its file on a connection and thread of its own, when the
/// writer asks (``SQLiteHubStore`` "Checkpoints"). Requests made while a copy runs make one more
/// copy after it; a failed copy (another connection checkpointing) waits for the next request.
///
/// `@unchecked Sendable`: the connection is used only on `queue`, one block at a time; the flags are
/// behind a mutex.
final class SQLiteCheckpointer: @unchecked Sendable {
    private struct State {
        var running = false
        var again = false
        var closed = false
        var checkpoints = 0
    }

    private let connection: Connection
    private let queue = DispatchQueue(label: "relais.hub.sqlite.checkpointer")
    private let state = Mutex(State())
    private let logger: Logger

    init(connection: Connection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Checkpoints run so far.
    var checkpoints: Int { state.withLock { $0.checkpoints } }

    /// Starts a copy of the log, or one more after the copy under way.
    func request() {
        let start = state.withLock { state -> Bool in
            if state.closed { return false }
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        if start { queue.async { self.run() } }
    }

    /// Copies the log once now, after the copy under way, and returns when it is done.
    func copyNow() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                if !self.state.withLock({ $0.closed }) { self.copy(waitingForOthers: true) }
                done.resume()
            }
        }
    }

    /// One passive checkpoint. `waitingForOthers`: while another connection checkpoints (the
    /// writer, past ``SQLiteHubStore/Configuration/maxLogFrames``), try again every millisecond for
    /// up to 5 s, rather than put the copy off.
    private func copy(waitingForOthers: Bool = false) {
        var attempts = waitingForOthers ? 5_000 : 1
        while attempts > 0 {
            attempts -= 1
            do {
                try connection.checkpoint()
                state.withLock { $0.checkpoints += 1 }
                return
            } catch let error where error.isBusy && attempts > 0 {
                Thread.sleep(forTimeInterval: 0.001)
            } catch {
                logger.debug("Checkpoint of the store's log put off", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    private func run() {
        while true {
            copy()
            let again = state.withLock { state -> Bool in
                if state.again, !state.closed {
                    state.again = false
                    return true
                }
                state.running = false
                return false
            }
            if !again { return }
        }
    }

    /// Refuses new copies, waits for the one under way, and closes the connection.
    func close() async {
        state.withLock { $0.closed = true }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                try? self.connection.close()
                done.resume()
            }
        }
    }
}

/// Carries a job's result from the worker's thread to its caller.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
