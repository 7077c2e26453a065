import Foundation
import RelaisCore
import Testing

struct MergeEngineTests {
    typealias F = Fixture
    let engine = Fixture.engine

    /// The test customer as created by replica 1 at dot (1,1), phone "01 00 00 00".
    func created(_ extra: [String: Value] = [:]) throws -> RecordState {
        var values: [String: Value] = ["phone": .text("01 00 00 00")]
        values.merge(extra) { _, new in new }
        return try engine.apply(F.createCustomer(values), to: nil).state
    }

    func apply(_ writes: [RecordWrite], to state: RecordState? = nil) throws -> (RecordState?, [Conflict]) {
        var state = state
        var conflicts: [Conflict] = []
        for write in writes {
            let outcome = try engine.apply(write, to: state)
            state = outcome.state
            conflicts += outcome.conflicts
        }
        return (state, conflicts)
    }

    func value(_ field: String, of state: RecordState?) -> Value {
        state?.value(of: F.customers.field(field)!) ?? .null
    }

    // MARK: Creation

    @Test func creationStoresEveryFieldWithItsOrigin() throws {
        let outcome = try engine.apply(F.createCustomer(["tags": .set(["vip"])]), to: nil)
        #expect(outcome.created)
        #expect(!outcome.duplicate && !outcome.deleted)
        #expect(outcome.conflicts.isEmpty)
        #expect(outcome.changedFields == ["name", "tags", "territory"])
        let state = outcome.state
        #expect(state.collection == "customers")
        #expect(state.id == F.customerID)
        #expect(state.vector == F.vv([1: 1]))
        #expect(state.tombstone == nil)
        let name = try #require(state.fields["name"])
        #expect(
            name.siblings == [
                Sibling(value: .text("Boulangerie Martin"), dot: F.dot(1, 1), hlc: F.hlc(1_000), author: "alice")
            ])
        #expect(name.base == nil)
        #expect(
            state.values(in: F.customers) == [
                "name": .text("Boulangerie Martin"), "territory": .text("north"), "tags": .set(["vip"]),
            ])
        #expect(value("phone", of: state) == .null)
    }

    // MARK: Sequential writes

    @Test func sequentialOverwriteReplacesTheValueWithoutConflict() throws {
        let state = try created()
        let write = F.upsert(
            ["phone": .text("02 00 00 00")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let outcome = try engine.apply(write, to: state)
        #expect(outcome.conflicts.isEmpty)
        #expect(!outcome.duplicate && !outcome.created && !outcome.deleted)
        #expect(outcome.changedFields == ["phone"])
        let phone = try #require(outcome.state.fields["phone"])
        #expect(phone.siblings.map(\.dot) == [F.dot(2, 1)])
        #expect(phone.base == .text("01 00 00 00"))
        #expect(value("phone", of: outcome.state) == .text("02 00 00 00"))
        #expect(value("name", of: outcome.state) == .text("Boulangerie Martin"))
        #expect(outcome.state.vector == F.vv([1: 1, 2: 1]))
    }

    @Test func aSequentialOverwriteWinsEvenWithAnOlderClock() throws {
        // The writer had seen the value it replaced: its clock running behind does not matter.
        let state = try created()
        let write = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(10))
        let outcome = try engine.apply(write, to: state)
        #expect(outcome.conflicts.isEmpty)
        #expect(value("phone", of: outcome.state) == .text("02"))
    }

    @Test func aSequentialOverwriteUnderMinIsNotMerged() throws {
        // Postponing a follow-up after seeing it is a decision, not a conflict: `min` does not apply.
        let create = F.upsert(
            F.interactionRequired.merging(["follow_up_on": .date("2026-03-01")]) { $1 }, collection: "interactions",
            id: F.interactionID, dot: F.dot(1, 1), hlc: F.hlc(1_000))
        let postpone = F.upsert(
            ["follow_up_on": .date("2026-03-15")], collection: "interactions", id: F.interactionID,
            context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let (state, conflicts) = try apply([create, postpone])
        #expect(conflicts.isEmpty)
        #expect(state?.value(of: F.interactions.field("follow_up_on")!) == .date("2026-03-15"))
    }

    @Test func aReplicasLaterWriteSupersedesItsOwnEarlierOneEvenIfTheContextOmitsIt() throws {
        // An offline rep creates a customer and edits it before the first sync: the context it
        // last saw from the hub is empty, but a replica has always seen its own earlier writes.
        let create = F.createCustomer(["phone": .text("01")])
        let edit = F.upsert(["phone": .text("02")], context: .empty, dot: F.dot(1, 2), hlc: F.hlc(2_000))
        let (state, conflicts) = try apply([create, edit])
        #expect(conflicts.isEmpty)
        #expect(state?.fields["phone"]?.siblings.map(\.dot) == [F.dot(1, 2)])
        #expect(value("phone", of: state) == .text("02"))

        let postpone = F.upsert(
            ["follow_up_on": .date("2026-03-15")], collection: "interactions", id: F.interactionID,
            context: .empty, dot: F.dot(1, 7), hlc: F.hlc(3_000))
        let interaction = F.upsert(
            F.interactionRequired.merging(["follow_up_on": .date("2026-03-01")]) { $1 }, collection: "interactions",
            id: F.interactionID, dot: F.dot(1, 3), hlc: F.hlc(1_000))
        let (later, laterConflicts) = try apply([interaction, postpone])
        #expect(laterConflicts.isEmpty)
        #expect(later?.value(of: F.interactions.field("follow_up_on")!) == .date("2026-03-15"))
    }

    // MARK: Concurrent writes

    @Test(arguments: [false, true])
    func concurrentWritesWithDifferentValuesAreReported(reversed: Bool) throws {
        let state = try created()
        let bob = F.upsert(["phone": .text("02 22")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let carol = F.upsert(["phone": .text("03 33")], context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        let first = try engine.apply(reversed ? carol : bob, to: state)
        #expect(first.conflicts.isEmpty)
        let second = try engine.apply(reversed ? bob : carol, to: first.state)

        let conflict = try #require(second.conflicts.first)
        #expect(second.conflicts.count == 1)
        #expect(conflict.collection == "customers")
        #expect(conflict.recordID == F.customerID)
        #expect(conflict.field == "phone")
        #expect(conflict.rule == "lww")
        #expect(conflict.base == .text("01 00 00 00"))
        #expect(
            conflict.values == [
                Competitor(value: .text("02 22"), dot: F.dot(2, 1), hlc: F.hlc(2_000), author: "bob"),
                Competitor(value: .text("03 33"), dot: F.dot(3, 1), hlc: F.hlc(3_000), author: "carol"),
            ])
        #expect(conflict.values.allSatisfy { !$0.deleted })
        #expect(conflict.chosen == .text("03 33"))
        #expect(conflict.status == .autoResolved)

        #expect(value("phone", of: second.state) == .text("03 33"))
        #expect(second.state.fields["phone"]?.siblings.count == 2)
        #expect(second.state.vector == F.vv([1: 1, 2: 1, 3: 1]))
    }

    @Test func concurrentWritesToAManualFieldLeaveTheReportOpen() throws {
        let state = try created(["status": .text("active")])
        let alert = F.upsert(["status": .text("at_risk")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let lapse = F.upsert(["status": .text("lapsed")], context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(1_500))
        let (final, conflicts) = try apply([alert, lapse], to: state)
        let conflict = try #require(conflicts.first)
        #expect(conflicts.count == 1)
        #expect(conflict.rule == "manual")
        #expect(conflict.status == .open)
        #expect(conflict.base == .text("active"))
        #expect(conflict.chosen == .text("at_risk"))  // the lww winner stands provisionally
        #expect(conflict.values.map(\.value) == [.text("lapsed"), .text("at_risk")])
        #expect(value("status", of: final) == .text("at_risk"))
    }

    @Test func concurrentTagsAreUnitedAndConcurrentNotesAppended() throws {
        let state = try created(["tags": .set(["vip"]), "notes": .text("Bakery, two shops.")])
        let bob = F.upsert(
            ["tags": .set(["vip", "export"]), "notes": .text("Bakery, two shops.\nOpening a third.")],
            context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let carol = F.upsert(
            ["tags": .set(["wine"]), "notes": .text("Owner retiring next year.")],
            context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        let (final, conflicts) = try apply([carol, bob], to: state)
        #expect(value("tags", of: final) == .set(["export", "vip", "wine"]))
        #expect(
            value("notes", of: final)
                == .text("[bob] Bakery, two shops.\nOpening a third.\n[carol] Owner retiring next year."))
        let byField = Dictionary(uniqueKeysWithValues: conflicts.map { ($0.field ?? "", $0) })
        #expect(byField["tags"]?.rule == "union")
        #expect(byField["tags"]?.chosen == .set(["export", "vip", "wine"]))
        #expect(byField["tags"]?.base == .set(["vip"]))
        #expect(byField["notes"]?.rule == "append")
        #expect(byField["notes"]?.status == .autoResolved)
    }

    @Test func concurrentEqualValuesAreNoConflict() throws {
        let state = try created()
        let bob = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let carol = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        let (final, conflicts) = try apply([bob, carol], to: state)
        #expect(conflicts.isEmpty)
        #expect(value("phone", of: final) == .text("02"))
        #expect(final?.vector == F.vv([1: 1, 2: 1, 3: 1]))
    }

    @Test func concurrentWritesToDifferentFieldsAreNoConflict() throws {
        let state = try created()
        let bob = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let carol = F.upsert(
            ["email": .text("m@example.com")], context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(1_000))
        let (final, conflicts) = try apply([bob, carol], to: state)
        #expect(conflicts.isEmpty)
        #expect(value("phone", of: final) == .text("02"))
        #expect(value("email", of: final) == .text("m@example.com"))
    }

    @Test func aWriteThatSawBothSidesSettlesTheConflict() throws {
        let state = try created()
        let bob = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let carol = F.upsert(["phone": .text("03")], context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        let settle = F.upsert(
            ["phone": .text("02")], context: F.vv([1: 1, 2: 1, 3: 1]), dot: F.dot(0, 1), hlc: F.hlc(4_000),
            author: "admin")
        let (final, conflicts) = try apply([bob, carol, settle], to: state)
        #expect(conflicts.count == 1)
        let phone = try #require(final?.fields["phone"])
        #expect(phone.siblings.map(\.dot) == [F.dot(0, 1)])
        #expect(phone.base == .text("03"))  // the lww value the admin replaced
        #expect(value("phone", of: final) == .text("02"))
    }

    @Test func aWriteThatSawOneSideSupersedesOnlyThatSide() throws {
        let state = try created()
        let bob = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let carol = F.upsert(["phone": .text("03")], context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        let dave = F.upsert(["phone": .text("04")], context: F.vv([1: 1, 2: 1]), dot: F.dot(4, 1), hlc: F.hlc(2_500))
        let (final, conflicts) = try apply([bob, carol, dave], to: state)
        #expect(conflicts.count == 2)
        let last = try #require(conflicts.last)
        #expect(last.values.map(\.dot) == [F.dot(4, 1), F.dot(3, 1)])
        #expect(last.base == .text("02"))
        #expect(last.chosen == .text("03"))
        #expect(final?.fields["phone"]?.siblings.map(\.dot) == [F.dot(4, 1), F.dot(3, 1)])
    }

    // MARK: Duplicates

    @Test func aWriteAppliedTwiceIsADuplicate() throws {
        let state = try created()
        let write = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let once = try engine.apply(write, to: state)
        let twice = try engine.apply(write, to: once.state)
        #expect(twice.duplicate)
        #expect(twice.state == once.state)
        #expect(twice.conflicts.isEmpty)
        #expect(twice.changedFields.isEmpty)
        #expect(!twice.created && !twice.deleted)
    }

    @Test func anOlderWriteOfAReplicaReplayedLaterIsADuplicate() throws {
        let state = try created()
        let second = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(1, 2), hlc: F.hlc(2_000))
        let after = try engine.apply(second, to: state).state
        let replay = try engine.apply(F.createCustomer(["phone": .text("01 00 00 00")]), to: after)
        #expect(replay.duplicate)
        #expect(replay.state == after)
        // The dot identifies the write: a replay carrying other values changes nothing either.
        let forged = F.upsert(["phone": .text("99")], context: F.vv([1: 1]), dot: F.dot(1, 2), hlc: F.hlc(9_000))
        let forgedOutcome = try engine.apply(forged, to: after)
        #expect(forgedOutcome.duplicate)
        #expect(forgedOutcome.state == after)
    }

    @Test func aDeleteAppliedTwiceIsADuplicate() throws {
        let state = try created()
        let delete = F.delete(context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let once = try engine.apply(delete, to: state)
        let twice = try engine.apply(delete, to: once.state)
        #expect(twice.duplicate)
        #expect(twice.state == once.state)
        #expect(!twice.deleted)
    }

    // MARK: Deletes

    @Test func aDeleteThatSawEverythingLeavesATombstone() throws {
        let state = try created()
        let delete = F.delete(context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let outcome = try engine.apply(delete, to: state)
        #expect(outcome.deleted)
        #expect(!outcome.created)
        #expect(outcome.conflicts.isEmpty)
        #expect(outcome.state.isDeleted)
        #expect(outcome.state.tombstone == Tombstone(dot: F.dot(2, 1), hlc: F.hlc(2_000), author: "bob"))
        #expect(outcome.state.vector == F.vv([1: 1, 2: 1]))
        // Field states are kept so that a concurrent update revives the record whole.
        #expect(outcome.state.fields == state.fields)
    }

    @Test func aDeleteOfARecordTheHubNeverHadIsATombstone() throws {
        let outcome = try engine.apply(F.delete(context: .empty, dot: F.dot(2, 1), hlc: F.hlc(1)), to: nil)
        #expect(outcome.deleted)
        #expect(outcome.state.isDeleted)
        #expect(outcome.state.fields.isEmpty)
    }

    /// Bob updates the phone while Carol, who never saw that update, deletes the customer.
    func deleteUpdateRace() throws -> (state: RecordState, update: RecordWrite, delete: RecordWrite) {
        let state = try created()
        let update = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let delete = F.delete(context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        return (state, update, delete)
    }

    func expectDeleteUpdateReport(_ conflicts: [Conflict], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(conflicts.count == 1, sourceLocation: sourceLocation)
        guard let conflict = conflicts.first else { return }
        #expect(conflict.rule == Conflict.deleteUpdateRule, sourceLocation: sourceLocation)
        #expect(conflict.rule == "delete-update", sourceLocation: sourceLocation)
        #expect(conflict.field == nil, sourceLocation: sourceLocation)
        #expect(conflict.chosen == nil, sourceLocation: sourceLocation)
        #expect(conflict.status == .autoResolved, sourceLocation: sourceLocation)
        #expect(conflict.recordID == F.customerID, sourceLocation: sourceLocation)
        #expect(
            conflict.values == [
                Competitor(value: nil, deleted: false, dot: F.dot(2, 1), hlc: F.hlc(2_000), author: "bob"),
                Competitor(value: nil, deleted: true, dot: F.dot(3, 1), hlc: F.hlc(3_000), author: "carol"),
            ], sourceLocation: sourceLocation)
    }

    @Test func aDeleteArrivingAfterAConcurrentUpdateKeepsTheRecord() throws {
        let (state, update, delete) = try deleteUpdateRace()
        let updated = try engine.apply(update, to: state)
        let outcome = try engine.apply(delete, to: updated.state)
        #expect(!outcome.deleted)
        #expect(!outcome.state.isDeleted)
        expectDeleteUpdateReport(outcome.conflicts)
        #expect(value("phone", of: outcome.state) == .text("02"))
        #expect(outcome.state.vector == F.vv([1: 1, 2: 1, 3: 1]))
    }

    @Test func anUpdateArrivingAfterAConcurrentDeleteRevivesTheRecord() throws {
        let (state, update, delete) = try deleteUpdateRace()
        let deleted = try engine.apply(delete, to: state)
        #expect(deleted.state.isDeleted)
        let outcome = try engine.apply(update, to: deleted.state)
        #expect(outcome.created)
        #expect(!outcome.state.isDeleted)
        expectDeleteUpdateReport(outcome.conflicts)
        #expect(value("phone", of: outcome.state) == .text("02"))
        #expect(value("name", of: outcome.state) == .text("Boulangerie Martin"))
    }

    @Test func bothArrivalOrdersOfADeleteUpdateRaceAgree() throws {
        let (state, update, delete) = try deleteUpdateRace()
        let (one, _) = try apply([update, delete], to: state)
        let (two, _) = try apply([delete, update], to: state)
        #expect(one == two)
    }

    @Test func anUpdateThatSawTheDeleteRecreatesTheRecordWithoutReport() throws {
        let state = try created()
        let delete = F.delete(context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let restore = F.upsert(
            ["phone": .text("05")], context: F.vv([1: 1, 2: 1]), dot: F.dot(0, 1), hlc: F.hlc(3_000))
        let deleted = try engine.apply(delete, to: state)
        let outcome = try engine.apply(restore, to: deleted.state)
        #expect(outcome.conflicts.isEmpty)
        #expect(outcome.created)
        #expect(!outcome.state.isDeleted)
        #expect(value("phone", of: outcome.state) == .text("05"))
    }

    @Test(arguments: [false, true])
    func twoDeletesAreNoConflict(reversed: Bool) throws {
        let state = try created()
        let bob = F.delete(context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let carol = F.delete(context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        let (final, conflicts) = try apply(reversed ? [carol, bob] : [bob, carol], to: state)
        #expect(conflicts.isEmpty)
        #expect(final?.isDeleted == true)
        // The later delete is the tombstone, the other kept beside it, whatever the arrival order.
        let bobs = Tombstone(dot: F.dot(2, 1), hlc: F.hlc(2_000), author: "bob")
        #expect(final?.tombstone == Tombstone(dot: F.dot(3, 1), hlc: F.hlc(3_000), author: "carol", concurrent: [bobs]))
        #expect(final?.vector == F.vv([1: 1, 2: 1, 3: 1]))
    }

    @Test func aDeleteThatMissedAnUpdateNeverReplacesTheTombstoneOfOneThatSawIt() throws {
        // Bob updates; Carol, having seen it, deletes; Dave, who never saw Bob's update, deletes later.
        let state = try created()
        let update = F.upsert(["phone": .text("02")], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let seen = F.delete(context: F.vv([1: 1, 2: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        let missed = F.delete(context: F.vv([1: 1]), dot: F.dot(4, 1), hlc: F.hlc(4_000))
        // Every arrival order the writers' contexts allow.
        let orders = [[update, seen, missed], [update, missed, seen], [missed, update, seen]]
        var finals: [RecordState] = []
        for order in orders {
            let (final, conflicts) = try apply(order, to: state)
            let record = try #require(final)
            finals.append(record)
            #expect(record.tombstone?.dot == F.dot(3, 1), "order \(order.map(\.dot))")
            // Dave's delete lost to Bob's update: it is reported, whichever order they arrived in.
            let report = conflicts.first { $0.rule == Conflict.deleteUpdateRule }
            #expect(report?.values.map(\.dot) == [F.dot(2, 1), F.dot(4, 1)], "order \(order.map(\.dot))")
        }
        #expect(finals.allSatisfy { $0.tombstone == finals[0].tombstone && $0.vector == finals[0].vector })
    }

    @Test func anUpdateThatMissedOneOfTwoConcurrentDeletesReportsIt() throws {
        // Bob and Carol both delete; Carol, having seen only her own delete, restores the customer.
        let state = try created()
        let bobDeletes = F.delete(context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        let carolDeletes = F.delete(context: F.vv([1: 1]), dot: F.dot(3, 1), hlc: F.hlc(3_000))
        let carolRestores = F.upsert(
            ["phone": .text("03")], context: F.vv([1: 1, 3: 1]), dot: F.dot(3, 2), hlc: F.hlc(4_000))
        let orders = [
            [bobDeletes, carolDeletes, carolRestores], [carolDeletes, bobDeletes, carolRestores],
            [carolDeletes, carolRestores, bobDeletes],
        ]
        var finals: [RecordState] = []
        for order in orders {
            let (final, conflicts) = try apply(order, to: state)
            let record = try #require(final)
            finals.append(record)
            #expect(!record.isDeleted, "order \(order.map(\.dot))")
            #expect(value("phone", of: record) == .text("03"))
            let reports = conflicts.filter { $0.rule == Conflict.deleteUpdateRule }
            #expect(reports.count == 1, "order \(order.map(\.dot))")
            #expect(reports.first?.values.map(\.dot) == [F.dot(2, 1), F.dot(3, 2)], "order \(order.map(\.dot))")
            #expect(reports.first?.values.map(\.deleted) == [true, false])
        }
        #expect(finals.allSatisfy { $0.vector == finals[0].vector && $0.fields == finals[0].fields })
    }

    @Test func aDeleteThatSawAnEarlierDeleteFoldsItAway() throws {
        let state = try created()
        let bob = F.delete(context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(5_000))
        // Carol saw Bob's delete; her clock runs behind, but she deleted after him.
        let carol = F.delete(context: F.vv([1: 1, 2: 1]), dot: F.dot(3, 1), hlc: F.hlc(4_000))
        let (final, conflicts) = try apply([bob, carol], to: state)
        #expect(conflicts.isEmpty)
        #expect(final?.tombstone == Tombstone(dot: F.dot(3, 1), hlc: F.hlc(4_000), author: "carol"))
        // A restore that saw Carol's delete (and so Bob's) is no conflict.
        let restore = F.upsert(
            ["phone": .text("05")], context: F.vv([1: 1, 2: 1, 3: 1]), dot: F.dot(0, 1), hlc: F.hlc(6_000))
        let outcome = try engine.apply(restore, to: final)
        #expect(outcome.conflicts.isEmpty)
        #expect(!outcome.state.isDeleted)
    }

    @Test func aTombstoneCodesItsConcurrentDeletesAndReadsOlderFormsWithout() throws {
        let bobs = Tombstone(dot: F.dot(2, 1), hlc: F.hlc(2_000), author: "bob")
        let tombstone = Tombstone(dot: F.dot(3, 1), hlc: F.hlc(3_000), author: "carol", concurrent: [bobs])
        let data = try JSONEncoder().encode(tombstone)
        #expect(try JSONDecoder().decode(Tombstone.self, from: data) == tombstone)
        #expect(tombstone.deletes.map(\.dot) == [F.dot(2, 1), F.dot(3, 1)])

        let older = #"{"dot": {"replica": 3, "counter": 1}, "hlc": 196608000, "author": "carol"}"#
        let decoded = try JSONDecoder().decode(Tombstone.self, from: Data(older.utf8))
        #expect(decoded == Tombstone(dot: F.dot(3, 1), hlc: F.hlc(3_000), author: "carol"))
        #expect(decoded.concurrent.isEmpty)
    }

    // MARK: Vectors

    @Test func theRecordVectorIsTheJoinOfVectorContextAndDot() throws {
        let state = try created()
        let write = F.upsert(["phone": .text("02")], context: F.vv([1: 1, 4: 3]), dot: F.dot(2, 5), hlc: F.hlc(2_000))
        let outcome = try engine.apply(write, to: state)
        #expect(outcome.state.vector == F.vv([1: 1, 2: 5, 4: 3]))
        #expect(outcome.state.vector == state.vector.joined(write.context).joined(F.vv([2: 5])))

        // A stale context never lowers the vector.
        let stale = F.upsert(["email": .text("a@b.c")], context: .empty, dot: F.dot(3, 1), hlc: F.hlc(1_500))
        let after = try engine.apply(stale, to: outcome.state)
        #expect(after.state.vector == F.vv([1: 1, 2: 5, 3: 1, 4: 3]))

        let delete = F.delete(context: F.vv([1: 1, 2: 5, 3: 1, 4: 3, 6: 2]), dot: F.dot(5, 9), hlc: F.hlc(3_000))
        let deleted = try engine.apply(delete, to: after.state)
        #expect(deleted.state.vector == F.vv([1: 1, 2: 5, 3: 1, 4: 3, 5: 9, 6: 2]))
    }

    @Test func applyValidatesFirst() throws {
        let state = try created()
        let write = F.upsert(["phone": .number(2)], context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        #expect(throws: ValidationError.invalidValue("customers", "phone", "")) { try engine.apply(write, to: state) }
        let upper = F.upsert(
            ["phone": .text("02")], id: F.customerID.uppercased(), context: F.vv([1: 1]), dot: F.dot(2, 1),
            hlc: F.hlc(2_000))
        #expect(try engine.apply(upper, to: state).state.id == F.customerID)
    }
}
