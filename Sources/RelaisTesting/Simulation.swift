import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import Synchronization

/// The fault a simulated schedule injects (docs/RELIABILITY.md). Schedule `n` of a run uses
/// `allCases[n % allCases.count]`, so every bounded run covers every kind evenly.
public enum SimFaultKind: String, CaseIterable, Sendable {
    /// No fault: random edits and syncs only.
    case none
    /// Requests lost before they reach the hub.
    case dropRequest
    /// Answers lost after the hub handled (and committed) the request.
    case dropResponse
    /// Requests delivered twice.
    case duplicate
    /// Older pushes delivered again, out of order.
    case reorder
    /// Connections cut at a random byte, to or from the hub (a TCP proxy on loopback).
    case cutConnection
    /// Laptop clocks set to 2000 or 2040, or jumping backwards.
    case clockSkew
    /// A laptop restored from an old copy of its replica file.
    case backupRestore
    /// A replica file copied onto a second laptop that keeps working.
    case clone
    /// The hub runs as a child process (`relais-hub serve`), killed with SIGKILL at seeded moments
    /// while laptops push and pull (many while a push is being applied and committed), and restarted
    /// on the same data folder.
    case hubKill
    /// A laptop's sync runs as a child process (`relais sync`), killed with SIGKILL at a seeded
    /// moment (often while it applies a pull page); the file is then reopened in process.
    case laptopKill
    /// A full disk: the hub child restarted with a store ceiling (`--max-store-mb`) and laptops
    /// reopened with a file-size ceiling (`maxFileBytes`), later lifted.
    case diskFull
    /// All of the above at lower rates.
    case mixed
}

/// What one simulated schedule did and which invariants it broke.
public struct SimReport: Sendable, CustomStringConvertible {
    /// The run's seed.
    public var seed: UInt64
    /// The schedule number within the run.
    public var schedule: Int
    /// The fault kind.
    public var fault: SimFaultKind
    /// The PostgreSQL kind, for a schedule of `relais-sim --postgres` (then `fault` is `none`).
    public var postgres: SimPostgresKind?
    /// The kind's name: the PostgreSQL kind's, else the fault kind's.
    public var kind: String { postgres?.rawValue ?? fault.rawValue }
    /// Laptops, including clones.
    public var laptops = 0
    /// Edits made (records added, fields set, deletes, imported rows).
    public var edits = 0
    /// Tracked field writes, and how many of them the hub acknowledged.
    public var writes = 0
    /// Tracked writes the hub acknowledged and the checker verified.
    public var acknowledged = 0
    /// Syncs attempted and those that failed under a fault.
    public var syncs = 0
    /// Syncs that stopped because of an injected fault.
    public var failedSyncs = 0
    /// Faults injected (network faults, clock jumps, restores, clones).
    public var injected = 0
    /// Conflict reports on the hub at the end.
    public var conflicts = 0
    /// Truly concurrent pairs with differing values checked for exactly one report.
    public var concurrentPairs = 0
    /// Edits refused because the replica's storage was full (not saved, not tracked).
    public var refusedEdits = 0
    /// Hub child restarts (after a SIGKILL or a ceiling change), each followed by an integrity check.
    public var hubRestarts = 0
    /// Writes the hub rejected.
    public var rejected = 0
    /// Broken invariants; empty when the schedule passed.
    public var violations: [String] = []
    /// Every step, in order, for replaying a failure by hand.
    public var trace: [String] = []

    /// The command that replays this schedule.
    public var replay: String {
        "swift run relais-sim\(postgres == nil ? "" : " --postgres") --seed \(seed) --schedule \(schedule)"
    }

