import AsyncHTTPClient
import Foundation
import Logging
import PostgresNIO
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisTesting

/// The PostgreSQL hub's figures (issue 14): ingest on one hub and on two hubs sharing one database,
/// against raw PostgreSQL upserts of the same rows; and a bootstrap from a PostgreSQL hub against the
/// same bootstrap from a SQLite hub. They need a server: `RELAIS_BENCH_POSTGRES_URL`, else
/// `RELAIS_TEST_POSTGRES_URL` (scripts/start-postgres.sh); without one they are left out, and say so.
enum PostgresBench {
    static var serverURL: String? {
        let environment = ProcessInfo.processInfo.environment
        for name in ["RELAIS_BENCH_POSTGRES_URL", "RELAIS_TEST_POSTGRES_URL"] {
            if let value = environment[name], !value.isEmpty { return value }
        }
        return nil
    }

    /// Each hub's pool: as many connections as the raw baseline uses.
    static let connections = 16

    static var storeConfiguration: PostgresHubStore.Configuration {
        var configuration = PostgresHubStore.Configuration()
        configuration.maxConnections = connections
        configuration.connectTimeout = .seconds(60)
        return configuration
    }

    /// Runs `body` with `count` hubs (each its own store, service and HTTP server) on one fresh
    /// database; `body` gets the services and their URLs. The database is dropped afterwards.
    static func withHubs<T: Sendable>(
        _ count: Int, database: PostgresTestDatabase, create: Bool = true,
        _ body: @escaping @Sendable ([HubService], [String]) async throws -> T
    ) async throws -> T {
        var stores: [PostgresHubStore] = []
        for index in 0..<count {
            stores.append(
                try await PostgresHubStore.open(
                    url: database.url, create: create && index == 0, configuration: storeConfiguration, logger: quiet))
        }
        let services = stores.map { HubService(store: $0, logger: quiet) }
        let running = stores
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for store in running { group.addTask { try await store.run() } }
            defer { group.cancelAll() }
            let result = try await serve(services, urls: []) { urls in try await body(services, urls) }
            for store in running { await store.close() }
            return result
        }
    }

    /// Serves each service on its own port, nested.
    private static func serve<T: Sendable>(
        _ services: [HubService], urls: [String], _ body: @escaping @Sendable ([String]) async throws -> T
    ) async throws -> T {
        guard let first = services.first else { return try await body(urls) }
        return try await BenchServer.withRunning(service: first) { url in
            try await serve(Array(services.dropFirst()), urls: urls + [url], body)
        }
    }

    static let quiet = Logger(label: "relais.bench.postgres") { _ in SwiftLogNoOpLogHandler() }
}

/// Raw PostgreSQL doing the same storage work with none of our code.
enum RawPostgres {
    /// `batches × perBatch` customer upserts, one transaction per batch, the batches run at once over
    /// `connections` connections (as the hub's pushes are); returns seconds.
    static func upsertBatched(url: String, batches: Int, perBatch: Int, offset: Int, connections: Int) async throws
        -> Double
    {
        guard var components = URLComponents(string: url) else { throw BenchError("not a URL: \(url)") }
        let database = String(components.path.drop { $0 == "/" })
        components.path = ""
        var configuration = PostgresClient.Configuration(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
            username: components.user ?? "postgres",
            password: components.password, database: database, tls: .disable)
        configuration.options.maximumConnections = connections
        let client = PostgresClient(configuration: configuration, backgroundLogger: PostgresBench.quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let columns = RawSQLite.columns
            try await client.query(
                PostgresQuery(
                    unsafeSQL:
                        "CREATE TABLE IF NOT EXISTS raw_customers (\(columns.map { "\($0) TEXT" }.joined(separator: ", ")), PRIMARY KEY (id))"
                ))
            let placeholders = columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            let sql =
                "INSERT INTO raw_customers (\(columns.joined(separator: ", "))) VALUES (\(placeholders)) "
                + "ON CONFLICT (id) DO UPDATE SET \(Customers.fields.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))"
            let (_, seconds) = try await timed {
                try await withThrowingTaskGroup(of: Void.self) { batchesGroup in
                    for batch in 0..<batches {
                        batchesGroup.addTask {
                            try await client.withTransaction(logger: PostgresBench.quiet) { connection in
                                for row in 0..<perBatch {
                                    let index = offset + batch * perBatch + row
                                    let values = Customers.values(index, territory: "t\(batch)")
                                    var bindings = PostgresBindings()
                                    bindings.append(Customers.id(index))
                                    for field in Customers.fields { bindings.append(values[field]?.text ?? "") }
                                    try await connection.query(
                                        PostgresQuery(unsafeSQL: sql, binds: bindings), logger: PostgresBench.quiet)
                                }
                            }
                        }
                    }
                    try await batchesGroup.waitForAll()
                }
            }
            return seconds
        }
    }

