public import Foundation
import RelaisCore
public import RelaisHub
import Synchronization

/// A wall clock a test sets and advances by hand.
public final class HubTestClock: HubClock {
    private let millis: Mutex<UInt64>

    /// A clock at `millis` since 1970 (default: 2026-11-28T09:00:00Z).
    public init(millis: UInt64 = 1_795_856_400_000) {
        self.millis = Mutex(millis)
    }

    public func millisecondsSince1970() -> UInt64 { millis.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(byMillis delta: UInt64) { millis.withLock { $0 += delta } }

    /// Sets the clock.
    public func set(millis value: UInt64) { millis.withLock { $0 = value } }
}

/// A fresh temporary folder, deleted by ``remove()``.
public struct HubTemporaryFolder: Sendable {
    public let path: String

    /// Creates `/tmp/relais-<prefix>-<uuid>`.
    public init(prefix: String = "hub") throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("relais-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

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
    public let folder: HubTemporaryFolder
    public let store: any HubStore
    /// Which kind of store it is.
    public let storeKind: HubTestStore
    public let service: HubService
    public let clock: HubTestClock?
    /// The `admin` user's API token.
    public let adminToken: String

    private init(
        folder: HubTemporaryFolder, store: any HubStore, storeKind: HubTestStore, service: HubService,
        clock: HubTestClock?, adminToken: String
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
    ///   - clock: A test clock; the system clock when `nil`.
    ///   - storeConfiguration: The SQLite store's tuning (ignored on PostgreSQL).
    public static func with<T: Sendable>(
        store kind: HubTestStore = .default, configuration: HubService.Configuration = .init(),
        clock: HubTestClock? = nil, storeConfiguration: SQLiteHubStore.Configuration = .init(),
        _ body: (HubFixture) async throws -> T
    ) async throws -> T {
        let folder = try HubTemporaryFolder(prefix: "hub")
        defer { folder.remove() }
        switch kind {
        case .sqlite:
            let store = try SQLiteHubStore(folder: folder.path + "/data", create: true, configuration: storeConfiguration)
            return try await run(
                store: store, kind: kind, folder: folder, configuration: configuration, clock: clock, body)
        case .postgres:
            return try await PostgresTestDatabase.with { database in
                try await PostgresHubStore.withStore(
                    url: database.url, create: true, configuration: PostgresTestDatabase.storeConfiguration
                ) { store in
                    try await run(store: store, kind: kind, folder: folder, configuration: configuration, clock: clock, body)
                }
            }
        }
    }

    private static func run<T: Sendable>(
        store: any HubStore, kind: HubTestStore, folder: HubTemporaryFolder, configuration: HubService.Configuration,
        clock: HubTestClock?, _ body: (HubFixture) async throws -> T
    ) async throws -> T {
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
    /// (`http://127.0.0.1:PORT`).
    public func live<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        try await HubServer.withRunningServer(
            service: service, logger: HubLogging.standardError(label: "relais.hub.test"), body)
    }
}

/// Runs child processes (the built `relais` and `relais-hub`) without blocking Swift's cooperative
/// threads.
///
/// A test that waits for a child synchronously holds one of the pool's threads (two on a 2-core
/// machine) for as long as the child runs; when the child talks to a hub served in the same test
/// process, that hub may have no thread left to answer it, and both wait until a timeout.
public enum HubChildProcess {
    /// What a finished child printed and how it ended.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The executable named `name` beside the test bundle (`.build/debug/NAME`).
    public static func executable(_ name: String) -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/\(name)")
    }

    /// Runs `executable` with `arguments` to its end, on a thread of its own (``ChildProcess``).
    public static func run(_ executable: URL, _ arguments: [String]) async throws -> Output {
        let result = try await ChildProcess.run(executable, arguments)
        return Output(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    /// Runs blocking `work` on a new thread and waits for it without holding a cooperative thread.
    public static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await ChildProcess.offPool(work)
    }
}
