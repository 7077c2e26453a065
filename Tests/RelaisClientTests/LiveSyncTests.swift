import Foundation
import RelaisCore
import RelaisHub
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// The replica against a live hub on loopback: enrollment, push then pull, concurrent edits,
/// rejection, raw SQL edits, and convergence with the hub's export of each user.
struct LiveSyncTests {
    @Test func twoRepsConvergeWithTheHub() async throws {
        try await HubFixture.with { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let marcCode = try await hub.addUser("marc", role: .rep, territories: ["north", "south"])
            let folder = try TemporaryFolder(prefix: "live")
            defer { folder.remove() }
            let clairePath = folder.file("claire.db")
            let marcPath = folder.file("marc.db")
            try await hub.live { url in
                let claire = try await Replica.enroll(
                    hub: url, code: claireCode, path: clairePath, deviceName: "claire")
                let marc = try await Replica.enroll(hub: url, code: marcCode, path: marcPath, deviceName: "marc")
                #expect(try await claire.identity()?.user == "claire")
                // The code works once.
                await #expect {
                    try await Replica.enroll(hub: url, code: claireCode, path: folder.file("again.db"))
                } throws: {
                    ($0 as? SyncError)?.code == .authenticationRefused
                }

                let acme = try await claire.add(
                    customer, ["name": .text("Acme"), "territory": .text("north"), "status": .text("active")])
                try await claire.add("contacts", ["customer_id": .text(acme), "name": .text("Zoé")])
                // An edit made with plain SQL, as the sqlite3 shell would.
                let raw = try Connection(path: clairePath)
                raw.busyTimeout = .seconds(5)
                try raw.execute("UPDATE customers SET city = 'Lille', tags = '[\"vip\"]' WHERE id = '\(acme)'")
                try raw.close()

                let first = try await claire.sync()
                #expect(first.pushed == 2)
                #expect(first.rejected == 0)
                let pulled = try await marc.sync()
                #expect(pulled.pulled == 2)
                #expect(try await marc.get(customer, id: acme)?["city"] == .text("Lille"))

                // Concurrent edits of one field while both are offline.
                try await claire.set(customer, id: acme, ["phone": .text("111")])
                try await marc.set(customer, id: acme, ["phone": .text("222"), "tags": .set(["b2b"])])
                _ = try await claire.sync()
                let second = try await marc.sync()
                #expect(second.conflicts >= 1)
                #expect(try await marc.conflicts().isEmpty == false)

                // A rep moving a customer out of their territories is refused; the value comes back.
                try await claire.set(customer, id: acme, ["territory": .text("south")])
                let refused = try await claire.sync()
                #expect(refused.rejected == 1)
                #expect(try await claire.rejected().last?.code == "outside_territory")
                #expect(try await claire.get(customer, id: acme)?["territory"] == .text("north"))

                // Two quiet syncs each, then every replica equals the hub's view of its user.
                for _ in 0..<2 {
                    _ = try await claire.sync()
                    _ = try await marc.sync()
                }
                let claireExport = try await claire.export()
                let marcExport = try await marc.export()
                #expect(claireExport == Data(try await hub.service.exportJSON(user: "claire")))
                #expect(marcExport == Data(try await hub.service.exportJSON(user: "marc")))
                let tags = try await claire.get(customer, id: acme)?["tags"]
                #expect(tags == .set(["b2b"]))  // marc had seen "vip": a sequential overwrite, no union
                #expect(try await claire.status().pending == 0)
            }
        }
    }

    /// An imported row the hub refuses (outside the rep's territories) leaves the laptop, listed as
    /// rejected, as a typed one does: no blank record stays behind, and the other rows go through.
    @Test func anImportedRowTheHubRefusesLeavesNoBlankRecord() async throws {
        try await HubFixture.with { hub in
            let folder = try TemporaryFolder(prefix: "import-rejected")
            defer { folder.remove() }
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: code, path: folder.file("claire.db"))
                let (north, south) = ("1c0de000-0000-4000-8000-000000000001", "1c0de000-0000-4000-8000-000000000002")
                let csv = "id,name,territory,status\n\(north),Kept,north,active\n\(south),Refused,south,active\n"
                #expect(try await claire.import(customer, text: csv, format: .csv) == 2)
                var options = SyncOptions()
                options.verification = .off
                _ = try await claire.sync(options: options)
                #expect(try await claire.get(customer, id: north)?["name"] == .text("Kept"))
                #expect(try await claire.get(customer, id: south) == nil)
                let rejected = try await claire.rejected()
                #expect(rejected.map(\.recordID) == [south] && rejected.first?.code == "outside_territory")
                #expect(try await claire.pendingCount() == 0)
            }
        }
    }

    /// A customer added, deleted and added again with the same id before any sync: the hub ends with
    /// the second version only, not a field of the first that the second left empty.
    @Test func aRecordDeletedAndAddedAgainBeforeSyncingKeepsOnlyItsNewValues() async throws {
        try await HubFixture.with { hub in
            let folder = try TemporaryFolder(prefix: "readd")
            defer { folder.remove() }
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: code, path: folder.file("claire.db"))
                let id = "1c0de000-0000-4000-8000-0000000000a1"
                try await claire.add(customer, id: id, acme("First").merging(["phone": .text("+33 1 99")]) { $1 })
                try await claire.delete(customer, id: id)
                try await claire.add(customer, id: id, acme("Second"))
                #expect(try await claire.sync().rejected == 0)
                #expect(try await claire.get(customer, id: id)?["phone"] == .null)
                let held = try #require(
                    try await hub.service.export(user: "claire")["customers"]?.first { $0.id == id })
                #expect(held.values["name"] == .text("Second"))
                #expect((held.values["phone"] ?? .null) == .null)

                // Deleted on the hub, then added again with the same id by the rep: a revival, written
                // whole, without the office's fields (a rep's write naming one is refused).
                try await claire.delete(customer, id: id)
                _ = try await claire.sync()
                try await claire.add(customer, id: id, acme("Third"))
                #expect(try await claire.sync().rejected == 0)
                let revived = try await hub.service.export(user: "claire")["customers"]?.first { $0.id == id }
                #expect(revived?.values["name"] == .text("Third"))
            }
        }
    }

    @Test func revokedDeviceAndUnreachableHubAreTypedErrors() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "live")
            defer { folder.remove() }
            let path = folder.file("claire.db")
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: code, path: path)
                try await claire.add(customer, ["name": .text("Acme"), "territory": .text("north")])
                let number = try #require(try await claire.identity()).replica
                _ = try await hub.service.revokeDevice(ReplicaID(number))
                await #expect { try await claire.sync() } throws: { ($0 as? SyncError)?.code == .deviceRevoked }
                #expect(try await claire.pendingCount() == 1)
            }
        }
    }
    /// An edit that sets a field to the value it has changes nothing and leaves nothing behind: a
    /// later pull's fields stay when the record is edited again (docs/RELIABILITY.md, bug 9: the
    /// capture trigger kept the confirmed row of such an edit, with no pending write to clear it, and
    /// the next real edit took that stale row as the record's confirmed state, dropping the pulled
    /// fields on the laptop).
    @Test func anEditThatChangesNothingLeavesNoStaleConfirmedState() async throws {
        try await HubFixture.with { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let remiCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "live-noop")
            defer { folder.remove() }
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: claireCode, path: folder.file("claire.db"))
                let remi = try await Replica.enroll(hub: url, code: remiCode, path: folder.file("remi.db"))
                let id = try await claire.add(
                    customer, ["name": .text("Acme"), "territory": .text("north"), "status": .text("prospect")])
                _ = try await claire.sync()
                _ = try await remi.sync()

                try await remi.set(customer, id: id, ["status": .text("prospect")])
                #expect(try await remi.pendingCount() == 0)
                // With SQL too, as the `sqlite3` shell would.
                let db = try rawConnection(folder.file("remi.db"))
                try db.execute("UPDATE customers SET name = name WHERE id = ?", [.text(id)])
                try db.close()

                try await claire.set(customer, id: id, ["phone": .text("0102"), "city": .text("Lyon")])
                _ = try await claire.sync()
                _ = try await remi.sync()
                #expect(try await remi.get(customer, id: id)?.values["phone"] == .text("0102"))

                try await remi.set(customer, id: id, ["notes": .text("visited")])
                _ = try await remi.sync()
                let record = try #require(try await remi.get(customer, id: id))
                #expect(record.values["phone"] == .text("0102"))
                #expect(record.values["city"] == .text("Lyon"))
                _ = try await claire.sync()
                #expect(try await remi.export() == claire.export())
            }
        }
    }
}
