import Foundation
import Logging
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Synchronization

/// The customer rows every benchmark writes: the same values for the hub path and the raw baselines.
enum Customers {
    static let fields = [
        "name", "relationship_level", "status", "territory", "owner", "phone", "email", "address", "city", "notes",
    ]

    static func values(_ index: Int, territory: String) -> [String: Value] {
        [
            "name": .text("Customer \(index) SARL"),
            "relationship_level": .text(["basic", "reactive", "responsible", "proactive", "partnership"][index % 5]),
            "status": .text(["prospect", "active", "at_risk", "lapsed"][index % 4]),
            "territory": .text(territory),
            "owner": .text("claire"),
            "phone": .text(String(format: "+33 1 %02d %02d %02d %02d", index % 97, index % 89, index % 83, index % 79)),
            "email": .text("contact\(index)@customer\(index % 1000).example.fr"),
            "address": .text("\(index % 300 + 1) rue de la République"),
            "city": .text(["Lyon", "Paris", "Lille", "Nantes", "Bordeaux"][index % 5]),
            "notes": .text("First met at the trade fair; prefers calls in the morning."),
        ]
    }

    /// The id of customer `index` on the hub path: a UUID whose leading bits are a multiplicative hash
    /// of the index, so that ids arrive in random order as real UUIDv4 do (sequential ids would make
    /// every index insert an append and flatter both the hub and the replica).
    static func id(_ index: Int) -> String {
        String(format: "%08x-0000-4000-a100-%012x", index &* 2_654_435_761 % 0xFFFF_FFFF, index)
    }

    /// JSON Lines for `Replica.import`, rows `range`.
    static func jsonl(_ range: Range<Int>, territory: String, ids: [String]? = nil) -> String {
        var text = ""
        text.reserveCapacity(range.count * 360)
        for index in range {
            var object: [String: Any] = values(index, territory: territory).mapValues {
                FieldType.jsonObject($0) as Any
            }
            if let ids { object["id"] = ids[index - range.lowerBound] }
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            text += String(decoding: data, as: UTF8.self)
            text += "\n"
        }
        return text
    }
}

/// A quiet logger for replicas.
let quietLogger: Logger = {
    var logger = Logger(label: "relais.bench")
    logger.logLevel = .error
    return logger
}()

/// Sync options for the benchmarks: the defaults with the largest push batch the hub accepts.
var benchSyncOptions: SyncOptions {
    var options = SyncOptions()
    options.batchSize = 1000
    return options
}

/// A transport around the real HTTP one that adds up the time spent in pushes and, when asked, the
/// bytes each call puts on the wire (the codec's deterministic deflate encoding, as sent).
///
/// The bytes are counted when asked for (``counted()``), from the messages kept: encoding them again
/// inside a timed sync would charge the benchmark's own counting to Relais.
final class MeasuringTransport: ForwardingTransport {
    let http: HTTPSyncTransport
    var inner: any SyncTransport { http }
    let countBytes: Bool
    private let state = Mutex(Kept())

    /// What the calls left: times, and the messages whose bytes are counted.
    private struct Kept {
        var pushSeconds = 0.0
        var pullSeconds = 0.0
        var pushes: [Relais_V1_PushRequest] = []
        var pulls: [Relais_V1_PullResponse] = []
    }

    struct State {
        var pushSeconds = 0.0
        var pullSeconds = 0.0
        var pushBytes = 0
        var pullBytes = 0
        var lastPushBody: [UInt8] = []
    }

    init(hub: String, countBytes: Bool = false) {
        http = HTTPSyncTransport(hub: hub)
        self.countBytes = countBytes
    }

    /// The times and, with `countBytes`, the bytes of every call since the last reset.
    func counted() throws -> State {
        let kept = state.withLock { $0 }
        var counted = State(pushSeconds: kept.pushSeconds, pullSeconds: kept.pullSeconds)
        for request in kept.pushes {
            counted.lastPushBody = try http.codec.encode(request, format: .protobuf, encoding: .deflate)
            counted.pushBytes += counted.lastPushBody.count
        }
        for response in kept.pulls {
            counted.pullBytes += try http.codec.encode(response, format: .protobuf, encoding: .deflate).count
        }
        return counted
    }

    func resetCounters() { state.withLock { $0 = Kept() } }

    func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        let (response, seconds) = try await timed { try await inner.push(request, token: token) }
        state.withLock {
            $0.pushSeconds += seconds
            if countBytes { $0.pushes.append(request) }
        }
        return response
    }

    func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
        let (response, seconds) = try await timed { try await inner.pull(request, token: token) }
        state.withLock {
            $0.pullSeconds += seconds
            if countBytes { $0.pulls.append(response) }
        }
        return response
    }
}

/// A live hub on loopback for the benchmarks.
struct BenchHub: Sendable {
    let service: HubService
    let url: String
    let folder: String

