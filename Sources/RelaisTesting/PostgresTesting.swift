import Foundation
import Logging
import PostgresNIO
public import RelaisHub

/// A throwaway PostgreSQL database for a test, on the server that `RELAIS_TEST_POSTGRES_URL` names.
///
/// ```swift
/// @Suite(.enabled(if: PostgresTestDatabase.isEnabled, Comment(rawValue: PostgresTestDatabase.skipReason)))
/// struct MyPostgresTests {
///     @Test func works() async throws {
///         try await PostgresTestDatabase.with { database in
///             try await PostgresHubStore.withStore(url: database.url, create: true) { store in ... }
///         }
///     }
/// }
/// ```
///
/// - `RELAIS_TEST_POSTGRES_URL`: a server URL with a superuser (one that may create databases), such
///   as the line `scripts/start-postgres.sh` prints: `postgres://postgres@127.0.0.1:PORT/postgres`.
///   Unset, PostgreSQL tests are skipped, and say why.
/// - `RELAIS_REQUIRE_POSTGRES=1` (CI): the tests run even when the URL is unset, and fail, so that a
///   machine without a server never passes them by skipping.
public struct PostgresTestDatabase: Sendable {
    /// The variable naming the test server.
    public static let serverVariable = "RELAIS_TEST_POSTGRES_URL"
    /// The variable that makes a missing server a failure.
    public static let requireVariable = "RELAIS_REQUIRE_POSTGRES"

    /// The test server's URL, if one is configured.
    public static var serverURL: String? {
        let value = ProcessInfo.processInfo.environment[serverVariable] ?? ""
        return value.isEmpty ? nil : value
    }

    /// Whether a missing server must fail the tests (`RELAIS_REQUIRE_POSTGRES=1`).
    public static var isRequired: Bool {
        ProcessInfo.processInfo.environment[requireVariable] == "1"
    }

    /// Whether PostgreSQL tests run: a server is configured, or one is required.
    public static var isEnabled: Bool { serverURL != nil || isRequired }

    /// Why PostgreSQL tests are skipped when ``isEnabled`` is false.
    public static let skipReason =
        "Skipped: RELAIS_TEST_POSTGRES_URL is unset, so there is no PostgreSQL server to test against. Start one with `eval \"$(bash scripts/start-postgres.sh)\"` (Debian's postgresql 15), or set RELAIS_REQUIRE_POSTGRES=1 to fail instead."

    /// The store configuration tests use: a small pool (tests open many stores) and long timeouts,
    /// since a loaded 2-core machine running the whole suite can keep a test's tasks waiting
    /// for a thread for tens of seconds.
    public static var storeConfiguration: PostgresHubStore.Configuration {
        var configuration = PostgresHubStore.Configuration()
        configuration.maxConnections = 4
        configuration.connectTimeout = .seconds(120)
        // A statement waiting for a row lock the test holds on purpose may wait as long as the test
        // keeps it; the same starvation stretches that wait.
        configuration.statementTimeout = .seconds(300)
        configuration.attemptTimeout = .seconds(600)
        return configuration
    }

    /// The database's name (`relais_test_` and random hex).
    public let name: String
    /// The database's URL: the server URL with this database.
    public let url: String
    private let server: Server

    /// Creates a fresh, empty database with a random name on the test server.
    ///
    /// - Throws: When no server is configured, or it cannot be reached.
    public static func make() async throws -> PostgresTestDatabase {
        guard let serverURL else {
            throw SetupError(
                description:
                    "\(serverVariable) is unset (and \(requireVariable)=1 asks for PostgreSQL): start a server with `eval \"$(bash scripts/start-postgres.sh)\"`."
            )
        }
        let server = try Server(serverURL)
        let name = "relais_test_" + (0..<12).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
        // A generated name: safe to splice into the statement, which takes no parameters.
        try await server.execute("CREATE DATABASE \(name)")
        return PostgresTestDatabase(name: name, url: server.url(database: name), server: server)
    }

    /// Runs `body` with a fresh database, then drops it.
    public static func with<T>(_ body: (PostgresTestDatabase) async throws -> T) async throws -> T {
        let database = try await make()
        do {
            let result = try await body(database)
            await database.drop()
            return result
        } catch {
            await database.drop()
            throw error
        }
    }

    /// Removes the database (closing the connections still on it).
    public func drop() async {
        try? await server.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs `sql` (one statement, no parameters) in this database: for tests that set up what no store
    /// operation makes, such as a schema version from the future.
    public func execute(_ sql: String) async throws {
        try await server.execute(sql, database: name)
    }

    /// A failure to set up the test database.
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The test server, from its URL; one short connection per statement.
    private struct Server: Sendable {
        var host: String
        var port: Int
        var user: String
        var password: String?
        var database: String
        var components: URLComponents

        init(_ text: String) throws {
            guard let components = URLComponents(string: text), let host = components.host, let user = components.user
            else {
                throw SetupError(
                    description: "\(PostgresTestDatabase.serverVariable) is not a postgres:// URL: \(text)")
            }
            self.components = components
            self.host = host
            self.port = components.port ?? 5432
            self.user = user
            self.password = components.password
            let path = String(components.path.drop { $0 == "/" })
            self.database = path.isEmpty ? "postgres" : path
        }

        func url(database: String) -> String {
            var components = components
            components.path = "/" + database
            return components.string ?? ""
        }

        func execute(_ sql: String, database: String? = nil) async throws {
            let configuration = PostgresConnection.Configuration(
                host: host, port: port, username: user, password: password, database: database ?? self.database,
                tls: .disable)
            let logger = Logger(label: "relais.testing.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            do {
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        }
    }
}
