import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite

/// The "exactly one conflict report per truly concurrent pair" invariant (docs/RELIABILITY.md,
/// invariant 3).
///
/// A pair `(w1, w2)` of writes **must** have exactly one report when all of these hold:
/// - both are upserts the hub applied (its `write_results` say `applied` or `conflict`) that write the
///   same field of the same record, and no delete of that record was ever pushed;
/// - they come from different replica numbers, and neither's context covers the other's dot (the
///   hub adds to each context the writer's own previous dot: a replica has seen its own writes), and
///   neither's replica had re-issued the other (a renewed replica, a clone's included, re-issues its
///   pending writes under its new number with the same values: its later writes had seen them);
/// - their values differ;
/// - the order in which the hub applied them is certain from the deliveries: `w1` was answered
///   before `w2` was first sent;
/// - `w1` was still a live value when `w2` arrived: no third applied write to that field whose
///   context covers `w1` could have been applied before `w2` (else `w1` had been overwritten by an
///   author who saw it, and `w2` competes with that author's value instead), counting every version
///   of a dot a clone reused (the hub applied one of them, which is not known).
///
/// Every merge rule reports (MergeEngine: a conflict is raised whenever an incoming value differs
/// from a surviving concurrent value, whatever the rule; the rule only decides the chosen value).
/// The report is the one raised by the later write `w2` on that field: exactly one of the report ids
/// the hub stored for `w2` must name that field and list `w1` among its competitors. A re-issued write
/// (the same values under a renewed replica's number) counts as the same edit as its original, so the
/// report may come from either and list either.
enum SimConcurrencyCheck {
    struct Write {
        var collection: String
        var record: String
        var dot: Dot
        var context: VersionVector
        var values: [String: Value]
        var isDelete: Bool
        /// The first delivery that carried it.
        var firstSent: Int
        /// The first delivery that was answered (the hub had applied it by then), or `Int.max`.
        var firstAnswered: Int

        func covers(_ other: Dot) -> Bool {
            if other.replica == dot.replica { return other.counter < dot.counter }
            return context.covers(other)
        }
    }

    struct Outcome {
        var pairs = 0
        var violations: [String] = []
    }

    /// The hub's stored result of each applied write: dot → report ids (empty for `applied`).
    static func writeResults(hubFile: String) throws -> [Dot: [String]] {
        let connection = try Connection(path: hubFile, mode: .readOnly, create: false)
        defer { try? connection.close() }
        var results: [Dot: [String]] = [:]
        try connection.query("SELECT replica, counter, status, conflict_ids FROM write_results") { row in
            let status = row.statement.text(at: 2) ?? ""
            guard status == "applied" || status == "conflict" else { return }
            let dot = Dot(
                replica: ReplicaID(UInt32(row.statement.int64(at: 0))), counter: UInt64(row.statement.int64(at: 1)))
            let ids = (row.statement.text(at: 3) ?? "").split(separator: ",").map { String($0) }.filter { !$0.isEmpty }
            results[dot] = ids
        }
        return results
    }

    /// The same from any store (PostgreSQL): the results of the writes `log` delivered.
    static func writeResults(store: any HubStore, log: [SimPushLog.Delivery]) async throws -> [Dot: [String]] {
        let dots = Set(log.flatMap { $0.writes.map { Dot($0.dot) } })
        return try await store.read { tx in
            var results: [Dot: [String]] = [:]
            for dot in dots {
                guard let result = try await tx.writeResult(replica: dot.replica, counter: dot.counter),
                    result.status == .applied || result.status == .conflict
                else { continue }
                results[dot] = result.conflictIDs
            }
            return results
        }
    }

