import Foundation
import RelaisCore
import RelaisHub
import RelaisSQLite
import RelaisTesting
import Testing

/// The `relais` tool against a live hub: enroll, add, sync --json, status, export.
struct LiveCommandLineTests {
    @Test func enrollAddSyncAndExportWithTheTool() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: ClientCommandLineTests.toolPath), "build relais first")
        try await HubFixture.with { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "live-cli")
            defer { folder.remove() }
            let db = folder.file("claire.db")
            try await hub.live { url in
                let cli = ClientCommandLineTests()
                let enrolled = try await cli.run(["enroll", "--hub", url, "--code", code, "--db", db])
                #expect(enrolled.status == 0, "\(enrolled.stderr)")
                #expect(enrolled.stdout.contains("claire"))
                let again = try await cli.run(["enroll", "--hub", url, "--code", code, "--db", folder.file("other.db")])
                #expect(again.status == 5)
                #expect(
                    try await cli.run(["add", "customers", "name=Acme", "territory=north", "tags=a,b", "--db", db])
                        .status == 0)
                let synced = try await cli.run(["sync", "--db", db, "--json"])
                #expect(synced.status == 0, "\(synced.stderr)")
                let counts = try JSONSerialization.jsonObject(with: Data(synced.stdout.utf8)) as? [String: Int]
                #expect(counts == ["pushed": 1, "pulled": 0, "conflicts": 0, "rejected": 0])
                let status =
                    try JSONSerialization.jsonObject(
                        with: Data(try await cli.run(["status", "--db", db, "--json"]).stdout.utf8))
                    as? [String: Any]
                #expect(status?["pending"] as? Int == 0)
                #expect(status?["last_sync"] is String)
                let export = try await cli.run(["export", "--db", db, "--json"]).stdout
                #expect(Data(export.utf8) == Data(try await hub.service.exportJSON(user: "claire")) + Data("\n".utf8))
            }
        }
    }
}
