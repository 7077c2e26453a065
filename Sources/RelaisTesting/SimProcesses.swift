import Foundation
import RelaisClient
import RelaisProtocol
import RelaisSQLite
import Synchronization

/// A simulation failure outside the product: a tool that would not start.
struct SimSetupError: Error, CustomStringConvertible {
    var description: String
}

/// The hub as a child process (`relais-hub serve` on a schedule's data folder, or on a PostgreSQL
/// database) that the simulation kills with SIGKILL and restarts on the same store and port.
///
/// `@unchecked Sendable`: the current process and address are behind `lock`.
final class SimHubProcess: @unchecked Sendable {
    private let executable: URL
    /// Where the store is: `--data DIR` or `--postgres URL`.
    private let storeArguments: [String]
    /// The SQLite store file, checked after each restart; `nil` on PostgreSQL.
    private let sqliteFile: String?
    private let logPath: String
    private let lock = NSLock()
    private var process: SpawnedProcess?
    private var port = 0
    private var current = ""
    /// The process a SIGKILL was sent to (it may run a moment longer).
    private var killed: ObjectIdentifier?

    /// A hub on the SQLite store in `dataFolder`; its log goes beside the folder.
    convenience init(dataFolder: String) throws {
        try self.init(
            storeArguments: ["--data", dataFolder], sqliteFile: dataFolder + "/hub.sqlite",
            logPath: dataFolder + "/../hub-child.log")
    }

    /// A hub on the store `storeArguments` name (`["--postgres", URL]`), logging to `logPath`.
    init(storeArguments: [String], sqliteFile: String? = nil, logPath: String) throws {
        executable = BuiltExecutable.url("relais-hub")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw SimSetupError(
                description:
                    "no relais-hub beside this program (\(executable.path)): build it first (`swift build --product relais-hub`)"
            )
        }
        self.storeArguments = storeArguments
        self.sqliteFile = sqliteFile
        self.logPath = logPath
    }

    /// The hub's address (`http://127.0.0.1:PORT`), the same across restarts when the port is free.
    var url: String { lock.withLock { current } }

    /// Whether the last started process is still running (and was sent no kill).
    var isRunning: Bool {
        lock.withLock {
            guard let process else { return false }
            return process.isRunning && killed != ObjectIdentifier(process)
        }
    }

    /// Notes that `process` was sent a SIGKILL.
    func markKilled(_ process: SpawnedProcess) { lock.withLock { killed = ObjectIdentifier(process) } }

    /// Starts `relais-hub serve` (with a store ceiling of `maxStoreMB` when given) and waits until it
    /// listens. Returns its address.
    @discardableResult
    func start(maxStoreMB: Double? = nil) async throws -> String {
        let wanted = lock.withLock { port }
        do {
            return try await launch(port: wanted, maxStoreMB: maxStoreMB)
        } catch  where wanted != 0 {
            // The old port was taken meanwhile: any free port (laptops follow ``url``).
            return try await launch(port: 0, maxStoreMB: maxStoreMB)
        }
    }

    private func launch(port wanted: Int, maxStoreMB: Double?) async throws -> String {
        // Tokens never expire here: the child runs on the system clock, while the in-process hub that
        // enrolled the laptops dated their tokens by the schedule's clock.
        var arguments = ["serve"] + storeArguments + ["--port", "\(wanted)", "--device-token-days", "0"]
        if let maxStoreMB { arguments += ["--max-store-mb", String(format: "%.6f", maxStoreMB)] }
        let process = try SpawnedProcess(executable.path, arguments, stdout: .pipe, stderr: .file(logPath))
        let out = process.standardOutput!
        let line: String = try await ChildProcess.offPool {
            var text = ""
            while !text.contains("\n") {
                let chunk = out.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        guard let range = line.range(of: "listening on ") else {
            let ended = process.wait()
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)).map { String($0.suffix(600)) } ?? ""
            throw SimSetupError(
                description: "relais-hub serve did not start (\(ended)): \(log)")
        }
        let url = line[range.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
        let port = Int(url.split(separator: ":").last ?? "") ?? 0
        lock.withLock {
            self.process = process
            self.killed = nil
            self.port = port
            self.current = url
        }
        return url
    }

    /// Sends `signal` to the current process (SIGKILL: a crash; SIGTERM: an orderly stop) and waits
    /// until it is gone.
    func stop(signal: Int32 = SIGKILL) async throws {
        guard let process = lock.withLock({ self.process }) else { return }
        markKilled(process)
        try await Self.stop(process, signal: signal)
    }

    /// The current process, for a kill scheduled to land at a later moment.
    var running: SpawnedProcess? { lock.withLock { process } }

    /// Sends `signal` to `process` and waits for it off the cooperative pool.
    static func stop(_ process: SpawnedProcess, signal: Int32) async throws {
        process.signal(signal)
        try await process.waitOffPool()
    }

    /// `PRAGMA integrity_check` of the store file, read-only, beside the running hub ("ok" on
    /// PostgreSQL, which has no such check: the server recovers its own files).
    func integrityCheck() -> String {
        guard let sqliteFile else { return "ok" }
        do {
            let connection = try Connection(path: sqliteFile, mode: .readOnly, create: false)
            defer { try? connection.close() }
            return try connection.integrityCheck()
        } catch {
            return "could not run: \(error)"
        }
    }
}

