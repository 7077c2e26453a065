import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite

/// The quiet phase and the invariants (docs/RELIABILITY.md): convergence, no lost write, one conflict
/// report per concurrent pair, intact files; and the check that no pending write is lost after a fault.
extension Simulation {
    /// Every write of the laptop not yet acknowledged is still on the laptop (pending, shown on top of
    /// the hub's state) or already on the hub (state or conflict report).
    mutating func checkNothingPendingLost(_ index: Int, after what: String) async throws {
        let local = String(decoding: try await laptops[index].replica.export(), as: UTF8.self)
        var hubText: String?
        for write in writes
        where write.laptop == index && !write.acknowledged && !write.discarded && !write.superseded && !write.rejected
            && !write.isDelete
        {
            if local.contains(write.token) { continue }
            if hubText == nil {
                hubText = String(decoding: try await hub.service.exportJSON(user: "admin"), as: UTF8.self)
                for report in try await hub.service.conflicts(ConflictFilter(limit: 100_000)) {
                    hubText! += report.conflict.values.map { "\($0.value.map { "\($0)" } ?? "")" }.joined(
                        separator: "|")
                }
            }
            if !hubText!.contains(write.token) {
                report.violations.append(
                    "pending write lost after \(what): \(write.token) by laptop \(index) to \(write.collection)/\(write.id).\(write.field)"
                )
            }
        }
    }

    mutating func quiesce() async throws {
        for laptop in laptops { laptop.transport.setFaults(SimNetworkFaults()) }
        proxy?.setEnabled(false)
        killer?.disable()
        await killer?.settle()
        for killer in killers { killer.disable() }
        for killer in killers { await killer.settle() }
        try await ensureHub()
        if hubFull { try await restartHub(full: false) }
        for index in laptops.indices where laptops[index].full { try reopen(index, full: false) }
        for round in 0..<3 {
            for index in laptops.indices {
                let mark = writes.count
                report.syncs += 1
                do {
                    let result = try await laptops[index].replica.sync(
                        transport: laptops[index].transport, options: options)
                    acknowledge(index, before: mark)
                    if result.rejected > 0 { await noteRejected(index) }
                    noteVerification(index, result.verification)
                } catch {
                    // A laptop told to enroll again does (as its user would), and syncs in the next round.
                    if round < 2, await rejoinIfRefused(index, error) { continue }
                    report.violations.append(
                        "quiet phase round \(round): laptop \(index) (\(laptops[index].user)) failed to sync: \(error)")
                }
            }
        }
    }

    /// Counts a sync's verification (Protocol/README.md section 14). Nothing changes a laptop's file
    /// behind the engine here, so a difference found is a sync bug: traced with the records, and a
    /// violation when the repair did not fix it.
    mutating func noteVerification(_ index: Int, _ verification: VerificationResult?) {
        guard let verification else { return }
        report.verifications += 1
        report.repairs += verification.differences.count
        if !verification.differences.isEmpty {
            report.trace.append(
                "laptop \(index) verification: \(verification.outcome.rawValue), different: "
                    + verification.differences.prefix(6).map { "\($0.collection)/\($0.id) (\($0.kind.rawValue))" }
                    .joined(separator: ", "))
        }
        if verification.outcome == .unrepaired {
            report.violations.append(
                "laptop \(index) (\(laptops[index].user)): verification left \(verification.remaining.count) records different from the hub's view: "
                    + verification.remaining.prefix(6).map { "\($0.collection)/\($0.id) (\($0.kind.rawValue))" }
                    .joined(separator: ", "))
        }
    }

