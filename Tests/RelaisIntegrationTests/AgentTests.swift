import Foundation
import RelaisClient
import RelaisTesting
import Testing

/// `relais agent` keeps a laptop in sync by itself (Deploy/laptop/): an edit reaches the hub within
/// seconds, a hub outage makes it back off and then catch up, and a second sync of the same file
/// refuses with a clear message.
@Suite(.serialized)
struct AgentTests {
    @Test func anEditReachesTheHubSoonAndAnOutageIsCaughtUp() async throws {
        let office = try await Office.open()
        defer { office.close() }
        let agent = try office.startAgent()
        defer { agent.stop() }
        try await office.waitFor("the agent's first sync") { agent.log.contains("synced:") }

        let first = try await office.add("Boulangerie Martin")
        try await office.waitFor("the first edit on the hub") { try await office.hubHas(first) }

        office.hub.stop()
        let second = try await office.add("Fromagerie Durand")
        try await office.waitFor("a failed sync while the hub is down") {
            agent.log.contains("sync failed: hub unreachable") && agent.log.contains("next try in")
        }
        office.hub = try await HubProcess.start(data: office.data, in: office.folder.path, port: office.hub.port)
        try await office.waitFor("the edit made during the outage on the hub") { try await office.hubHas(second) }

        // The sync that pushed it may still be pulling: its report replaces the failed one when it ends.
        var status = try await Tools.run("relais", ["status", "--json", "--db", office.db], in: office.folder.path)
        try await office.waitFor("the agent's report of that sync") {
            status = try await Tools.run("relais", ["status", "--json", "--db", office.db], in: office.folder.path)
            return (try status.object()["agent"] as? [String: Any])?["ok"] as? Bool == true
        }
        let report = try #require(try status.object()["agent"] as? [String: Any], "\(status)")
        #expect(try status.object()["pending"] as? Int == 0)
        #expect(report["ok"] as? Bool == true, "\(report)")

        agent.terminate()
        #expect(agent.exitStatus == 0)
        #expect(agent.log.contains("agent stopped"))
    }

    @Test func aSecondSyncOfTheSameFileRefusesAndSaysWhy() async throws {
        let office = try await Office.open()
        defer { office.close() }
        let lock = try SyncLock.acquire(for: office.db)
        let refused = try await Tools.run("relais", ["sync", "--db", office.db], in: office.folder.path)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("another sync of \(office.db) is running (process \(getpid())"), "\(refused)")
        lock.release()
        let synced = try await Tools.run("relais", ["sync", "--db", office.db], in: office.folder.path)
        #expect(synced.status == 0, "\(synced)")
    }

    /// A hub on a data folder and one enrolled laptop.
    final class Office: @unchecked Sendable {
        let folder: TemporaryFolder
        let data: String
        let db: String
        var hub: HubProcess

        private init(folder: TemporaryFolder, data: String, db: String, hub: HubProcess) {
            self.folder = folder
            self.data = data
            self.db = db
            self.hub = hub
        }

        static func open() async throws -> Office {
            let folder = try TemporaryFolder(prefix: "agent")
            let data = folder.path + "/hub"
            let initialized = try await Tools.run("relais-hub", ["init", "--data", data, "--json"], in: folder.path)
            #expect(initialized.status == 0, "\(initialized)")
            let hub = try await HubProcess.start(data: data, in: folder.path)
            let added = try await Tools.run(
                "relais-hub",
                ["user", "add", "claire", "--role", "rep", "--territory", "north", "--data", data, "--json"],
                in: folder.path)
            let code = try #require(try added.object()["enrollment_code"] as? String, "\(added)")
            let db = folder.path + "/claire.relais"
            let enrolled = try await Tools.run(
                "relais", ["enroll", "--hub", hub.url, "--code", code, "--db", db], in: folder.path)
            #expect(enrolled.status == 0, "\(enrolled)")
            return Office(folder: folder, data: data, db: db, hub: hub)
        }

        /// `relais agent` with short times: 0.3 s of quiet after an edit, retries at most 1 s apart.
        func startAgent() throws -> AgentProcess {
            try AgentProcess(
                arguments: ["agent", "--db", db, "--interval", "60", "--debounce", "0.3", "--max-backoff", "1"],
                log: folder.path + "/agent.log")
        }

        /// Adds a customer in territory north with `relais add`; returns its id.
        func add(_ name: String) async throws -> String {
            let added = try await Tools.run(
                "relais", ["add", "customers", "name=\(name)", "territory=north", "--db", db], in: folder.path)
            #expect(added.status == 0, "\(added)")
            return added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Whether the hub's view for claire holds the customer `id`.
        func hubHas(_ id: String) async throws -> Bool {
            let export = try await Tools.run(
                "relais-hub", ["export", "--user", "claire", "--data", data, "--json"], in: folder.path)
            return export.status == 0 && export.stdout.contains(id)
        }

        /// Polls `condition` every 100 ms for at most 15 s; records an issue and stops the test if it
        /// never holds.
        func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
            guard try await eventually(within: .seconds(15), every: .milliseconds(100), condition) else {
                Issue.record("timed out waiting for \(what)")
                throw CancellationError()
            }
        }

        func close() {
            hub.stop()
            folder.remove()
        }
    }

    /// `relais agent` as a child process, its standard output in a file.
    final class AgentProcess: @unchecked Sendable {
        private let process: SpawnedProcess
        private let logPath: String

        init(arguments: [String], log: String) throws {
            logPath = log
            process = try SpawnedProcess(
                BuiltExecutable.url("relais").path, arguments, stdout: .file(log), stderr: .file(log))
        }

        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        /// SIGTERM, then waits for the exit.
        func terminate() {
            process.terminate()
            process.wait()
        }

        var exitStatus: Int32 { process.wait().status }

        func stop() {
            if process.isRunning { terminate() }
        }
    }
}
