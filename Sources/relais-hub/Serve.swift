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
            """)

    @OptionGroup var store: StoreOptions
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 7420
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("A PEM certificate chain for HTTPS.", valueName: "FILE"))
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The PEM private key for --tls-cert.", valueName: "FILE"))
    var tlsKey: String?
    @Option(help: "Seconds between tombstone purges.") var purgeInterval = 3600
    @Option(
        name: .customLong("max-store-mb"),
        help: ArgumentHelp("A ceiling on the store file's size, in MB (decimals allowed): pushes past it are answered 507 storage_full and nothing is written.", valueName: "MB"))
    var maxStoreMB: Double?

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("Give both --tls-cert and --tls-key, or neither.") }
        guard (0...65535).contains(port) else { throw ValidationError("--port is 0 to 65535.") }
        guard purgeInterval > 0 else { throw ValidationError("--purge-interval is at least 1.") }
        if let maxStoreMB, !(maxStoreMB > 0) { throw ValidationError("--max-store-mb is a positive number.") }
    }

    func run() async throws {
        let logger = HubLogging.standardError(label: "relais.hub")
        var options = HubStoreLocation.Options()
        options.sqlite.maxStoreBytes = maxStoreMB.map { Int64($0 * 1_048_576) }
        // The store runs in the server's service group (HubServer.run), which also closes nothing:
        // the store is closed below once the group has stopped.
        let store = try await store.location.open(create: false, options: options, logger: logger)
        let hub = HubService(store: store, logger: logger)
        let tls = tlsCert.map { HubServer.TLSFiles(certificatePath: $0, privateKeyPath: tlsKey!) }
        do {
            try await HubServer.run(
                service: hub, configuration: .init(host: host, port: port, tls: tls),
                purgeInterval: .seconds(purgeInterval), logger: logger
            ) { url in
                FileHandle.standardOutput.write(Data("relais-hub listening on \(url)\n".utf8))
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}