    /// The records that differ between two canonical exports, for a failure message.
    static func difference(_ local: Data, _ hub: Data) -> String {
        func records(_ data: Data) -> [String: String] {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]] else {
                return [:]
            }
            var result: [String: String] = [:]
            for (collection, list) in object {
                for record in list {
                    let id = record["id"] as? String ?? "?"
                    let text =
                        (try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])).map {
                            String(decoding: $0, as: UTF8.self)
                        } ?? "?"
                    result["\(collection)/\(id)"] = text
                }
            }
            return result
        }
        let a = records(local)
        let b = records(hub)
        var lines: [String] = []
        for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
            lines.append("\n    \(key)\n      laptop: \(a[key] ?? "absent")\n      hub:    \(b[key] ?? "absent")")
        }
        return lines.prefix(6).joined()
    }

    mutating func check() async throws {
        // Convergence: every laptop holds exactly the hub's export for its user.
        for (index, laptop) in laptops.enumerated() {
            let local = try await laptop.replica.export()
            let expected = Data(try await hub.service.exportJSON(user: laptop.user))
            if local != expected {
                report.violations.append(
                    "divergence: laptop \(index) (\(laptop.user)) export differs from the hub's (\(local.count) vs \(expected.count) bytes)"
                        + Self.difference(local, expected))
            }
            // The digests agree (Protocol/README.md section 14) exactly when the exports do.
            let laptopDigest = try await laptop.replica.viewDigest()
            let hubDigest = try await hub.service.viewDigest(user: laptop.user)
            if (laptopDigest == hubDigest) != (local == expected) {
                report.violations.append(
                    "digest: laptop \(index) (\(laptop.user)) digest \(laptopDigest), hub \(hubDigest), but the exports "
                        + (local == expected ? "are equal" : "differ"))
            }
            let pending = try await laptop.replica.pendingCount()
            if pending != 0 {
                report.violations.append("laptop \(index) still has \(pending) pending writes after the quiet phase")
            }
        }
        let everything = String(decoding: try await hub.service.exportJSON(user: "admin"), as: UTF8.self)
        let conflicts = try await hub.service.conflicts(ConflictFilter(limit: 100_000))
        report.conflicts = conflicts.count
        var conflictText = ""
        var seen: Set<String> = []
        for report in conflicts {
            let c = report.conflict
            conflictText +=
                c.values.map { competitor in competitor.value.map { value in String(describing: value) } ?? "deleted" }
                .joined(separator: "|") + "\n"
            conflictText +=
                "\(c.base.map { String(describing: $0) } ?? "")|\(c.chosen.map { String(describing: $0) } ?? "")\n"
            let key =
                "\(c.collection)/\(c.recordID)/\(c.field ?? "-")/"
                + c.values.map { "\($0.dot)" }.sorted().joined(separator: ",")
            if !seen.insert(key).inserted {
                self.report.violations.append("applied twice: two conflict reports for \(key)")
            }
        }
        // No lost acknowledged write. (An append token may legitimately appear twice: concurrent
        // appends each carry the whole text they extended, and the rule keeps both texts.)
        for write in writes where write.acknowledged && !write.discarded && !write.rejected && !write.isDelete {
            if write.superseded { continue }
            report.acknowledged += 1
            if !everything.contains(write.token) && !conflictText.contains(write.token) {
                report.violations.append(
                    "lost acknowledged write: \(write.token) by laptop \(write.laptop) to \(write.collection)/\(write.id).\(write.field) is neither in the final state nor in a conflict report"
                )
            }
        }
        for write in writes where write.rejected { report.rejected += 1 }
        try await checkNoLostDelete(everything: everything, conflicts: conflicts)
        // Exactly one conflict report per truly concurrent pair with differing values (a child's
        // pushes are not recorded: with child syncs, unknown writes could have overwritten a value).
        if childSyncs == 0 {
            do {
                let results =
                    hub.storeKind == .postgres
                    ? try await SimConcurrencyCheck.writeResults(store: hub.store, log: pushLog.all)
                    : try SimConcurrencyCheck.writeResults(hubFile: hub.dataFolder + "/hub.sqlite")
                let outcome = SimConcurrencyCheck.check(log: pushLog.all, results: results, reports: conflicts)
                report.concurrentPairs = outcome.pairs
                report.violations += outcome.violations
            } catch {
                report.violations.append("could not read the hub's write results: \(error)")
            }
        }
        // integrity_check on every file.
        var files = paths
        if let hubFiles = try? FileManager.default.contentsOfDirectory(atPath: hub.dataFolder) {
            files += hubFiles.filter { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") && !$0.hasSuffix("-journal") }
                .map { "\(hub.dataFolder)/\($0)" }
        }
        for file in files {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            do {
                let connection = try Connection(path: file, mode: .readOnly, create: false)
                defer { try? connection.close() }
                let result = try connection.integrityCheck()
                if result != "ok" { report.violations.append("integrity_check of \(file): \(result)") }
            } catch {
                report.violations.append("integrity_check of \(file) could not run: \(error)")
            }
        }
    }
    /// No lost delete: a record whose delete the hub acknowledged is gone from the hub's state, unless
    /// a concurrent update revived it, which leaves a conflict report with a deleting competitor
    /// (the update wins, docs/SYNC.md). A delete rejected (the record left the user's territories)
    /// or lost with a restored backup is not checked.
    mutating func checkNoLostDelete(everything: String, conflicts: [ConflictReport]) async throws {
        guard writes.contains(where: \.isDelete) else { return }
        var present: Set<String> = []
        if let object = try JSONSerialization.jsonObject(with: Data(everything.utf8)) as? [String: [[String: Any]]] {
            for (collection, list) in object {
                for record in list { if let id = record["id"] as? String { present.insert("\(collection)/\(id)") } }
            }
        }
        var revived: Set<String> = []
        for report in conflicts where report.conflict.values.contains(where: { $0.value == nil }) {
            revived.insert("\(report.conflict.collection)/\(report.conflict.recordID)")
        }
        var reported: Set<String> = []
        for write in writes where write.isDelete && write.acknowledged && !write.discarded && !write.rejected {
            report.acknowledged += 1
            let key = "\(write.collection)/\(write.id)"
            if present.contains(key), !revived.contains(key), reported.insert(key).inserted {
                report.violations.append(
                    "lost acknowledged write: the delete of \(key) by laptop \(write.laptop) was acknowledged, but the record is on the hub and no conflict report names a delete of it"
                )
            }
        }
    }
}
