import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol

/// The hub's ingest, alone: every device's push is prepared before the clock starts (stamped and
/// encoded as `HTTPSyncTransport` encodes it: protobuf, deflate), then the clock times only the
/// concurrent HTTP pushes to the real server until every one is answered.
enum IngestBench {
    /// The pushes of one run: each device's batch of `perDevice` new customers, encoded.
    /// Customers are numbered from `firstIndex` on (past those a filled hub already holds).
    static func bodies(devices: [BenchDevice], run: Int, perDevice: Int, firstIndex: Int = 0) throws -> [[UInt8]] {
        let codec = MessageCodec()
        let millis = UInt64(Date().timeIntervalSince1970 * 1000)
        return try devices.enumerated().map { index, device in
            let start = firstIndex + (run * devices.count + index) * perDevice
            let request = device.pushRequest(
                start..<(start + perDevice), territory: "t\(index)", firstCounter: UInt64(run * perDevice + 1),
                millis: millis)
            return try codec.encode(request, format: .protobuf, encoding: .deflate)
        }
    }

    /// One device's push, with the transport's headers; returns the number of writes applied.
    static func push(client: HTTPClient, url: String, body: [UInt8], token: String) async throws -> Int {
        var request = HTTPClientRequest(url: url + "/v1/push")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: WireFormat.protobuf.contentType)
        request.headers.add(name: "Content-Encoding", value: "deflate")
        request.headers.add(name: "Accept", value: WireFormat.protobuf.contentType)
        request.headers.add(name: "Accept-Encoding", value: "deflate")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        guard response.status.code == 200 else {
            throw BenchError("ingest: a push answered \(response.status.code): \(String(buffer: bytes))")
        }
        let answer = try MessageCodec().decode(
            Relais_V1_PushResponse.self, from: Array(bytes.readableBytesView),
            contentType: response.headers.first(name: "Content-Type"),
            contentEncoding: response.headers.first(name: "Content-Encoding"))
        return answer.results.filter { $0.status == .applied }.count
    }

    /// An HTTP client with one connection per device, as 200 laptops would have (the shared client's
    /// pool holds 8 per host, which would queue the pushes in the bench, not in the hub).
    static func client(connections: Int) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, connections)
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}

extension BenchRunner {
    func ingest() async throws -> BenchResult {
        log("ingest: enrolling \(options.devices) devices (pushes prepared before the clock starts)")
        return try await withBenchHub { hub, _ in try await ingest(into: hub, stored: 0) }
    }

    /// The same pushes into a hub that already holds `--big` customers (the memory step's filled hub,
    /// kept in the cache), against raw upserts into a table already holding as many rows.
    func ingestBig() async throws -> BenchResult {
        let (small, big) = (options.bootstrapRecords, options.bigRecords)
        log("ingest-big: a hub holding \(big) customers; \(options.devices) devices push new ones")
        return try await withBenchHub(filled: [("north", 0..<small), ("east", small..<big)], log: log) { hub, _ in
            try await ingest(into: hub, stored: big)
        }
    }

