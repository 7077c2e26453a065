import Foundation
import RelaisCore
import RelaisTesting
import Testing

/// A generated history of writes to one record, as a hub would receive them from a few replicas
/// that edit offline and push and pull at random times.
struct History: CustomStringConvertible {
    var collection: CollectionSchema
    var recordID: String
    /// In the order the hub received them: a causal order.
    var writes: [RecordWrite]

    var description: String {
        writes.map(History.describe).joined(separator: "\n")
    }

    static func describe(_ write: RecordWrite) -> String {
        let change: String
        switch write.change {
        case .delete: change = "DELETE"
        case .upsert(let values):
            change = values.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(reflecting: $0.value))" }
                .joined(separator: " ")
        }
        return "  \(write.dot) hlc=\(write.hlc) ctx=\(write.context) \(write.author): \(change)"
    }

    /// Orders `writes` at random, keeping every write after the writes its context covers: a hub may
    /// receive concurrent writes in any order, but a write made after seeing another reaches it later.
    static func randomCausalOrder(_ writes: [RecordWrite], _ rng: inout SeededRandom) -> [RecordWrite] {
        var remaining = writes
        var order: [RecordWrite] = []
        while !remaining.isEmpty {
            let ready = remaining.indices.filter { j in
                !remaining.contains { other in other.dot != remaining[j].dot && remaining[j].context.covers(other.dot) }
            }
            precondition(!ready.isEmpty, "a causal cycle")
            order.append(remaining.remove(at: rng.pick(ready)))
        }
        return order
    }

    /// Whether every write comes after the writes its context covers.
    static func isCausal(_ order: [RecordWrite]) -> Bool {
        for (i, write) in order.enumerated() where order[(i + 1)...].contains(where: { write.context.covers($0.dot) }) {
            return false
        }
        return true
    }

    // MARK: Generation

    private struct Replica {
        var id: UInt32
        var counter: UInt64
        /// The record's vector as last pulled from the hub, joined with this replica's own writes.
        var seen: VersionVector = .empty
        var pending: [RecordWrite] = []
        var clock = HybridLogicalClock()
        var physical: UInt64
    }

    /// 1–4 replicas, 1–3 of the collection's fields, 2–6 writes (the first creates the record).
    static func generate(_ rng: inout SeededRandom, deletes: Bool = true) -> History {
        let collection = rng.chance(0.6) ? Fixture.customers : Fixture.interactions
        let recordID = collection.name == "customers" ? Fixture.customerID : Fixture.interactionID
        let fields = Array(rng.shuffled(collection.fields).prefix(rng.int(1...3)))
        let writeCount = rng.int(2...6)
        // Coarse, close physical clocks so that equal HLC times across replicas happen.
        var replicas = (1...UInt32(rng.int(1...4))).map { id in
            Replica(id: id, counter: UInt64(rng.below(3)), physical: 1_000 + UInt64(rng.below(4)))
        }
        var hubVector = VersionVector.empty
        var hubLatest = HLC.zero
        var log: [RecordWrite] = []

        func makeWrite(_ r: Int, _ change: RecordWrite.Change, _ rng: inout SeededRandom) {
            // Counters skip now and then: the replica wrote to other records meanwhile.
            replicas[r].counter += 1 + (rng.chance(0.2) ? UInt64(rng.below(3)) : 0)
            // The physical clock wanders, and sometimes jumps back.
            if rng.chance(0.1) {
                replicas[r].physical -= UInt64(rng.below(40))
            } else {
                replicas[r].physical += UInt64(rng.below(3))
            }
            let dot = Dot(replica: ReplicaID(replicas[r].id), counter: replicas[r].counter)
            let write = RecordWrite(
                collection: collection.name, recordID: recordID, context: replicas[r].seen, dot: dot,
                hlc: replicas[r].clock.now(physicalMillis: replicas[r].physical),
                author: Fixture.author(of: replicas[r].id), change: change)
            replicas[r].seen.add(dot)
            replicas[r].pending.append(write)
        }

        // The creation: every required field, and the chosen fields.
        let creator = rng.below(replicas.count)
        var initial: [String: Value] = [:]
        for field in collection.fields where field.required { initial[field.name] = value(for: field, &rng) }
        for field in fields where rng.chance(0.7) { initial[field.name] = value(for: field, &rng) }
        makeWrite(creator, .upsert(initial), &rng)
        let createDot = replicas[creator].pending[0].dot

        var made = 1
        while made < writeCount || replicas.contains(where: { !$0.pending.isEmpty }) {
            let action = rng.below(10)
            if made < writeCount, action < 5 {
                let writers = replicas.indices.filter { replicas[$0].seen.covers(createDot) }
                let r = rng.pick(writers)
                if deletes, rng.chance(0.12) {
                    makeWrite(r, .delete, &rng)
                } else {
                    var values: [String: Value] = [:]
                    for field in rng.shuffled(fields).prefix(rng.int(1...fields.count)) {
                        values[field.name] = value(for: field, &rng)
                    }
                    makeWrite(r, .upsert(values), &rng)
                }
                made += 1
            } else if action < 8 || made >= writeCount {
                // A push of some of one replica's pending writes, in counter order.
                let pushers = replicas.indices.filter { !replicas[$0].pending.isEmpty }
                guard !pushers.isEmpty else { continue }
                let r = rng.pick(pushers)
                let count = rng.int(1...replicas[r].pending.count)
                for write in replicas[r].pending.prefix(count) {
                    log.append(write)
                    hubVector.join(write.context)
                    hubVector.add(write.dot)
                    hubLatest = max(hubLatest, write.hlc)
                }
                replicas[r].pending.removeFirst(count)
            } else {
                // A pull: the replica sees everything the hub holds (its own pending writes stay seen).
                let r = rng.below(replicas.count)
                replicas[r].seen.join(hubVector)
                if rng.chance(0.7) {  // some devices never fold remote times into their clock
                    _ = replicas[r].clock.receive(hubLatest, physicalMillis: replicas[r].physical)
                }
            }
        }
        return History(collection: collection, recordID: recordID, writes: log)
    }

    static let shortTexts = ["Martin", "MARTIN", "north", "south", "", "01 23 45 67 89"]
    static let longTexts = [
        "Called back.", "Wants a quote for 50 crates.", "Complained about late delivery.",
        "Called back.\nWants a quote for 50 crates.", "",
    ]
    static let dates = [
        "2026-03-01", "2026-02-28", "2026-03-01T09:30:00Z", "2026-03-01T09:30:00.5Z", "2026-03-01T10:30:00+01:00",
        "2025-12-31",
    ]
    static let tags = ["vip", "export", "wine", "bio", "lost"]

    /// A random valid value for `field`; null now and then where the field allows it.
    static func value(for field: FieldSchema, _ rng: inout SeededRandom) -> Value {
        if !field.required, rng.chance(0.12) { return .null }
        switch field.type {
        case .text:
            return .text(rng.pick(field.rule == .append ? longTexts : shortTexts))
        case .number(let integer, let minimum, let maximum):
            if integer {
                let low = Int(minimum ?? 0)
                return .number(Double(rng.int(low...Int(maximum ?? Double(low + 9)))))
            }
            let candidates = [0, 250, 1_200.5, 9_000].filter {
                $0 >= (minimum ?? -.infinity) && $0 <= (maximum ?? .infinity)
            }
            return .number(rng.pick(candidates))
        case .date:
            return .date(rng.pick(dates))
        case .bool:
            return .bool(rng.chance(0.5))
        case .enumeration(let values):
            return .text(rng.pick(values))
        case .set:
            return .stringSet(rng.shuffled(tags).prefix(rng.int(0...3)))
        case .reference:
            return .text(rng.pick([Fixture.customerID, Fixture.otherCustomerID]))
        }
    }
}

/// What two nodes that merged the same writes must agree on: the vector, the tombstone, and each
/// field's siblings and value. `FieldState.base` is report metadata and is left out.
struct Converged: Equatable, CustomStringConvertible {
    struct Field: Equatable {
        var siblings: [Sibling]
        var value: Value
    }

    var vector: VersionVector
    var tombstone: Tombstone?
    var fields: [String: Field]

    init(_ state: RecordState?, in collection: CollectionSchema) {
        vector = state?.vector ?? .empty
        tombstone = state?.tombstone
        fields = [:]
        for (name, field) in state?.fields ?? [:] {
            let rule = collection.field(name)!.rule
            fields[name] = Field(siblings: field.siblings.sorted { $0.dot < $1.dot }, value: field.value(rule: rule))
        }
    }

    var description: String {
        let fieldLines = fields.sorted { $0.key < $1.key }.map { name, field in
            "\(name)=\(String(reflecting: field.value)) siblings=\(field.siblings.map { "\($0.dot)" })"
        }
        return "vector=\(vector) tombstone=\(tombstone.map { "\($0.dot)" } ?? "none") "
            + fieldLines.joined(separator: " ")
    }
}
