import RelaisCore
import RelaisTesting
import Testing

/// Seeded property tests of the merge laws (DESIGN §4, §9). See ``Property`` for seeds and replay.
struct MergePropertyTests {
    let engine = Fixture.engine

    /// Applies `writes` in order from nothing, collecting the outcomes.
    func replay(_ writes: [RecordWrite]) throws -> (state: RecordState?, outcomes: [MergeEngine.Outcome]) {
        var state: RecordState?
        var outcomes: [MergeEngine.Outcome] = []
        for write in writes {
            let outcome = try engine.apply(write, to: state)
            outcomes.append(outcome)
            state = outcome.state
        }
        return (state, outcomes)
    }

    func explain(_ history: History, _ order: [RecordWrite]? = nil) -> String {
        var text = "\n\(history.collection.name) history (hub arrival order):\n\(history)"
        if let order { text += "\nother order: \(order.map { "\($0.dot)" }.joined(separator: " "))" }
        return text
    }

    // MARK: a. Order independence

    @Test func orderIndependence() throws {
        try Property.check("orderIndependence") { rng in
            let history = History.generate(&rng)
            guard History.isCausal(history.writes) else { return "generator made a non-causal log" + explain(history) }
            let expected = Converged(try replay(history.writes).state, in: history.collection)
            for _ in 0..<2 {
                let order = History.randomCausalOrder(history.writes, &rng)
                let other = Converged(try replay(order).state, in: history.collection)
                if other != expected {
                    return "states differ\n  hub order:   \(expected)\n  other order: \(other)"
                        + explain(history, order)
                }
            }
            return nil
        }
    }

    // MARK: b. Idempotence

    @Test func idempotence() throws {
        try Property.check("idempotence") { rng in
            let history = History.generate(&rng)
            var state: RecordState?
            var applied: [RecordWrite] = []
            for write in History.randomCausalOrder(history.writes, &rng) {
                state = try engine.apply(write, to: state).state
                applied.append(write)
                // Re-apply a few already-applied writes at this point, and the one just applied.
                for again in [write] + (0..<rng.int(0...2)).map({ _ in rng.pick(applied) }) {
                    let outcome = try engine.apply(again, to: state)
                    if !outcome.duplicate || outcome.state != state || !outcome.conflicts.isEmpty
                        || !outcome.changedFields.isEmpty || outcome.created || outcome.deleted
                    {
                        return "re-applying \(again.dot) changed something: duplicate=\(outcome.duplicate) "
                            + "conflicts=\(outcome.conflicts.count) changed=\(outcome.changedFields)" + explain(history)
                    }
                }
            }
            return nil
        }
    }

    // MARK: c. No lost write

    @Test func noLostWrite() throws {
        var stats = (upserts: 0, inReports: 0, deletes: 0, deleteUpdate: 0)
        try Property.check("noLostWrite") { rng in
            let history = History.generate(&rng)
            let order = History.randomCausalOrder(history.writes, &rng)
            let (final, outcomes) = try replay(order)
            guard let final else { return "no state" + explain(history, order) }
            let conflicts = outcomes.flatMap(\.conflicts)

            func supersededByLaterWrite(_ write: RecordWrite, field: String?) -> Bool {
                order.contains { other in
                    other.dot != write.dot && other.context.covers(write.dot)
                        && (field.map { other.fieldValues[$0] != nil } ?? true)
                }
            }

            for write in order {
                switch write.change {
                case .upsert(let values):
                    for (name, value) in values {
                        stats.upserts += 1
                        let field = history.collection.field(name)!
                        if supersededByLaterWrite(write, field: name) { continue }
                        let chosen = final.value(of: field)
                        if chosen == value { continue }
                        if field.rule == .union, let items = value.setItems, let all = chosen.setItems,
                            Set(items).isSubset(of: all)
                        {
                            continue
                        }
                        if field.rule == .append, case .text(let text) = value,
                            text.isEmpty || (chosen.stringValue?.contains(text) ?? false)
                        {
                            continue
                        }
                        let reported = conflicts.contains { conflict in
                            conflict.field == name
                                && conflict.values.contains { $0.dot == write.dot && $0.value == value && !$0.deleted }
                        }
                        if reported {
                            stats.inReports += 1
                            continue
                        }
                        return "\(write.dot) \(name)=\(String(reflecting: value)) is lost: the field is "
                            + "\(String(reflecting: chosen)) and no report holds it" + explain(history, order)
                    }
                case .delete:
                    stats.deletes += 1
                    if final.isDeleted || supersededByLaterWrite(write, field: nil) { continue }
                    let reported = conflicts.contains { conflict in
                        conflict.rule == Conflict.deleteUpdateRule
                            && conflict.values.contains { $0.dot == write.dot && $0.deleted }
                    }
                    if reported {
                        stats.deleteUpdate += 1
                        continue
                    }
                    return "delete \(write.dot) is lost: the record lives and no report holds it"
                        + explain(history, order)
                }
            }
            return nil
        }
        print(
            "noLostWrite: \(stats.upserts) field values (\(stats.inReports) kept only in a report), "
                + "\(stats.deletes) deletes (\(stats.deleteUpdate) kept only in a delete-update report)")
        #expect(stats.inReports > 0 && stats.deleteUpdate > 0, "the generator makes conflicts of both kinds")
    }