    static func check(log: [SimPushLog.Delivery], results: [Dot: [String]], reports: [ConflictReport]) -> Outcome {
        var writes: [Dot: Write] = [:]
        // The other writes sent under a dot already seen with other values (a clone writing under the
        // same number): which of them the hub applied is not known.
        var otherVersions: [Write] = []
        for (index, delivery) in log.enumerated() {
            for wire in delivery.writes {
                guard let context = try? VersionVector(wire.context) else { continue }
                var values: [String: Value] = [:]
                for field in wire.fields {
                    if let value = try? Value(field.value) { values[field.field] = value }
                }
                let sent = Write(
                    collection: wire.collection, record: wire.recordID, dot: Dot(wire.dot), context: context,
                    values: values, isDelete: wire.delete, firstSent: index,
                    firstAnswered: delivery.answered ? index : Int.max)
                guard var known = writes[sent.dot] else {
                    writes[sent.dot] = sent
                    continue
                }
                // A clone writing under the same number: two different writes with one dot.
                if known.values != values || known.isDelete != wire.delete || known.record != wire.recordID {
                    otherVersions.append(sent)
                }
                known.firstAnswered = min(known.firstAnswered, sent.firstAnswered)
                writes[sent.dot] = known
            }
        }
        let inconsistent = Set(otherVersions.map(\.dot))
        let reportsByID = Dictionary(reports.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let deleted = Set(writes.values.filter(\.isDelete).map { "\($0.collection)/\($0.record)" })
        var byField: [String: [Write]] = [:]
        for write in writes.values
        where !write.isDelete && !inconsistent.contains(write.dot) && results[write.dot] != nil {
            guard !deleted.contains("\(write.collection)/\(write.record)") else { continue }
            for field in write.values.keys {
                byField["\(write.collection)/\(write.record)/\(field)", default: []].append(write)
            }
        }
        // Every applied write that may have replaced a value of a field, whichever version of a reused
        // dot the hub took: a pair is certain only when none of them could have.
        var mayReplace: [String: [Write]] = [:]
        for write in Array(writes.values) + otherVersions where !write.isDelete && results[write.dot] != nil {
            for field in write.values.keys {
                mayReplace["\(write.collection)/\(write.record)/\(field)", default: []].append(write)
            }
        }
        var byReplica: [ReplicaID: [Write]] = [:]
        for write in writes.values { byReplica[write.dot.replica, default: []].append(write) }
        /// Whether `later`'s replica had re-issued `write` (same record, same values) before `later`.
        func reissued(_ write: Write, before later: Write) -> Bool {
            (byReplica[later.dot.replica] ?? []).contains { copy in
                copy.dot.counter < later.dot.counter && copy.dot != write.dot && copy.record == write.record
                    && copy.collection == write.collection && copy.values == write.values
                    && copy.isDelete == write.isDelete
            }
        }
        /// The write and its re-issues: applied writes to the same record with the same values.
        func twins(_ write: Write) -> [Write] {
            writes.values.filter { other in
                other.record == write.record && other.collection == write.collection && other.values == write.values
                    && other.isDelete == write.isDelete && results[other.dot] != nil
            }
        }
        var outcome = Outcome()
        for (key, group) in byField {
            let field = String(key.split(separator: "/").last!)
            for w2 in group {
                for w1 in group where w1.dot != w2.dot && w1.dot.replica != w2.dot.replica {
                    guard w1.firstAnswered < w2.firstSent else { continue }  // order not certain
                    guard !w1.covers(w2.dot), !w2.covers(w1.dot) else { continue }
                    // A renewed replica re-issues its pending writes (a clone's copied ones included)
                    // under its new number: a later write of that number had seen what it re-issued.
                    guard !reissued(w1, before: w2), !reissued(w2, before: w1) else { continue }
                    guard w1.values[field] != w2.values[field] else { continue }
                    // A write that had seen a copy of the other (its original, or its re-issue under a
                    // renewed number: the same edit) overwrote it knowingly: no conflict to report.
                    guard !twins(w1).contains(where: { w2.covers($0.dot) }),
                        !twins(w2).contains(where: { w1.covers($0.dot) })
                    else { continue }
                    let overwritten = (mayReplace[key] ?? []).contains { w3 in
                        w3.dot != w1.dot && w3.dot != w2.dot && w3.covers(w1.dot) && w3.firstSent < w2.firstAnswered
                    }
                    guard !overwritten else { continue }
                    outcome.pairs += 1
                    // A re-issued write (a renewed replica's, the same values under a new dot) is the
                    // same edit as its original: the pair's report may come from either copy, and a copy
                    // that arrives while the other side still stands raises its own (listing both).
                    // So: at least one report over the copies, never two from one write.
                    let firstDots = Set(twins(w1).map(\.dot))
                    let perCopy = twins(w2).map { copy in
                        (results[copy.dot] ?? []).compactMap { reportsByID[$0] }.filter { report in
                            report.conflict.field == field
                                && report.conflict.values.contains { firstDots.contains($0.dot) }
                        }.count
                    }
                    let total = perCopy.reduce(0, +)
                    if total == 0 || perCopy.contains(where: { $0 > 1 }) {
                        outcome.violations.append(
                            "\(total) conflict reports (expected exactly one per copy that raised one, at least one) for the concurrent writes \(w1.dot) and \(w2.dot) to \(key) (\(w1.values[field].map { "\($0)" } ?? "-") vs \(w2.values[field].map { "\($0)" } ?? "-"))"
                        )
                    }
                }
            }
        }
        return outcome
    }
}