    /// Copies the hub's write-ahead log into its file (SQLite store; nothing for another): the work
    /// no push waits for, counted or let finish by the benchmarks that measure next.
    func copyLogIntoFile() async {
        await (service.store as? SQLiteHubStore)?.copyLogIntoFile()
    }

    /// Adds `user` as a rep of `territories` unless the hub already has them.
    func ensureUser(_ user: String, territories: [String]) async throws {
        if (try? await service.users().contains { $0.name == user }) != true {
            _ = try await service.addUser(user, role: .rep, territories: territories)
        }
    }

    /// Adds a rep with `territories` and enrolls a fresh replica for them.
    func enrolledReplica(user: String, territories: [String], file: String, in directory: String? = nil) async throws
        -> Replica
    {
        try await ensureUser(user, territories: territories)
        let code = try await service.issueEnrollmentCode(for: user)
        return try await Replica.enroll(
            hub: url, code: code, path: (directory ?? folder) + "/" + file, deviceName: file, logger: quietLogger)
    }

    /// A fresh enrollment code for `user`.
    func code(for user: String) async throws -> String {
        try await service.issueEnrollmentCode(for: user)
    }
}

/// A device enrolled straight with the hub service (no replica file): what the benchmarks need to
/// build push requests themselves.
struct BenchDevice: Sendable {
    let replica: UInt32
    let epoch: UInt32
    let token: String

    static func enroll(_ service: HubService, user: String, territories: [String], name: String) async throws
        -> BenchDevice
    {
        if (try? await service.users().contains { $0.name == user }) != true {
            _ = try await service.addUser(user, role: .rep, territories: territories)
        }
        var request = Relais_V1_EnrollRequest()
        request.code = try await service.issueEnrollmentCode(for: user)
        request.deviceName = name
        request.schemaVersion = UInt32(Schema.crm.version)
        let response = try await service.enroll(request)
        return BenchDevice(replica: response.replica, epoch: response.epoch, token: response.token)
    }

    /// One push batch of new customers `range` (ids from `Customers.id`), stamped with this device's
    /// dots `firstCounter...` and strictly increasing HLCs from `millis`: what a replica sends after
    /// importing the same rows offline.
    func pushRequest(_ range: Range<Int>, territory: String, firstCounter: UInt64, millis: UInt64)
        -> Relais_V1_PushRequest
    {
        var request = Relais_V1_PushRequest()
        request.replica = replica
        request.epoch = epoch
        request.schemaVersion = UInt32(Schema.crm.version)
        request.writes.reserveCapacity(range.count)
        let base = HLC(physicalMillis: millis).rawValue
        for (offset, index) in range.enumerated() {
            let counter = firstCounter + UInt64(offset)
            var write = Relais_V1_RecordWrite()
            write.collection = "customers"
            write.recordID = Customers.id(index)
            write.dot = Relais_V1_Dot(Dot(replica: ReplicaID(replica), counter: counter))
            write.hlc = base + counter
            let values = Customers.values(index, territory: territory)
            write.fields = Customers.fields.map { Relais_V1_FieldValue(field: $0, value: values[$0]!) }
            request.writes.append(write)
        }
        return request
    }
}

/// Puts customers `range` of `territory` on the hub through its own push path, in batches of
/// `ProtocolLimits.maxWritesPerBatch` from one seeding device, in process (no replica, no HTTP).
func seedHub(_ service: HubService, territory: String, range: Range<Int>) async throws {
    let device = try await BenchDevice.enroll(
        service, user: "seed-\(territory)", territories: [territory], name: "seed-\(territory)")
    let principal = try await service.authenticate(token: device.token)
    let batch = ProtocolLimits.default.maxWritesPerBatch
    let millis = UInt64(Date().timeIntervalSince1970 * 1000)
    var offset = range.lowerBound
    while offset < range.upperBound {
        let end = min(offset + batch, range.upperBound)
        let request = device.pushRequest(
            offset..<end, territory: territory, firstCounter: UInt64(offset - range.lowerBound + 1), millis: millis)
        let response = try await service.push(request, from: principal)
        guard response.results.count == end - offset, response.results.allSatisfy({ $0.status == .applied }) else {
            throw BenchError("seeding: the hub did not apply every write of batch \(offset)..<\(end)")
        }
        offset = end
    }
}

