import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import SwiftProtobuf
import Testing

/// A small HTTP client of the hub's wire protocol, over AsyncHTTPClient.
struct WireClient: Sendable {
    let http: HTTPClient
    let url: String
    let codec = MessageCodec()

    struct Failure: Error, CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "HTTP \(status): \(body)" }
    }

    func post<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ path: String, _ message: Request, token: String?, as type: Response.Type
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.headers.add(name: "Content-Encoding", value: "deflate")
        request.headers.add(name: "Accept-Encoding", value: "deflate")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: try codec.encode(message, format: .protobuf, encoding: .deflate)))
        let response = try await http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        let bytes = Array(body.readableBytesView)
        guard response.status.code == 200 else {
            throw Failure(status: Int(response.status.code), body: String(decoding: bytes, as: UTF8.self))
        }
        return try codec.decode(
            type, from: bytes, contentType: response.headers.first(name: "Content-Type"),
            contentEncoding: response.headers.first(name: "Content-Encoding"))
    }

    func enroll(_ code: String) async throws -> Relais_V1_EnrollResponse {
        try await post("/v1/enroll", Wire.enroll(code), token: nil, as: Relais_V1_EnrollResponse.self)
    }

    func push(_ token: String, _ request: Relais_V1_PushRequest) async throws -> Relais_V1_PushResponse {
        try await post("/v1/push", request, token: token, as: Relais_V1_PushResponse.self)
    }

    func pull(_ token: String, _ request: Relais_V1_PullRequest) async throws -> Relais_V1_PullResponse {
        try await post("/v1/pull", request, token: token, as: Relais_V1_PullResponse.self)
    }

    static func with<T>(url: String, connections: Int = 8, _ body: (WireClient) async throws -> T) async throws -> T {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        configuration.httpVersion = .http1Only
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(WireClient(http: http, url: url))
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }
}

/// Real HTTP on loopback: end to end, many devices at once, and a measured ingest rate.
struct HubLiveTests {
    @Test func endToEndOverLoopback() async throws {
        try await HubFixture.with { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let bobCode = try await hub.addUser("bob", role: .rep, territories: ["north"])
            try await hub.live { url in
                #expect(url.hasPrefix("http://127.0.0.1:"))
                try await WireClient.with(url: url) { client in
                    let claire = try await client.enroll(claireCode)
                    let bob = try await client.enroll(bobCode)
                    let id = Wire.uuid()
                    let pushed = try await client.push(
                        claire.token, Wire.push(claire.replica, [Wire.customer(id: id, replica: claire.replica, counter: 1)]))
                    #expect(pushed.results.map(\.status) == [.applied])
                    let page = try await client.pull(bob.token, Wire.pull(cursor: 0))
                    #expect(page.records.map(\.recordID) == [id])
                    #expect(!page.more)
                }
            }
        }
    }

    /// Enrolls `count` rep devices at the service level; returns (replica, token).
    static func enrollMany(_ hub: HubFixture, count: Int) async throws -> [(replica: UInt32, token: String)] {
        var devices: [(UInt32, String)] = []
        for index in 0..<count {
            let code = try await hub.addUser("rep\(index)", role: .rep, territories: ["north"])
            let response = try await hub.service.enroll(Wire.enroll(code))
            devices.append((response.replica, response.token))
        }
        return devices
    }

