import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// A write's context says which writes its author had seen (docs/SYNC.md "Writes, dots and
/// contexts"). A client's context can only hold what the hub sent it and the writer's own dots, so
/// the hub takes no more from it than that: a context claiming writes the hub never had would make
/// the record's vector cover writes not made yet, and each of them would be taken for a replay and
/// dropped.
struct HubContextTests {
    private func vector(_ hub: HubFixture, _ id: String) async throws -> VersionVector {
        try #require(try await hub.store.read { tx in try await tx.record(collection: "customers", id: id) }).state
            .vector
    }

    @Test func aContextClaimingWritesTheHubNeverHadIsHeldToWhatItHas() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let id = Wire.uuid()
            _ = try await hub.push(
                claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
            let claireReplica = ReplicaID(claire.replica)
            let bobReplica = ReplicaID(bob.replica)
            // Bob's client claims to have seen every write Claire, the office and a replica not yet
            // enrolled will ever make.
            let inflated = VersionVector([
                claireReplica: .max, ReplicaID(0): .max, ReplicaID(bob.replica + 50): 9, bobReplica: .max,
            ])
            let bobCounter = bob.nextCounter()
            let bobs = try await hub.push(
                bob,
                [
                    Wire.write(
                        id: id, replica: bob.replica, counter: bobCounter, fields: ["phone": .text("01")],
                        context: inflated)
                ])
            #expect(bobs.map(\.status) == [.applied])
            #expect(try await vector(hub, id) == VersionVector([claireReplica: 1, bobReplica: bobCounter]))

            // Claire's next edit, made after she pulled Bob's, lands.
            let seen = try await vector(hub, id)
            let claires = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: id, replica: claire.replica, counter: claire.nextCounter(),
                        fields: ["city": .text("Lyon")], context: seen)
                ])
            #expect(claires.map(\.status) == [.applied])
            let record = try #require(try await hub.service.export(user: "claire")["customers"]?.first { $0.id == id })
            #expect(record.values["city"] == .text("Lyon"))
            #expect(record.values["phone"] == .text("01"))
        }
    }
}
