import Foundation
import RelaisClient
import RelaisCore
import RelaisProtocol
import RelaisSQLite

/// The faults beyond the network: hub and laptop processes killed, full disks, PostgreSQL restarts,
/// replicas restored from backups and replica files cloned.
extension Simulation {
    /// Restarts the hub child if a SIGKILL took it down, then checks its store's integrity.
    mutating func ensureHub() async throws {
        for (number, process) in hubProcesses.enumerated() where !process.isRunning {
            try await process.stop()
            try await process.start()
            report.hubRestarts += 1
            report.trace.append("hub child \(number) killed; restarted on the same database")
        }
        guard let process = hubProcess, !process.isRunning else { return }
        try await process.stop()
        try await process.start(maxStoreMB: hubFull ? 0.0001 : nil)
        report.hubRestarts += 1
        report.trace.append("hub killed; restarted on the same folder")
        let integrity = process.integrityCheck()
        if integrity != "ok" {
            report.violations.append("integrity_check of the hub store after a restart: \(integrity)")
        }
    }

    /// Restarts the hub child with a store ceiling at its current size (a full disk), or without one
    /// (an administrator freed space).
    mutating func restartHub(full: Bool) async throws {
        guard let process = hubProcess else { return }
        try await process.stop(signal: SIGTERM)
        // Packed (no free pages, full b-tree pages), so that the ceiling at the current size bites at
        // the next growth.
        if full { try Self.compact(hub.dataFolder + "/hub.sqlite") }
        hubFull = full
        try await process.start(maxStoreMB: full ? 0.0001 : nil)
        report.hubRestarts += 1
        report.trace.append(full ? "hub restarted with its store full" : "hub restarted with space freed")
        let integrity = process.integrityCheck()
        if integrity != "ok" {
            report.violations.append("integrity_check of the hub store after a restart: \(integrity)")
        }
    }

    /// Reopens a laptop's replica with a file-size ceiling at its current size (a full disk) or none.
    mutating func reopen(_ index: Int, full: Bool) throws {
        let laptop = laptops[index]
        if full { try Self.compact(laptop.path) }
        laptop.replica = try Replica.open(
            path: laptop.path, create: false, configuration: configuration((laptop.clock, laptop.ids), full: full))
        laptop.full = full
        report.trace.append("laptop \(index) " + (full ? "disk full" : "disk space freed"))
    }

    /// The laptop's sync as a `relais sync` child killed at a seeded moment; then the file is reopened
    /// in process and checked: integrity, and every write not yet acknowledged still there.
    mutating func childSync(_ index: Int) async throws {
        let laptop = laptops[index]
        let mark = writes.count
        let killAfter = random.int(0...150)
        report.syncs += 1
        childSyncs += 1
        let outcome = try await SimLaptopProcess.sync(
            path: laptop.path, batchSize: random.int(1...20), killAfterMillis: killAfter)
        laptop.replica = try Replica.open(
            path: laptop.path, create: false,
            configuration: configuration((laptop.clock, laptop.ids), full: laptop.full))
        if outcome.killed {
            report.injected += 1
            report.failedSyncs += 1
            report.trace.append("laptop \(index) sync child killed after \(killAfter) ms")
        } else if outcome.status == 0 {
            acknowledge(index, before: mark)
            report.trace.append("laptop \(index) synced in a child")
        } else {
            report.failedSyncs += 1
            report.trace.append("laptop \(index) sync child failed with status \(outcome.status)")
        }
        await noteRejected(index)
        do {
            let connection = try Connection(path: laptop.path, mode: .readOnly, create: false)
            defer { try? connection.close() }
            let integrity = try connection.integrityCheck()
            if integrity != "ok" {
                report.violations.append("integrity_check of laptop \(index) after a killed sync: \(integrity)")
            }
        } catch {
            report.violations.append("integrity_check of laptop \(index) after a killed sync could not run: \(error)")
        }
        try await checkNothingPendingLost(index, after: "a killed sync")
    }

    /// Starts the hubs of a PostgreSQL kind once every laptop is enrolled: for `twoHubsKill`, two
    /// `relais-hub serve --postgres` children (the in-process hub then only reads, for the checks);
    /// every laptop's requests then go to either hub.
    mutating func startPostgresHubs() async throws {
        chooser = SimHubChooser(seed: random.next())
        if postgres == .twoHubsKill, let databaseURL {
            for number in 0..<2 {
                let process = try SimHubProcess(
                    storeArguments: ["--postgres", databaseURL], logPath: hub.folder.path + "/hub-child-\(number).log")
                try await process.start()
                hubProcesses.append(process)
            }
            let registry = SimKillerRegistry()
            for number in 0..<2 {
                let other = hubProcesses[1 - number]
                // One hub down at a time: no kill while the other is down or has a kill on its way.
                let killer = SimHubKiller(
                    hub: hubProcesses[number], seed: random.next(), rate: 0.1, delayMillis: 30,
                    allowed: { other.isRunning && !registry.pending(except: number) })
                registry.add(killer)
                killers.append(killer)
            }
        }
        for laptop in laptops {
            laptop.transport = SimFaultTransport(base: baseTransport(), faults: networkFaults, seed: random.next())
        }
    }