    /// Each device pushes `writes` new customers in `batches` batches, all devices at once.
    static func pushConcurrently(
        _ client: WireClient, devices: [(replica: UInt32, token: String)], writes: Int, batches: Int
    ) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for device in devices {
                group.addTask {
                    var counter: UInt64 = 0
                    var applied = 0
                    let perBatch = writes / batches
                    for _ in 0..<batches {
                        var batch: [Relais_V1_RecordWrite] = []
                        for _ in 0..<perBatch {
                            counter += 1
                            batch.append(Wire.customer(id: Wire.uuid(), replica: device.replica, counter: counter,
                                                       extra: ["phone": .text("+33 1 23 45 67 \(counter)")]))
                        }
                        let response = try await client.push(device.token, Wire.push(device.replica, batch))
                        applied += response.results.filter { $0.status == .applied }.count
                    }
                    return applied
                }
            }
            var total = 0
            for try await applied in group { total += applied }
            return total
        }
    }

    @Test func fiftyDevicesPushingAtOnceShareCommits() async throws {
        try await HubFixture.with(store: .sqlite) { hub in
            let devices = try await Self.enrollMany(hub, count: 50)
            let before = hub.store.statistics()
            let applied = try await hub.live { url in
                try await WireClient.with(url: url, connections: 50) { client in
                    try await Self.pushConcurrently(client, devices: devices, writes: 20, batches: 2)
                }
            }
            #expect(applied == 1000)
            let after = hub.store.statistics()
            let transactions = after.transactions - before.transactions
            let commits = after.commits - before.commits
            print("50 devices × 20 writes: \(transactions) write transactions in \(commits) commits (largest group \(after.largestGroup))")
            #expect(commits < transactions)
            #expect(after.largestGroup > 1)
            #expect(try await hub.store.read { try await $0.meta().head } == 1000)
            let export = try await hub.service.export(user: "rep0")
            #expect(export["customers"]?.count == 1000)
            for device in try await hub.service.devices() {
                #expect(device.highestCounter == 20)
            }
        }
    }

    /// DESIGN §10: hub ingest with 200 concurrent devices, against raw SQLite durable upserts of the
    /// same rows. Prints the figures; asserts only correctness.
    @Test func ingestRateAgainstRawSQLite() async throws {
        let devicesCount = 200
        let writesPerDevice = 50
        let hubRate = try await HubFixture.with { hub in
            let devices = try await Self.enrollMany(hub, count: devicesCount)
            let before = hub.store.statistics()
            let (applied, seconds) = try await hub.live { url in
                try await WireClient.with(url: url, connections: devicesCount) { client in
                    let start = ContinuousClock.now
                    let applied = try await Self.pushConcurrently(client, devices: devices, writes: writesPerDevice, batches: 1)
                    let elapsed = ContinuousClock.now - start
                    return (applied, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
            }
            #expect(applied == devicesCount * writesPerDevice)
            let after = hub.store.statistics()
            print(
                "hub: \(applied) writes in \(String(format: "%.2f", seconds)) s; \(after.transactions - before.transactions) "
                    + "write transactions (pushes and pull acknowledgements) in \(after.commits - before.commits) commits, "
                    + "largest group \(after.largestGroup)")
            return Double(applied) / seconds
        }
        let rawRate = try Self.rawSQLiteRate(rows: devicesCount * writesPerDevice, batch: writesPerDevice)
        print(
            "ingest: hub \(Int(hubRate)) writes/s over HTTP with \(devicesCount) devices; raw SQLite \(Int(rawRate)) rows/s "
                + "(durable, \(writesPerDevice) per transaction); ratio \(String(format: "%.2f", hubRate / rawRate))")
    }

    /// How fast the hub serves a bootstrap: a rep pulls every page of a territory over HTTP. Prints
    /// the rate; asserts only that every record arrives once, in order.
    @Test func bootstrapPullRate() async throws {
        let count = 10_000
        try await HubFixture.with { hub in
            var admin = try await hub.enrollDevice("root", role: .admin, territories: [])
            for _ in 0..<(count / 1000) {
                var batch: [Relais_V1_RecordWrite] = []
                for _ in 0..<1000 {
                    batch.append(Wire.customer(id: Wire.uuid(), replica: admin.replica, counter: admin.nextCounter(),
                                               extra: ["city": .text("Lyon"), "tags": .set(["a", "b"])]))
                }
                _ = try await hub.push(admin, batch)
            }
            let code = try await hub.addUser("claire", role: .rep, territories: ["north", "south"])
            let (received, seconds) = try await hub.live { url in
                try await WireClient.with(url: url) { client in
                    let device = try await client.enroll(code)
                    let start = ContinuousClock.now
                    var cursor: UInt64 = 0
                    var seqs: [UInt64] = []
                    while true {
                        let page = try await client.pull(device.token, Wire.pull(cursor: cursor))
                        seqs += page.records.map(\.seq)
                        cursor = page.nextCursor
                        if !page.more { break }
                    }
                    let elapsed = ContinuousClock.now - start
                    #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
                    return (seqs.count, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
            }
            #expect(received == count)
            print("bootstrap pull: \(received) customers in \(String(format: "%.2f", seconds)) s, \(Int(Double(received) / seconds)) records/s over HTTP (pages of 1,000, deflate)")
        }
    }

    /// Upserts `rows` customer rows in transactions of `batch`, WAL and synchronous=FULL.
    static func rawSQLiteRate(rows: Int, batch: Int) throws -> Double {
        let folder = try HubTemporaryFolder(prefix: "raw")
        defer { folder.remove() }
        let db = try Connection(path: folder.path + "/raw.sqlite")
        try db.configureForDurability()
        try db.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, territory TEXT, phone TEXT)")
        let ids = (0..<rows).map { _ in Wire.uuid() }
        let start = ContinuousClock.now
        var index = 0
        while index < rows {
            try db.transaction {
                let statement = try db.cachedStatement(
                    "INSERT INTO customers (id, name, territory, phone) VALUES (?, ?, ?, ?) "
                        + "ON CONFLICT(id) DO UPDATE SET name = excluded.name, territory = excluded.territory, phone = excluded.phone")
                for row in index..<min(rows, index + batch) {
                    try statement.execute([.text(ids[row]), "Café Müller", "north", .text("+33 1 23 45 67 \(row)")])
                }
            }
            index += batch
        }
        let elapsed = ContinuousClock.now - start
        return Double(rows) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
