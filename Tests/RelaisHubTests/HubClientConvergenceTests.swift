import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisTesting
import Testing

/// The real replica (RelaisClient) against a live hub over loopback: offline edits on several
/// laptops, concurrent edits, a move between territories and an admin decision; after every replica
/// synced twice, each replica's export equals the hub's view for its user (DESIGN §9.1).
struct HubClientConvergenceTests {
    @Test func replicasConvergeOnTheHubsView() async throws {
        try await HubFixture.with { hub in
            let codes = [
                "claire": try await hub.addUser("claire", role: .rep, territories: ["north"]),
                "bob": try await hub.addUser("bob", role: .rep, territories: ["north"]),
                "marc": try await hub.addUser("marc", role: .manager, territories: ["north", "south"]),
            ]
            let folder = try TemporaryFolder(prefix: "replicas")
            defer { folder.remove() }
            try await hub.live { url in
                var replicas: [String: Replica] = [:]
                for (user, code) in codes {
                    replicas[user] = try await Replica.enroll(
                        hub: url, code: code, path: folder.path + "/\(user).sqlite", deviceName: "\(user)'s laptop")
                }
                let claire = replicas["claire"]!
                let bob = replicas["bob"]!
                let marc = replicas["marc"]!

                // Offline: Claire and Bob each create a customer with a visit.
                let acme = try await claire.add(
                    "customers", ["name": .text("Acme"), "territory": .text("north"), "tags": .set(["food"])])
                try await claire.add(
                    "interactions",
                    [
                        "customer_id": .text(acme), "kind": .text("visit"), "at": .date("2026-11-20"),
                        "summary": .text("Met the buyer"),
                    ])
                let zenith = try await bob.add("customers", ["name": .text("Zenith"), "territory": .text("north")])
                for replica in [claire, bob, marc] { _ = try await replica.sync() }
                for replica in [claire, bob, marc] { _ = try await replica.sync() }

                // Concurrent edits of the same customer, offline on both laptops.
                try await claire.set(
                    "customers", id: acme,
                    ["phone": .text("+33 1 11"), "tags": .set(["food", "key"]), "notes": .text("Prefers mornings")])
                try await bob.set(
                    "customers", id: acme,
                    ["phone": .text("+33 1 22"), "tags": .set(["export"]), "notes": .text("Call the CFO")])
                try await bob.set("customers", id: zenith, ["status": .text("at_risk")])
                let claireSync = try await claire.sync()
                let bobSync = try await bob.sync()
                #expect(claireSync.pushed == 1 && bobSync.pushed == 2)
                #expect(bobSync.conflicts >= 1)

                // The manager moves Zenith to the south; Claire's and Bob's laptops lose it.
                _ = try await marc.sync()
                try await marc.set("customers", id: zenith, ["territory": .text("south")])
                _ = try await marc.sync()

                // An admin overturns the phone conflict with Claire's number.
                let reports = try await hub.service.conflicts(ConflictFilter(collection: "customers", recordID: acme))
                let phone = try #require(reports.first { $0.conflict.field == "phone" })
                let pick = try #require(phone.conflict.values.firstIndex { $0.value == .text("+33 1 11") })
                try await hub.service.resolveConflict(
                    id: phone.id, decision: .pick(pick), reason: "checked", by: "admin")

                for _ in 0..<2 {
                    for replica in [claire, bob, marc] { _ = try await replica.sync() }
                }
                for (user, replica) in [("claire", claire), ("bob", bob), ("marc", marc)] {
                    let local = String(decoding: try await replica.export(), as: UTF8.self)
                    let expected = String(decoding: try await hub.service.exportJSON(user: user), as: UTF8.self)
                    #expect(local == expected, "\(user)'s replica differs from the hub's view")
                }
                let acmeAtHub = try #require(
                    try await hub.service.export(user: "claire")["customers"]?.first { $0.id == acme })
                #expect(acmeAtHub.values["phone"] == .text("+33 1 11"))
                #expect(acmeAtHub.values["tags"] == .set(["export", "food", "key"]))
                #expect(acmeAtHub.values["notes"]?.stringValue?.contains("Prefers mornings") == true)
                #expect(acmeAtHub.values["notes"]?.stringValue?.contains("Call the CFO") == true)
                #expect(try await claire.get("customers", id: zenith) == nil)
                #expect(try await marc.get("customers", id: zenith)?.values["territory"] == .text("south"))
            }
        }
    }
}
