import Foundation
import RelaisClient
import RelaisHub
import RelaisProtocol
import Synchronization

/// The fault kinds of the simulation on PostgreSQL with two hubs (`relais-sim --postgres`,
/// docs/RELIABILITY.md). Schedule `n` of such a run uses `allCases[n % allCases.count]`. They are a
/// set of their own: the 13 ``SimFaultKind``s keep their schedule numbers.
public enum SimPostgresKind: String, CaseIterable, Sendable {
    /// Two in-process hubs (two ``HubService``s over two ``PostgresHubStore``s on one database, each
    /// with its own HTTP server); every request goes to one of them, chosen by the seeded random
    /// source; network faults at a low rate.
    case twoHubs
    /// Two `relais-hub serve --postgres URL` children; one is killed with SIGKILL at seeded moments
    /// while requests keep going to both, and restarted at the next step.
    case twoHubsKill
    /// Two in-process hubs; at seeded moments, while a laptop syncs, the PostgreSQL server is
    /// restarted with `pg_ctl restart -m immediate` (a crash and its recovery).
    case postgresRestart
}

/// The PostgreSQL server the simulation restarts: the cluster `scripts/start-postgres.sh` made.
public enum SimPostgresServer {
    /// The variable naming the cluster's data folder (`scripts/start-postgres.sh` exports it).
    public static let dataVariable = "RELAIS_TEST_POSTGRES_DATA"

    /// The cluster's data folder, if one is configured.
    public static var dataFolder: String? {
        let value = ProcessInfo.processInfo.environment[dataVariable] ?? ""
        return value.isEmpty ? nil : value
    }

    /// The URL of database `name` on the server of `RELAIS_TEST_POSTGRES_URL`.
    static func url(database name: String) -> String? {
        guard let server = PostgresTestDatabase.serverURL, var components = URLComponents(string: server) else {
            return nil
        }
        components.path = "/" + name
        return components.string
    }

    /// `pg_ctl restart -m immediate -w` on the cluster (as the `postgres` user when run as root): every
    /// backend is killed at once, as in a crash, and the server recovers from its WAL on the same port.
    /// Returns once it accepts connections again.
    static func restartImmediately(afterMillis delay: Int) async throws {
        guard let data = dataFolder else {
            throw SimSetupError(
                description:
                    "\(dataVariable) is unset: start the server with `eval \"$(bash scripts/start-postgres.sh)\"`")
        }
        let bin = ProcessInfo.processInfo.environment["PG_BIN"] ?? "/usr/lib/postgresql/15/bin"
        let log = (data as NSString).deletingLastPathComponent + "/log"
        let pgctl = ["\(bin)/pg_ctl", "-D", data, "-l", log, "restart", "-m", "immediate", "-w", "-t", "60"]
        let command = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + pgctl : pgctl
        // Not Foundation's Process: its waitUntilExit missed this child's exit (left a zombie) when it
        // ran beside the hubs' servers, and the schedule hung. Nothing else of this process may reach
        // the child either (SpawnedProcess closes every descriptor above 2): `pg_ctl restart` starts the
        // new server, which would keep every socket it inherited open, the hubs' HTTP connections among
        // them, and a client would wait forever for an answer whose connection the hub closed.
        let status: Int32 = try await ChildProcess.offPool {
            if delay > 0 { usleep(useconds_t(delay * 1000)) }
            guard let child = try? SpawnedProcess(command[0], Array(command.dropFirst())) else { return -1 }
            let ended = child.wait()
            return ended.signalled ? -1 : ended.status
        }
        if status != 0 {
            throw SimSetupError(description: "pg_ctl restart -m immediate failed with status \(status) (see \(log))")
        }
    }
}

/// Sends each request to one of several hubs, chosen by a seeded random source shared by every
/// laptop (the simulation is sequential, so the choices replay).
final class SimAlternatingTransport: ForwardingTransport {
    private let hubs: [any SyncTransport]
    private let chooser: SimHubChooser