    /// `postgresRestart`: the PostgreSQL server restarted (`pg_ctl restart -m immediate`) at a seeded
    /// moment of a laptop's sync. The sync may fail (the hubs answer 503 while the server is down);
    /// the laptop must keep every write not yet acknowledged.
    mutating func syncDuringPostgresRestart(_ index: Int) async throws {
        let delay = random.int(0...60)
        report.trace.append("PostgreSQL restart (-m immediate) \(delay) ms into laptop \(index)'s sync")
        let restart = Task { try await SimPostgresServer.restartImmediately(afterMillis: delay) }
        let failed = report.failedSyncs
        await sync(index)
        try await restart.value
        postgresRestarts += 1
        if report.failedSyncs > failed {
            try await checkNothingPendingLost(index, after: "a sync during a PostgreSQL restart")
        }
    }

    /// A sync stopped by a full disk: the laptop or the hub must be the one that is full, the laptop
    /// keeps its pending writes, and the hub still answers reads.
    mutating func checkFullStorage(_ index: Int, _ error: SyncError) async {
        let laptop = laptops[index]
        if error.code == .storageFull, !laptop.full {
            report.violations.append("laptop \(index) sync failed with storage_full with no ceiling: \(error)")
        }
        if error.hubCode == "storage_full" {
            if !hubFull { report.violations.append("the hub answered storage_full with no ceiling: \(error)") }
            if error.httpStatus != 507 {
                report.violations.append("storage_full answered with status \(error.httpStatus ?? 0), not 507")
            }
            // Reads keep working on a full hub.
            do {
                guard let identity = try await laptop.replica.identity() else { return }
                var request = Relais_V1_PullRequest()
                request.pageSize = 5
                request.schemaVersion = UInt32(laptop.replica.schema.version)
                let connection = try Connection(path: laptop.path, mode: .readOnly, create: false)
                request.counter = UInt64(
                    try connection.scalar("SELECT value FROM _relais_state WHERE key = 'counter'")?.int64Value ?? 0)
                try? connection.close()
                _ = try await baseTransport().pull(request, token: identity.token)
            } catch {
                report.violations.append("a pull failed while the hub's store was full: \(error)")
            }
        }
        do {
            try await checkNothingPendingLost(index, after: "a sync stopped by a full disk")
        } catch {
            report.violations.append("could not check laptop \(index)'s pending writes: \(error)")
        }
    }

    mutating func backupOrRestore(_ index: Int) async throws {
        let laptop = laptops[index]
        report.injected += 1
        if let backup = laptop.backup {
            // The laptop's disk is restored from the old copy: a new file on the same laptop.
            let restored = "\(folder)/laptop\(index)-restored\(nextToken).relais"
            nextToken += 1
            try FileManager.default.copyItem(atPath: backup.path, toPath: restored)
            try? FileManager.default.copyItem(atPath: backup.path + ".token", toPath: restored + ".token")
            for i in backup.mark..<writes.count where writes[i].laptop == index && !writes[i].acknowledged {
                writes[i].discarded = true
            }
            let clock = laptop.clock
            let ids = laptop.ids
            laptop.replica = try Replica.open(
                path: restored, create: false,
                configuration: Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() }))
            laptop.path = restored
            report.trace.append("laptop \(index) restored from its backup")
            laptop.backup = nil
            paths.append(restored)
        } else {
            let copy = "\(folder)/laptop\(index)-backup\(nextToken).relais"
            nextToken += 1
            try Self.copyDatabase(from: laptop.path, to: copy)
            laptop.backup = (copy, writes.count)
            report.trace.append("laptop \(index) backed up")
        }
    }

    mutating func clone(_ index: Int) async throws {
        let original = laptops[index]
        report.injected += 1
        let path = "\(folder)/laptop\(laptops.count)-clone-of-\(index).relais"
        try Self.copyDatabase(from: original.path, to: path)
        let laptop = try makeLaptop(
            user: original.user, territories: original.territories, clockAt: original.clock.now(), path: path)
        laptops.append(laptop)
        report.trace.append("laptop \(index) cloned as laptop \(laptops.count - 1)")
    }

    /// Rewrites a SQLite file packed: the disk-full fault then holds it at that size.
    static func compact(_ path: String) throws {
        let connection = try Connection(path: path)
        defer { try? connection.close() }
        try connection.execute("VACUUM")
    }

    /// A consistent copy of a live SQLite file, with its device token file beside it (as a backup of
    /// the laptop's folder or a disk image would make).
    static func copyDatabase(from source: String, to target: String) throws {
        let connection = try Connection(path: source)
        defer { try? connection.close() }
        try connection.execute("VACUUM INTO '\(target)'")
        try? FileManager.default.copyItem(atPath: source + ".token", toPath: target + ".token")
    }
}
