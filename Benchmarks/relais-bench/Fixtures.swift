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
    static let fields = ["name", "relationship_level", "status", "territory", "owner", "phone", "email", "address", "city", "notes"]

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

    /// JSON Lines for `Replica.import`, rows `range`.
    static func jsonl(_ range: Range<Int>, territory: String, ids: [String]? = nil) -> String {
        var text = ""
        text.reserveCapacity(range.count * 360)
        for index in range {
            var object: [String: Any] = values(index, territory: territory).mapValues { FieldType.jsonObject($0) as Any }
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
final class MeasuringTransport: SyncTransport {
    let inner: HTTPSyncTransport
    let countBytes: Bool
    private let state = Mutex(State())
    struct State {
        var pushSeconds = 0.0
        var pushBytes = 0
        var pullBytes = 0
        var lastPushBody: [UInt8] = []
    }

    init(hub: String, countBytes: Bool = false) {
        inner = HTTPSyncTransport(hub: hub)
        self.countBytes = countBytes
    }

    var snapshot: State { state.withLock { $0 } }
    func resetCounters() { state.withLock { $0 = State() } }

    func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse {
        try await inner.enroll(request)
    }

    func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        var body: [UInt8] = []
        if countBytes { body = try inner.codec.encode(request, format: .protobuf, encoding: .deflate) }
        let (response, seconds) = try await timed { try await inner.push(request, token: token) }
        state.withLock {
            $0.pushSeconds += seconds
            $0.pushBytes += body.count
            if countBytes { $0.lastPushBody = body }
        }
        return response
    }

    func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
        let response = try await inner.pull(request, token: token)
        if countBytes {
            let size = try inner.codec.encode(response, format: .protobuf, encoding: .deflate).count
            state.withLock { $0.pullBytes += size }
        }
        return response
    }

    func renew(_ request: Relais_V1_ReplicaRenewRequest, token: String) async throws -> Relais_V1_ReplicaRenewResponse {
        try await inner.renew(request, token: token)
    }
}

/// A live hub on loopback for the benchmarks.
struct BenchHub: Sendable {
    let fixture: HubFixture
    let url: String
    let folder: String

    /// Adds a rep with `territories` and enrolls a fresh replica for them.
    func enrolledReplica(user: String, territories: [String], file: String) async throws -> Replica {
        if (try? await fixture.service.users().contains { $0.name == user }) != true {
            _ = try await fixture.addUser(user, role: .rep, territories: territories)
        }
        let code = try await fixture.service.issueEnrollmentCode(for: user)
        return try await Replica.enroll(
            hub: url, code: code, path: folder + "/" + file, deviceName: file, logger: quietLogger)
    }

    /// A fresh enrollment code for `user`.
    func code(for user: String) async throws -> String {
        try await fixture.service.issueEnrollmentCode(for: user)
    }

    /// Puts `count` customers of `territory` on the hub by importing them into a seeding replica and
    /// syncing it, through the real push path.
    func seed(territory: String, count: Int, startingAt start: Int = 0) async throws {
        let replica = try await enrolledReplica(user: "seed-\(territory)", territories: [territory], file: "seed-\(territory)-\(start).relais")
        var offset = start
        let chunk = 50_000
        while offset < start + count {
            let end = min(offset + chunk, start + count)
            try await replica.import("customers", text: Customers.jsonl(offset..<end, territory: territory), format: .jsonl)
            _ = try await replica.sync(options: benchSyncOptions)
            offset = end
        }
        try? FileManager.default.removeItem(atPath: replica.path)
    }
}

/// Runs `body` with a fresh hub served on loopback (with the echo route) and a scratch folder.
func withBenchHub<T: Sendable>(_ body: @escaping @Sendable (BenchHub) async throws -> T) async throws -> T {
    try await HubFixture.with { fixture in
        let folder = fixture.folder.path + "/replicas"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try await BenchServer.withRunning(service: fixture.service) { url in
            try await body(BenchHub(fixture: fixture, url: url, folder: folder))
        }
    }
}

/// Peak resident set (VmHWM) of this process, in kB.
func peakRSSKilobytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
}

/// `relais-bench --child-bootstrap HUB CODE PATH`: enrolls a fresh replica, bootstraps it, and prints
/// `records <n> vmhwm_kb <k>` (the memory benchmark's child process).
enum ChildBootstrap {
    static func run(_ arguments: [String]) async throws {
        guard arguments.count == 3 else { throw BenchError("--child-bootstrap HUB CODE PATH") }
        let replica = try await Replica.enroll(hub: arguments[0], code: arguments[1], path: arguments[2], logger: quietLogger)
        let result = try await replica.sync(options: benchSyncOptions)
        print("records \(result.pulled) vmhwm_kb \(peakRSSKilobytes())")
    }
}
