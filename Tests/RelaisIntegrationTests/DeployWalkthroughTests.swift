import Foundation
import RelaisTesting
import Testing

/// Deploy/README.md, run as written: every command of its `sh` blocks, in order, as an office
/// administrator would type them, with the paths of a real server moved into a temporary folder
/// (`/var/lib/relais`, `/var/backups/relais`, `/etc/relais`), ports chosen free, and the example
/// values (a replica number, a token id, a backup's name) replaced by the real ones of the run.
///
/// Commands this machine cannot run (`systemctl`, `journalctl`: systemd is not PID 1 here) are
/// listed in ``notRunHere`` with the check that stands for them; any other command the README gains
/// must run, or this test fails.
struct DeployWalkthroughTests {
    /// Commands not run here, and what checks them instead.
    static let notRunHere: [(prefix: String, instead: String)] = [
        ("systemctl", "systemd-analyze verify on every unit in .ci/run"),
        ("journalctl", "the agent's log line is checked by AgentTests"),
    ]

    /// One command of the README: its logical line (continuations joined, comment dropped) and the
    /// section it is in.
    struct Command: CustomStringConvertible {
        var line: String
        var section: String
        var description: String { "\(section): \(line)" }
    }

    /// The commands of the `sh` blocks of `markdown`.
    static func commands(_ markdown: String) -> [Command] {
        var commands: [Command] = []
        var section = ""
        var inShell = false
        var pending = ""
        for raw in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("```") {
                inShell = !inShell && line == "```sh"
                continue
            }
            guard inShell else {
                if line.hasPrefix("## ") { section = String(line.dropFirst(3)) }
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if pending.isEmpty, trimmed.hasPrefix("#") || trimmed.isEmpty { continue }  // shown output
            var text = trimmed
            if let comment = text.range(of: "  #") ?? text.range(of: " # ") {
                text = String(text[..<comment.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            if text.hasSuffix("\\") {
                pending += text.dropLast().trimmingCharacters(in: .whitespaces) + " "
                continue
            }
            commands.append(Command(line: pending + text, section: section))
            pending = ""
        }
        return commands
    }

    /// The README's server paths and example values, as they are in this run.
    static func localized(_ line: String) -> String {
        var text = line
        for (from, to) in [
            ("sudo -u relais ", ""), ("-o relais -g relais ", ""),
            ("/var/lib/relais", "\"$ROOT/data\""), ("/var/backups/relais", "$ROOT/backups"),
            ("/etc/relais/", "$ROOT/etc/"), ("--port 7420", "--port 0"),
            ("--host 10.0.0.11", "--host 127.0.0.1"), ("--host 10.0.0.12", "--host 127.0.0.1"),
            ("hub-2026-12-04-0300.sqlite", "$(ls \"$ROOT/backups\" | head -n 1)"),
            ("revoke 3f9a0c1d2e4b", "revoke \"$TOKEN_ID\""), ("device wipe 7", "device wipe \"$REPLICA\""),
            ("device revoke 7", "device revoke \"$REPLICA\""),
            ("postgres://relais@db.internal/relais", "\"$PG_URL\""),
            ("createdb -O relais relais", "createdb --maintenance-db=\"$PG_SERVER\" \"$PG_NAME\""),
        ] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        return text
    }

    @Test(.timeLimit(.minutes(3))) func everyCommandOfDeployREADMERuns() async throws {
        let readme = try String(
            contentsOf: BuiltExecutable.packageRoot.appendingPathComponent("Deploy/README.md"), encoding: .utf8)
        let commands = Self.commands(readme)
        #expect(commands.count >= 30, "the README's commands were not found: \(commands.count)")
        let folder = try TemporaryFolder(prefix: "deploy-walkthrough")
        defer { folder.remove() }
        for sub in ["backups", "etc", "home"] {
            try FileManager.default.createDirectory(atPath: folder.path + "/" + sub, withIntermediateDirectories: true)
        }
        let tools = BuiltExecutable.packageRoot.appendingPathComponent(".build/debug").path
        var environment = ProcessInfo.processInfo.environment
        environment["ROOT"] = folder.path
        environment["HOME"] = folder.path + "/home"
        environment["PATH"] = tools + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        var database: ScenarioDatabase?
        var ran = 0
        var notRun = 0

        for command in commands {
            if Self.notRunHere.contains(where: { command.line.hasPrefix($0.prefix) }) {
                notRun += 1
                continue
            }
            if command.line.contains("db.internal") || command.line.hasPrefix("createdb") {
                guard let server = Services.postgresURL else {
                    notRun += 1  // CI has PostgreSQL (ServicesTests)
                    continue
                }
                if database == nil {
                    let name = "relais_walk_\(UUID().uuidString.prefix(8).lowercased())"
                    database = ScenarioDatabase(serverURL: server, name: name)
                    environment["PG_SERVER"] = server
                    environment["PG_NAME"] = name
                    environment["PG_URL"] = database?.url
                }
            }
            let line = Self.localized(command.line)
            if line.contains("$REPLICA"), environment["REPLICA"] == nil {
                environment["REPLICA"] = try await enrollLaptop(environment)
            }
            if line.contains("$TOKEN_ID") { environment["TOKEN_ID"] = try await newestTokenID(environment) }
            // The certificate commands write where the README says to run them, /etc/relais.
            let directory = URL(
                fileURLWithPath: line.hasPrefix("openssl") || line.hasPrefix("printf")
                    ? folder.path + "/etc" : BuiltExecutable.packageRoot.path)
            let result: ChildProcessResult
            if line.contains("relais-hub serve") {
                // A server: it starts, says where it listens, and stops on SIGTERM with exit 0.
                result = try await ChildProcess.run(
                    URL(fileURLWithPath: "/bin/bash"),
                    ["-c", "timeout --preserve-status -s TERM 4 " + line], environment: environment,
                    currentDirectory: directory, input: nil)
                #expect(result.stdout.contains("relais-hub listening on"), "\(command)\n\(result.stderr)")
            } else {
                result = try await ChildProcess.run(
                    URL(fileURLWithPath: "/bin/bash"), ["-c", line], environment: environment,
                    currentDirectory: directory, input: nil)
            }
            #expect(result.status == 0, "\(command)\n\(line)\n\(result.stderr)")
            ran += 1
        }
        await database?.drop()
        #expect(ran + notRun == commands.count)
        #expect(notRun <= 4 + (Services.postgresURL == nil ? 4 : 0), "only systemd's commands are not run here")
        // What the walkthrough left: a store with its users, a backup, the certificate, the agent's unit.
        #expect(FileManager.default.fileExists(atPath: folder.path + "/data/hub.sqlite"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path + "/backups").count == 1)
        #expect(FileManager.default.fileExists(atPath: folder.path + "/etc/hub.pem"))
        #expect(
            FileManager.default.fileExists(atPath: folder.path + "/home/.config/systemd/user/relais-agent.service"))
        let devices = try await HubProcess.run(["device", "list", "--data", folder.path + "/data"])
        #expect(devices.stdout.contains("revoked"), "\(devices.stdout)")
    }

    /// Enrolls a laptop of `claire` with the README's own `relais enroll` line, against the data
    /// folder served for the occasion; returns its replica number.
    func enrollLaptop(_ environment: [String: String]) async throws -> String {
        let root = try #require(environment["ROOT"])
        let data = root + "/data"
        let issued = try await HubProcess.run(["user", "code", "claire", "--data", data, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(issued.stdout.utf8)) as? [String: Any]
        let code = try #require(object?["enrollment_code"] as? String, "\(issued)")
        let hub = try await HubProcess.start(data: data)
        defer { hub.stop() }
        let enrolled = try await ChildProcess.run(
            BuiltExecutable.url("relais"),
            ["enroll", "--hub", hub.url, "--code", code, "--db", root + "/home/customers.sqlite", "--json"])
        #expect(enrolled.status == 0, "\(enrolled.stderr)")
        let identity = try JSONSerialization.jsonObject(with: Data(enrolled.stdout.utf8)) as? [String: Any]
        return String(try #require(identity?["replica"] as? Int))
    }

    /// The id of the admin API token issued last.
    func newestTokenID(_ environment: [String: String]) async throws -> String {
        let root = try #require(environment["ROOT"])
        let listed = try await HubProcess.run(["token", "list", "--data", root + "/data", "--json"])
        let tokens = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]
        let newest = tokens?.max { ($0["created_at"] as? String ?? "") < ($1["created_at"] as? String ?? "") }
        return try #require(newest?["id"] as? String, "\(listed)")
    }
}
