import Foundation
import RelaisCore
import RelaisProtocol
import RelaisTesting
import Testing

@testable import RelaisHub

/// A snapshot is served only if its device may still act when it is served: the transaction that
/// records it checks the device again, as a pull checks it where it reads its page. A build takes
/// seconds on a large view, and the office may revoke the device or ask its wipe meanwhile.
struct SnapshotAccessTests {
    @Test func aDeviceRevokedOrMarkedForWipeWhileItsSnapshotIsBuiltIsServedNothing() async throws {
        try await HubFixture.with { hub in
            let admin = try await hub.enrollDevice("root", role: .admin, territories: [])
            var counter = admin.counter
            let results = try await hub.push(
                admin,
                (0..<3).map { _ in
                    counter += 1
                    return Wire.customer(id: Wire.uuid(), replica: admin.replica, counter: counter, territory: "north")
                })
            #expect(results.allSatisfy { $0.status == .applied })
            let epoch = try await hub.service.hubEpoch()
            let version = UInt32(hub.service.schema.version)
            for wipe in [false, true] {
                let laptop = try await hub.enrollDevice(wipe ? "wendy" : "rita", territories: ["north"])
                let replica = try #require(laptop.principal.replica)
                let snapshot = try await hub.service.snapshot(
                    for: laptop.principal, schemaVersion: version, hubEpoch: epoch)
                #expect(snapshot.records == 3)
                // The office acts after the device's first checks, before the snapshot is recorded.
                if wipe {
                    _ = try await hub.service.requestWipe(replica)
                } else {
                    _ = try await hub.service.revokeDevice(replica)
                }
                let before = try await hub.store.read { try await $0.device(replica: replica) }
                await #expect(throws: wipe ? HubError.wipeRequested : HubError.deviceRevoked) {
                    try await hub.service.acknowledgeSnapshot(
                        snapshot, replica: replica, scopeVersion: 1, unsentFrom: nil)
                }
                // Nothing recorded as pulled.
                #expect(try await hub.store.read { try await $0.device(replica: replica) } == before)
            }
        }
    }
    /// A snapshot holds what a fresh laptop's pull from cursor 0 holds: no tombstone, not even of a
    /// record an office write touched (the hub's replica number in its vector is not the snapshot's).
    @Test func aSnapshotHoldsNoTombstoneOfARecordTheOfficeWrote() async throws {
        try await HubFixture.with { hub in
            var admin = try await hub.enrollDevice("root", role: .admin, territories: [])
            let (touched, other) = (Wire.uuid(), Wire.uuid())
            let created = try await hub.push(
                admin,
                [
                    Wire.customer(
                        id: touched, replica: admin.replica, counter: admin.nextCounter(), territory: "north"),
                    Wire.customer(id: other, replica: admin.replica, counter: admin.nextCounter(), territory: "north"),
                ])
            #expect(created.allSatisfy { $0.status == .applied })
            try await hub.service.confirmProposal(customer: touched, programme: nil, status: "active", by: "admin")
            let vector = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: touched) }
            ).state.vector
            #expect(vector[.hub] > 0)
            let deleted = try await hub.push(
                admin,
                [
                    Wire.write(
                        id: touched, replica: admin.replica, counter: admin.nextCounter(), delete: true, context: vector
                    )
                ])
            #expect(deleted.map(\.status) == [.applied])

            var fresh = try await hub.enrollDevice("rita", territories: ["north"])
            let snapshot = try await hub.service.snapshot(
                for: fresh.principal, schemaVersion: UInt32(hub.service.schema.version),
                hubEpoch: try await hub.service.hubEpoch())
            let pages = try await hub.pullAll(&fresh)
            #expect(pages.records.map(\.recordID) == [other])
            #expect(snapshot.records == 1)
        }
    }
}
