import Foundation
import RelaisClient
import RelaisHub
import RelaisProtocol

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

    /// The simulated hubs' configuration: device tokens of 40 seconds of the hub's clock (a second a
    /// step), so that laptops rotate their tokens during a schedule (and meet lost rotation answers,
    /// clones and restored files holding replaced tokens), and one that does not sync for 40 steps
    /// is told its token expired, and rejoins. Pull pages and repair answers end at 4 KiB of records
    /// (about ten customers), so that pages end by their bytes as well as by their count (`page_size`
    /// 1 to 40), and repairs take several answers.
    public static var hubConfiguration: HubService.Configuration {
        var configuration = HubService.Configuration()
        configuration.deviceTokenLifetimeMillis = 40 * 1000
        configuration.limits.maxPageBytes = 4 << 10
        return configuration
    }
    static let year2000: UInt64 = 946_684_800_000
    static let year2040: UInt64 = 2_208_988_800_000

    init(
        seed: UInt64, schedule: Int, fault: SimFaultKind, hub: HubFixture, hubClock: TestClock, url: String,
        proxy: SimTCPProxy?
    ) {
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

    var usesHubProcess: Bool { fault == .hubKill || fault == .diskFull || fault == .deletes }

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
            base = SimAlternatingTransport(
                hubs: [HTTPSyncTransport(hub: url), HTTPSyncTransport(hub: secondURL)], chooser: chooser)
        } else if let hubProcess {
            let killer = self.killer
            base = SimRoutedTransport(hub: hubProcess, onRequest: { killer?.requestLeaving() })
        } else {
            base = HTTPSyncTransport(hub: proxy?.url ?? url)
        }
        return SimRecordingTransport(base: base, log: pushLog)
    }

    func configuration(_ laptop: (clock: TestClock, ids: ClientIDSequence), full: Bool = false) -> Replica.Configuration
    {
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
        if let page = ProcessInfo.processInfo.environment["RELAIS_SIM_PAGE"].flatMap({ UInt32($0) }) {
            options.pageSize = page
        }
        if let batch = ProcessInfo.processInfo.environment["RELAIS_SIM_BATCH"].flatMap({ Int($0) }) {
            options.batchSize = batch
        }
        // RELAIS_SIM_VERIFY=off: no verification, to see what a repair hid.
        if ProcessInfo.processInfo.environment["RELAIS_SIM_VERIFY"] == "off" { options.verification = .off }
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
            if fault == .hubKill || fault == .deletes {
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
        report.rotatedTokens = (try? await hub.service.devices().filter { $0.previousTokenHash != nil }.count) ?? 0
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
        return SimLaptop(
            user: user, territories: territories, clock: clock, ids: ids, transport: transport, replica: replica,
            path: path)
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
        laptops.append(
            SimLaptop(
                user: user, territories: territories, clock: clock, ids: ids, transport: transport, replica: replica,
                path: path))
    }
}
