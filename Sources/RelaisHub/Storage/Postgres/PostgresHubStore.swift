import Foundation
public import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The scale-out hub store: one PostgreSQL database shared by several hub processes (DESIGN §7).
///
/// ```swift
/// // Checks and migrates the schema over a connection of its own.
/// let store = try await PostgresHubStore.open(url: "postgres://relais@db.internal:5432/relais", create: false)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { try await store.run() }          // the connection pool
///     // ... serve ...
///     await store.close()
///     group.cancelAll()
/// }
/// ```
/// ``withStore(url:create:configuration:now:logger:_:)`` does exactly that around a body.
///
/// ## Transactions
///
/// Each transaction leases one connection from the client's pool. Writes run at `READ COMMITTED`;
/// their reads of a record, a device or a conflict report lock the row (`FOR UPDATE`), so that two
/// hubs doing a read-merge-write of one record take turns instead of losing a write. Reads run in a
/// `REPEATABLE READ READ ONLY` transaction: one snapshot for the whole body.
///
/// A body is re-run from the start, in a fresh transaction, when PostgreSQL reports a serialization
/// failure (`40001`), a deadlock (`40P01`) or a unique violation (`23505`, two hubs inserting the
/// same row: the re-run sees the row), or when a statement found its connection closed (the server
/// went away; the statement was never sent, so nothing of the attempt was committed), up to
/// ``Configuration/maxAttempts`` times with a short jittered back-off.
///
/// ## Sequences
///
/// ``PostgresHubTransaction/nextSequence()`` increments the single row of the `head` table and keeps
/// that row locked until the transaction ends, so commit order is sequence order and a snapshot's
/// `head` is a high-water mark: a pull never skips a change that commits late (see
/// ``PostgresHubTransaction/nextSequence()``).
///
/// ## Errors
///
/// A malformed URL is ``HubStoreError/badLocation``; a server that cannot be reached, a pool that is closed
/// and a transaction that stays busy after its attempts are ``HubStoreError/unavailable`` (503); a full
/// disk is ``HubStoreError/storageFull``; a unique violation that persists is ``HubError/conflict``; any
/// other database failure is ``HubStoreError/failed`` with the SQLSTATE and server message in its context.
public final class PostgresHubStore: HubStore {
    /// Tuning of the store.
    public struct Configuration: Sendable {
        /// The most connections the pool opens to the server. Default 8.
        public var maxConnections: Int = 8
        /// How long opening a connection (and ``PostgresHubStore/open(create:now:)``) may take before
        /// the server counts as unreachable. Default 10 s.
        public var connectTimeout: Duration = .seconds(10)
        /// The server-side limit on one statement, waits for row locks included (`statement_timeout`);
        /// `nil` for the server's default. Default 30 s.
        public var statementTimeout: Duration? = .seconds(30)
        /// How many times a body runs at most when PostgreSQL asks for a retry. Default 5.
        public var maxAttempts: Int = 5
        /// How long one attempt of a transaction (waiting for a connection included) may take before
        /// its caller stops waiting and gets ``HubStoreError/unavailable``. Default 90 s, past a laptop's
        /// 60 s request timeout. The attempt itself is cancelled, not awaited: it may still commit
        /// or roll back afterwards (a push's replay is idempotent). This bounds what no statement
        /// timeout can: a connection that died in a way its pool or driver never reports
        /// (``PostgresConnectionClosed``).
        public var attemptTimeout: Duration = .seconds(90)

        public init() {}
    }