    /// The server's durability settings, for the notes: `fsync` and `synchronous_commit`.
    static func durability(url: String) async throws -> String {
        guard var components = URLComponents(string: url) else { return "unknown" }
        let database = String(components.path.drop { $0 == "/" })
        components.path = ""
        let configuration = PostgresClient.Configuration(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
            username: components.user ?? "postgres",
            password: components.password, database: database, tls: .disable)
        let client = PostgresClient(configuration: configuration, backgroundLogger: PostgresBench.quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            var settings: [String] = []
            for name in ["fsync", "synchronous_commit"] {
                for try await value in try await client.query(PostgresQuery(unsafeSQL: "SHOW \(name)")).decode(
                    String.self)
                {
                    settings.append("\(name)=\(value)")
                }
            }
            return settings.joined(separator: ", ")
        }
    }
}

extension BenchRunner {
    /// Ingest on PostgreSQL: the same pushes as ``ingest()``, to one hub, then spread over two hubs on
    /// the same database, against raw PostgreSQL upserts of the same rows.
    func ingestPostgres() async throws -> [BenchResult] {
        guard PostgresBench.serverURL != nil else {
            log("ingest-postgres: left out (no RELAIS_BENCH_POSTGRES_URL or RELAIS_TEST_POSTGRES_URL)")
            return []
        }
        let devices = options.devices
        let perDevice = options.writesPerDevice
        log("ingest-postgres: \(devices) devices × \(perDevice) writes, one hub and two hubs on one database")
        let database = try await PostgresTestDatabase.make()
        defer { Task { await database.drop() } }
        let runs = options.runs
        return try await PostgresBench.withHubs(2, database: database) { services, urls in
            var enrolled: [BenchDevice] = []
            for device in 0..<devices {
                enrolled.append(
                    try await BenchDevice.enroll(
                        services[0], user: "rep\(device)", territories: ["t\(device)"], name: "device-\(device)"))
            }
            let client = IngestBench.client(connections: devices)
            defer { _ = Task { try? await client.shutdown() } }
            var one: [Double] = []
            var two: [Double] = []
            var raw: [Double] = []
            for run in 0..<runs {
                for (index, hubs) in [[urls[0]], urls].enumerated() {
                    let bodies = try IngestBench.bodies(devices: enrolled, run: run * 2 + index, perDevice: perDevice)
                    let work = Array(zip(bodies, enrolled.map(\.token))).enumerated().map {
                        ($0.element.0, $0.element.1, hubs[$0.offset % hubs.count])
                    }
                    let (applied, elapsed) = try await timed {
                        try await withThrowingTaskGroup(of: Int.self) { group in
                            for (body, token, url) in work {
                                group.addTask {
                                    try await IngestBench.push(client: client, url: url, body: body, token: token)
                                }
                            }
                            return try await group.reduce(0, +)
                        }
                    }
                    guard applied == devices * perDevice else {
                        throw BenchError("ingest-postgres: applied \(applied) of \(devices * perDevice)")
                    }
                    if hubs.count == 1 {
                        one.append(Double(applied) / elapsed)
                    } else {
                        two.append(Double(applied) / elapsed)
                    }
                }
                let seconds = try await RawPostgres.upsertBatched(
                    url: database.url, batches: devices, perBatch: perDevice, offset: run * devices * perDevice,
                    connections: PostgresBench.connections)
                raw.append(Double(devices * perDevice) / seconds)
                log(
                    String(
                        format: "ingest-postgres run %d: one hub %.0f w/s, two hubs %.0f w/s, raw %.0f w/s", run + 1,
                        one.last!, two.last!, raw.last!))
            }
            let durability = (try? await RawPostgres.durability(url: database.url)) ?? "unknown"
            let oneToRaw = Summary(samples: zip(one, raw).map { $0 / $1 })
            let twoToOne = Summary(samples: zip(two, one).map { $0 / $1 })
            return [
                BenchResult(
                    name: "ingest-postgres",
                    metric: "\(devices) concurrent devices × \(perDevice) writes, one hub on PostgreSQL",
                    unit: "writes/s", measured: Summary(samples: one),
                    baselineName: "raw PostgreSQL upserts, 1 txn per device, \(PostgresBench.connections) connections",
                    baseline: Summary(samples: raw), ratioName: "relais/raw throughput", ratios: oneToRaw,
                    target: "≥ 0.5×",
                    met: oneToRaw.median >= 0.5,
                    notes: [
                        "the hub's pool: \(PostgresBench.connections) connections; sequences under the head row's lock held to commit (docs/SYNC.md)",
                        "PostgreSQL 15 on this machine, \(durability) (the test server of scripts/start-postgres.sh runs with fsync=off; RELAIS_BENCH_POSTGRES_URL names another)",
                    ]),
                BenchResult(
                    name: "ingest-postgres-2", metric: "the same pushes spread over two hubs on the same database",
                    unit: "writes/s", measured: Summary(samples: two), baselineName: "one hub (same run)",
                    baseline: Summary(samples: one), ratioName: "two hubs/one hub", ratios: twoToOne, target: "≥ 1.3×",
                    met: twoToOne.median >= 1.3,
                    notes: [
                        "both hubs in this process and on this machine: they share its 2 cores with PostgreSQL and the clients"
                    ]),
            ]
        }
    }

