import Foundation
import RelaisTesting
import Testing

/// The outside services some scenarios need, found the way CI provides them: a PostgreSQL server in
/// `RELAIS_TEST_POSTGRES_URL` (scripts/start-postgres.sh) and Debian's nginx. Run locally without
/// them, those scenarios are skipped and say why; in CI (`RELAIS_REQUIRE_POSTGRES=1`) a missing one
/// is a failure (``ServicesTests``).
enum Services {
    /// The server URL with a superuser, for creating a database per scenario.
    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["RELAIS_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    static let nginxPath = ["/usr/sbin/nginx", "/usr/bin/nginx"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let psqlPath = ["/usr/bin/psql"].first { FileManager.default.isExecutableFile(atPath: $0) }
    /// openssl, to make a CA and a certificate for the nginx TLS scenario.
    static let opensslPath = ["/usr/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// PostgreSQL, psql and nginx are all here.
    static var severalHubs: Bool { postgresURL != nil && nginxPath != nil && psqlPath != nil }

    static var required: Bool { ProcessInfo.processInfo.environment["RELAIS_REQUIRE_POSTGRES"] == "1" }

    static let skipReason: Comment =
        "needs a PostgreSQL server in RELAIS_TEST_POSTGRES_URL (scripts/start-postgres.sh), psql and nginx"
}

@Suite struct ServicesTests {
    /// In CI the scenarios on PostgreSQL must run, never be skipped.
    @Test(.enabled(if: Services.required, "only in CI (RELAIS_REQUIRE_POSTGRES=1)"))
    func everyServiceCIPromisesIsHere() {
        #expect(Services.postgresURL != nil, "RELAIS_TEST_POSTGRES_URL is not set")
        #expect(Services.nginxPath != nil, "nginx is not installed")
        #expect(Services.psqlPath != nil, "psql is not installed")
        #expect(Services.opensslPath != nil, "openssl is not installed")
    }
}

/// A database of its own on the test server, dropped by ``drop()``.
struct ScenarioDatabase {
    let serverURL: String
    let name: String

    /// Creates `relais_e2e_<random>` on the server.
    static func create() async throws -> ScenarioDatabase {
        let server = try #require(Services.postgresURL, Services.skipReason)
        let database = ScenarioDatabase(
            serverURL: server, name: "relais_e2e_\(UUID().uuidString.prefix(8).lowercased())")
        try await database.psql("CREATE DATABASE \(database.name)")
        return database
    }

    /// The database's URL: the server's with the database name replaced.
    var url: String {
        guard var components = URLComponents(string: serverURL) else { return serverURL }
        components.path = "/" + name
        return components.string ?? serverURL
    }

    func drop() async {
        _ = try? await psql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    private func psql(_ sql: String) async throws {
        let result = try await ChildProcess.run(
            URL(fileURLWithPath: try #require(Services.psqlPath)), [serverURL, "-v", "ON_ERROR_STOP=1", "-qc", sql],
            environment: ProcessInfo.processInfo.environment, currentDirectory: nil, input: nil)
        guard result.status == 0 else { throw HubProcessError(message: "psql failed: \(result.stderr)") }
    }
}

/// A private nginx on a loopback port, balancing round-robin over hubs (as Deploy/nginx/ describes),
/// logging which hub served each request.
final class Balancer: @unchecked Sendable {
    let folder: String
    let port: Int
    private let process: SpawnedProcess

    /// The address laptops use: `http://127.0.0.1:PORT`, or `https://localhost:PORT` under TLS (the
    /// name in the test certificate).
    var url: String { scheme == "https" ? "https://localhost:\(port)" : "http://127.0.0.1:\(port)" }

    /// Starts nginx in `folder` in front of `upstreams` (`host:port`): plain HTTP, or, with `tls`,
    /// Deploy/nginx/relais.conf itself (TLS on the certificate and key files given).
    static func start(upstreams: [String], in folder: String, tls: (certificate: String, key: String)? = nil)
        async throws -> Balancer
    {
        try await ChildProcess.offPool { try Balancer(upstreams: upstreams, folder: folder, tls: tls) }
    }

    /// `http`, or `https` for the deployed example.
    let scheme: String

    private init(upstreams: [String], folder: String, tls: (certificate: String, key: String)?) throws {
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        port = try LoopbackPort.free()
        scheme = tls == nil ? "http" : "https"
        // max_fails=0: a hub that refused a connection while it was down is tried again at once once
        // it is back (by default nginx skips it for 10 s, and answers 502 when every hub is skipped).
        let servers = upstreams.map { "        server \($0) max_fails=0;" }.joined(separator: "\n")
        // As root, nginx's workers would run as `nobody` and could not write the temporary folders.
        let user = geteuid() == 0 ? "user root;\n" : ""
        let site: String
        if let tls {
            try Self.deployedSite(upstreams: upstreams, port: port, tls: tls)
                .write(toFile: folder + "/relais.conf", atomically: true, encoding: .utf8)
            site = "include \(folder)/relais.conf;"
        } else {
            site = """
                client_max_body_size 64m;
                upstream relais_hubs {
                \(servers)
                }
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://relais_hubs;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $remote_addr;
                    }
                }
                """
        }
        let config = """
            \(user)worker_processes 1;
            pid \(folder)/nginx.pid;
            error_log \(folder)/error.log warn;
            events { worker_connections 256; }
            http {
                log_format upstream '$request_method $uri $status $upstream_addr';
                access_log \(folder)/access.log upstream;
                client_body_temp_path \(folder)/body;
                proxy_temp_path \(folder)/proxy;
                fastcgi_temp_path \(folder)/fastcgi;
                uwsgi_temp_path \(folder)/uwsgi;
                scgi_temp_path \(folder)/scgi;
                \(site)
            }
            """
        try config.write(toFile: folder + "/nginx.conf", atomically: true, encoding: .utf8)
        process = try SpawnedProcess(
            try #require(Services.nginxPath), ["-p", folder, "-c", folder + "/nginx.conf", "-g", "daemon off;"])
        // Ready once it accepts a connection.
        for _ in 0..<100 {
            if Self.accepts(port: port) { return }
            usleep(50_000)
        }
        process.terminate()
        process.wait()
        let log = (try? String(contentsOfFile: folder + "/error.log", encoding: .utf8)) ?? ""
        throw HubProcessError(message: "nginx did not start: \(log)")
    }

    /// Deploy/nginx/relais.conf with what it marks CHANGE filled in for this test: the hubs, the port
    /// on loopback, the certificate. Each replaced line must be in the file exactly once, so the test
    /// follows the example as it changes.
    static func deployedSite(upstreams: [String], port: Int, tls: (certificate: String, key: String)) throws -> String {
        let path = BuiltExecutable.packageRoot.appendingPathComponent("Deploy/nginx/relais.conf").path
        var site = try String(contentsOfFile: path, encoding: .utf8)
        let servers = upstreams.map { "    server \($0) max_fails=0;" }.joined(separator: "\n")
        let replacements = [
            ("    server 10.0.0.11:7420 max_fails=0;\n    server 10.0.0.12:7420 max_fails=0;", servers),
            ("listen 443 ssl;", "listen 127.0.0.1:\(port) ssl;"),
            ("server_name hub.example.com;", "server_name localhost;"),
            ("/etc/nginx/tls/relais-hub.pem;", tls.certificate + ";"),
            ("/etc/nginx/tls/relais-hub-key.pem;", tls.key + ";"),
        ]
        for (example, value) in replacements {
            guard site.components(separatedBy: example).count == 2 else {
                throw HubProcessError(message: "Deploy/nginx/relais.conf no longer holds `\(example)` once")
            }
            site = site.replacingOccurrences(of: example, with: value)
        }
        return site
    }

    /// The upstream (`host:port`) of every request nginx passed on, in order.
    func upstreamsServed() -> [String] {
        let log = (try? String(contentsOfFile: folder + "/access.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.wait()
        }
    }

    deinit { stop() }

    private static func accepts(port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