    /// Where the store is: the URL without its password.
    public let location: String
    /// The database name from the URL.
    public let database: String
    private let client: PostgresClient
    private let url: PostgresURL
    private let configuration: Configuration
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var opened = false
        /// Whether ``run()`` was called: the pool runs once.
        var running = false
        var closed = false
        var active = 0
        var drained: [CheckedContinuation<Void, Never>] = []
        var statistics = HubStoreStatistics()
    }

    /// A store over the database at `url`. Nothing connects until ``open(create:now:)`` is called;
    /// transactions wait until ``run()`` runs.
    ///
    /// - Parameter url: `postgres://user[:password]@host[:port]/database[?sslmode=MODE]`, the user,
    ///   password and database percent-encoded. `sslmode` is `disable`, `prefer` (the default: TLS
    ///   when the server offers it, certificate not checked), `require` (TLS, certificate not checked),
    ///   `verify-ca` or `verify-full` (TLS with the certificate and host name checked).
    /// - Throws: ``HubStoreError/badLocation`` with a one-line message when the URL is malformed.
    public init(
        url: String, configuration: Configuration = .init(), logger: Logger = Logger(label: "relais.hub.store")
    ) throws {
        let parsed = try PostgresURL(url)
        var clientConfiguration = PostgresClient.Configuration(
            host: parsed.host, port: parsed.port, username: parsed.user, password: parsed.password,
            database: parsed.database, tls: parsed.clientTLS)
        clientConfiguration.options.maximumConnections = max(1, configuration.maxConnections)
        clientConfiguration.options.connectTimeout = configuration.connectTimeout
        if let timeout = configuration.statementTimeout {
            let millis = max(
                1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            clientConfiguration.options.additionalStartupParameters = [("statement_timeout", "\(millis)")]
        }
        self.url = parsed
        self.location = parsed.location
        self.database = parsed.database
        self.configuration = configuration
        self.logger = logger
        self.client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
    }

    /// A store over the database at `url`, its schema checked and brought up to date
    /// (``open(create:now:)``): ready once ``run()`` runs. For callers that open a store in one place
    /// and run it in a service group in another.
    public static func open(
        url: String, create: Bool, configuration: Configuration = .init(), now: UInt64 = 0,
        logger: Logger = Logger(label: "relais.hub.store")
    ) async throws -> PostgresHubStore {
        let store = try PostgresHubStore(url: url, configuration: configuration, logger: logger)
        try await store.open(create: create, now: now)
        return store
    }

    /// Opens a store at `url`, runs its connection pool, brings its schema up to date, calls `body`,
    /// then closes the store.
    public static func withStore<T>(
        url: String, create: Bool, configuration: Configuration = .init(), now: UInt64 = 0,
        logger: Logger = Logger(label: "relais.hub.store"), _ body: (PostgresHubStore) async throws -> T
    ) async throws -> T {
        let store = try PostgresHubStore(url: url, configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            do {
                try await store.open(create: create, now: now)
                let value = try await body(store)
                await store.close()
                return value
            } catch {
                await store.close()
                throw error
            }
        }
    }

    /// Runs the connection pool until the task is cancelled. Transactions wait until it runs.
    ///
    /// The pool runs once per store: a second call while it runs (a server's service group inside a
    /// test that already runs the store) only waits until it is cancelled, and a call after the pool
    /// stopped returns at once.
    public func run() async throws {
        let first = state.withLock { state in
            defer { state.running = true }
            return !state.running
        }
        guard first else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        await client.run()
    }

    /// Connects, checks the database against `create` and applies the migrations it lacks. Call it
    /// once, before any transaction. It uses a connection of its own, not the pool: it works before
    /// ``run()`` runs, and a refused connection, wrong credentials or a missing database are told at
    /// once, not after the pool's retries.
    ///
    /// - Parameters:
    ///   - create: `true` for `relais-hub init`: a database that already holds a store is refused
    ///     (``HubStoreError/exists``). `false` to open an existing store (``HubStoreError/missing``
    ///     when the database holds none).
    ///   - now: The time recorded with applied migrations.
    /// - Throws: ``HubStoreError/unavailable`` when the server cannot be reached within the connect
    ///   timeout or refuses the credentials; ``HubStoreError/missing`` when the database does not
    ///   exist; ``HubStoreError/tooNew`` when the schema is newer than this build knows.
    public func open(create: Bool, now: UInt64 = 0) async throws {
        try enter(requireOpen: false)
        defer { leave() }
        do {
            let connectionConfiguration = try url.connectionConfiguration()
            try await withTimeout(configuration.connectTimeout) { [location, logger] in
                let connection = try await PostgresConnection.connect(
                    configuration: connectionConfiguration, id: 0, logger: logger)
                do {
                    try await PostgresHubSchema.migrate(
                        connection, create: create, now: now, location: location, logger: logger)
                    try? await connection.close()
                } catch {
                    try? await connection.close()
                    throw error
                }
            }
        } catch {
            throw Self.storeError(error, location: location)
        }
        state.withLock { $0.opened = true }
    }

    public func write<T: Sendable>(
        _ body: nonisolated(nonsending) @escaping @Sendable (any HubTransaction) async throws -> T
    ) async throws -> T {
        try await transaction(write: true) { tx in try await body(tx) }
    }

    public func read<T: Sendable>(
        _ body: nonisolated(nonsending) @escaping @Sendable (any HubReadTransaction) async throws -> T
    ) async throws -> T {
        try await transaction(write: false) { tx in try await body(tx) }
    }

    public func statistics() -> HubStoreStatistics {
        state.withLock { $0.statistics }
    }

    /// `pg_database_size` of the hub's database.
    public func size() async throws -> HubStoreSize {
        try enter()
        defer { leave() }
        do {
            let used = try await client.withConnection { [logger] connection in
                try await connection.rows(of: "SELECT pg_database_size(current_database())", logger: logger)
                    .first?.decode(Int64.self) ?? 0
            }
            return HubStoreSize(used: used, available: nil)
        } catch {
            throw Self.storeError(error, location: location)
        }
    }

    /// Refuses new work, then waits for the transactions under way. The pool itself stops when the
    /// task running ``run()`` is cancelled.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                state.closed = true
                if state.active == 0 { return true }
                state.drained.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    // MARK: - Transactions

    private func enter(requireOpen: Bool = true) throws {
        let refusal: HubStoreError? = state.withLock { state in
            if state.closed { return HubStoreError.unavailable.with("The store is closed.") }
            if requireOpen, !state.opened {
                return HubStoreError.failed.with("The PostgreSQL store was used before open(create:now:).")
            }
            state.active += 1
            return nil
        }
        if let refusal { throw refusal }
    }

    private func leave() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.active -= 1
            guard state.active == 0 else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs `body` in a transaction on a leased connection, again from the start when PostgreSQL asks.
    private func transaction<T: Sendable>(
        write: Bool, _ body: nonisolated(nonsending) @escaping @Sendable (PostgresHubTransaction) async throws -> T
    ) async throws -> T {
        try enter()
        defer { leave() }
        let maxAttempts = max(1, configuration.maxAttempts)
        var attempt = 1
        while true {
            do {
                let value = try await abandoning(after: configuration.attemptTimeout) { [client, logger] in
                    try await client.withConnection { connection in
                        try await Self.run(body, on: connection, write: write, logger: logger)
                    }
                }
                if write {
                    state.withLock { state in
                        state.statistics.transactions += 1
                        state.statistics.commits += 1
                        state.statistics.largestGroup = 1
                    }
                }
                return value
            } catch {
                // A statement refused on a closed connection was never sent: whatever the body did
                // was never committed, and another connection may serve it.
                let retry =
                    error is PostgresConnectionClosed
                    || (Self.sqlState(of: error).map(Self.retryableStates.contains) ?? false)
                if retry, attempt < maxAttempts, !Task.isCancelled {
                    logger.debug(
                        "Retrying a store transaction",
                        metadata: ["attempt": "\(attempt)", "sqlstate": "\(Self.sqlState(of: error) ?? "")"])
                    // 2, 4, 8… ms, with jitter so that the hubs that collided do not collide again.
                    let ceiling = 2 << min(attempt, 8)
                    try? await Task.sleep(for: .milliseconds(Int.random(in: ceiling / 2...ceiling)))
                    attempt += 1
                    continue
                }
                if write { state.withLock { $0.statistics.transactions += 1 } }
                throw Self.storeError(error, location: location)
            }
        }
    }

    /// Runs `body` on one connection in one write transaction, with no retry: for
    /// ``HubStoreMigration``, which writes rows as they are.
    nonisolated(nonsending) func importTransaction<T: Sendable>(
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try enter()
        defer { leave() }
        do {
            return try await client.withConnection { connection in
                try await connection.run("BEGIN ISOLATION LEVEL READ COMMITTED", logger: logger)
                do {
                    let value = try await body(connection)
                    try await connection.run("COMMIT", logger: logger)
                    return value
                } catch {
                    await connection.rollBack(logger: logger)
                    throw error
                }
            }
        } catch {
            throw Self.storeError(error, location: location)
        }
    }

    /// SQLSTATEs after which a body runs again: serialization failure, deadlock, unique violation.
    static let retryableStates: Set<String> = ["40001", "40P01", "23505"]

    private static func run<T: Sendable>(
        _ body: nonisolated(nonsending) @escaping @Sendable (PostgresHubTransaction) async throws -> T,
        on connection: PostgresConnection, write: Bool, logger: Logger
    ) async throws -> T {
        let begin: PostgresQuery =
            write ? "BEGIN ISOLATION LEVEL READ COMMITTED" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        try await connection.run(begin, logger: logger)
        let tx = PostgresHubTransaction(connection: connection, logger: logger, locksReads: write)
        do {
            let value = try await body(tx)
            try await tx.flush()
            // A body that caught a database error and went on would otherwise commit an aborted
            // transaction (PostgreSQL answers COMMIT with a silent rollback).
            if let failure = tx.finish() { throw failure }
            try await connection.run("COMMIT", logger: logger)
            return value
        } catch {
            // A database error the body caught aborted the transaction: it is the cause (and may ask
            // for a re-run), whatever the body threw afterwards.
            let failure = tx.finish()
            await connection.rollBack(logger: logger)
            throw failure ?? error
        }
    }

    // MARK: - Errors

    /// The SQLSTATE of a server error, if `error` is one.
    static func sqlState(of error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// A failure as callers see it: a ``HubStoreError`` or a body's ``HubError`` stays as it is; a database
    /// failure becomes a ``HubStoreError`` (a unique violation that persists, a ``HubError/conflict``).
    static func storeError(_ error: any Error, location: String) -> any Error {
        if error is HubStoreError || error is HubError || error is CancellationError { return error }
        guard let psql = error as? PSQLError else {
            if error is PostgresConnectionClosed {
                return HubStoreError.unavailable.with(
                    "The PostgreSQL server at \(location) is unreachable.",
                    ["database": location, "error": "connectionClosed"])
            }
            if error is StoreTimeout {
                return HubStoreError.unavailable.with(
                    "The PostgreSQL server at \(location) did not answer in time.", ["database": location])
            }
            return error
        }
        var context = ["database": location]
        if let info = psql.serverInfo {
            let state = info[.sqlState] ?? ""
            let message = info[.message] ?? ""
            context["sqlstate"] = state
            context["server"] = message
            switch state {
            case "40001", "40P01":
                return HubStoreError.unavailable.with(
                    "The store stayed busy with concurrent writes; retry later.", context)
            case "23505":
                return HubError.conflict.with("The row already exists.", context)
            case "53100":
                return HubStoreError.storageFull.with(HubStoreError.storageFull.message, context)
            case "57014", "55P03":
                return HubStoreError.unavailable.with("A store statement waited too long; retry later.", context)
            case "57P01", "57P02", "57P03", "53300":
                return HubStoreError.unavailable.with("The PostgreSQL server at \(location) is unavailable.", context)
            case "28000", "28P01":
                return HubStoreError.unavailable.with(
                    "The PostgreSQL server at \(location) refused the credentials: \(message)", context)
            case "3D000":
                return HubStoreError.missing.with("The database does not exist: \(message)", context)
            default:
                return HubStoreError.failed.with("The PostgreSQL store failed: \(message)", context)
            }
        }
        context["error"] = "\(psql.code)"
        switch psql.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown,
            .sslUnsupported, .failedToAddSSLHandler:
            return HubStoreError.unavailable.with("The PostgreSQL server at \(location) is unreachable.", context)
        case .queryCancelled:
            return HubStoreError.unavailable.with("The store request was cancelled.", context)
        default:
            return HubStoreError.failed.with("The PostgreSQL store failed (\(psql.code)).", context)
        }
    }
}

