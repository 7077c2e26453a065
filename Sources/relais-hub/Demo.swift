import ArgumentParser
import Foundation
import Logging
import RelaisClient
import RelaisCore
import RelaisDemo
import RelaisHub

/// `relais-hub demo`: a hub on a temporary SQLite store and a simulated sales force.
///
/// Everything is real: the hub serves HTTP on loopback, each salesperson's laptop is a replica file
/// enrolled with a one-time code, edits are made offline through the client library, and `sync` goes
/// over HTTP with compressed change-sets. The week in the field is seeded, so the report is the same
/// on every run.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a hub on a temporary store with a simulated sales force.",
        discussion: """
            Starts a hub on a temporary SQLite store, enrolls 2 managers and 6 salespeople in 3
            territories, loads about 3,000 customers with their recent history through the managers'
            laptops, simulates two months of offline work synced every Friday (visits, calls, orders,
            opportunities, tasks, complaints; some customers drift away), computes lifetime values
            and segments, then a week of deliberate concurrent edits, and prints a report: writes
            synced, conflicts by rule, complaints, the most value at risk. Then it keeps serving, so
            the conflicts (admin token) and a manager's reports (maria's token) can be seen at /admin,
            until Ctrl-C.

              relais-hub demo                 # serve on 127.0.0.1:7420 until Ctrl-C
              relais-hub demo --once          # print the report and exit (scripts, CI)
              relais-hub demo --port 0        # any free port
              relais-hub demo --keep          # keep the hub store and laptop files afterwards
            """)

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 7420
    @Flag(help: "Exit after the report instead of serving until Ctrl-C.") var once = false
    @Flag(help: "Keep the temporary hub store and replica files (their folder is printed).") var keep = false
    @Option(help: "Seed of the simulated week.") var seed: UInt64 = 2026
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port is 0 to 65535.") }
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("relais-demo-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: folder + "/laptops", withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: folder) } }

        let logger = {
            var logger = HubLogging.standardError(label: "relais.hub.demo")
            if ProcessInfo.processInfo.environment["LOG_LEVEL"] == nil { logger.logLevel = .warning }
            return logger
        }()
        let store = try SQLiteHubStore(folder: folder + "/hub", create: true)
        // As `serve` does on SQLite: snapshots beside the store, for the laptops' first syncs.
        var hubConfiguration = HubService.Configuration()
        hubConfiguration.snapshotFolder = folder + "/hub/snapshots"
        let service = HubService(store: store, configuration: hubConfiguration, logger: logger)
        let adminToken = try await service.initialize()

        let configuration = HubServer.Configuration(host: host, port: port)
        let (seed, json, keep) = (seed, json, keep)
        let folderShown = keep ? folder : nil
        let simulate: @Sendable (String) async throws -> Void = { url in
            var week = DemoWeek(hub: url, folder: folder + "/laptops", service: service, seed: seed)
            let report = try await week.run()
            let text = json ? try report.json() : report.text(hub: url, adminToken: adminToken, folder: folderShown)
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
        do {
            if once {
                // Serve for the simulated week only, then shut down gracefully.
                // The server logs the cancellation of its idle connections at error level when it stops.
                var quiet = logger
                if ProcessInfo.processInfo.environment["LOG_LEVEL"] == nil { quiet.logLevel = .critical }
                try await HubServer.withRunningServer(
                    service: service, configuration: configuration, logger: quiet, simulate)
            } else {
                // Serve until Ctrl-C (SIGINT) or SIGTERM; the week runs as soon as the hub listens.
                let (addresses, continuation) = AsyncStream.makeStream(of: String.self)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        try await HubServer.run(service: service, configuration: configuration, logger: logger) { url in
                            continuation.yield(url)
                            continuation.finish()
                        }
                    }
                    var iterator = addresses.makeAsyncIterator()
                    guard let url = await iterator.next() else {
                        throw CLIError(message: "the hub did not start", exitCode: 1)
                    }
                    try await simulate(url)
                    FileHandle.standardOutput.write(Data("Serving until Ctrl-C.\n".utf8))
                    try await tasks.waitForAll()
                }
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}
