import Foundation
import RelaisClient
import RelaisCore
import RelaisTesting
import Testing

/// The restore drill (docs/OPERATIONS.md): serve, sync laptops, back up while pushes continue, sync
/// more, stop, restore the backup, serve again. The laptops notice the restored hub (its hub epoch)
/// and push again what it lacks: no acknowledged write is lost, and no replica number is handed out
/// twice.
struct HubRestoreDrillTests {
    /// The acknowledged value of each field the test wrote, per customer id; `nil` for a deleted one.
    final class Ledger: @unchecked Sendable {
        var customers: [String: [String: String]?] = [:]

        func acknowledge(_ id: String, _ fields: [String: String]) {
            var current = (customers[id] ?? nil) ?? [:]
            current.merge(fields) { _, new in new }
            customers[id] = current
        }
    }

    @Test(.timeLimit(.minutes(5))) func laptopsPushAgainWhatARestoredHubLacks() async throws {
        let folder = try TemporaryFolder(prefix: "restore-drill")
        defer { folder.remove() }
        let data = folder.path + "/data"
        #expect(try await HubProcess.run(["init", "--data", data]).status == 0)
        func code(_ user: String) async throws -> String {
            let added = try await HubProcess.run([
                "user", "add", user, "--role", "rep", "--territory", "north", "--data", data, "--json",
            ])
            let object = try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any]
            return try #require(object?["enrollment_code"] as? String, "\(added)")
        }
        let anaCode = try await code("ana")
        let benCode = try await code("ben")
        let cleoCode = try await code("cleo")
        let doraCode = try await code("dora")
        var hub = try await HubProcess.start(data: data)
        defer { hub.stop() }