    // MARK: d. Sequential writes never conflict, concurrent different ones always do

    @Test func sequentialOverwriteNeverConflicts() throws {
        var stats = (sequential: 0, concurrent: 0)
        try Property.check("sequentialOverwriteNeverConflicts") { rng in
            let history = History.generate(&rng)
            var state: RecordState?
            for write in History.randomCausalOrder(history.writes, &rng) {
                let before = state
                let outcome = try engine.apply(write, to: state)
                state = outcome.state
                for (name, value) in write.fieldValues {
                    let field = history.collection.field(name)!
                    let current = before?.fields[name]?.siblings ?? []
                    let unseen = current.filter { !write.context.covers($0.dot) }
                    let raised = outcome.conflicts.filter { $0.field == name }
                    if unseen.isEmpty {
                        stats.sequential += 1
                        if !raised.isEmpty {
                            return "sequential write \(write.dot) raised a conflict on \(name)" + explain(history)
                        }
                    } else if unseen.contains(where: { $0.value != value }) {
                        stats.concurrent += 1
                        guard raised.count == 1, let conflict = raised.first else {
                            return "concurrent write \(write.dot) to \(name) raised \(raised.count) conflicts"
                                + explain(history)
                        }
                        let expectedDots = Set(unseen.map(\.dot) + [write.dot])
                        if Set(conflict.values.map(\.dot)) != expectedDots || conflict.rule != field.rule.rawValue
                            || conflict.chosen != outcome.state.value(of: field)
                            || conflict.status != (field.rule == .manual ? .open : .autoResolved)
                        {
                            return "conflict on \(name) for \(write.dot) is wrong: \(conflict)" + explain(history)
                        }
                    } else if !raised.isEmpty {
                        return "concurrent equal values raised a conflict on \(name)" + explain(history)
                    }
                }
                if case .upsert = write.change, let tombstone = before?.tombstone,
                    !write.context.covers(tombstone.dot),
                    !outcome.conflicts.contains(where: { $0.rule == Conflict.deleteUpdateRule })
                {
                    return "update \(write.dot) revived a record deleted concurrently without a report"
                        + explain(history)
                }
            }
            return nil
        }
        print("sequentialOverwriteNeverConflicts: \(stats.sequential) sequential, \(stats.concurrent) concurrent")
        #expect(stats.sequential > 0 && stats.concurrent > 0)
    }

    // MARK: e. Version vector laws

    func randomVector(_ rng: inout SeededRandom) -> VersionVector {
        var entries: [ReplicaID: UInt64] = [:]
        for replica in 0..<UInt32(rng.int(0...4)) where rng.chance(0.7) {
            entries[ReplicaID(replica)] = UInt64(rng.below(4))  // zero now and then: never stored
        }
        return VersionVector(entries)
    }

