import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Synchronization
import Testing

/// HTTP to a live hub that records the cursor of each snapshot downloaded.
private final class SnapshotCursors: ForwardingTransport {
    let inner: any SyncTransport
    let cursors = Mutex<[UInt64]>([])

    init(hub: String) { inner = HTTPSyncTransport(hub: hub) }

    func snapshot(_ request: SnapshotRequest, token: String, folder: String) async throws -> SnapshotDownload? {
        let download = try await inner.snapshot(request, token: token, folder: folder)
        if let download { cursors.withLock { $0.append(download.cursor) } }
        return download
    }
}

/// Tombstones: sent to devices, purged once acknowledged by every device or past retention.
struct HubTombstoneTests {
    @Test func purgeWaitsForEveryDeviceThenForgets() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let id = Wire.uuid()
            _ = try await hub.push(
                claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
            _ = try await hub.pullAll(&bob)
            _ = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: id, replica: claire.replica, counter: claire.nextCounter(), delete: true,
                        context: VersionVector([ReplicaID(claire.replica): 1]))
                ])
            // Bob has not pulled past the delete: nothing is purged.
            #expect(try await hub.service.purgeTombstones().acknowledged == 0)
            let bobPages = try await hub.pullAll(&bob)
            #expect(bobPages.records.first?.deleted == true)
            let deleteSeq = try #require(bobPages.records.first?.seq)
            _ = try await hub.pullAll(&claire)
            // Acknowledged cursors are the request cursors: one more pull each records them.
            _ = try await hub.pullAll(&bob)
            _ = try await hub.pullAll(&claire)
            let report = try await hub.service.purgeTombstones()
            #expect(report.acknowledged == 1 && report.expired == 0 && report.horizon == 0)
            // What went is recorded: a snapshot below it is not served, a pull started below it bootstraps.
            #expect(report.purgedUpTo == deleteSeq)
            #expect(try await hub.store.read { try await $0.record(collection: "customers", id: id) } == nil)
            // A fresh device bootstraps without ever seeing it.
            var dan = try await hub.enrollDevice("dan")
            #expect(try await hub.pullAll(&dan).records.isEmpty)
        }
    }

    /// A pull started below a tombstone purged by acknowledgement (a laptop's file restored from a
    /// backup, which the hub cannot tell from the laptop it acknowledged) would never receive the
    /// delete: it is told to bootstrap.
    @Test func aPullStartedBelowAnAcknowledgedPurgeBootstraps() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let gone = Wire.uuid()
            let keep = Wire.uuid()
            _ = try await hub.push(
                claire,
                [
                    Wire.customer(id: gone, replica: claire.replica, counter: claire.nextCounter()),
                    Wire.customer(id: keep, replica: claire.replica, counter: claire.nextCounter()),
                ])
            _ = try await hub.pullAll(&bob)
            let restored = bob.cursor
            _ = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: gone, replica: claire.replica, counter: claire.nextCounter(), delete: true,
                        context: VersionVector([ReplicaID(claire.replica): 1]))
                ])
            for _ in 0..<2 {
                _ = try await hub.pullAll(&bob)
                _ = try await hub.pullAll(&claire)
            }
            #expect(try await hub.service.purgeTombstones().acknowledged == 1)
            let answer = try await hub.service.pull(
                Wire.pull(cursor: restored, since: restored), from: bob.principal)
            #expect(answer.bootstrapRequired && answer.records.isEmpty)
            bob.cursor = 0
            #expect(try await hub.pullAll(&bob).records.map(\.recordID) == [keep])
        }
    }

    /// A laptop that bootstraps by pages after a purge by acknowledgement is not told to bootstrap
    /// again at its second page, though its cursor is below what went: it holds nothing from before
    /// its first page, and the purge waits for it while it runs (a new client, `since` 0, and an
    /// older one, without `since`).
    @Test func aBootstrapByPagesAfterAnAcknowledgedPurgeEnds() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            var claire = try await hub.enrollDevice("claire")
            var ids: [String] = []
            for _ in 0..<4 {
                let id = Wire.uuid()
                ids.append(id)
                _ = try await hub.push(
                    claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
            }
            _ = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: ids[3], replica: claire.replica, counter: claire.nextCounter(), delete: true,
                        context: VersionVector([ReplicaID(claire.replica): 4]))
                ])
            _ = try await hub.pullAll(&claire)
            _ = try await hub.pullAll(&claire)
            let report = try await hub.service.purgeTombstones()
            #expect(report.acknowledged == 1 && report.purgedUpTo > 1)
            for sendsSince in [true, false] {
                var dan = try await hub.enrollDevice("dan\(sendsSince)")
                let pages = try await hub.pullAll(&dan, pageSize: 1, since: sendsSince ? 0 : nil)
                #expect(!pages.contains { $0.bootstrapRequired }, "sends since: \(sendsSince), cursor \(dan.cursor)")
                #expect(pages.records.map(\.recordID) == Array(ids.prefix(3)))
            }
        }
    }

    /// A snapshot built before a delete, or before a move out of its view, is not served once a purge
    /// by acknowledgement took the tombstone or the move (every device that had synced was past it; a
    /// laptop enrolled since acknowledges nothing): the hub builds a new one, and the new laptop does
    /// not hold the record, with nothing for its check to repair.
    @Test(arguments: ["delete", "move"]) func aSnapshotBelowAnAcknowledgedPurgeIsNotServed(change: String)
        async throws
    {
        try await HubFixture.with { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let remiCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
            let marcCode = try await hub.addUser("marc", role: .manager, territories: ["north", "south"])
            let leaCode = try await hub.addUser("lea", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "snapshot-purge")
            defer { folder.remove() }
            try await hub.live { url in
                let customer = "customers"
                let claire = try await Replica.enroll(hub: url, code: claireCode, path: folder.file("claire.db"))
                let gone = try await claire.add(customer, ["name": .text("Gone"), "territory": .text("north")])
                let kept = try await claire.add(customer, ["name": .text("Kept"), "territory": .text("north")])
                _ = try await claire.sync()
                // Rémi's first sync builds the snapshot of north, both customers in it.
                let remi = try await Replica.enroll(hub: url, code: remiCode, path: folder.file("remi.db"))
                let remiTransport = SnapshotCursors(hub: url)
                _ = try await remi.sync(transport: remiTransport)
                let built = try #require(remiTransport.cursors.withLock { $0.first })
                let marc = try await Replica.enroll(hub: url, code: marcCode, path: folder.file("marc.db"))
                _ = try await marc.sync()

                if change == "delete" {
                    try await claire.delete(customer, id: gone)
                } else {
                    try await marc.set(customer, id: gone, ["territory": .text("south")])
                }
                for replica in [claire, marc] { _ = try await replica.sync() }
                // Every device that synced pulls past it (its next pull's start acknowledges it).
                for _ in 0..<2 {
                    for replica in [claire, remi, marc] { _ = try await replica.sync() }
                }
                #expect(try await remi.get(customer, id: gone) == nil)

                // Léa's laptop is enrolled, not synced: the purge does not wait for it.
                let lea = try await Replica.enroll(hub: url, code: leaCode, path: folder.file("lea.db"))
                let report = try await hub.service.purgeTombstones()
                #expect(report.acknowledged == (change == "delete" ? 1 : 0))
                #expect(report.horizon == 0 && report.purgedUpTo > built)

                let leaTransport = SnapshotCursors(hub: url)
                let result = try await lea.sync(transport: leaTransport)
                let taken = try #require(leaTransport.cursors.withLock { $0.first })
                #expect(taken >= report.purgedUpTo)
                #expect(try await lea.get(customer, id: gone) == nil)
                #expect(try await lea.get(customer, id: kept) != nil)
                let verification = try #require(result.verification)
                #expect(verification.outcome == .equal && verification.repaired == 0)
            }
        }
    }

    /// A purge by age raises the horizon past records a bootstrap by pages has yet to reach: its next
    /// page's cursor is below the horizon, and a pull that started at 0 needs no tombstone nor move
    /// (what it does not receive is swept), so it goes on. (Asked to start again, the laptop would
    /// fail the sync, and every later one the same way.)
    @Test func aBootstrapByPagesAfterAPurgeByAgeEnds() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            var ids: [String] = []
            for _ in 0..<4 {
                let id = Wire.uuid()
                ids.append(id)
                _ = try await hub.push(
                    claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
            }
            _ = try await hub.pullAll(&bob)
            _ = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: ids[3], replica: claire.replica, counter: claire.nextCounter(), delete: true,
                        context: VersionVector([ReplicaID(claire.replica): 4]))
                ])
            // Bob stays offline past the retention period: the tombstone goes by age.
            clock.advance(byMillis: 91 * 24 * 3600 * 1000)
            let report = try await hub.service.purgeTombstones()
            #expect(report.expired == 1 && report.horizon == 5)
            var dan = try await hub.enrollDevice("dan")
            let pages = try await hub.pullAll(&dan, pageSize: 1, since: 0)
            #expect(!pages.contains { $0.bootstrapRequired }, "cursor \(dan.cursor)")
            #expect(pages.records.map(\.recordID) == Array(ids.prefix(3)))
            // A pull that did not start at 0 is still sent back to 0 below the horizon.
            #expect(try await hub.service.pull(Wire.pull(cursor: 1, since: 1), from: dan.principal).bootstrapRequired)
        }
    }

    @Test func retentionPurgesForOfflineDevicesWhichThenBootstrap() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let keep = Wire.uuid()
            let gone = Wire.uuid()
            _ = try await hub.push(
                claire,
                [
                    Wire.customer(id: keep, replica: claire.replica, counter: claire.nextCounter()),
                    Wire.customer(id: gone, replica: claire.replica, counter: claire.nextCounter()),
                ])
            _ = try await hub.pullAll(&bob)
            let bobCursor = bob.cursor
            _ = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: gone, replica: claire.replica, counter: claire.nextCounter(), delete: true,
                        context: VersionVector([ReplicaID(claire.replica): 2]))
                ])
            _ = try await hub.pullAll(&claire)
            _ = try await hub.pullAll(&claire)
            // Bob stays offline past the retention period.
            clock.advance(byMillis: 91 * 24 * 3600 * 1000)
            let report = try await hub.service.purgeTombstones()
            #expect(report.expired == 1)
            #expect(report.horizon > bobCursor)
            let answer = try await hub.service.pull(Wire.pull(cursor: bobCursor), from: bob.principal)
            #expect(answer.bootstrapRequired)
            bob.cursor = 0
            let pages = try await hub.pullAll(&bob)
            #expect(pages.records.map(\.recordID) == [keep])
        }
    }
}
