import RelaisClient
import RelaisCore
import RelaisHub

/// The schedule's random steps (edits and syncs under the injected faults) and the bookkeeping of
/// which tracked writes each sync acknowledged or the hub rejected.
extension Simulation {
    mutating func step() async throws {
        try await ensureHub()
        hubClock.advance(byMillis: 1000)
        for laptop in laptops { laptop.clock.advance(byMillis: UInt64(random.int(1...60_000))) }
        let index = random.int(0...(laptops.count - 1))
        let laptop = laptops[index]
        if clockFaults(), random.chance(0.15) {
            report.injected += 1
            switch random.int(0...2) {
            case 0: laptop.clock.set(millis: Self.year2000 + UInt64(random.int(0...86_400_000)))
            case 1: laptop.clock.set(millis: Self.year2040 + UInt64(random.int(0...86_400_000)))
            default: laptop.clock.turnBack(byMillis: UInt64(random.int(3_600_000...30 * 86_400_000)))
            }
        }
        if fault == .backupRestore || fault == .mixed, random.chance(0.12) {
            try await backupOrRestore(index)
            return
        }
        if fault == .clone || fault == .mixed, laptops.count < 6, random.chance(0.08) {
            try await clone(index)
            return
        }
        if fault == .hubKill, random.chance(0.03), let process = hubProcess {
            // A crash while idle.
            try await process.stop()
            report.injected += 1
            try await ensureHub()
        }
        if fault == .laptopKill, random.chance(0.2) {
            try await childSync(index)
            return
        }
        if postgres == .twoHubsKill, random.chance(0.03) {
            // A crash of one hub while idle; the other keeps serving.
            let victim = random.int(0...1)
            if hubProcesses[1 - victim].isRunning {
                try await hubProcesses[victim].stop()
                report.injected += 1
                report.trace.append("hub child \(victim) killed while idle")
            }
        }
        if postgres == .postgresRestart, random.chance(0.08) {
            try await syncDuringPostgresRestart(index)
            return
        }
        if fault == .diskFull || fault == .mixed, random.chance(fault == .mixed ? 0.03 : 0.1) {
            try reopen(index, full: !laptop.full)
            report.injected += laptop.full ? 1 : 0
        }
        if fault == .diskFull, random.chance(0.1) {
            try await restartHub(full: !hubFull)
            report.injected += hubFull ? 1 : 0
        }
        if fault == .deletes, random.chance(0.25) {
            // A sync round: every laptop syncs, in a random order, so that they hold the same
            // records and several can then delete one (hub kills land in rounds too).
            var order = Array(laptops.indices)
            for i in order.indices.reversed() { order.swapAt(i, random.int(0...i)) }
            report.trace.append("sync round: \(order.map(String.init).joined(separator: " "))")
            for other in order { await sync(other) }
            return
        }
        if random.chance(0.3) {
            await sync(index)
        } else {
            for _ in 0..<random.int(1...3) {
                do {
                    try await edit(index)
                } catch let error as ReplicaError where error.code == .storageFull {
                    guard laptop.full else { throw error }
                    report.refusedEdits += 1
                    report.trace.append("laptop \(index) edit refused: \(error)")
                }
            }
        }
    }

    mutating func sync(_ index: Int) async {
        let laptop = laptops[index]
        let mark = writes.count
        report.syncs += 1
        do {
            let result = try await laptop.replica.sync(transport: laptop.transport, options: options)
            report.trace.append(
                "laptop \(index) synced: pushed \(result.pushed) pulled \(result.pulled) conflicts \(result.conflicts)")
            noteVerification(index, result.verification)
            acknowledge(index, before: mark)
            if result.rejected > 0 { await noteRejected(index) }
        } catch {
            report.trace.append("laptop \(index) sync failed: \(error)")
            await rejoinIfRefused(index, error)
            // A push answered before the failure may have rejected writes (a record moved out of the
            // user's territories): they are in the laptop's rejected list, never acknowledged.
            await noteRejected(index)
            report.failedSyncs += 1
            if postgres != nil, let error = error as? SyncError, let status = error.httpStatus, status >= 500,
                status != 503
            {
                // Two hubs, a killed hub, a restarted server: each is "retry later" (503), never a hub failure.
                report.violations.append("laptop \(index) sync failed with HTTP \(status): \(error)")
            }
            if let error = error as? SyncError, error.code == .storageFull || error.hubCode == "storage_full" {
                await checkFullStorage(index, error)
            }
        }
    }

    /// What an office does for a laptop told its token expired, or whose token the hub does not know
    /// (a file restored from a backup older than its last rotations): a new code, and the laptop
    /// enrolls its file again (`relais enroll --rejoin`), keeping its unsent writes. Returns whether
    /// it did.
    ///
    /// The enrollment is a request the network may fail like any other (a connection cut before the
    /// quiet phase can still be in the laptop's pool). The laptop itself tries three times in all with
    /// the same attempt, and the hub answers a used code again for that attempt; when all three fail,
    /// its user runs the command again, with a new code since the first may have been used, up to
    /// three times. Any other failure, or a third network one, is a violation.
    @discardableResult
    mutating func rejoinIfRefused(_ index: Int, _ error: any Error) async -> Bool {
        guard let error = error as? SyncError, error.code == .tokenExpired || error.code == .authenticationRefused
        else { return false }
        let laptop = laptops[index]
        for attempt in 1...3 {
            do {
                let code = try await hub.service.issueEnrollmentCode(for: laptop.user)
                try await laptop.replica.rejoin(
                    code: code, deviceName: "laptop\(index)", transport: laptop.transport)
                report.rejoins += 1
                report.trace.append("laptop \(index) rejoined after \(error.code)")
                return true
            } catch let failure as SyncError where failure.code == .hubUnreachable && attempt < 3 {
                report.trace.append("laptop \(index) could not reach the hub to rejoin, tries again: \(failure)")
            } catch {
                report.violations.append("laptop \(index) could not rejoin after \(error)")
                return false
            }
        }
        return false
    }

    mutating func acknowledge(_ index: Int, before mark: Int) {
        for i in 0..<mark where writes[i].laptop == index && !writes[i].discarded {
            writes[i].acknowledged = true
        }
    }

    mutating func noteRejected(_ index: Int) async {
        guard let rejected = try? await laptops[index].replica.rejected() else { return }
        for write in rejected {
            if write.isDelete {
                for i in writes.indices
                where writes[i].isDelete && writes[i].laptop == index && writes[i].collection == write.collection
                    && writes[i].id == write.recordID
                {
                    writes[i].rejected = true
                }
            }
            for value in write.values.values {
                for (token, i) in tokenIndex where value.contains(token) { writes[i].rejected = true }
            }
        }
    }
}
