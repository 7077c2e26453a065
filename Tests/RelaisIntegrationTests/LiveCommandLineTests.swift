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
                #expect(status?["token_present"] as? Bool == true && status?["token_expires_at"] is String)
                let export = try await cli.run(["export", "--db", db, "--json"]).stdout
                #expect(Data(export.utf8) == Data(try await hub.service.exportJSON(user: "claire")) + Data("\n".utf8))
            }
        }
    }

    /// `relais enroll --rejoin` takes a refused laptop's unsent write along under a new enrollment;
    /// `relais-hub device wipe` then makes its next `relais sync` push, report and erase the file,
    /// and `relais-hub device list` shows it wiped with the writes saved.
    @Test func rejoinAndWipeWithTheTools() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: ClientCommandLineTests.toolPath), "build relais first")
        try await HubFixture.with(store: .sqlite) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "rejoin-cli")
            defer { folder.remove() }
            let db = folder.file("claire.db")
            let data = hub.dataFolder
            try await hub.live { url in
                let cli = ClientCommandLineTests()
                #expect(try await cli.run(["enroll", "--hub", url, "--code", code, "--db", db]).status == 0)
                #expect(
                    try await cli.run(["add", "customers", "name=Acme", "territory=north", "--db", db]).status == 0)
                // Revoked by mistake: the sync is refused and the write kept.
                let first = try #require(try await hub.service.devices().first).replica
                try await hub.service.revokeDevice(first)
                let refused = try await cli.run(["sync", "--db", db])
                #expect(refused.status == 5)
                #expect(try await cli.run(["enroll", "--rejoin", "--db", db]).status == 2)  // no code
                let newCode = try await hub.service.issueEnrollmentCode(for: "claire")
                let rejoined = try await cli.run(["enroll", "--rejoin", "--code", newCode, "--db", db, "--json"])
                #expect(rejoined.status == 0, "\(rejoined.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(rejoined.stdout.utf8)) as? [String: Any]
                #expect(object?["rejoined"] as? Bool == true && object?["pending"] as? Int == 1)
                let synced = try await cli.run(["sync", "--db", db, "--json"])
                #expect(synced.status == 0, "\(synced.stderr)")
                #expect(
                    String(decoding: try await hub.service.exportJSON(user: "claire"), as: UTF8.self).contains("Acme"))

                // Lost: wiped at its next contact, after pushing its unsent customer.
                #expect(
                    try await cli.run(["add", "customers", "name=Unsent", "territory=north", "--db", db]).status == 0)
                let second = try #require(try await hub.service.devices().last).replica
                let wipe = try await HubProcess.run(["device", "wipe", String(second.rawValue), "--data", data])
                #expect(wipe.status == 0, "\(wipe.stderr)")
                let listed = try await HubProcess.run(["device", "list", "--data", data])
                #expect(listed.stdout.contains("wipe requested"))
                let wiped = try await cli.run(["sync", "--db", db])
                #expect(wiped.status == 5)
                #expect(wiped.stderr.contains("1 write(s) reached the hub first, 0 did not"), "\(wiped.stderr)")
                #expect(!FileManager.default.fileExists(atPath: db))
                #expect(
                    String(decoding: try await hub.service.exportJSON(user: "claire"), as: UTF8.self).contains("Unsent")
                )
                let after = try await HubProcess.run(["device", "list", "--data", data, "--json"])
                let devices = try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [[String: Any]]
                let row = try #require(devices?.first { ($0["replica"] as? Int) == Int(second.rawValue) })
                #expect(row["status"] as? String == "wiped" && row["wipe_saved_writes"] as? Int == 1)
                #expect(
                    try await HubProcess.run(["device", "list", "--data", data]).stdout.contains(
                        "wiped (1 writes saved, 0 not)"))
            }
        }
    }

    /// `relais verify` repairs a file changed behind the engine's back (exit 0) and says so; a file whose
    /// own trigger undoes every repair cannot be repaired (exit 1); `relais-hub device list` shows each
    /// outcome.
    @Test func verifyRepairsAndReportsWithTheTools() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: ClientCommandLineTests.toolPath), "build relais first")
        try await HubFixture.with(store: .sqlite) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify-cli")
            defer { folder.remove() }
            let db = folder.file("claire.db")
            let data = hub.dataFolder
            try await hub.live { url in
                let cli = ClientCommandLineTests()
                #expect(try await cli.run(["enroll", "--hub", url, "--code", code, "--db", db]).status == 0)
                for name in ["Acme", "Bolt", "Cube"] {
                    #expect(
                        try await cli.run(["add", "customers", "name=\(name)", "territory=north", "--db", db]).status
                            == 0)
                }
                #expect(try await cli.run(["sync", "--db", db]).status == 0)
                let equal = try await cli.run(["verify", "--db", db])
                #expect(equal.status == 0 && equal.stdout.hasPrefix("equal: 3 records checked"), "\(equal.stdout)")

                let raw = try Connection(path: db)
                raw.busyTimeout = .seconds(5)
                try raw.execute(
                    """
                    INSERT INTO _relais_engine(writing) VALUES (1);
                    UPDATE customers SET city = 'Nowhere' WHERE name = 'Bolt';
                    DELETE FROM _relais_engine;
                    """)
                let repaired = try await cli.run(["verify", "--db", db, "--json"])
                #expect(repaired.status == 0, "\(repaired.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(repaired.stdout.utf8)) as? [String: Any]
                #expect(object?["outcome"] as? String == "repaired")
                #expect(object?["differing"] as? Int == 1 && object?["repaired"] as? Int == 1)
                #expect((object?["differences"] as? [[String: Any]])?.first?["difference"] as? String == "changed")
                #expect(try raw.scalar("SELECT count(*) FROM customers WHERE city = 'Nowhere'")?.int64Value == 0)

                // A trigger of the user's own puts the wrong value back after every repair.
                try raw.execute(
                    """
                    INSERT INTO _relais_engine(writing) VALUES (1);
                    CREATE TRIGGER saboteur AFTER UPDATE ON customers BEGIN
                        UPDATE customers SET city = 'Nowhere' WHERE id = new.id;
                    END;
                    UPDATE customers SET city = 'Nowhere' WHERE name = 'Bolt';
                    DELETE FROM _relais_engine;
                    """)
                try raw.close()
                let stuck = try await cli.run(["verify", "--db", db])
                #expect(stuck.status == 1, "\(stuck.stdout) \(stuck.stderr)")
                #expect(
                    stuck.stdout.hasPrefix("unrepaired: 3 records checked, 1 differed, 0 repaired"), "\(stuck.stdout)")
                #expect(stuck.stdout.contains("changed, still differs"))

                let listed = try await HubProcess.run(["device", "list", "--data", data])
                #expect(listed.stdout.contains("DIVERGED: 1 of 1 still differ"), "\(listed.stdout)")
                let json = try await HubProcess.run(["device", "list", "--data", data, "--json"])
                let devices = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
                let verification = devices?.first?["verification"] as? [String: Any]
                #expect(verification?["outcome"] as? String == "unrepaired" && verification?["full"] as? Bool == true)
                let metrics = String(decoding: try await hub.service.metricsExposition(), as: UTF8.self)
                #expect(metrics.contains("relais_devices_diverged 1.0"))
            }
        }
    }
}