    public var description: String {
        var text = "schedule \(schedule) [\(kind)] laptops=\(laptops) edits=\(edits) writes=\(writes) acked=\(acknowledged) syncs=\(syncs) failed=\(failedSyncs) faults=\(injected) conflicts=\(conflicts) pairs=\(concurrentPairs) rejected=\(rejected) refused=\(refusedEdits) restarts=\(hubRestarts)"
        if !violations.isEmpty {
            text += "\n  FAILED (seed \(seed)); replay: \(replay)\n" + violations.map { "  - \($0)" }.joined(separator: "\n")
        }
        return text
    }
}

/// One simulated schedule: N laptops and one hub on loopback, random offline edits and syncs under a
/// seeded fault, then a quiet phase and the invariants (docs/RELIABILITY.md).
public enum SimSchedule {
    /// Runs schedule `schedule` of the run seeded with `seed`. The same pair replays the same edits,
    /// syncs and faults.
    public static func run(seed: UInt64, schedule: Int) async throws -> SimReport {
        let fault = SimFaultKind.allCases[schedule % SimFaultKind.allCases.count]
        let hubClock = TestClock()
        return try await HubFixture.with(store: .sqlite, clock: hubClock) { hub in
            try await hub.live { url in
                var proxy: SimTCPProxy?
                if fault == .cutConnection || fault == .mixed, let port = url.split(separator: ":").last.flatMap({ UInt16($0) }) {
                    let rate = fault == .mixed ? 0.1 : 0.35
                    proxy = try SimTCPProxy(
                        targetPort: port, seed: seed ^ UInt64(schedule) ^ 0xC07, cutRequest: rate, cutResponse: rate)
                }
                defer { proxy?.stop() }
                var sim = Simulation(
                    seed: seed, schedule: schedule, fault: fault, hub: hub, hubClock: hubClock, url: url, proxy: proxy)
                return try await sim.run()
            }
        }
    }
}

/// The kind of merge a tracked field has, which decides how the checker finds its value.
enum SimFieldKind { case replace, union, append }

/// A field write the checker follows: a unique token written to one field of one record.
struct SimWrite {
    var laptop: Int
    var token: String
    var collection: String
    var id: String
    var field: String
    var kind: SimFieldKind
    var acknowledged = false
    /// Lost with a laptop restored from a backup made before it, never acknowledged.
    var discarded = false
    /// Replaced by a later write (or a delete) whose author saw it.
    var superseded = false
    var rejected = false
}

final class SimLaptop {
    let user: String
    let territories: [String]
    let clock: TestClock
    let ids: ClientIDSequence
    var transport: SimFaultTransport
    var replica: Replica
    var path: String
    var backup: (path: String, mark: Int)?
    /// The replica was reopened with a file-size ceiling (the disk-full fault).
    var full = false

    init(user: String, territories: [String], clock: TestClock, ids: ClientIDSequence, transport: SimFaultTransport, replica: Replica, path: String) {
        self.user = user
        self.territories = territories
        self.clock = clock
        self.ids = ids
        self.transport = transport
        self.replica = replica
        self.path = path
    }
}

struct Simulation {
    let seed: UInt64
    let schedule: Int
    let fault: SimFaultKind
    let hub: HubFixture
    let hubClock: TestClock
    let url: String
    let proxy: SimTCPProxy?
    var random: SeededRandom
    var report: SimReport
    var laptops: [SimLaptop] = []
    var writes: [SimWrite] = []
    var tokenIndex: [String: Int] = [:]
    var paths: [String] = []
    var nextToken = 0
    var options = SyncOptions()
    let folder: String
    let pushLog = SimPushLog()
    /// The hub child of the hub-kill and disk-full kinds.
    var hubProcess: SimHubProcess?
    var killer: SimHubKiller?
    /// The hub child runs with a store ceiling.
    var hubFull = false
    /// Laptops whose syncs ran (unrecorded) in a child process.
    var childSyncs = 0
    /// The PostgreSQL kind (`relais-sim --postgres`), with the database both hubs use and the second
    /// in-process hub's address.
    var postgres: SimPostgresKind? {
        didSet { report.postgres = postgres }
    }
    var databaseURL: String?
    var secondURL: String?
    /// The two hub children of `twoHubsKill`, their killers, and the seeded choice of a hub.
    var hubProcesses: [SimHubProcess] = []
    var killers: [SimHubKiller] = []
    var chooser: SimHubChooser?
    /// PostgreSQL restarts done (`postgresRestart`).
    var postgresRestarts = 0

