import Foundation
import RelaisCore
public import RelaisHub

/// Which store a test hub keeps its state in.
public enum HubTestStore: String, Sendable, CaseIterable {
    /// A fresh SQLite store in the fixture's temporary folder.
    case sqlite
    /// A fresh database on the server of `RELAIS_TEST_POSTGRES_URL` (``PostgresTestDatabase``).
    case postgres

    /// `RELAIS_TEST_HUB_STORE` (`sqlite` or `postgres`), SQLite when unset: CI runs the hub's
    /// service-level tests once on each store by setting it.
    public static var `default`: HubTestStore {
        ProcessInfo.processInfo.environment["RELAIS_TEST_HUB_STORE"].flatMap(HubTestStore.init(rawValue:)) ?? .sqlite
    }
}

/// A hub on a fresh store (SQLite in a temporary folder, or a fresh PostgreSQL database), for tests
/// of any target.
///
/// ```swift
/// try await HubFixture.with { hub in
///     let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
///     try await hub.live { url in /* enroll a replica against url */ }
/// }
/// ```
///
/// Tests that need the SQLite file itself (another process on the data folder, a crash, a full disk)
/// ask for `store: .sqlite`; the others run on ``HubTestStore/default``.
public final class HubFixture: Sendable {
    public let folder: TemporaryFolder
    public let store: any HubStore
    /// Which kind of store it is.
    public let storeKind: HubTestStore
    public let service: HubService
    public let clock: TestClock?
    /// The `admin` user's API token.
    public let adminToken: String

    private init(
        folder: TemporaryFolder, store: any HubStore, storeKind: HubTestStore, service: HubService,
        clock: TestClock?, adminToken: String
    ) {
        self.folder = folder
        self.store = store
        self.storeKind = storeKind
        self.service = service
        self.clock = clock
        self.adminToken = adminToken
    }

    /// Runs `body` with a fresh hub (an `admin` user created), then closes and deletes it.
    ///
    /// - Parameters:
    ///   - store: The kind of store; ``HubTestStore/default`` unless the test needs one.
    ///   - configuration: The hub's configuration.
    ///   - snapshots: Whether the hub serves snapshots (in the fixture's folder) when `configuration`
    ///     names no folder for them; its laptops then bootstrap from snapshots, as from a served hub.
    ///   - clock: A test clock; the system clock when `nil`.
    ///   - storeConfiguration: The SQLite store's tuning (ignored on PostgreSQL).
    ///   - postgresConfiguration: The PostgreSQL store's tuning (ignored on SQLite).
    public static func with<T: Sendable>(
        store kind: HubTestStore = .default, configuration: HubService.Configuration = .init(),
        snapshots: Bool = true, clock: TestClock? = nil, storeConfiguration: SQLiteHubStore.Configuration = .init(),
        postgresConfiguration: PostgresHubStore.Configuration = PostgresTestDatabase.storeConfiguration,
        _ body: (HubFixture) async throws -> T
    ) async throws -> T {
        let folder = try TemporaryFolder(prefix: "hub")
        defer { folder.remove() }
        switch kind {
        case .sqlite:
            let store = try SQLiteHubStore(
                folder: folder.path + "/data", create: true, configuration: storeConfiguration)
            return try await run(
                store: store, kind: kind, folder: folder, configuration: configuration, snapshots: snapshots,
                clock: clock,
                body)
        case .postgres:
            return try await PostgresTestDatabase.with { database in
                try await PostgresHubStore.withStore(
                    url: database.url, create: true, configuration: postgresConfiguration
                ) { store in
                    try await run(
                        store: store, kind: kind, folder: folder, configuration: configuration, snapshots: snapshots,
                        clock: clock,
                        body)
                }
            }
        }
    }

    private static func run<T: Sendable>(
        store: any HubStore, kind: HubTestStore, folder: TemporaryFolder, configuration: HubService.Configuration,
        snapshots: Bool, clock: TestClock?, _ body: (HubFixture) async throws -> T
    ) async throws -> T {
        var configuration = configuration
        if snapshots, configuration.snapshotFolder == nil { configuration.snapshotFolder = folder.path + "/snapshots" }
        let service = HubService(
            store: store, configuration: configuration, clock: clock ?? SystemHubClock(),
            logger: HubLogging.standardError(label: "relais.hub.test"))
        let fixture: HubFixture
        do {
            let token = try await service.initialize()
            fixture = HubFixture(
                folder: folder, store: store, storeKind: kind, service: service, clock: clock, adminToken: token)
        } catch {
            await store.close()
            throw error
        }
        do {
            let result = try await body(fixture)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    /// The data folder (`relais-hub ... --data` takes it).
    public var dataFolder: String { folder.path + "/data" }

    /// Adds a user and returns an enrollment code.
    public func addUser(_ name: String, role: Role, territories: [String] = []) async throws -> String {
        try await service.addUser(name, role: role, territories: territories)
    }

    /// Runs the HTTP server on 127.0.0.1, a free port, for the duration of `body`, which gets its URL
    /// (`http://127.0.0.1:PORT`). `edges` sets its timeouts, connection cap and rate limits.
    public func live<T: Sendable>(
        edges: HubServer.Edges = HubServer.Edges(), _ body: @escaping @Sendable (String) async throws -> T
    ) async throws -> T {
        try await HubServer.withRunningServer(
            service: service, configuration: .init(host: "127.0.0.1", port: 0, edges: edges),
            logger: HubLogging.standardError(label: "relais.hub.test"), body)
    }
}
