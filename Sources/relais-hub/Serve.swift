import ArgumentParser
import Foundation
import RelaisHub

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the hub's HTTP server.",
        discussion: """
            Prints the address it listens on, then serves until SIGTERM or SIGINT, when it finishes
            in-flight requests and stops.

              relais-hub serve --data /var/lib/relais
              relais-hub serve --data /var/lib/relais --host 0.0.0.0 --port 7420
              relais-hub serve --data DIR --port 0          # a free port, printed
              relais-hub serve --data DIR --tls-cert hub.pem --tls-key hub-key.pem
              relais-hub serve --data DIR --max-store-mb 2048  # pushes answered 507 storage_full past 2 GB
              relais-hub serve --config /etc/relais/hub.json   # settings from a file (Deploy/README.md)
              relais-hub serve --data DIR --max-connections 500 --enroll-rate 5
              relais-hub serve --data DIR --metrics-port 9742  # /metrics on 127.0.0.1:9742 only

            The edges (docs/SECURITY.md): a connection that has not sent its first request's head
            within --header-timeout, or a request's body within --body-timeout, or that stays without
            a request for --idle-timeout, is closed; connections beyond --max-connections are closed
            at once; over a rate limit the answer is 429 rate_limited with Retry-After.

            Every setting can also come from a RELAIS_* variable (RELAIS_DATA, RELAIS_PORT,
            RELAIS_TLS_CERT, ...) or from the --config file; a flag wins over the variable, which wins
            over the file.
            """)

    @OptionGroup var store: StoreFlags
    @Option(help: "The address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "The port to listen on; 0 picks a free one (default 7420).") var port: Int?
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("A PEM certificate chain for HTTPS.", valueName: "FILE"))
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The PEM private key for --tls-cert.", valueName: "FILE"))
    var tlsKey: String?
    @Option(help: "Seconds between tombstone purges (default 3600).") var purgeInterval: Int?
    @Option(
        name: .customLong("max-store-mb"),
        help: ArgumentHelp(
            "A ceiling on the store file's size, in MB (decimals allowed): pushes past it are answered 507 storage_full and nothing is written.",
            valueName: "MB"))
    var maxStoreMB: Double?
    @Option(
        help: ArgumentHelp(
            "Seconds a new connection has to send its first request's head (default 10).", valueName: "SECONDS"))
    var headerTimeout: Double?
    @Option(
        help: ArgumentHelp("Seconds a request's body has to arrive whole (default 60).", valueName: "SECONDS"))
    var bodyTimeout: Double?
    @Option(
        help: ArgumentHelp("Seconds a connection may stay without a request (default 75).", valueName: "SECONDS"))
    var idleTimeout: Double?
    @Option(help: "The most connections held at once; more are closed at once (default 1000).")
    var maxConnections: Int?
    @Option(
        help: ArgumentHelp(
            "Refused enrollments a minute per address and per code (default 10; 0: no limit).", valueName: "N"))
    var enrollRate: Int?
    @Option(
        name: .customLong("sign-in-rate"),
        help: ArgumentHelp(
            "Failed admin sign-ins a minute per address and per token (default 10; 0: no limit).", valueName: "N"))
    var signInRate: Int?
    @Option(help: ArgumentHelp("Pushes and pulls a minute per device (default 3000; 0: no limit).", valueName: "N"))
    var syncRate: Int?
    @Option(
        help: ArgumentHelp(
            "The address of the metrics listener (default 127.0.0.1; needs --metrics-port).", valueName: "HOST"))
    var metricsHost: String?
    @Option(
        help: ArgumentHelp(
            "Serve /metrics on this port alone (plain HTTP) and answer it 404 on the sync port.", valueName: "PORT"))
    var metricsPort: Int?
    @Option(
        help: ArgumentHelp(
            "The folder of the snapshots served to bootstrapping laptops, or `off` (default DATA/snapshots; off on PostgreSQL).",
            valueName: "DIR"))
    var snapshots: String?
    @Option(
        help: ArgumentHelp(
            "Days a device token works before the laptop must have rotated it (default 90; 0: never expire).",
            valueName: "DAYS"))
    var deviceTokenDays: Double?
    @Option(
        help: ArgumentHelp(
            "Days a token replaced by a renewal or rotation may still renew (default 7).", valueName: "DAYS"))
    var tokenGraceDays: Double?
    @Flag(
        inversion: .prefixedNo,
        help:
            "Read the reports' customer file into memory at start and after each purge, before a manager asks (default on)."
    )
    var warmReports: Bool?
    @Option(
        help: ArgumentHelp("A JSON file of settings; flags, then RELAIS_* variables, win over it.", valueName: "FILE"))
    var config: String?

    func run() async throws {
        let settings = try await ServeSettings.resolve(
            ServeSettings.Flags(
                data: store.data, postgres: store.postgres, host: host, port: port, tlsCert: tlsCert, tlsKey: tlsKey,
                purgeInterval: purgeInterval, maxStoreMB: maxStoreMB, headerTimeout: headerTimeout,
                bodyTimeout: bodyTimeout, idleTimeout: idleTimeout, maxConnections: maxConnections,
                enrollRate: enrollRate, signInRate: signInRate, syncRate: syncRate, metricsHost: metricsHost,
                metricsPort: metricsPort, snapshots: snapshots, deviceTokenDays: deviceTokenDays,
                tokenGraceDays: tokenGraceDays, warmReports: warmReports, config: config),
            environment: ProcessInfo.processInfo.environment)
        let logger = HubLogging.standardError(label: "relais.hub")
        var options = HubStoreLocation.Options()
        options.sqlite.maxStoreBytes = settings.maxStoreMB.map { Int64($0 * 1_048_576) }
        // The store runs in the server's service group (HubServer.run), which also closes nothing:
        // the store is closed below once the group has stopped.
        let store = try await settings.location.open(create: false, options: options, logger: logger)
        var configuration = HubService.Configuration()
        configuration.snapshotFolder = settings.snapshots
        configuration.deviceTokenLifetimeMillis = settings.deviceTokenLifetimeMillis
        configuration.replacedTokenGraceMillis = settings.replacedTokenGraceMillis
        configuration.warmReports = settings.warmReports
        let hub = HubService(store: store, configuration: configuration, logger: logger)
        do {
            try await HubServer.run(
                service: hub,
                configuration: .init(
                    host: settings.host, port: settings.port, tls: settings.tls, edges: settings.edges,
                    metrics: settings.metrics),
                purgeInterval: .seconds(settings.purgeInterval), logger: logger,
                onListening: { url in
                    FileHandle.standardOutput.write(Data("relais-hub listening on \(url)\n".utf8))
                },
                onMetricsListening: { url in
                    FileHandle.standardOutput.write(Data("relais-hub metrics on \(url)\n".utf8))
                })
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}
