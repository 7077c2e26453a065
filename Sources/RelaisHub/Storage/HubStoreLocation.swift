import Foundation
public import Logging
public import ServiceLifecycle

/// Where a hub keeps its state, as the `relais-hub` tool is told: a data folder (`--data DIR`, the
/// embedded SQLite store) or a PostgreSQL database (`--postgres URL`). The store is chosen here, in
/// RelaisHub, not in the tools.
public enum HubStoreLocation: Sendable, Hashable {
    /// `hub.sqlite` in this folder.
    case sqlite(folder: String)
    /// A PostgreSQL database, `postgres://user[:password]@host[:port]/database`.
    case postgres(url: String)

    /// How to open either store.
    public struct Options: Sendable {
        /// The SQLite store's tuning (a size ceiling among them).
        public var sqlite = SQLiteHubStore.Configuration()
        /// The most connections a PostgreSQL store opens. Default 8.
        public var postgresConnections = 8

        public init() {}
    }

    /// Opens the store. `create` for `relais-hub init`: a new store, refused where one exists; else
    /// an existing one, refused where there is none.
    ///
    /// The store must run (``HubStore/run()``) for its transactions to proceed: in the service group
    /// of a server (``HubStoreService``), or through ``withStore(create:options:logger:_:)``.
    public func open(create: Bool, options: Options = .init(), logger: Logger) async throws -> any HubStore {
        switch self {
        case .sqlite(let folder):
            return try SQLiteHubStore(
                folder: folder, create: create, configuration: options.sqlite,
                now: UInt64(max(0, Date().timeIntervalSince1970 * 1000)), logger: logger)
        case .postgres(let url):
            var configuration = PostgresHubStore.Configuration()
            configuration.maxConnections = options.postgresConnections
            return try await PostgresHubStore.open(
                url: url, create: create, configuration: configuration,
                now: UInt64(max(0, Date().timeIntervalSince1970 * 1000)), logger: logger)
        }
    }

    /// Opens the store, runs it for the duration of `body`, then closes it: for commands that do one
    /// thing and exit.
    public func withStore<T>(
        create: Bool, options: Options = .init(), logger: Logger, _ body: (any HubStore) async throws -> T
    ) async throws -> T {
        let store = try await open(create: create, options: options, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(store))
            } catch {
                result = .failure(error)
            }
            group.cancelAll()
            await store.close()
            return try result.get()
        }
    }

    /// The location for logs and messages (never a password).
    public var description: String {
        switch self {
        case .sqlite(let folder): folder
        case .postgres(let url):
            // postgres://user:secret@host/db → postgres://user@host/db
            if let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://"),
                let colon = url[scheme.upperBound..<at].firstIndex(of: ":")
            {
                String(url[..<colon] + url[at...])
            } else {
                url
            }
        }
    }
}

/// Runs a store's background work (``HubStore/run()``) as a service of the hub's service group: first
/// to start, last to stop.
public struct HubStoreService: Service {
    public let store: any HubStore

    public init(store: any HubStore) {
        self.store = store
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await store.run()
        }
    }
}
