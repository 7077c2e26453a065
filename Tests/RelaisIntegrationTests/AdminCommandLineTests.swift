import Foundation
import RelaisCore
import RelaisHub
import RelaisTesting
import Testing

/// `relais admin conflicts list|show|resolve` against a live hub (DESIGN §8): JSON shapes, `--pick`,
/// `--value`, and the exit codes.
struct AdminCommandLineTests {
    /// The built `relais` executable.
    static var executable: URL { BuiltExecutable.url("relais") }

    static func relais(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try await ChildProcess.run(executable, arguments)
        return (result.status, result.stdout, result.stderr)
    }

    /// The admin token can stay out of `ps` and the shell's history: from a file or from
    /// `RELAIS_ADMIN_TOKEN`; without any, a usage error that says where to put it.
    @Test func theAdminTokenComesFromAFileOrTheEnvironment() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            let token = hub.adminToken
            let file = hub.folder.path + "/admin-token"
            try "\(token)\n".write(toFile: file, atomically: true, encoding: .utf8)
            try await hub.live { url in
                let fromFile = try await Self.relais(["admin", "conflicts", "list", "--hub", url, "--token-file", file])
                #expect(fromFile.status == 0, "\(fromFile.stderr)")
                var environment = ProcessInfo.processInfo.environment
                environment["RELAIS_ADMIN_TOKEN"] = token
                let fromEnvironment = try await ChildProcess.run(
                    Self.executable, ["admin", "conflicts", "list", "--hub", url], environment: environment)
                #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
                environment["RELAIS_ADMIN_TOKEN"] = nil
                let none = try await ChildProcess.run(
                    Self.executable, ["admin", "conflicts", "list", "--hub", url], environment: environment)
                #expect(none.status == 2 && none.stderr.contains("RELAIS_ADMIN_TOKEN"), "\(none.stderr)")
            }
        }
    }

    @Test func listShowResolveAndExitCodes() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            let s = try await ReviewSeed.seed(hub)
            let token = hub.adminToken
            try await hub.live { url in
                let auth = ["--hub", url, "--token", token]
                let all = try await Self.relais(["admin", "conflicts", "list", "--json"] + auth)
                #expect(all.status == 0)
                let listed = try #require(
                    try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
                #expect(Set(listed.compactMap { $0["id"] as? String }) == [s.north, s.south, s.phone])
                let first = try #require(listed.first)
                for key in [
                    "id", "collection", "record_id", "field", "status", "rule", "base", "chosen", "values",
                    "resolution",
                ] {
                    #expect(first.keys.contains(key), "missing \(key)")
                }
                let open = try await Self.relais(["admin", "conflicts", "list", "--status", "open", "--json"] + auth)
                let openIDs =
                    ((try JSONSerialization.jsonObject(with: Data(open.stdout.utf8)) as? [[String: Any]]) ?? [])
                    .compactMap { $0["id"] as? String }
                #expect(Set(openIDs) == [s.north, s.south])

                let shown = try await Self.relais(["admin", "conflicts", "show", s.north, "--json"] + auth)
                #expect(shown.status == 0)
                let report = try #require(
                    try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
                let values = try #require(report["values"] as? [[String: Any]])
                #expect(values.map { $0["user"] as? String } == ["claire", "bob"])
                #expect(
                    values.allSatisfy {
                        $0.keys.contains("value") && $0.keys.contains("replica") && $0.keys.contains("hlc")
                    })
                let text = try await Self.relais(["admin", "conflicts", "show", s.north] + auth)
                #expect(text.status == 0 && text.stdout.contains("at_risk") && text.stdout.contains("claire"))
                // The field's history: both competing writes, newest first, with the device.
                let history = try #require(report["history"] as? [[String: Any]])
                #expect(history.map { $0["user"] as? String } == ["bob", "claire"])
                #expect(history.map { $0["device"] as? String } == ["bob's laptop", "claire's laptop"])
                #expect(text.stdout.contains("history    newest first"))
                let lines = text.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }
                #expect(lines.count == 2 && lines[0].contains("active") && lines[0].contains("bob, bob's laptop"))
                #expect(
                    lines[1].contains("at_risk") && lines[1].contains("claire, claire's laptop")
                        && lines[1].contains("conflict"))

                let picked = try await Self.relais(
                    ["admin", "conflicts", "resolve", s.north, "--pick", "0", "--reason", "visit"] + auth)
                #expect(picked.status == 0)
                var resolved = try await hub.service.conflict(id: s.north)
                #expect(resolved.status == .resolved && resolved.resolution?.value == .text("at_risk"))
                #expect(resolved.resolution?.reason == "visit")
                let merged = try await Self.relais(
                    ["admin", "conflicts", "resolve", s.north, "--value", #""lapsed""#] + auth)
                #expect(merged.status == 0)
                resolved = try await hub.service.conflict(id: s.north)
                #expect(resolved.resolution?.value == .text("lapsed"))
                // `show` prints the record's version; `resolve --record-version` refuses a stale one.
                let recordID = resolved.conflict.recordID
                let version = try #require(
                    try await hub.store.read { tx in try await tx.record(collection: "customers", id: recordID) }?.seq)
                let shownAgain = try await Self.relais(["admin", "conflicts", "show", s.north] + auth)
                #expect(shownAgain.stdout.contains("(version \(version))"))
                let stale = try await Self.relais(
                    ["admin", "conflicts", "resolve", s.north, "--pick", "1", "--record-version", "\(version - 1)"]
                        + auth)
                #expect(stale.status != 0 && stale.stderr.contains("changed since"))
                #expect(try await hub.service.conflict(id: s.north).resolution?.value == .text("lapsed"))
                let current = try await Self.relais(
                    [
                        "admin", "conflicts", "resolve", s.north, "--value", #""lapsed""#, "--record-version",
                        "\(version)",
                    ]
                        + auth)
                #expect(current.status == 0)
                let after = try await Self.relais(["admin", "conflicts", "show", s.north] + auth)
                let newest = after.stdout.split(separator: "\n").first { $0.hasPrefix("  ") }
                #expect(
                    newest?.contains("lapsed") == true && newest?.contains("admin, hub") == true
                        && newest?.contains("current") == true)

                // Exit codes: 3 not found, 5 token refused, 2 usage, 1 a value the field refuses.
                #expect(try await Self.relais(["admin", "conflicts", "show", "nope"] + auth).status == 3)
                let refused = try await Self.relais(["admin", "conflicts", "list", "--hub", url, "--token", "wrong"])
                #expect(
                    refused.status == 5 && refused.stderr.hasPrefix("relais: ")
                        && refused.stderr.split(separator: "\n").count == 1)
                #expect(
                    try await Self.relais(
                        ["admin", "conflicts", "resolve", s.south, "--pick", "0", "--value", "1"] + auth
                    ).status == 2)
                #expect(try await Self.relais(["admin", "conflicts", "list", "--status", "weird"] + auth).status == 2)
                #expect(
                    try await Self.relais(["admin", "conflicts", "resolve", s.south, "--value", #""sleepy""#] + auth)
                        .status == 1)
                #expect(try await hub.service.conflict(id: s.south).status == .open)
            }
            // 4: nothing listens there any more.
            #expect(
                try await Self.relais(["admin", "conflicts", "list", "--hub", "http://127.0.0.1:9", "--token", token])
                    .status == 4)
        }
    }
}