    /// A bootstrap from a PostgreSQL hub against the same bootstrap from a SQLite hub, in the same run.
    func bootstrapPostgres() async throws -> BenchResult? {
        guard PostgresBench.serverURL != nil else {
            log("bootstrap-postgres: left out (no RELAIS_BENCH_POSTGRES_URL or RELAIS_TEST_POSTGRES_URL)")
            return nil
        }
        let count = options.bootstrapRecords
        let runs = options.runs
        log("bootstrap-postgres: filling a PostgreSQL hub with \(count) customers through HubService.push")
        let database = try await PostgresTestDatabase.make()
        defer { Task { await database.drop() } }
        let fill = ContinuousClock.now
        try await PostgresBench.withHubs(1, database: database) { services, _ in
            _ = try await services[0].initialize()
            try await seedHub(services[0], territory: "north", range: 0..<count)
            _ = try await services[0].addUser("reader", role: .rep, territories: ["north"])
        }
        let fillSeconds = (ContinuousClock.now - fill).seconds
        log(String(format: "filled in %.1f s", fillSeconds))
        let folder = try TemporaryFolder(prefix: "relais-bench-pg")
        defer { folder.remove() }
        let postgres = try await PostgresBench.withHubs(1, database: database, create: false) { services, urls in
            try await Self.bootstraps(service: services[0], url: urls[0], folder: folder.path, prefix: "pg", runs: runs)
        }
        let sqlite = try await withBenchHub(filled: [("north", 0..<count)], log: log) { hub, _ in
            try await hub.ensureUser("reader", territories: ["north"])
            return try await Self.bootstraps(
                service: hub.service, url: hub.url, folder: hub.folder, prefix: "sqlite", runs: runs)
        }
        let ratios = Summary(samples: zip(postgres, sqlite).map { $0 / $1 })
        return BenchResult(
            name: "bootstrap-postgres",
            metric: "\(count) customers, enroll + sync to an empty replica, from a PostgreSQL hub",
            unit: "s", measured: Summary(samples: postgres), baselineName: "the same from a SQLite hub",
            baseline: Summary(samples: sqlite), ratioName: "PostgreSQL/SQLite", ratios: ratios, target: "≤ 1.5×",
            met: ratios.median <= 1.5,
            notes: [
                String(
                    format: "filling the PostgreSQL hub through HubService.push (batches of 1,000) took %.1f s",
                    fillSeconds)
            ])
    }

    /// `runs` bootstraps of a fresh replica of `reader` from the hub at `url`; seconds each.
    private static func bootstraps(service: HubService, url: String, folder: String, prefix: String, runs: Int)
        async throws
        -> [Double]
    {
        var seconds: [Double] = []
        for run in 0..<runs {
            let code = try await service.issueEnrollmentCode(for: "reader")
            let path = "\(folder)/\(prefix)-bootstrap-\(run).relais"
            let (_, elapsed) = try await timed {
                let replica = try await Replica.enroll(hub: url, code: code, path: path, logger: quietLogger)
                return try await replica.sync(options: benchSyncOptions)
            }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            seconds.append(elapsed)
        }
        return seconds
    }
}