/// A deadline passed.
struct StoreTimeout: Error {}

/// Runs `operation`, cancelling it and throwing ``StoreTimeout`` once `timeout` has passed.
func withTimeout<T: Sendable>(
    _ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw StoreTimeout()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// Runs `operation` in a task of its own and returns its result, or throws ``StoreTimeout`` once
/// `timeout` has passed, cancelling the operation and leaving it behind.
///
/// Unlike ``withTimeout(_:_:)`` it does not wait for the operation to end: a task group does, and an
/// operation waiting on a promise that will never be completed (a query postgres-nio dropped) would
/// keep its caller forever. Cancelling the caller cancels the operation.
func abandoning<T: Sendable>(
    after timeout: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = AbandonableRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(continuation, timeout: timeout, operation)
        }
    } onCancel: {
        race.cancel()
    }
}

/// The state of one ``abandoning(after:_:)``: the caller's continuation, resumed once, and the two
/// tasks racing to resume it.
private final class AbandonableRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var tasks: [Task<Void, Never>] = []
        var cancelled = false
    }
    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<T, any Error>, timeout: Duration,
        _ operation: @escaping @Sendable () async throws -> T
    ) {
        state.withLock { $0.continuation = continuation }
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            self.finish(result)
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self.finish(.failure(StoreTimeout())) }
        }
        let cancelNow = state.withLock { state -> Bool in
            state.tasks = [work, timer]
            return state.cancelled || state.continuation == nil
        }
        if cancelNow { cancel() }
    }

    /// Resumes the caller with `result` unless it was resumed already, and stops both tasks.
    private func finish(_ result: Result<T, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
        cancel()
    }

    /// Cancels both tasks (a finished one ignores it).
    func cancel() {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.cancelled = true
            return state.tasks
        }
        for task in tasks { task.cancel() }
    }
}