/// Runs `body` with a fresh hub served on loopback (with the echo route) and a scratch folder.
///
/// With `filled`, the hub starts with those customers on it: a copy of a hub file filled once by
/// ``seedHub(_:territory:range:)`` and kept in the cache folder (`RELAIS_BENCH_CACHE`, by default
/// `/tmp/relais-bench-cache`) under a name that says what it holds, so later runs of the same size
/// skip the filling. Returns the seconds spent filling (0 when the copy came from the cache).
func withBenchHub<T: Sendable>(
    filled: [(territory: String, range: Range<Int>)] = [],
    seeded: (key: String, seed: @Sendable (HubService) async throws -> Void)? = nil,
    log: (String) -> Void = { _ in },
    _ body: @escaping @Sendable (BenchHub, Double) async throws -> T
) async throws -> T {
    let folder = try TemporaryFolder(prefix: "relais-bench")
    defer { folder.remove() }
    let data = folder.path + "/data"
    var fillSeconds = 0.0
    if !filled.isEmpty || seeded != nil {
        let cacheRoot = ProcessInfo.processInfo.environment["RELAIS_BENCH_CACHE"] ?? "/tmp/relais-bench-cache"
        let key =
            "hub-v4-schema\(Schema.crm.version)-"
            + filled.map { "\($0.territory)\($0.range.lowerBound)-\($0.range.upperBound)" }.joined(separator: "_")
            + (seeded.map { "-" + $0.key } ?? "")
        let cached = cacheRoot + "/" + key + ".sqlite"
        if !FileManager.default.fileExists(atPath: cached) {
            let what =
                filled.isEmpty
                ? key : filled.map { "\($0.range.count) \($0.territory)" }.joined(separator: " + ") + " customers"
            log("filling a hub with \(what) (kept in \(cacheRoot))")
            let start = ContinuousClock.now
            let fillFolder = folder.path + "/fill"
            let store = try SQLiteHubStore(folder: fillFolder, create: true)
            let service = HubService(store: store, logger: HubLogging.standardError(label: "relais.bench.hub"))
            do {
                _ = try await service.initialize()
                for part in filled { try await seedHub(service, territory: part.territory, range: part.range) }
                try await seeded?.seed(service)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            fillSeconds = (ContinuousClock.now - start).seconds
            try FileManager.default.createDirectory(atPath: cacheRoot, withIntermediateDirectories: true)
            // The WAL is copied with the file: the last connection to close may be a read-only one,
            // which does not checkpoint. The store opened on the copy replays it.
            let source = fillFolder + "/" + SQLiteHubStore.fileName
            try? FileManager.default.removeItem(atPath: cached + ".partial")
            try? FileManager.default.removeItem(atPath: cached + "-wal")
            if FileManager.default.fileExists(atPath: source + "-wal") {
                try FileManager.default.copyItem(atPath: source + "-wal", toPath: cached + "-wal")
            }
            try FileManager.default.copyItem(atPath: source, toPath: cached + ".partial")
            try FileManager.default.moveItem(atPath: cached + ".partial", toPath: cached)
            try FileManager.default.removeItem(atPath: fillFolder)
            log(String(format: "filled in %.1f s", fillSeconds))
        }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: cached, toPath: data + "/" + SQLiteHubStore.fileName)
        if FileManager.default.fileExists(atPath: cached + "-wal") {
            try FileManager.default.copyItem(
                atPath: cached + "-wal", toPath: data + "/" + SQLiteHubStore.fileName + "-wal")
        }
    }
    let store = try SQLiteHubStore(folder: data, create: filled.isEmpty && seeded == nil)
    var configuration = HubService.Configuration()
    configuration.snapshotFolder = data + "/snapshots"
    let service = HubService(
        store: store, configuration: configuration, logger: HubLogging.standardError(label: "relais.bench.hub"))
    do {
        if filled.isEmpty, seeded == nil { _ = try await service.initialize() }
        let replicas = folder.path + "/replicas"
        try FileManager.default.createDirectory(atPath: replicas, withIntermediateDirectories: true)
        let seconds = fillSeconds
        let result = try await BenchServer.withRunning(service: service) { url in
            try await body(BenchHub(service: service, url: url, folder: replicas), seconds)
        }
        await store.close()
        return result
    } catch {
        await store.close()
        throw error
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Peak resident set (VmHWM) of this process, in kB.
func peakRSSKilobytes() -> Int { statusKilobytes("VmHWM") }

/// Resident set (VmRSS) of this process, in kB.
func residentKilobytes() -> Int { statusKilobytes("VmRSS") }

/// A line `FIELD: N kB` of /proc/self/status, in kB; -1 when it cannot be read.
private func statusKilobytes(_ field: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
}

/// `relais-bench --child-bootstrap HUB CODE PATH`: enrolls a fresh replica, bootstraps it, and prints
/// `records <n> vmhwm_kb <k>` (the memory benchmark's child process).
enum ChildBootstrap {
    static func run(_ arguments: [String]) async throws {
        guard arguments.count == 3 else { throw BenchError("--child-bootstrap HUB CODE PATH") }
        let replica = try await Replica.enroll(
            hub: arguments[0], code: arguments[1], path: arguments[2], logger: quietLogger)
        let result = try await replica.sync(options: benchSyncOptions)
        print("records \(result.pulled) vmhwm_kb \(peakRSSKilobytes())")
    }
}
