import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// Conflict reports: raised by concurrent writes, listed, resolved by an admin as a hub write.
struct HubConflictTests {
    /// Claire creates a customer; Claire and Bob both saw it, then edit `field` concurrently.
    func concurrentEdits(
        _ hub: HubFixture, field: String, claireValue: Value, bobValue: Value
    ) async throws -> (id: String, claire: TestDevice, bob: TestDevice, results: [Relais_V1_WriteResult]) {
        var claire = try await hub.enrollDevice("claire")
        var bob = try await hub.enrollDevice("bob")
        let id = Wire.uuid()
        _ = try await hub.push(claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
        let seen = VersionVector([ReplicaID(claire.replica): 1])
        // Claire's edit is stamped before Bob's: Bob's wins under lww.
        let base = HLC(physicalMillis: 1_795_856_000_000)
        _ = try await hub.push(
            claire,
            [
                Wire.write(
                    id: id, replica: claire.replica, counter: claire.nextCounter(), fields: [field: claireValue],
                    context: seen,
                    hlc: base.rawValue)
            ])
        let results = try await hub.push(
            bob,
            [
                Wire.write(
                    id: id, replica: bob.replica, counter: bob.nextCounter(), fields: [field: bobValue], context: seen,
                    hlc: base.successor.rawValue)
            ])
        return (id, claire, bob, results)
    }

    @Test func concurrentLWWEditsRaiseAnAutoResolvedReport() async throws {
        try await HubFixture.with { hub in
            let (id, _, _, results) = try await concurrentEdits(
                hub, field: "phone", claireValue: .text("01"), bobValue: .text("02"))
            #expect(results.first?.status == .conflict)
            let reportID = try #require(results.first?.conflictIds.first)
            let report = try await hub.service.conflict(id: reportID)
            #expect(report.status == .autoResolved)
            #expect(report.conflict.recordID == id && report.conflict.field == "phone" && report.conflict.rule == "lww")
            #expect(report.conflict.values.compactMap(\.value) == [.text("01"), .text("02")])
            #expect(report.conflict.values.map(\.author) == ["claire", "bob"])
            #expect(report.conflict.chosen == .text("02"))
            #expect(report.scope == "north")
            let listed = try await hub.service.conflicts(ConflictFilter(status: .autoResolved))
            #expect(listed.map(\.id) == [reportID])
            #expect(try await hub.service.conflicts(ConflictFilter(status: .open)).isEmpty)
            #expect(try await hub.service.conflicts(ConflictFilter(collection: "customers", recordID: id)).count == 1)
        }
    }

    @Test func adminPickReachesEveryDeviceByPull() async throws {
        try await HubFixture.with { hub in
            let edits = try await concurrentEdits(
                hub, field: "status", claireValue: .text("at_risk"), bobValue: .text("active"))
            let (id, results) = (edits.id, edits.results)
            var (claire, bob) = (edits.claire, edits.bob)
            let reportID = try #require(results.first?.conflictIds.first)
            #expect(try await hub.service.conflict(id: reportID).status == .open)
            _ = try await hub.pullAll(&claire)
            _ = try await hub.pullAll(&bob)

            let resolved = try await hub.service.resolveConflict(
                id: reportID, decision: .pick(0), reason: "the visit report says at risk", by: "admin")
            #expect(resolved.status == .resolved)
            #expect(resolved.resolution?.by == "admin" && resolved.resolution?.value == .text("at_risk"))
            #expect(resolved.resolution?.reason == "the visit report says at risk")

            for device in [claire, bob] {
                var device = device
                let pages = try await hub.pullAll(&device)
                let record = try #require(pages.records.first { $0.recordID == id })
                #expect(record.value("status") == .text("at_risk"))
                #expect(record.fields.first { $0.field == "status" }?.dot.replica == 0)
            }
            let record = try #require(try await hub.store.read { try await $0.record(collection: "customers", id: id) })
            #expect(record.state.fields["status"]?.siblings.count == 1)
            #expect(
                try await hub.service.export(user: "claire")["customers"]?.first?.values["status"] == .text("at_risk"))
            // Overturning again with an explicit JSON value; a value the field refuses is a bad request.
            await #expect(throws: HubError.badRequest) {
                try await hub.service.resolveConflict(
                    id: reportID, decision: .json(.string("sleepy")), reason: "", by: "admin")
            }
            await #expect(throws: HubError.badRequest) {
                try await hub.service.resolveConflict(id: reportID, decision: .pick(5), reason: "", by: "admin")
            }
            try await hub.service.resolveConflict(
                id: reportID, decision: .json(.string("lapsed")), reason: "closed", by: "admin")
            #expect(try await hub.service.export(user: "bob")["customers"]?.first?.values["status"] == .text("lapsed"))
            await #expect(throws: HubError.notFound) {
                try await hub.service.resolveConflict(id: "nope", decision: .pick(0), reason: "", by: "admin")
            }
        }
    }

    @Test func deleteUpdateKeepsTheRecordUntilAnAdminPicksTheDelete() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let (id, deleted) = try await ReviewSeed.deleteUpdate(hub, &claire, &bob)
            #expect(deleted.first?.status == .conflict)
            // The update won: Bob, who deleted it locally, gets the record back whole.
            let bobPages = try await hub.pullAll(&bob)
            let back = try #require(bobPages.records.first { $0.recordID == id })
            #expect(!back.deleted && back.fieldNames == ["name", "phone", "territory"])

            _ = try await hub.pullAll(&claire)
            let reportID = try #require(deleted.first?.conflictIds.first)
            let report = try await hub.service.conflict(id: reportID)
            #expect(report.conflict.rule == "delete-update" && report.conflict.field == nil)
            let deleteSide = try #require(report.conflict.values.firstIndex { $0.deleted })
            await #expect(throws: HubError.badRequest) {
                try await hub.service.resolveConflict(
                    id: reportID, decision: .value(.text("x")), reason: "", by: "admin")
            }
            try await hub.service.resolveConflict(
                id: reportID, decision: .pick(deleteSide), reason: "duplicate", by: "admin")
            let pages = try await hub.pullAll(&claire)
            #expect(pages.records.first { $0.recordID == id }?.deleted == true)
            #expect(try await hub.service.export(user: "claire")["customers"] == nil)
            _ = try await hub.pullAll(&bob)

            // The admin overturns and picks Claire's update after all: the hub writes the record back
            // with her values, every laptop gets it back whole, and no purge can take it once every
            // device has pulled past it.
            let updateSide = try #require(report.conflict.values.firstIndex { !$0.deleted })
            let kept = try await hub.service.resolveConflict(
                id: reportID, decision: .pick(updateSide), reason: "still a customer", by: "admin")
            #expect(kept.status == .resolved && kept.resolution?.deleted == false)
            let claireBack = try await hub.pullAll(&claire).records.first { $0.recordID == id }
            let bobBack = try await hub.pullAll(&bob).records.first { $0.recordID == id }
            for back in [claireBack, bobBack] {
                #expect(back?.deleted == false && back?.fieldNames == ["name", "phone", "territory"])
                #expect(back?.value("phone") == .text("01"))
            }
            _ = try await hub.pullAll(&claire)
            _ = try await hub.pullAll(&bob)
            #expect(try await hub.service.purgeTombstones().acknowledged == 0)
            let revived = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: id) })
            #expect(!revived.state.isDeleted)
            let atHub = try await hub.service.export(user: "claire")["customers"]?.first { $0.id == id }
            #expect(atHub?.values["phone"] == .text("01") && atHub?.values["name"] == .text("Café Müller"))
            // The revival is an admin write re-asserting the update's values, in the record's history.
            let newest = try #require(try await hub.service.conflictDetail(id: reportID).history.first)
            #expect(newest.entry.user == "admin" && newest.entry.dot.replica == .hub && !newest.entry.deleted)
            #expect(newest.entry.fields == ["phone": .text("01")])
            // The update side already stands: picking it again writes nothing.
            try await hub.service.resolveConflict(
                id: reportID, decision: .pick(updateSide), reason: "again", by: "admin")
            #expect(
                try await hub.store.read { try await $0.record(collection: "customers", id: id) }?.seq == revived.seq)
        }
    }

    /// Picking the update side of a `delete-update` report after the record was deleted brings it back
    /// as it last stood: later sequential edits kept, and a field's concurrent values left beside each
    /// other (its open report still decides it).
    @Test func pickingTheUpdateSideRevivesTheRecordAsItLastStood() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let (id, deleted) = try await ReviewSeed.deleteUpdate(hub, &claire, &bob)
            let reportID = try #require(deleted.first?.conflictIds.first)
            _ = try await hub.pullAll(&claire)
            _ = try await hub.pullAll(&bob)

            // Claire then changes the phone again; she and Bob set `status` (manual) concurrently.
            let vector = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: id) }
            ).state.vector
            _ = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: id, replica: claire.replica, counter: claire.nextCounter(),
                        fields: ["phone": .text("03"), "status": .text("at_risk")], context: vector)
                ])
            let status = try await hub.push(
                bob,
                [
                    Wire.write(
                        id: id, replica: bob.replica, counter: bob.nextCounter(), fields: ["status": .text("active")],
                        context: vector)
                ])
            let statusReport = try #require(status.first?.conflictIds.first)
            #expect(try await hub.service.conflict(id: statusReport).status == .open)

            let report = try await hub.service.conflict(id: reportID)
            let deleteSide = try #require(report.conflict.values.firstIndex { $0.deleted })
            let updateSide = try #require(report.conflict.values.firstIndex { !$0.deleted })
            try await hub.service.resolveConflict(
                id: reportID, decision: .pick(deleteSide), reason: "duplicate", by: "admin")
            _ = try await hub.pullAll(&claire)
            try await hub.service.resolveConflict(
                id: reportID, decision: .pick(updateSide), reason: "not a duplicate", by: "admin")

            let record = try #require(try await hub.store.read { try await $0.record(collection: "customers", id: id) })
            #expect(!record.state.isDeleted)
            #expect(
                Set(record.state.fields["status"]?.siblings.map(\.value) ?? []) == [.text("at_risk"), .text("active")])
            let back = try #require(try await hub.pullAll(&claire).records.first { $0.recordID == id })
            #expect(!back.deleted && back.value("phone") == .text("03") && back.value("name") == .text("Café Müller"))
            #expect(back.fieldNames == ["name", "phone", "status", "territory"])
            let newest = try #require(try await hub.service.conflictDetail(id: reportID).history.first)
            #expect(newest.entry.user == "admin" && Set(newest.entry.fields.keys) == ["name", "phone", "territory"])
            #expect(try await hub.service.conflict(id: statusReport).status == .open)
        }
    }

    /// A salesperson's delete made after the report, having seen the update, stands: picking the
    /// update side of the old report does not bring the record back over it.
    @Test func pickingTheUpdateSideLeavesALaterDeleteStanding() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let (id, deleted) = try await ReviewSeed.deleteUpdate(hub, &claire, &bob)
            let reportID = try #require(deleted.first?.conflictIds.first)
            // Claire closes the customer later, having seen everything.
            let vector = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: id) }
            ).state.vector
            let later = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: id, replica: claire.replica, counter: claire.nextCounter(), delete: true, context: vector)
                ]
            )
            #expect(later.map(\.status) == [.applied])
            let report = try await hub.service.conflict(id: reportID)
            let updateSide = try #require(report.conflict.values.firstIndex { !$0.deleted })
            try await hub.service.resolveConflict(
                id: reportID, decision: .pick(updateSide), reason: "keep the update", by: "admin")
            let record = try #require(try await hub.store.read { try await $0.record(collection: "customers", id: id) })
            #expect(record.state.isDeleted)
            #expect(record.state.tombstone?.author == "claire")
            #expect(try await hub.service.export(user: "claire")["customers"] == nil)
        }
    }
}
