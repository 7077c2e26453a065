import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// Push and pull at the service level (docs/SYNC.md), on a fresh SQLite store each.
struct HubSyncTests {
    @Test func enrollPushPullThinPath() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            #expect(claire.replica != bob.replica)
            let id = Wire.uuid()
            let results = try await hub.push(
                claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
            #expect(results.map(\.status) == [.applied])

            let bobPages = try await hub.pullAll(&bob)
            #expect(bobPages.records.count == 1)
            let record = try #require(bobPages.records.first)
            #expect(record.recordID == id)
            #expect(record.value("name") == .text("Café Müller"))
            #expect(record.value("territory") == .text("north"))
            #expect(bob.cursor == bobPages.last?.head)

            // Claire's first pull (cursor 0) is a bootstrap: everything, her own record included.
            #expect(try await hub.pullAll(&claire).records.map(\.recordID) == [id])
            // Then an edit: not echoed back to Claire; Bob gets the record's current fields (a delta by
            // cursor could miss changes of a record that moved past a page before it was read).
            let edit = Wire.write(
                id: id, replica: claire.replica, counter: claire.nextCounter(), fields: ["phone": .text("+33 1 02")],
                context: VersionVector([ReplicaID(claire.replica): 1]))
            #expect(try await hub.push(claire, [edit]).map(\.status) == [.applied])
            #expect(try await hub.pullAll(&claire).records.isEmpty)
            let changed = try await hub.pullAll(&bob).records
            #expect(changed.map(\.fieldNames) == [["name", "phone", "territory"]])
            #expect(changed.first?.vector == Relais_V1_VersionVector(VersionVector([ReplicaID(claire.replica): 2])))
            // The hub recorded each device's acknowledged cursor on its next pull.
            _ = try await hub.pullAll(&bob)
            let devices = try await hub.service.devices()
            #expect(devices.first { $0.replica.rawValue == bob.replica }?.acknowledgedCursor == bob.cursor)
        }
    }

    @Test func replayAnswersTheSameAndAppliesNothingTwice() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            let id = Wire.uuid()
            let request = Wire.push(
                claire.replica,
                [
                    Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter()),
                    Wire.write(
                        id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter(),
                        fields: ["name": .text("x")]),
                ])
            let first = try await hub.service.push(request, from: claire.principal)
            let headAfterFirst = try await hub.store.read { try await $0.meta().head }
            let second = try await hub.service.push(request, from: claire.principal)
            #expect(first.results == second.results)
            #expect(first.results.map(\.status) == [.applied, .rejected])
            #expect(first.results[1].code == "required_missing")
            #expect(try await hub.store.read { try await $0.meta().head } == headAfterFirst)
            // A longer batch that starts with the same writes replays them and applies the new one.
            var longer = request
            longer.writes.append(
                Wire.write(
                    id: id, replica: claire.replica, counter: claire.nextCounter(), fields: ["phone": .text("1")]))
            let third = try await hub.service.push(longer, from: claire.principal)
            #expect(Array(third.results.prefix(2)) == first.results)
            #expect(third.results[2].status == .applied)
        }
    }

    @Test func forkedHistoryIsRefusedAndLogged() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            let id = Wire.uuid()
            _ = try await hub.push(
                claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
            let head = try await hub.store.read { try await $0.meta().head }
            // Same dot, different content: a clone or a restored backup that wrote again.
            let forked = Wire.customer(id: id, replica: claire.replica, counter: 1, name: "Other")
            await #expect(throws: HubError.replicaForked) {
                _ = try await hub.push(
                    claire, [forked, Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 2)])
            }
            #expect(try await hub.store.read { try await $0.meta().head } == head)
            let events = try await hub.service.events()
            #expect(events.contains { $0.kind == .replicaForked && $0.replica?.rawValue == claire.replica })
        }
    }

    @Test func counterGoingBackwardsIsRefused() async throws {
        try await HubFixture.with { hub in
            let claire = try await hub.enrollDevice("claire")
            _ = try await hub.push(claire, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 5)])
            await #expect(throws: HubError.replicaForked) {
                _ = try await hub.push(claire, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 3)])
            }
            // A pull announcing a counter below the hub's is a rolled-back replica too.
            await #expect(throws: HubError.replicaForked) {
                _ = try await hub.service.pull(Wire.pull(cursor: 0, counter: 4), from: claire.principal)
            }
            let events = try await hub.service.events()
            #expect(events.filter { $0.kind == .counterBackwards }.count == 2)
        }
    }

    @Test func renewGivesANewReplicaAndTheOldTokenOnlyRenews() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            let id = Wire.uuid()
            _ = try await hub.push(
                claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
            var renewRequest = Relais_V1_ReplicaRenewRequest()
            renewRequest.reason = "replica_forked"
            renewRequest.counter = 1
            let renewed = try await hub.service.renew(renewRequest, from: claire.principal)
            #expect(renewed.replica != claire.replica)
            #expect(renewed.epoch == 2)
            // The old token: push and pull answer replica_forked; renewing again makes yet another replica.
            let old = try await hub.service.authenticate(token: claire.token)
            await #expect(throws: HubError.replicaForked) {
                _ = try await hub.service.push(Wire.push(claire.replica, []), from: old)
            }
            await #expect(throws: HubError.replicaForked) {
                _ = try await hub.service.pull(Wire.pull(cursor: 0), from: old)
            }
            let again = try await hub.service.renew(renewRequest, from: old)
            #expect(again.replica != renewed.replica)
            // The new identity syncs: re-issued writes carry new dots; the old write keeps its dot.
            let principal = try await hub.service.authenticate(token: renewed.token)
            var device = TestDevice(
                replica: renewed.replica, token: renewed.token, principal: principal, epoch: renewed.epoch)
            // A batch stamped with the old epoch is refused.
            await #expect(throws: HubError.replicaForked) {
                _ = try await hub.service.push(Wire.push(renewed.replica, [], epoch: 1), from: principal)
            }
            let results = try await hub.push(
                device,
                [
                    Wire.write(
                        id: id, replica: device.replica, counter: device.nextCounter(),
                        fields: ["phone": .text("0102")],
                        context: VersionVector([ReplicaID(claire.replica): 1]))
                ])
            #expect(results.map(\.status) == [.applied])
            let pages = try await hub.pullAll(&device)
            let record = try #require(pages.records.first { $0.recordID == id })
            #expect(record.value("name") == .text("Café Müller"))
            let events = try await hub.service.events()
            #expect(events.filter { $0.kind == .deviceRenewed }.count == 2)
        }
    }

    @Test func rejectedWritesChangeNothingAndReplayTheirRejection() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            let id = Wire.uuid()
            let writes = [
                Wire.customer(
                    id: id, replica: claire.replica, counter: claire.nextCounter(),
                    extra: ["relationship_level": .text("friendly")]),
                Wire.customer(
                    id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter(),
                    extra: ["shoe_size": .number(42)]),
                Wire.write(
                    "planets", id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter(),
                    fields: ["name": .text("x")]),
                Wire.customer(id: "not-a-uuid", replica: claire.replica, counter: claire.nextCounter()),
                Wire.write(
                    "interactions", id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter(),
                    fields: [
                        "customer_id": .text(id), "kind": .text("visit"), "at": .date("2026-11-28"),
                        "satisfaction": .number(9),
                    ]),
            ]
            let results = try await hub.push(claire, writes)
            #expect(results.map(\.status) == Array(repeating: .rejected, count: 5))
            #expect(
                results.map(\.code) == [
                    "invalid_value", "unknown_field", "unknown_collection", "invalid_id", "invalid_value",
                ])
            #expect(try await hub.store.read { try await $0.meta().head } == 0)
            #expect(try await hub.push(claire, writes) == results)
            let devices = try await hub.service.devices()
            #expect(devices.first { $0.replica.rawValue == claire.replica }?.highestCounter == 5)
        }
    }

    @Test func hlcFarAheadIsClampedAndFlagged() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            var claire = try await hub.enrollDevice("claire")
            _ = try await hub.push(
                claire, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter())])
            _ = try await hub.pullAll(&claire)
            let now = clock.millisecondsSince1970()
            let ahead = HLC(physicalMillis: now + 3_600_000, logical: 7).rawValue
            let id = Wire.uuid()
            _ = try await hub.push(
                claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter(), hlc: ahead)])
            let record = try #require(try await hub.store.read { try await $0.record(collection: "customers", id: id) })
            let latest = try #require(record.state.fields["name"]?.latest)
            #expect(latest.hlc == HLC(physicalMillis: now + HybridLogicalClock.defaultMaxSkewMillis, logical: 7))
            let device = try #require(try await hub.service.devices().first { $0.replica.rawValue == claire.replica })
            #expect(device.clampedWrites == 1)
            #expect(try await hub.service.events().contains { $0.kind == .clockSkewClamped })
            // The hub changed the write, so it is echoed back even to its author.
            let pages = try await hub.pullAll(&claire)
            #expect(pages.records.first?.fieldNames == ["name", "territory"])
            // A write within the skew is kept as stamped.
            let within = HLC(physicalMillis: now + 60_000).rawValue
            let other = Wire.uuid()
            _ = try await hub.push(
                claire, [Wire.customer(id: other, replica: claire.replica, counter: claire.nextCounter(), hlc: within)])
            let kept = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: other) })
            #expect(kept.state.fields["name"]?.latest?.hlc.rawValue == within)
            #expect(try await hub.pullAll(&claire).records.isEmpty)
        }
    }

    @Test func pagesCoverEverythingOnceInSequenceOrder() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            var ids: [String] = []
            for _ in 0..<5 {
                var batch: [Relais_V1_RecordWrite] = []
                for _ in 0..<7 {
                    let id = Wire.uuid()
                    ids.append(id)
                    batch.append(Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter()))
                }
                _ = try await hub.push(claire, batch)
            }
            // Replaying a pull (a page lost on the way) gives the same page and changes nothing.
            let firstPage = try await hub.service.pull(Wire.pull(cursor: 0, pageSize: 4), from: bob.principal)
            #expect(try await hub.service.pull(Wire.pull(cursor: 0, pageSize: 4), from: bob.principal) == firstPage)
            let pages = try await hub.pullAll(&bob, pageSize: 4)
            #expect(pages.first == firstPage)
            #expect(pages.count == 9)
            #expect(pages.dropLast().allSatisfy { $0.more && $0.records.count == 4 })
            #expect(pages.records.map(\.recordID) == ids)
            #expect(pages.records.map(\.seq) == pages.records.map(\.seq).sorted())
            // Pulling again from the last cursor gives nothing new.
            let again = try await hub.pullAll(&bob)
            #expect(again.records.isEmpty && again.last?.more == false)
        }
    }

    /// A pull page ends once its records pass the page byte budget, so that a page of customers with
    /// long notes that hardly compress still fits the client's body limit; every record comes, once
    /// and in order.
    @Test func pagesEndAtTheirByteBudget() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,")
            var generator = SystemRandomNumberGenerator()
            let notes = String((0..<60_000).map { _ in alphabet.randomElement(using: &generator)! })
            var ids: [String] = []
            for _ in 0..<8 {
                var batch: [Relais_V1_RecordWrite] = []
                for _ in 0..<20 {
                    let id = Wire.uuid()
                    ids.append(id)
                    batch.append(
                        Wire.customer(
                            id: id, replica: claire.replica, counter: claire.nextCounter(),
                            extra: ["notes": .text(id + notes)]))
                }
                #expect(try await hub.push(claire, batch).allSatisfy { $0.status == .applied })
            }
            let limits = ProtocolLimits()
            let pages = try await hub.pullAll(&bob)
            #expect(pages.records.map(\.recordID) == ids)
            #expect(pages.count >= 5)
            let codec = MessageCodec(limits: limits)
            for page in pages {
                #expect(try codec.encode(page, format: .protobuf).count <= limits.maxPageBytes + 70_000)
                let body = try codec.encode(page, format: .protobuf, encoding: .deflate)
                #expect(body.count <= limits.maxBodyBytes)
                #expect(
                    try codec.decode(Relais_V1_PullResponse.self, from: body, format: .protobuf, encoding: .deflate)
                        == page)
            }
        }
    }
}
