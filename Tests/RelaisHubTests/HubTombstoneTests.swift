import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

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
            _ = try await hub.pullAll(&claire)
            // Acknowledged cursors are the request cursors: one more pull each records them.
            _ = try await hub.pullAll(&bob)
            _ = try await hub.pullAll(&claire)
            let report = try await hub.service.purgeTombstones()
            #expect(report.acknowledged == 1 && report.expired == 0 && report.horizon == 0)
            #expect(try await hub.store.read { try await $0.record(collection: "customers", id: id) } == nil)
            // A fresh device bootstraps without ever seeing it.
            var dan = try await hub.enrollDevice("dan")
            #expect(try await hub.pullAll(&dan).records.isEmpty)
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