/// A parsed `postgres://` URL.
struct PostgresURL: Sendable {
    var user: String
    var password: String?
    var host: String
    var port: Int
    var database: String
    /// `nil` for `sslmode=disable`.
    var tlsConfiguration: TLSConfiguration?
    /// Whether a server without TLS is refused (every mode but `prefer` and `disable`).
    var tlsRequired: Bool
    /// The URL without its password.
    var location: String

    init(_ text: String) throws {
        func malformed(_ why: String) -> HubStoreError {
            HubStoreError.badLocation.with(
                "Malformed PostgreSQL URL: \(why) (expected postgres://user[:password]@host[:port]/database).")
        }
        guard let components = URLComponents(string: text) else { throw malformed("not a URL") }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw malformed("the scheme must be postgres://")
        }
        guard let host = components.host, !host.isEmpty else { throw malformed("no host") }
        guard let user = components.user, !user.isEmpty else {
            throw malformed("no user")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw malformed("port \(port) is out of range") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let database = path
        guard !database.isEmpty, !database.contains("/") else {
            throw malformed("no database name")
        }
        var mode = "prefer"
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode": mode = item.value ?? ""
            default: throw malformed("unknown parameter `\(item.name)`")
            }
        }
        switch mode {
        case "disable": tlsConfiguration = nil
        case "prefer", "require":
            var unverified = TLSConfiguration.makeClientConfiguration()
            unverified.certificateVerification = .none
            tlsConfiguration = unverified
        case "verify-ca", "verify-full":
            var verified = TLSConfiguration.makeClientConfiguration()
            verified.certificateVerification = mode == "verify-ca" ? .noHostnameVerification : .fullVerification
            tlsConfiguration = verified
        default: throw malformed("sslmode must be disable, prefer, require, verify-ca or verify-full")
        }
        tlsRequired = mode != "prefer"
        self.user = user
        self.password = components.password
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = port
        self.database = database
        var location = URLComponents()
        location.scheme = scheme
        location.percentEncodedUser = components.percentEncodedUser
        location.percentEncodedHost = components.percentEncodedHost
        location.port = components.port
        location.percentEncodedPath = components.percentEncodedPath
        location.percentEncodedQuery = components.percentEncodedQuery
        self.location = location.string ?? "\(scheme)://\(user)@\(host):\(port)/\(database)"
    }

    /// The pool's TLS setting.
    var clientTLS: PostgresClient.Configuration.TLS {
        guard let tlsConfiguration else { return .disable }
        return tlsRequired ? .require(tlsConfiguration) : .prefer(tlsConfiguration)
    }

    /// A single connection's configuration (its TLS context made here, so this may throw).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var tls = PostgresConnection.Configuration.TLS.disable
        if let tlsConfiguration {
            let context = try NIOSSLContext(configuration: tlsConfiguration)
            tls = tlsRequired ? .require(context) : .prefer(context)
        }
        return PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
    }
}