        let ana = try await Replica.enroll(hub: hub.url, code: anaCode, path: folder.file("ana.relais"))
        let ben = try await Replica.enroll(hub: hub.url, code: benCode, path: folder.file("ben.relais"))
        let dora = try await Replica.enroll(hub: hub.url, code: doraCode, path: folder.file("dora.relais"))
        _ = try await dora.sync()
        func freshCode(_ user: String) async throws -> String {
            let issued = try await HubProcess.run(["user", "code", user, "--data", data, "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(issued.stdout.utf8)) as? [String: Any]
            return try #require(object?["enrollment_code"] as? String, "\(issued)")
        }
        let ledger = Ledger()
        func customer(_ name: String) -> [String: Value] { ["name": .text(name), "territory": .text("north")] }

        // Before the backup: Ana creates customers, Ben corrects two of them.
        var before: [String] = []
        for index in 0..<5 {
            before.append(try await ana.add("customers", customer("Before \(index)")))
        }
        _ = try await ana.sync()
        for (index, id) in before.enumerated() { ledger.acknowledge(id, ["name": "Before \(index)"]) }
        _ = try await ben.sync()
        for id in before.prefix(2) { try await ben.set("customers", id: id, ["phone": .text("01 \(id.prefix(4))")]) }
        _ = try await ben.sync()
        for id in before.prefix(2) { ledger.acknowledge(id, ["phone": "01 \(id.prefix(4))"]) }
        _ = try await ana.sync()

        // The backup, taken while Ana keeps adding customers and syncing.
        let backup = folder.path + "/hub.backup.sqlite"
        async let backedUp = HubProcess.run(["backup", "--data", data, "--to", backup])
        var during: [String] = []
        for index in 0..<6 {
            let id = try await ana.add("customers", customer("During \(index)"))
            _ = try await ana.sync()
            ledger.acknowledge(id, ["name": "During \(index)"])
            during.append(id)
        }
        #expect(try await backedUp.status == 0)

        // After the backup, acknowledged by the hub that is about to be lost: new customers, edits of
        // each other's customers, a delete, and a laptop enrolled after the backup.
        var after: [String] = []
        for index in 0..<4 {
            after.append(try await ana.add("customers", customer("After \(index)")))
        }
        try await ana.set("customers", id: before[0], ["city": .text("Lyon")])
        _ = try await ana.sync()
        for (index, id) in after.enumerated() { ledger.acknowledge(id, ["name": "After \(index)"]) }
        ledger.acknowledge(before[0], ["city": "Lyon"])
        _ = try await ben.sync()
        try await ben.set("customers", id: after[0], ["email": .text("after0@example.com")])
        try await ben.set("customers", id: before[1], ["name": .text("Before 1, corrected")])
        try await ben.delete("customers", id: before[4])
        try await ben.set("customers", id: before[2], ["phone": .text("03 ben")])
        let benAfter = try await ben.add("customers", customer("Ben after"))
        _ = try await ben.sync()
        ledger.acknowledge(after[0], ["email": "after0@example.com"])
        ledger.acknowledge(before[1], ["name": "Before 1, corrected"])
        ledger.customers[before[4]] = .some(nil)
        ledger.acknowledge(before[2], ["phone": "03 ben"])
        ledger.acknowledge(benAfter, ["name": "Ben after"])
        _ = try await ana.sync()
        // Ana edits after seeing Ben's writes: her contexts name dots of Ben's that the restored hub
        // lacks (on a customer it lacks altogether, and on one it holds), and she syncs first.
        try await ana.set("customers", id: benAfter, ["city": .text("Nantes")])
        try await ana.set("customers", id: before[2], ["city": .text("Brest")])
        _ = try await ana.sync()
        ledger.acknowledge(benAfter, ["city": "Nantes"])
        ledger.acknowledge(before[2], ["city": "Brest"])
        let cleo = try await Replica.enroll(hub: hub.url, code: cleoCode, path: folder.file("cleo.relais"))
        let cleoReplica = try #require(try await cleo.identity()).replica
        // Cleo's first customer is acknowledged by the hub about to be lost; her second is unsent.
        let cleoFirst = try await cleo.add("customers", customer("Cleo first"))
        #expect(try await cleo.sync().pushed == 1)
        let cleoSecond = try await cleo.add("customers", customer("Cleo second"))

        // Dora's customers are acknowledged after the backup under her first replica number; then her
        // laptop enrolls again (a second number, which the restored hub will not know), adds another,
        // and deletes two of the first ones: one delete acknowledged, one unsent.
        let doraAfter = try await dora.add("customers", customer("Dora after"))
        let doraGone = try await dora.add("customers", customer("Dora gone"))
        let doraGoing = try await dora.add("customers", customer("Dora going"))
        #expect(try await dora.sync().pushed == 3)
        let doraFirst = try #require(try await dora.identity()).replica
        _ = try await dora.rejoin(code: try await freshCode("dora"), deviceName: "dora")
        let doraRenewed = try await dora.add("customers", customer("Dora renewed"))
        try await dora.delete("customers", id: doraGone)
        #expect(try await dora.sync().pushed == 2)
        try await dora.delete("customers", id: doraGoing)

        // Unsent edits on Ana's laptop when the hub goes back in time.
        let pendingID = try await ana.add("customers", customer("Pending"))
        try await ana.set("customers", id: after[1], ["phone": .text("02 pending")])

        // Stop, restore the backup, serve again on the same address.
        let port = hub.port
        hub.stop()
        let restored = try await HubProcess.run(["restore", "--from", backup, "--data", data, "--replace"])
        #expect(restored.status == 0, "\(restored.stderr)")
        hub = try await HubProcess.start(data: data, port: port)

        // The laptops notice, push again what the hub lacks, and converge.
        for _ in 0..<2 {
            _ = try await ana.sync()
            _ = try await ben.sync()
        }
        _ = try await ana.sync()
        ledger.acknowledge(pendingID, ["name": "Pending"])
        ledger.acknowledge(after[1], ["phone": "02 pending"])
        #expect(try await ana.pendingCount() == 0)
        #expect(try await ben.pendingCount() == 0)
        #expect(try await ana.rejected().isEmpty)
        #expect(try await ben.rejected().isEmpty)

        // Every acknowledged write is on the hub: each laptop holds what the hub exports for its user,
        // and that holds every value the ledger recorded.
        for (name, laptop) in [("ana", ana), ("ben", ben)] {
            let export = try await HubProcess.run(["export", "--user", name, "--data", data, "--json"])
            #expect(export.status == 0, "\(export.stderr)")
            let local = String(decoding: try await laptop.export(), as: UTF8.self)
            #expect(
                local.trimmingCharacters(in: .whitespacesAndNewlines)
                    == export.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(name)")
            for (id, fields) in ledger.customers {
                let record = try await laptop.get("customers", id: id)
                guard let fields else {
                    #expect(record == nil, "\(name): \(id) was deleted")
                    continue
                }
                let found = try #require(record, "\(name): \(id) is missing")
                for (field, value) in fields {
                    #expect(found.text(field) == value, "\(name): \(id).\(field)")
                }
            }
        }

        // Cleo enrolled after the backup: the restored hub does not know her token, and she is told
        // why, once (no retries).
        await #expect {
            _ = try await cleo.sync()
        } throws: { error in
            guard let error = error as? SyncError else { return false }
            return error.code == .authenticationRefused && error.description.contains("restored from a backup")
        }

        #expect(try await cleo.pendingCount() == 1)

        // With a new code she enrolls the same file again: her unsent customer, and the one the
        // restored hub lost, reach it under her new replica number.
        let newCode = try await HubProcess.run(["user", "code", "cleo", "--data", data, "--json"])
        let codeObject = try JSONSerialization.jsonObject(with: Data(newCode.stdout.utf8)) as? [String: Any]
        let rejoinCode = try #require(codeObject?["enrollment_code"] as? String, "\(newCode)")
        #expect(try await cleo.rejoin(code: rejoinCode, deviceName: "cleo") == 1)
        let cleoRejoined = try #require(try await cleo.identity()).replica
        #expect(cleoRejoined > cleoReplica)
        _ = try await cleo.sync()
        #expect(try await cleo.pendingCount() == 0)
        let cleoExport = try await HubProcess.run(["export", "--user", "cleo", "--data", data, "--json"])
        #expect(
            String(decoding: try await cleo.export(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                == cleoExport.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        for (id, name) in [(cleoFirst, "Cleo first"), (cleoSecond, "Cleo second")] {
            #expect(try await cleo.get("customers", id: id)?.text("name") == name)
            #expect(cleoExport.stdout.contains(id))
        }

        // Dora enrolls again after the restore: the customers acknowledged under her first number after
        // the backup come back, ahead of the writes of her second number, so the two she deleted
        // since stay deleted (her unsent delete included).
        await #expect(throws: SyncError.self) { _ = try await dora.sync() }
        #expect(try await dora.rejoin(code: try await freshCode("dora"), deviceName: "dora") == 5)
        _ = try await dora.sync()
        #expect(try await dora.pendingCount() == 0)
        #expect(try await dora.rejected().isEmpty)
        let doraExport = try await HubProcess.run(["export", "--user", "dora", "--data", data, "--json"])
        for (id, name) in [(doraAfter, "Dora after"), (doraRenewed, "Dora renewed")] {
            #expect(try await dora.get("customers", id: id)?.text("name") == name)
            #expect(doraExport.stdout.contains(id), "\(name)")
        }
        for id in [doraGone, doraGoing] {
            #expect(try await dora.get("customers", id: id) == nil)
            #expect(!doraExport.stdout.contains(id))
        }
        #expect(
            String(decoding: try await dora.export(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                == doraExport.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        // The put-back writes were acknowledged again under the new number: a later rejoin (the hub
        // not restored again) puts nothing back.
        #expect(try await dora.rejoin(code: try await freshCode("dora"), deviceName: "dora") == 0)
        _ = try await dora.sync()
        #expect(try await dora.pendingCount() == 0)
        #expect(try #require(try await dora.identity()).replica > doraFirst)

        // No replica number is handed out twice: a laptop enrolled now gets a number above every
        // number handed out before the restore, Cleo's included.
        let dan = try await Replica.enroll(hub: hub.url, code: try await code("dan"), path: folder.file("dan.relais"))
        let danReplica = try #require(try await dan.identity()).replica
        #expect(danReplica > cleoReplica)
        let anaReplica = try #require(try await ana.identity()).replica
        let benReplica = try #require(try await ben.identity()).replica
        #expect(Set([anaReplica, benReplica, cleoReplica, cleoRejoined, danReplica]).count == 5)
    }
}

extension HubRestoreDrillTests {
    /// A PostgreSQL hub is restored with pg_restore, then `relais-hub epoch renew` gives it a new hub
    /// epoch and moves its replica numbers past the gap, as `relais-hub restore` does for SQLite.
    @Test(.enabled(if: Services.postgresURL != nil, Services.skipReason))
    func epochRenewGivesAPostgreSQLHubANewEpochAndReplicaNumbersPastTheGap() async throws {
        let folder = try TemporaryFolder(prefix: "epoch-renew")
        defer { folder.remove() }
        let database = try await ScenarioDatabase.create()
        do {
            let store = ["--postgres", database.url]
            let initialized = try await HubProcess.run(["init"] + store)
            #expect(initialized.status == 0, "\(initialized.stderr)")
            let added = try await HubProcess.run(
                ["user", "add", "ana", "--role", "rep", "--territory", "north", "--json"] + store)
            let object = try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any]
            let code = try #require(object?["enrollment_code"] as? String, "\(added)")
            let before = try await HubProcess.run(["epoch", "show"] + store)
            #expect(before.status == 0 && before.stdout.trimmingCharacters(in: .whitespacesAndNewlines).count == 32)

            let renewed = try await HubProcess.run(["epoch", "renew", "--replica-gap", "500"] + store)
            #expect(renewed.status == 0, "\(renewed.stderr)")
            let after = try await HubProcess.run(["epoch", "show"] + store)
            #expect(
                after.stdout != before.stdout
                    && renewed.stdout.contains(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))

            // Served, it hands out numbers past the gap, and its epoch to the laptop.
            let hub = try await HubProcess.start(store: store, in: folder.path)
            defer { hub.stop() }
            let ana = try await Replica.enroll(hub: hub.url, code: code, path: folder.file("ana.relais"))
            #expect(try #require(try await ana.identity()).replica > 500)
            _ = try await ana.sync()
        } catch {
            await database.drop()
            throw error
        }
        await database.drop()
    }
}

extension Replica.Record {
    /// A text field's value, or nil.
    fileprivate func text(_ field: String) -> String? {
        if case .text(let text) = values[field] { return text }
        return nil
    }
}