    @Test func versionVectorLaws() throws {
        try Property.check("versionVectorLaws") { rng in
            let a = randomVector(&rng)
            let b = randomVector(&rng)
            let c = randomVector(&rng)
            let context = "a=\(a) b=\(b) c=\(c)"
            if a.joined(b) != b.joined(a) { return "join is not commutative: \(context)" }
            if a.joined(b).joined(c) != a.joined(b.joined(c)) { return "join is not associative: \(context)" }
            if a.joined(a) != a { return "join is not idempotent: \(context)" }
            if !a.joined(b).dominates(a) || !a.joined(b).dominates(b) {
                return "join is not an upper bound: \(context)"
            }
            if a.entries.values.contains(0) { return "a zero entry is stored: \(context)" }

            let ab = a.compare(b)
            let ba = b.compare(a)
            let mirrored: [VersionVector.Ordering: VersionVector.Ordering] = [
                .equal: .equal, .before: .after, .after: .before, .concurrent: .concurrent,
            ]
            if mirrored[ab] != ba { return "compare is not antisymmetric: \(ab) vs \(ba): \(context)" }
            if (ab == .equal) != (a == b) { return "compare .equal disagrees with ==: \(context)" }
            if a.dominates(b) != (ab == .equal || ab == .after) {
                return "compare disagrees with dominates: \(context)"
            }
            if b.dominates(a) != (ab == .equal || ab == .before) {
                return "compare disagrees with dominates: \(context)"
            }
            if a.dominates(b), b.dominates(c), !a.dominates(c) { return "dominates is not transitive: \(context)" }
            if (a.joined(b) == a) != a.dominates(b) { return "join absorbs exactly what a dominates: \(context)" }

            let dot = Dot(replica: ReplicaID(UInt32(rng.below(5))), counter: UInt64(rng.int(1...4)))
            if a.covers(dot) != a.dominates(VersionVector([dot.replica: dot.counter])) {
                return "covers disagrees with dominates for \(dot): \(context)"
            }
            var added = a
            added.add(dot)
            if added != a.joined(VersionVector([dot.replica: dot.counter])) || !added.covers(dot) {
                return "add is not a join with the dot \(dot): \(context)"
            }
            return nil
        }
    }

    // MARK: f. HLC monotonicity

    @Test func hybridLogicalClockIssuesIncreasingTimes() throws {
        try Property.check("hybridLogicalClockIssuesIncreasingTimes") { rng in
            // Start now and then just below a logical overflow.
            let start = rng.chance(0.2) ? HLC(physicalMillis: 5_000, logical: UInt16.max - UInt16(rng.below(3))) : .zero
            var clock = HybridLogicalClock(last: start)
            var physical: UInt64 = 5_000
            var previous = start
            var trace: [String] = []
            for _ in 0..<rng.int(1...24) {
                switch rng.below(10) {
                case 0: physical -= min(physical, UInt64(rng.below(3_000)))  // the clock is stepped back
                case 1...3: break  // the same millisecond again
                default: physical += UInt64(rng.below(4))
                }
                let issued: HLC
                if rng.chance(0.4) {
                    let remote = HLC(
                        physicalMillis: physical + UInt64(rng.below(2_000)) - min(physical, 1_000),
                        logical: UInt16(rng.below(4)) &+ (rng.chance(0.1) ? UInt16.max - 3 : 0))
                    issued = clock.receive(remote, physicalMillis: physical)
                    trace.append("receive(\(remote), p=\(physical))=\(issued)")
                    if issued <= remote { return "receive did not move past the remote time: \(trace)" }
                } else {
                    issued = clock.now(physicalMillis: physical)
                    trace.append("now(p=\(physical))=\(issued)")
                    if issued < HLC(physicalMillis: physical) { return "now is behind the physical time: \(trace)" }
                }
                if issued <= previous { return "times did not strictly increase: \(trace)" }
                if clock.last != issued { return "last is not the time issued: \(trace)" }
                previous = issued
            }
            return nil
        }
    }
}