    init(hubs: [any SyncTransport], chooser: SimHubChooser) {
        self.hubs = hubs
        self.chooser = chooser
    }

    /// A hub chosen afresh for each request.
    var inner: any SyncTransport { hubs[chooser.next(hubs.count)] }
}

/// The seeded choice of a hub for each request.
final class SimHubChooser: Sendable {
    private let state: Mutex<(random: SeededRandom, counts: [Int])>

    init(seed: UInt64) { state = Mutex((SeededRandom(seed: seed), [])) }

    /// The index of the hub for the next request, among `count`.
    func next(_ count: Int) -> Int {
        state.withLock { s in
            let index = s.random.int(0...(count - 1))
            while s.counts.count < count { s.counts.append(0) }
            s.counts[index] += 1
            return index
        }
    }

    /// Requests sent to each hub so far.
    var counts: [Int] { state.withLock { $0.counts } }
}

extension SimSchedule {
    /// Runs schedule `schedule` of the PostgreSQL run seeded with `seed` (`relais-sim --postgres`):
    /// kind ``SimPostgresKind/allCases``[`schedule % 3`], on a fresh database of the server
    /// `RELAIS_TEST_POSTGRES_URL` names, with two hubs on it.
    public static func runPostgres(seed: UInt64, schedule: Int) async throws -> SimReport {
        let kind = SimPostgresKind.allCases[schedule % SimPostgresKind.allCases.count]
        let hubClock = TestClock()
        // No transaction of the simulation is held on purpose: an attempt that takes 20 s is a hub
        // that stopped answering, and is answered 503 (the laptop retries later).
        let storeConfiguration = {
            var configuration = PostgresTestDatabase.storeConfiguration
            configuration.attemptTimeout = .seconds(20)
            return configuration
        }()
        return try await HubFixture.with(
            store: .postgres, configuration: Simulation.hubConfiguration, clock: hubClock,
            postgresConfiguration: storeConfiguration
        ) {
            hub in
            guard let store = hub.store as? PostgresHubStore,
                let databaseURL = SimPostgresServer.url(database: store.database)
            else { throw SimSetupError(description: "the fixture's store is not on the PostgreSQL test server") }
            return try await hub.live { url in
                @Sendable func simulate(second: String?) async throws -> SimReport {
                    var sim = Simulation(
                        seed: seed, schedule: schedule, fault: .none, hub: hub, hubClock: hubClock, url: url, proxy: nil
                    )
                    sim.postgres = kind
                    sim.databaseURL = databaseURL
                    sim.secondURL = second
                    return try await sim.run()
                }
                if kind == .twoHubsKill { return try await simulate(second: nil) }
                // The second hub: its own store (its own connection pool) on the same database, its
                // own service and HTTP server, the same test clock.
                return try await PostgresHubStore.withStore(
                    url: databaseURL, create: false, configuration: storeConfiguration
                ) { second in
                    let service = HubService(
                        store: second, configuration: Simulation.hubConfiguration, clock: hubClock,
                        logger: HubLogging.standardError(label: "relais.hub.test.second"))
                    return try await HubServer.withRunningServer(
                        service: service, logger: HubLogging.standardError(label: "relais.hub.test.second")
                    ) { secondURL in
                        try await simulate(second: secondURL)
                    }
                }
            }
        }
    }
}

/// The killers of the two hub children, so that each can see whether the other has a kill on its way.
final class SimKillerRegistry: Sendable {
    private let killers = Mutex<[SimHubKiller]>([])

    func add(_ killer: SimHubKiller) { killers.withLock { $0.append(killer) } }

    /// Whether a killer other than number `index` has a kill scheduled that has not landed.
    func pending(except index: Int) -> Bool {
        killers.withLock { list in list.enumerated().contains { $0.offset != index && $0.element.pending } }
    }
}