    private func ingest(into hub: BenchHub, stored: Int) async throws -> BenchResult {
        let devices = options.devices
        var enrolled: [BenchDevice] = []
        for device in 0..<devices {
            enrolled.append(
                try await BenchDevice.enroll(
                    hub.service, user: "rep\(device)", territories: ["t\(device)"], name: "device-\(device)"))
        }
        let client = IngestBench.client(connections: devices)
        do {
            let result = try await measureIngest(hub: hub, devices: enrolled, client: client, stored: stored)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func measureIngest(hub: BenchHub, devices enrolled: [BenchDevice], client: HTTPClient, stored: Int)
        async throws -> BenchResult
    {
        let devices = enrolled.count
        let perDevice = options.writesPerDevice
        let runs = options.runs
        var measured: [Double] = []
        var baseline: [Double] = []
        var seconds: [Double] = []
        // The raw baseline's table holds as many rows as the hub holds customers, made once.
        let rawPath = hub.folder + "/raw-ingest.sqlite"
        if stored > 0 { _ = try await RawSQLite.upsertBatched(path: rawPath, batches: 1, perBatch: stored) }
        for run in 0..<runs {
            let bodies = try IngestBench.bodies(
                devices: enrolled, run: run, perDevice: perDevice, firstIndex: stored)
            let url = hub.url
            let work = Array(zip(bodies, enrolled.map(\.token)))
            let ((applied, answered), elapsed) = try await timed {
                let pushes = try await timed {
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for (body, token) in work {
                            group.addTask {
                                try await IngestBench.push(client: client, url: url, body: body, token: token)
                            }
                        }
                        return try await group.reduce(0, +)
                    }
                }
                // The copy of the log into the file, which no push waits for any more, is part of the
                // work: counted here, it neither escapes the hub's time nor slows the raw run after it.
                await hub.copyLogIntoFile()
                return pushes
            }
            guard applied == devices * perDevice else {
                throw BenchError("ingest: applied \(applied) of \(devices * perDevice)")
            }
            let raw = try await RawSQLite.upsertBatched(
                path: rawPath, batches: devices, perBatch: perDevice,
                firstIndex: stored + run * devices * perDevice)
            if stored == 0 {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: rawPath + suffix) }
            }
            measured.append(Double(applied) / elapsed)
            baseline.append(Double(applied) / raw)
            seconds.append(elapsed)
            log(
                "\(stored > 0 ? "ingest-big" : "ingest") run \(run + 1): \(elapsed) s (every push answered after "
                    + "\(answered) s, then the log copied into the file) vs raw \(raw) s")
        }
        let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
        let holding = stored > 0 ? ", the hub holding \(stored) customers" : ""
        return BenchResult(
            name: stored > 0 ? "ingest-big" : "ingest",
            metric: "\(devices) concurrent devices × \(perDevice) writes, hub only\(holding)", unit: "writes/s",
            measured: Summary(samples: measured),
            baselineName: "raw SQLite upserts, 1 durable txn per device"
                + (stored > 0 ? ", into a table of \(stored) rows" : ""),
            baseline: Summary(samples: baseline), ratioName: "relais/raw throughput", ratios: ratios, target: "≥ 0.5×",
            met: ratios.median >= 0.5,
            notes: [
                "timed: \(devices) concurrent HTTP pushes (one connection each), prepared and encoded beforehand, until all are answered, then the hub's log copied into its file (SQLite store)",
                String(format: "wall time of the pushes: median %.3f s", Summary(samples: seconds).median),
                "the hub's store is on disk, synchronous=FULL, as in production",
            ])
    }

    /// The same load end to end: real replicas import offline, then all sync at once; the timed region
    /// includes the replicas' own stamping, encoding and commits (reported as an extra line).
    func ingestEndToEnd() async throws -> BenchResult {
        let devices = options.devices
        let perDevice = options.writesPerDevice
        let runs = options.runs
        log("ingest-e2e: enrolling \(devices) replicas")
        return try await withBenchHub { hub, _ in
            let shm = "/dev/shm"
            let deviceFolder =
                FileManager.default.fileExists(atPath: shm) ? shm + "/relais-bench-\(UUID().uuidString)" : hub.folder
            try FileManager.default.createDirectory(atPath: deviceFolder, withIntermediateDirectories: true)
            defer { if deviceFolder != hub.folder { try? FileManager.default.removeItem(atPath: deviceFolder) } }
            var replicas: [Replica] = []
            for device in 0..<devices {
                replicas.append(
                    try await hub.enrolledReplica(
                        user: "rep\(device)", territories: ["t\(device)"], file: "device-\(device).relais",
                        in: deviceFolder))
            }
            var measured: [Double] = []
            var baseline: [Double] = []
            for run in 0..<runs {
                for (device, replica) in replicas.enumerated() {
                    let start = (run * devices + device) * perDevice
                    try await replica.import(
                        "customers", text: Customers.jsonl(start..<(start + perDevice), territory: "t\(device)"),
                        format: .jsonl)
                }
                let url = hub.url
                let (pushed, seconds) = try await timed {
                    try await withThrowingTaskGroup(of: Int.self) { group in
                        for replica in replicas {
                            group.addTask {
                                try await replica.sync(
                                    transport: HTTPSyncTransport(hub: url), options: benchSyncOptions
                                ).pushed
                            }
                        }
                        return try await group.reduce(0, +)
                    }
                }
                guard pushed == devices * perDevice else {
                    throw BenchError("ingest-e2e: pushed \(pushed) of \(devices * perDevice)")
                }
                let rawPath = hub.folder + "/raw-ingest-\(run).sqlite"
                let raw = try await RawSQLite.upsertBatched(path: rawPath, batches: devices, perBatch: perDevice)
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: rawPath + suffix) }
                measured.append(Double(pushed) / seconds)
                baseline.append(Double(pushed) / raw)
                log("ingest-e2e run \(run + 1): \(seconds) s vs raw \(raw) s")
            }
            let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
            return BenchResult(
                name: "ingest-e2e", metric: "\(devices) replicas × \(perDevice) writes, full syncs", unit: "writes/s",
                measured: Summary(samples: measured), baselineName: "raw SQLite upserts, 1 durable txn per device",
                baseline: Summary(samples: baseline), ratioName: "relais/raw throughput", ratios: ratios,
                target: "(extra line)",
                met: true,
                notes: [
                    "every replica syncs at once (push, then pull) through the shared HTTP client, in one process",
                    "the replicas' files are on tmpfs (/dev/shm) when present; the hub's store is on disk, synchronous=FULL",
                ])
        }
    }
}