    static let start: UInt64 = 1_795_856_400_000
    static let year2000: UInt64 = 946_684_800_000
    static let year2040: UInt64 = 2_208_988_800_000

    init(seed: UInt64, schedule: Int, fault: SimFaultKind, hub: HubFixture, hubClock: TestClock, url: String, proxy: SimTCPProxy?) {
        self.proxy = proxy
        self.seed = seed
        self.schedule = schedule
        self.fault = fault
        self.hub = hub
        self.hubClock = hubClock
        self.url = url
        random = SeededRandom(seed: seed, schedule: schedule)
        report = SimReport(seed: seed, schedule: schedule, fault: fault)
        folder = hub.folder.path + "/laptops"
    }

    var networkFaults: SimNetworkFaults {
        var f = SimNetworkFaults()
        switch fault {
        case .dropRequest: f.dropRequest = 0.3
        case .dropResponse: f.dropResponse = 0.3
        case .duplicate: f.duplicate = 0.4
        case .reorder: f.reorder = 0.4
        case .mixed:
            f.dropRequest = 0.08
            f.dropResponse = 0.08
            f.duplicate = 0.08
            f.reorder = 0.08
        default: break
        }
        if postgres == .twoHubs {
            f.dropRequest = 0.04
            f.dropResponse = 0.04
            f.duplicate = 0.04
            f.reorder = 0.04
        }
        return f
    }

    func clockFaults() -> Bool { fault == .clockSkew || fault == .mixed }

    var usesHubProcess: Bool { fault == .hubKill || fault == .diskFull }

    /// The transport under the injected network faults: to the hub child when there is one, else to
    /// the in-process hub (through the cutting proxy when there is one); every push is recorded.
    func baseTransport() -> any SyncTransport {
        let base: any SyncTransport
        if let chooser, !hubProcesses.isEmpty {
            let hubs = zip(hubProcesses, killers).map { process, killer in
                SimRoutedTransport(hub: process, onRequest: { killer.requestLeaving() }) as any SyncTransport
            }
            base = SimAlternatingTransport(hubs: hubs, chooser: chooser)
        } else if let chooser, let secondURL {
            base = SimAlternatingTransport(hubs: [HTTPSyncTransport(hub: url), HTTPSyncTransport(hub: secondURL)], chooser: chooser)
        } else if let hubProcess {
            let killer = self.killer
            base = SimRoutedTransport(hub: hubProcess, onRequest: { killer?.requestLeaving() })
        } else {
            base = HTTPSyncTransport(hub: proxy?.url ?? url)
        }
        return SimRecordingTransport(base: base, log: pushLog)
    }