/// A ``SyncTransport`` to the hub's current address, which changes when a restarted hub child gets a
/// new port. `onRequest` runs before each request is sent (the hub-kill fault schedules its SIGKILLs
/// there).
final class SimRoutedTransport: ForwardingTransport {
    private let hub: SimHubProcess
    private let base: Mutex<(url: String, transport: HTTPSyncTransport)>
    private let onRequest: @Sendable () -> Void

    init(hub: SimHubProcess, onRequest: @escaping @Sendable () -> Void) {
        self.hub = hub
        base = Mutex((hub.url, HTTPSyncTransport(hub: hub.url)))
        self.onRequest = onRequest
    }

    private func transport() -> HTTPSyncTransport {
        let url = hub.url
        return base.withLock { base in
            if base.url != url { base = (url, HTTPSyncTransport(hub: url)) }
            return base.transport
        }
    }

    func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse {
        try await transport().enroll(request)
    }

    /// The current hub's transport, a kill maybe scheduled first (enrolment schedules none).
    var inner: any SyncTransport {
        let transport = transport()
        onRequest()
        return transport
    }
}

/// Schedules the hub child's SIGKILLs at seeded moments: with probability `rate` per request, a kill
/// `0–delayMillis` ms after the request leaves (while the hub reads it, applies it or commits it).
final class SimHubKiller: Sendable {
    private struct State {
        var random: SeededRandom
        var rate: Double
        var delayMillis: Int
        var scheduled = 0
        var outstanding = 0
    }

    private let hub: SimHubProcess
    private let state: Mutex<State>
    /// Whether a kill may be scheduled now (two hubs: only while the other one serves).
    private let allowed: @Sendable () -> Bool

    init(
        hub: SimHubProcess, seed: UInt64, rate: Double, delayMillis: Int,
        allowed: @escaping @Sendable () -> Bool = { true }
    ) {
        self.hub = hub
        self.allowed = allowed
        state = Mutex(State(random: SeededRandom(seed: seed), rate: rate, delayMillis: delayMillis))
    }

    /// Kills scheduled so far.
    var scheduled: Int { state.withLock { $0.scheduled } }

    /// Whether a scheduled kill has not landed yet.
    var pending: Bool { state.withLock { $0.outstanding > 0 } }

    /// Stops scheduling kills (the quiet phase).
    func disable() { state.withLock { $0.rate = 0 } }

    /// Maybe schedules a kill of the running hub.
    func requestLeaving() {
        guard let process = hub.running, process.isRunning, allowed() else { return }
        let delay: Int? = state.withLock { s in
            guard s.rate > 0, s.random.chance(s.rate) else { return nil }
            s.scheduled += 1
            s.outstanding += 1
            return s.random.int(0...s.delayMillis)
        }
        guard let delay else { return }
        Thread.detachNewThread { [self] in
            if delay > 0 { usleep(useconds_t(delay * 1000)) }
            hub.markKilled(process)
            process.signal(SIGKILL)
            state.withLock { $0.outstanding -= 1 }
        }
    }

    /// Waits until every scheduled kill has landed.
    func settle() async {
        while state.withLock({ $0.outstanding }) > 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Every push a laptop's transport actually delivered (under the injected faults, so duplicates and
/// stale replays too), in delivery order, and whether an answer came back: the exactly-one-report
/// check orders the writes with it.
final class SimPushLog: Sendable {
    struct Delivery {
        var writes: [Relais_V1_RecordWrite]
        var answered = false
    }

    private let deliveries = Mutex<[Delivery]>([])

    /// Records a delivery; returns its index.
    func begin(_ request: Relais_V1_PushRequest) -> Int {
        deliveries.withLock { d in
            d.append(Delivery(writes: request.writes))
            return d.count - 1
        }
    }

    func answered(_ index: Int) { deliveries.withLock { $0[index].answered = true } }

    var all: [Delivery] { deliveries.withLock { $0 } }
}

/// Records each push it forwards in a ``SimPushLog``.
final class SimRecordingTransport: ForwardingTransport {
    private let base: any SyncTransport
    var inner: any SyncTransport { base }
    private let log: SimPushLog

    init(base: any SyncTransport, log: SimPushLog) {
        self.base = base
        self.log = log
    }

    func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        let index = log.begin(request)
        let response = try await base.push(request, token: token)
        log.answered(index)
        return response
    }
}

/// A laptop's sync run as a child process (`relais sync --db FILE`), killed with SIGKILL after a
/// seeded delay unless it finished first.
enum SimLaptopProcess {
    struct Outcome {
        /// The child was killed (it had not finished).
        var killed: Bool
        /// Its exit status when it finished.
        var status: Int32
    }

    static func sync(path: String, batchSize: Int, killAfterMillis: Int) async throws -> Outcome {
        let executable = BuiltExecutable.url("relais")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw SimSetupError(
                description:
                    "no relais beside this program (\(executable.path)): build it first (`swift build --product relais`)"
            )
        }
        return try await ChildProcess.offPool {
            let process = try SpawnedProcess(
                executable.path, ["sync", "--db", path, "--batch-size", "\(batchSize)"])
            let deadline = Date().addingTimeInterval(Double(killAfterMillis) / 1000)
            while process.isRunning, Date() < deadline { usleep(1000) }
            var killed = false
            if process.isRunning {
                process.signal(SIGKILL)
                killed = true
            }
            let ended = process.wait()
            if ended.signalled { killed = true }
            return Outcome(killed: killed, status: ended.status)
        }
    }
}