    func configuration(_ laptop: (clock: TestClock, ids: ClientIDSequence), full: Bool = false) -> Replica.Configuration {
        let clock = laptop.clock
        let ids = laptop.ids
        return Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() }, maxFileBytes: full ? 1 : nil)
    }

    mutating func run() async throws -> SimReport {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        options.pageSize = UInt32(random.int(1...40))
        options.batchSize = random.int(1...20)
        // Pull pages held before they are applied together: from one page per transaction to all.
        options.applyBatchRecords = random.int(1...60)
        if let page = ProcessInfo.processInfo.environment["RELAIS_SIM_PAGE"].flatMap({ UInt32($0) }) { options.pageSize = page }
        if let batch = ProcessInfo.processInfo.environment["RELAIS_SIM_BATCH"].flatMap({ Int($0) }) { options.batchSize = batch }
        options.sleep = { _ in }
        options.random = { 0.5 }
        let territoriesInPlay = random.chance(0.5) ? ["north"] : ["north", "south"]
        let count = random.int(2...5)
        for index in 0..<count {
            let territories: [String]
            let role: Role
            switch index {
            case 2:
                role = .manager
                territories = territoriesInPlay
            default:
                role = .rep
                territories = [index == 3 ? territoriesInPlay.last! : random.pick(territoriesInPlay)]
            }
            let user = "user\(index)"
            let code = try await hub.addUser(user, role: role, territories: territories)
            try await enroll(user: user, territories: territories, code: code)
        }
        if postgres != nil {
            try await startPostgresHubs()
        }
        if usesHubProcess {
            // From here on the hub is the child process on the same data folder; the in-process hub
            // only reads (the final checks).
            let process = try SimHubProcess(dataFolder: hub.dataFolder)
            try await process.start()
            hubProcess = process
            if fault == .hubKill {
                killer = SimHubKiller(hub: process, seed: random.next(), rate: 0.25, delayMillis: 30)
            }
            for laptop in laptops {
                laptop.transport = SimFaultTransport(base: baseTransport(), faults: networkFaults, seed: random.next())
            }
        }
        do {
            let steps = random.int(15...40)
            for _ in 0..<steps {
                try await step()
            }
            try await quiesce()
            try await check()
        } catch {
            try? await hubProcess?.stop()
            for process in hubProcesses { try? await process.stop() }
            throw error
        }
        try await hubProcess?.stop(signal: SIGTERM)
        for process in hubProcesses { try await process.stop(signal: SIGTERM) }
        report.injected += killer?.scheduled ?? 0
        report.injected += killers.reduce(0) { $0 + $1.scheduled } + postgresRestarts
        if let chooser { report.trace.append("requests per hub: \(chooser.counts)") }
        report.laptops = laptops.count
        report.writes = writes.count
        report.injected += laptops.reduce(0) { $0 + $1.transport.injected } + (proxy?.cuts ?? 0)
        return report
    }

    mutating func makeLaptop(user: String, territories: [String], clockAt: UInt64, path: String) throws -> SimLaptop {
        let index = laptops.count
        let clock = TestClock(millis: clockAt)
        let ids = ClientIDSequence(start: UInt64(index + 1) << 32)
        let transport = SimFaultTransport(base: baseTransport(), faults: networkFaults, seed: random.next())
        let replica = try Replica.open(path: path, configuration: configuration((clock, ids)))
        paths.append(path)
        return SimLaptop(user: user, territories: territories, clock: clock, ids: ids, transport: transport, replica: replica, path: path)
    }

    mutating func enroll(user: String, territories: [String], code: String) async throws {
        let index = laptops.count
        let path = "\(folder)/laptop\(index).relais"
        let clock = TestClock(millis: Self.start)
        let ids = ClientIDSequence(start: UInt64(index + 1) << 32)
        let replica = try await Replica.enroll(
            hub: url, code: code, path: path, deviceName: "laptop\(index)", transport: HTTPSyncTransport(hub: url),
            configuration: Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() }))
        let transport = SimFaultTransport(base: baseTransport(), faults: networkFaults, seed: random.next())
        paths.append(path)
        laptops.append(SimLaptop(user: user, territories: territories, clock: clock, ids: ids, transport: transport, replica: replica, path: path))
    }

    // MARK: - Steps

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
        if random.chance(0.3) {
            await sync(index)
        } else {
            for _ in 0..<random.int(1...3) {
                do {
                    try await edit(index)
                } catch let error as ReplicaError where error.kind == .storageFull {
                    guard laptop.full else { throw error }
                    report.refusedEdits += 1
                    report.trace.append("laptop \(index) edit refused: \(error)")
                }
            }
        }
    }

    // MARK: - Process faults

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
        if integrity != "ok" { report.violations.append("integrity_check of the hub store after a restart: \(integrity)") }
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
        if integrity != "ok" { report.violations.append("integrity_check of the hub store after a restart: \(integrity)") }
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
        let outcome = try await SimLaptopProcess.sync(path: laptop.path, batchSize: random.int(1...20), killAfterMillis: killAfter)
        laptop.replica = try Replica.open(
            path: laptop.path, create: false, configuration: configuration((laptop.clock, laptop.ids), full: laptop.full))
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
        do {
            let connection = try Connection(path: laptop.path, mode: .readOnly, create: false)
            defer { try? connection.close() }
            let integrity = try connection.integrityCheck()
            if integrity != "ok" { report.violations.append("integrity_check of laptop \(index) after a killed sync: \(integrity)") }
        } catch {
            report.violations.append("integrity_check of laptop \(index) after a killed sync could not run: \(error)")
        }
        try await checkNothingPendingLost(index, after: "a killed sync")
    }

    /// Every write of the laptop not yet acknowledged is still on the laptop (pending, shown on top of
    /// the hub's state) or already on the hub (state or conflict report).
    mutating func checkNothingPendingLost(_ index: Int, after what: String) async throws {
        let local = String(decoding: try await laptops[index].replica.export(), as: UTF8.self)
        var hubText: String?
        for write in writes where write.laptop == index && !write.acknowledged && !write.discarded && !write.superseded && !write.rejected {
            if local.contains(write.token) { continue }
            if hubText == nil {
                hubText = String(decoding: try await hub.service.exportJSON(user: "admin"), as: UTF8.self)
                for report in try await hub.service.conflicts(ConflictFilter(limit: 100_000)) {
                    hubText! += report.conflict.values.map { "\($0.value.map { "\($0)" } ?? "")" }.joined(separator: "|")
                }
            }
            if !hubText!.contains(write.token) {
                report.violations.append("pending write lost after \(what): \(write.token) by laptop \(index) to \(write.collection)/\(write.id).\(write.field)")
            }
        }
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

    mutating func sync(_ index: Int) async {
        let laptop = laptops[index]
        let mark = writes.count
        report.syncs += 1
        do {
            let result = try await laptop.replica.sync(transport: laptop.transport, options: options)
            report.trace.append("laptop \(index) synced: pushed \(result.pushed) pulled \(result.pulled) conflicts \(result.conflicts)")
            acknowledge(index, before: mark)
            if result.rejected > 0 { await noteRejected(index) }
        } catch {
            report.trace.append("laptop \(index) sync failed: \(error)")
            report.failedSyncs += 1
            if postgres != nil, let error = error as? SyncError, let status = error.httpStatus, status >= 500, status != 503 {
                // Two hubs, a killed hub, a restarted server: each is "retry later" (503), never a hub failure.
                report.violations.append("laptop \(index) sync failed with HTTP \(status): \(error)")
            }
            if let error = error as? SyncError, error.kind == .storageFull || error.code == "storage_full" {
                await checkFullStorage(index, error)
            }
        }
    }

    /// A sync stopped by a full disk: the laptop or the hub must be the one that is full, the laptop
    /// keeps its pending writes, and the hub still answers reads.
    mutating func checkFullStorage(_ index: Int, _ error: SyncError) async {
        let laptop = laptops[index]
        if error.kind == .storageFull, !laptop.full {
            report.violations.append("laptop \(index) sync failed with storage_full with no ceiling: \(error)")
        }
        if error.code == "storage_full" {
            if !hubFull { report.violations.append("the hub answered storage_full with no ceiling: \(error)") }
            if error.httpStatus != 507 { report.violations.append("storage_full answered with status \(error.httpStatus ?? 0), not 507") }
            // Reads keep working on a full hub.
            do {
                guard let identity = try await laptop.replica.identity() else { return }
                var request = Relais_V1_PullRequest()
                request.pageSize = 5
                request.schemaVersion = UInt32(laptop.replica.schema.version)
                let connection = try Connection(path: laptop.path, mode: .readOnly, create: false)
                request.counter = UInt64(try connection.scalar("SELECT value FROM _relais_state WHERE key = 'counter'")?.int64Value ?? 0)
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

    mutating func acknowledge(_ index: Int, before mark: Int) {
        for i in 0..<mark where writes[i].laptop == index && !writes[i].discarded {
            writes[i].acknowledged = true
        }
    }

    mutating func noteRejected(_ index: Int) async {
        guard let rejected = try? await laptops[index].replica.rejected() else { return }
        for write in rejected {
            for value in write.values.values {
                for (token, i) in tokenIndex where value.contains(token) { writes[i].rejected = true }
            }
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
        let laptop = try makeLaptop(user: original.user, territories: original.territories, clockAt: original.clock.now(), path: path)
        laptops.append(laptop)
        report.trace.append("laptop \(index) cloned as laptop \(laptops.count - 1)")
    }

    /// Rewrites a SQLite file packed: the disk-full fault then holds it at that size.
    static func compact(_ path: String) throws {
        let connection = try Connection(path: path)
        defer { try? connection.close() }
        try connection.execute("VACUUM")
    }

    /// A consistent copy of a live SQLite file (as a backup tool or a disk image would make).
    static func copyDatabase(from source: String, to target: String) throws {
        let connection = try Connection(path: source)
        defer { try? connection.close() }
        try connection.execute("VACUUM INTO '\(target)'")
    }

    // MARK: - Edits

    mutating func token() -> String {
        nextToken += 1
        return "tk\(nextToken)z"
    }

    mutating func track(_ laptop: Int, _ token: String, _ collection: String, _ id: String, _ field: String, _ kind: SimFieldKind) {
        report.trace.append("laptop \(laptop) writes \(token) to \(collection)/\(id).\(field)")
        tokenIndex[token] = writes.count
        writes.append(SimWrite(laptop: laptop, token: token, collection: collection, id: id, field: field, kind: kind))
    }

    /// Marks as superseded the tracked tokens the author sees in `value` (it replaces them).
    mutating func supersede(_ value: Value) {
        let text: String
        switch value {
        case .text(let s): text = s
        case .set(let items): text = items.joined(separator: " ")
        default: return
        }
        for (token, i) in tokenIndex where text.contains(token) { writes[i].superseded = true }
    }

    mutating func edit(_ index: Int) async throws {
        let laptop = laptops[index]
        report.edits += 1
        let customers = try await laptop.replica.list("customers")
        let roll = random.int(0...99)
        if customers.isEmpty || roll < 25 {
            try await addCustomer(index)
        } else if roll < 35 {
            let customer = random.pick(customers)
            let name = token()
            var values: [String: Value] = ["customer_id": .text(customer.id), "name": .text(name)]
            let email = token()
            if random.chance(0.5) { values["email"] = .text(email) }
            let id = try await laptop.replica.add("contacts", values)
            track(index, name, "contacts", id, "name", .replace)
            if values["email"] != nil { track(index, email, "contacts", id, "email", .replace) }
        } else if roll < 45 {
            let customer = random.pick(customers)
            let summary = token()
            var values: [String: Value] = [
                "customer_id": .text(customer.id), "kind": .text(random.pick(["visit", "call", "email", "complaint", "suggestion"])),
                "at": .date("2026-11-\(random.int(10...28))"), "summary": .text(summary),
            ]
            if random.chance(0.5) { values["satisfaction"] = .number(Double(random.int(1...5))) }
            if random.chance(0.5) { values["resolved"] = .bool(random.chance(0.5)) }
            if random.chance(0.5) { values["follow_up_on"] = .date("2026-12-\(random.int(10...28))") }
            let id = try await laptop.replica.add("interactions", values)
            track(index, summary, "interactions", id, "summary", .append)
        } else if roll < 85 {
            try await setFields(index)
        } else if roll < 92 {
            try await deleteRecord(index)
        } else {
            try await importCustomers(index)
        }
    }

    mutating func addCustomer(_ index: Int) async throws {
        let laptop = laptops[index]
        let name = token()
        var values: [String: Value] = ["name": .text(name), "territory": .text(random.pick(laptop.territories))]
        let phone = token()
        let tag = token()
        let note = token()
        if random.chance(0.5) { values["phone"] = .text(phone) }
        if random.chance(0.5) { values["tags"] = .set([tag]) }
        if random.chance(0.5) { values["notes"] = .text(note) }
        if laptop.full, random.chance(0.7) {
            // A long visit report pasted in: on a full disk, the edit that needs new pages.
            values["notes"] = .text(note + " " + String(repeating: "report ", count: random.int(300...1200)))
        }
        if random.chance(0.3) { values["status"] = .text(random.pick(["prospect", "active", "at_risk", "lapsed"])) }
        let id = try await laptop.replica.add("customers", values)
        track(index, name, "customers", id, "name", .replace)
        if values["phone"] != nil { track(index, phone, "customers", id, "phone", .replace) }
        if values["tags"] != nil { track(index, tag, "customers", id, "tags", .union) }
        if values["notes"] != nil { track(index, note, "customers", id, "notes", .append) }
    }

    mutating func importCustomers(_ index: Int) async throws {
        let laptop = laptops[index]
        var lines: [String] = []
        var tokens: [String] = []
        for _ in 0..<random.int(1...3) {
            let name = token()
            tokens.append(name)
            lines.append("{\"name\":\"\(name)\",\"territory\":\"\(random.pick(laptop.territories))\"}")
        }
        _ = try await laptop.replica.import("customers", text: lines.joined(separator: "\n"), format: .jsonl)
        let imported = try await laptop.replica.list("customers")
        for record in imported {
            if case .text(let name) = record["name"], tokens.contains(name) {
                track(index, name, "customers", record.id, "name", .replace)
            }
        }
    }

    mutating func setFields(_ index: Int) async throws {
        let laptop = laptops[index]
        let collection = random.pick(["customers", "customers", "contacts", "interactions"])
        let records = try await laptop.replica.list(collection)
        guard !records.isEmpty else { return try await addCustomer(index) }
        let record = random.pick(records)
        var values: [String: Value] = [:]
        var tracked: [(String, String, SimFieldKind)] = []
        var seen: [Value] = []
        let fields: [String]
        switch collection {
        case "customers": fields = ["name", "phone", "email", "tags", "notes", "status", "programme", "relationship_level", "city"]
        case "contacts": fields = ["name", "role", "phone", "email"]
        default: fields = ["summary", "outcome", "satisfaction", "follow_up_on", "resolved", "kind"]
        }
        for _ in 0..<random.int(1...3) {
            let field = random.pick(fields)
            let t = token()
            switch field {
            case "status": values[field] = .text(random.pick(["prospect", "active", "at_risk", "lapsed"]))
            case "programme": values[field] = .text(random.pick(["prospection", "development", "recovery", "loyalty"]))
            case "relationship_level": values[field] = .text(random.pick(["basic", "reactive", "responsible", "proactive", "partnership"]))
            case "satisfaction": values[field] = .number(Double(random.int(1...5)))
            case "follow_up_on": values[field] = .date("2027-01-\(random.int(10...28))")
            case "resolved": values[field] = .bool(random.chance(0.5))
            case "kind": values[field] = .text(random.pick(["visit", "call", "email", "complaint", "suggestion"]))
            case "tags":
                var items = record[field].setItems ?? []
                items.append(t)
                values[field] = .set(items)
                tracked.append((field, t, .union))
            case "notes", "summary", "outcome":
                // An append field: the salesperson adds to what is there.
                if case .text(let old) = record[field] {
                    values[field] = .text(old + "\n" + t)
                } else {
                    values[field] = .text(t)
                }
                tracked.append((field, t, .append))
            default:
                seen.append(record[field])
                values[field] = .text(t)
                tracked.append((field, t, .replace))
            }
        }
        // A set of a field that was set twice in this edit keeps the last value only.
        tracked = tracked.filter { entry in
            switch values[entry.0] {
            case .text(let s): s.contains(entry.1)
            case .set(let items): items.contains(entry.1)
            default: false
            }
        }
        try await laptop.replica.set(collection, id: record.id, values)
        for value in seen { supersede(value) }
        for (field, t, kind) in tracked { track(index, t, collection, record.id, field, kind) }
    }

    mutating func deleteRecord(_ index: Int) async throws {
        let laptop = laptops[index]
        // Contacts and interactions only: deleting a customer hides its children by design.
        let collection = random.pick(["contacts", "interactions"])
        let records = try await laptop.replica.list(collection)
        guard !records.isEmpty else { return }
        let record = random.pick(records)
        try await laptop.replica.delete(collection, id: record.id)
        for value in record.values.values { supersede(value) }
        report.trace.append("laptop \(index) deletes \(collection)/\(record.id)")
    }

    // MARK: - Quiet phase and invariants

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
                    let result = try await laptops[index].replica.sync(transport: laptops[index].transport, options: options)
                    acknowledge(index, before: mark)
                    if result.rejected > 0 { await noteRejected(index) }
                } catch {
                    report.violations.append("quiet phase round \(round): laptop \(index) (\(laptops[index].user)) failed to sync: \(error)")
                }
            }
        }
    }

    /// The records that differ between two canonical exports, for a failure message.
    static func difference(_ local: Data, _ hub: Data) -> String {
        func records(_ data: Data) -> [String: String] {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]] else { return [:] }
            var result: [String: String] = [:]
            for (collection, list) in object {
                for record in list {
                    let id = record["id"] as? String ?? "?"
                    let text = (try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "?"
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
            let pending = try await laptop.replica.pendingCount()
            if pending != 0 { report.violations.append("laptop \(index) still has \(pending) pending writes after the quiet phase") }
        }
        let everything = String(decoding: try await hub.service.exportJSON(user: "admin"), as: UTF8.self)
        let conflicts = try await hub.service.conflicts(ConflictFilter(limit: 100_000))
        report.conflicts = conflicts.count
        var conflictText = ""
        var seen: Set<String> = []
        for report in conflicts {
            let c = report.conflict
            conflictText += c.values.map { competitor in competitor.value.map { value in String(describing: value) } ?? "deleted" }
                .joined(separator: "|") + "\n"
            conflictText += "\(c.base.map { String(describing: $0) } ?? "")|\(c.chosen.map { String(describing: $0) } ?? "")\n"
            let key = "\(c.collection)/\(c.recordID)/\(c.field ?? "-")/" + c.values.map { "\($0.dot)" }.sorted().joined(separator: ",")
            if !seen.insert(key).inserted {
                self.report.violations.append("applied twice: two conflict reports for \(key)")
            }
        }
        // No lost acknowledged write. (An append token may legitimately appear twice: concurrent
        // appends each carry the whole text they extended, and the rule keeps both texts.)
        for write in writes where write.acknowledged && !write.discarded && !write.rejected {
            if write.superseded { continue }
            report.acknowledged += 1
            if !everything.contains(write.token) && !conflictText.contains(write.token) {
                report.violations.append(
                    "lost acknowledged write: \(write.token) by laptop \(write.laptop) to \(write.collection)/\(write.id).\(write.field) is neither in the final state nor in a conflict report")
            }
        }
        for write in writes where write.rejected { report.rejected += 1 }
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
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
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
}
