import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisTesting

/// Runs the selected benchmarks and returns one result each.
struct BenchRunner {
    let options: BenchOptions

    /// Progress on standard error, so that the table (or JSON) on standard output stays clean.
    func log(_ message: String) {
        FileHandle.standardError.write(Data("· \(message)\n".utf8))
    }

    func run() async throws -> [BenchResult] {
        var results: [BenchResult] = []
        if options.wants("bootstrap") { results.append(try await bootstrap()) }
        if options.wants("bootstrap-snapshot") { results.append(try await bootstrapSnapshot()) }
        if options.wants("incremental") || options.wants("wire") { results += try await incrementalAndWire() }
        if options.wants("delta") { results.append(try await delta()) }
        if options.wants("pages") { results.append(try await pages()) }
        if options.wants("verify") { results += try await verify() }
        if options.wants("reports") { results.append(try await reports()) }
        if options.wants("edits") { results.append(try await edits()) }
        if options.wants("apply") { results.append(try await apply()) }
        if options.wants("ingest") { results.append(try await ingest()) }
        if options.wants("ingest-e2e") { results.append(try await ingestEndToEnd()) }
        if options.wants("ingest-big") { results.append(try await ingestBig()) }
        if options.wants("memory") { results.append(try await memory()) }
        if options.wants("conflicts") { results.append(try await conflicts()) }
        if options.wants("peers") { results += try await peers() }
        if options.wants("ingest-postgres") { results += try await ingestPostgres() }
        if options.wants("bootstrap-postgres"), let result = try await bootstrapPostgres() { results.append(result) }
        return results
    }

    // MARK: - Bootstrap

    func bootstrap() async throws -> BenchResult {
        let count = options.bootstrapRecords
        let runs = options.runs
        log("bootstrap: a hub holding \(count) customers")
        return try await withBenchHub(filled: [("north", 0..<count)], log: log) { hub, seedSeconds in
            try await hub.ensureUser("reader", territories: ["north"])
            var measured: [Double] = []
            var baseline: [Double] = []
            var pulled = 0
            var pullSeconds: [Double] = []
            for run in 0..<runs {
                let raw = try await RawSQLite.insertAll(path: hub.folder + "/raw-\(run).sqlite", count: count)
                try? FileManager.default.removeItem(atPath: hub.folder + "/raw-\(run).sqlite")
                let code = try await hub.code(for: "reader")
                let path = hub.folder + "/bootstrap-\(run).relais"
                let transport = MeasuringTransport(hub: hub.url)
                // By pages (bootstrap-snapshot measures the snapshot).
                var byPages = benchSyncOptions
                byPages.snapshots = false
                let (result, seconds) = try await timed {
                    let replica = try await Replica.enroll(hub: hub.url, code: code, path: path, logger: quietLogger)
                    return try await replica.sync(transport: transport, options: byPages)
                }
                pullSeconds.append(try transport.counted().pullSeconds)
                pulled = result.pulled
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                measured.append(seconds)
                baseline.append(raw)
                log("bootstrap run \(run + 1): \(seconds) s vs raw \(raw) s")
            }
            let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
            return BenchResult(
                name: "bootstrap", metric: "\(count) customers, enroll + sync to an empty replica, by pages", unit: "s",
                measured: Summary(samples: measured), baselineName: "raw SQLite insert, 1 txn",
                baseline: Summary(samples: baseline), ratioName: "relais/raw", ratios: ratios,
                target: "≤ 3× (stretch ≤ 1.5×)",
                met: ratios.median <= 3,
                notes: [
                    "records pulled per bootstrap: \(pulled)",
                    String(
                        format:
                            "of which: pull requests (HTTP + the hub building pages) %.2f s, the replica's own work (enroll, apply, commits) %.2f s (medians)",
                        Summary(samples: pullSeconds).median,
                        Summary(samples: zip(measured, pullSeconds).map { $0 - $1 }).median),
                    seedSeconds > 0
                        ? String(
                            format:
                                "filling the hub through HubService.push (batches of 1,000, in process) took %.1f s (%.0f writes/s); kept for later runs",
                            seedSeconds, Double(count) / seedSeconds)
                        : "the hub came filled from the bench's cache (a copy of a hub filled through HubService.push)",
                ])
        }
    }

    // MARK: - Incremental sync and bytes on the wire

    func incrementalAndWire() async throws -> [BenchResult] {
        let fields = options.changedFields
        let runs = options.runs
        log("incremental: \(fields) changed fields, push by one replica and pull by another")
        return try await withBenchHub { hub, _ in
            let writer = try await hub.enrolledReplica(user: "inc", territories: ["inc"], file: "writer.relais")
            let reader = try await hub.enrolledReplica(user: "inc", territories: ["inc"], file: "reader.relais")
            let ids = (0..<fields).map { String(format: "00000000-0000-4000-a000-%012x", $0) }
            try await writer.import(
                "customers", text: Customers.jsonl(0..<fields, territory: "inc", ids: ids), format: .jsonl)
            let writerTransport = MeasuringTransport(hub: hub.url, countBytes: true)
            let readerTransport = MeasuringTransport(hub: hub.url, countBytes: true)
            _ = try await writer.sync(transport: writerTransport, options: benchSyncOptions)
            _ = try await reader.sync(transport: readerTransport, options: benchSyncOptions)

            var measured: [Double] = []
            var baseline: [Double] = []
            var wirePerField: [Double] = []
            var jsonPerField: [Double] = []
            var pullPerField: [Double] = []
            var pushHTTP: [Double] = []
            var pullHTTP: [Double] = []
            var floors: [Double] = []
            var commitCosts: [Double] = []
            for run in 0..<runs {
                for (index, id) in ids.enumerated() {
                    try await writer.set("customers", id: id, ["phone": .text("+33 6 \(run) \(index)")])
                }
                writerTransport.resetCounters()
                readerTransport.resetCounters()
                // Timing runs without byte counting, so that encoding twice does not inflate it.
                let timingWriter = MeasuringTransport(hub: hub.url)
                let timingReader = MeasuringTransport(hub: hub.url)
                let (results, seconds) = try await timed {
                    let pushed = try await writer.sync(transport: timingWriter, options: benchSyncOptions)
                    let pulled = try await reader.sync(transport: timingReader, options: benchSyncOptions)
                    return (pushed, pulled)
                }
                guard results.0.pushed == fields, results.1.pulled == fields else {
                    throw BenchError(
                        "incremental: pushed \(results.0.pushed), pulled \(results.1.pulled), expected \(fields)")
                }
                // The same edits again, counted: the bytes of the push and of the pull.
                for (index, id) in ids.enumerated() {
                    try await writer.set("customers", id: id, ["phone": .text("+33 7 \(run) \(index)")])
                }
                _ = try await writer.sync(transport: writerTransport, options: benchSyncOptions)
                _ = try await reader.sync(transport: readerTransport, options: benchSyncOptions)
                let counted = try writerTransport.counted()
                let pulledBytes = try readerTransport.counted().pullBytes
                // The baseline: one round trip of the push's bytes to the echo route of the same server.
                var pushBody: [UInt8] = []
                pushBody.reserveCapacity(counted.pushBytes)
                pushBody = counted.lastPushBody
                try await BenchServer.echo(hub.url, pushBody)  // warm-up: the connection is open, as the sync's is
                let (_, raw) = try await timed { try await BenchServer.echo(hub.url, pushBody) }
                measured.append(seconds)
                baseline.append(raw)
                // A second baseline: the echo plus the three durable commits the contract cannot avoid
                // (the hub's push, the writer's acknowledgement, the reader's page), on the same disk.
                let commitPath = hub.folder + "/raw-commit-\(run).sqlite"
                let commit = try await RawSQLite.durableCommit(path: commitPath, count: 9)
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: commitPath + suffix) }
                commitCosts.append(commit)
                floors.append(raw + 3 * commit)
                pushHTTP.append(try timingWriter.counted().pushSeconds)
                pullHTTP.append(try timingWriter.counted().pullSeconds + timingReader.counted().pullSeconds)

                // Whole records as uncompressed JSON: what a naive sync would send for the same edits.
                let records = try await writer.list("customers")
                var json = 0
                for record in records {
                    var object: [String: Any] = record.values.mapValues { FieldType.jsonObject($0) as Any }
                    object["id"] = record.id
                    json += try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).count
                }
                json += 2 + records.count - 1  // the enclosing array
                wirePerField.append(Double(counted.pushBytes) / Double(fields))
                pullPerField.append(Double(pulledBytes) / Double(fields))
                jsonPerField.append(Double(json) / Double(fields))
                log(
                    "incremental run \(run + 1): \(seconds) s vs echo \(raw) s; push \(counted.pushBytes) B, pull \(pulledBytes) B, JSON \(json) B"
                )
            }
            var out: [BenchResult] = []
            if options.wants("incremental") {
                let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
                out.append(
                    BenchResult(
                        name: "incremental", metric: "\(fields) changed fields: push + pull", unit: "s",
                        measured: Summary(samples: measured), baselineName: "1 HTTP echo round trip of the push bytes",
                        baseline: Summary(samples: baseline), ratioName: "relais/echo", ratios: ratios, target: "≤ 3×",
                        met: ratios.median <= 3,
                        notes: [
                            "measured: the writer's sync (push, then an empty pull) and the reader's sync (pull of \(fields) changed records); the edits are made before the clock starts",
                            String(
                                format:
                                    "of which: push requests %.1f ms (HTTP + hub), pull requests %.1f ms (HTTP + hub), the replicas' own work %.1f ms (medians)",
                                Summary(samples: pushHTTP).median * 1000, Summary(samples: pullHTTP).median * 1000,
                                Summary(samples: zip(measured, zip(pushHTTP, pullHTTP)).map { $0 - $1.0 - $1.1 }).median
                                    * 1000),
                            String(
                                format:
                                    "second baseline, the durable floor: the echo + 3 durable one-row commits (%.2f ms each, median of 9, same disk) = %.2f ms; relais/floor %.1f× [%.1f – %.1f]",
                                Summary(samples: commitCosts).median * 1000, Summary(samples: floors).median * 1000,
                                Summary(samples: zip(measured, floors).map { $0 / $1 }).median,
                                Summary(samples: zip(measured, floors).map { $0 / $1 }).min,
                                Summary(samples: zip(measured, floors).map { $0 / $1 }).max),
                        ]))
            }
            if options.wants("wire") {
                let ratios = Summary(samples: zip(jsonPerField, wirePerField).map { $0 / $1 })
                out.append(
                    BenchResult(
                        name: "wire", metric: "bytes pushed per changed field", unit: "B",
                        measured: Summary(samples: wirePerField), baselineName: "whole records as plain JSON",
                        baseline: Summary(samples: jsonPerField), ratioName: "JSON/wire", ratios: ratios,
                        target: "≥ 10× smaller",
                        met: ratios.median >= 10,
                        notes: [
                            String(
                                format: "pull: %.1f B per changed field (deflated protobuf page)",
                                Summary(samples: pullPerField).median)
                        ]))
            }
            return out
        }
    }

    // MARK: - Replica apply

    func apply() async throws -> BenchResult {
        let count = options.bootstrapRecords
        let pageSize = max(1, count / 100)
        let runs = options.runs
        log("apply: \(count) customers from \(count / pageSize) pull pages")
        let pages = BootstrapPages.pages(count: count, pageSize: pageSize)
        let folder = try TemporaryFolder(prefix: "relais-bench-apply")
        defer { folder.remove() }
        var measured: [Double] = []
        var baseline: [Double] = []
        var cached: [Double] = []
        for run in 0..<runs {
            let path = folder.path + "/replica-\(run).relais"
            let applied = try await ApplyBench.apply(pages, path: path, expected: count)
            let rawPath = folder.path + "/raw-\(run).sqlite"
            let raw = try await ApplyBench.raw(pages, path: rawPath)
            let cachedPath = folder.path + "/raw-cached-\(run).sqlite"
            let rawCached = try await ApplyBench.raw(pages, path: cachedPath, cacheKiB: ApplyBench.replicaCacheKiB)
            for file in [path, rawPath, cachedPath] {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
            }
            measured.append(applied)
            baseline.append(raw)
            cached.append(rawCached)
            log("apply run \(run + 1): \(applied) s vs raw \(raw) s (raw with the replica's cache: \(rawCached) s)")
        }
        let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
        let cachedRatios = Summary(samples: zip(measured, cached).map { $0 / $1 })
        return BenchResult(
            name: "apply",
            metric: "\(count) customers applied from \(count / pageSize) pull pages (Replica._applyPullPages)",
            unit: "s",
            measured: Summary(samples: measured), baselineName: "raw SQLite insert of the same rows, 1 txn",
            baseline: Summary(samples: baseline), ratioName: "relais/raw", ratios: ratios, target: "≤ 2× (issue 4)",
            met: ratios.median <= 2,
            notes: [
                "pages built in memory before the clock starts; no hub, no HTTP: the replica's apply alone",
                "raw SQLite with the replica's own \(ApplyBench.replicaCacheKiB / 1024) MiB page cache instead of the default 2 MiB: "
                    + "\(Report.triple(Summary(samples: cached), "s")), ratio "
                    + String(format: "%.2f× [%.2f – %.2f]", cachedRatios.median, cachedRatios.min, cachedRatios.max),
            ])
    }

    // MARK: - Peak memory

    func memory() async throws -> BenchResult {
        let small = options.bootstrapRecords
        let big = options.bigRecords
        let runs = options.memoryRuns ?? min(options.runs, 3)
        log("memory: a hub holding \(small) + \(big - small) customers")
        return try await withBenchHub(filled: [("north", 0..<small), ("east", small..<big)], log: log) { hub, _ in
            try await hub.ensureUser("small", territories: ["north"])
            try await hub.ensureUser("big", territories: ["north", "east"])
            var smallPeaks: [Double] = []
            var bigPeaks: [Double] = []
            for run in 0..<runs {
                for (user, expected) in [("small", small), ("big", big)] {
                    let path = hub.folder + "/memory-\(user)-\(run).relais"
                    let (records, kilobytes) = try await childBootstrap(hub: hub, user: user, path: path)
                    guard records == expected else {
                        throw BenchError("memory: \(user) pulled \(records), expected \(expected)")
                    }
                    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                    let megabytes = Double(kilobytes) / 1024
                    if user == "small" { smallPeaks.append(megabytes) } else { bigPeaks.append(megabytes) }
                    log("memory run \(run + 1): \(user) (\(records) records) peak \(megabytes) MB")
                }
            }
            let ratios = Summary(samples: zip(bigPeaks, smallPeaks).map { $0 / $1 })
            return BenchResult(
                name: "memory", metric: "peak RSS of a child bootstrapping \(big) customers", unit: "MB",
                measured: Summary(samples: bigPeaks), baselineName: "same, \(small) customers",
                baseline: Summary(samples: smallPeaks), ratioName: "big/small", ratios: ratios, target: "≤ 1.5× (flat)",
                met: ratios.median <= 1.5,
                notes: [
                    "VmHWM of a child process (relais-bench --child-bootstrap) that enrolls a fresh replica and syncs it",
                    "\(runs) run(s) of each size",
                ])
        }
    }

    func childBootstrap(hub: BenchHub, user: String, path: String) async throws -> (Int, Int) {
        let code = try await hub.code(for: user)
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["--child-bootstrap", hub.url, code, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = await Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }.value
        process.waitUntilExit()
        let words = String(decoding: output, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard process.terminationStatus == 0, words.count >= 4, let records = Int(words[1]), let kb = Int(words[3])
        else {
            throw BenchError(
                "the bootstrap child failed (\(process.terminationStatus)): \(String(decoding: output, as: UTF8.self))")
        }
        return (records, kb)
    }

    // MARK: - Conflict-heavy push

    func conflicts() async throws -> BenchResult {
        let writes = options.conflictWrites
        let runs = options.runs
        log("conflicts: \(writes) writes, half of them concurrent")
        return try await withBenchHub { hub, _ in
            let a = try await hub.enrolledReplica(user: "conf", territories: ["conf"], file: "a.relais")
            let b = try await hub.enrolledReplica(user: "conf", territories: ["conf"], file: "b.relais")
            let ids = (0..<writes).map { String(format: "00000000-0000-4000-b000-%012x", $0) }
            try await a.import(
                "customers", text: Customers.jsonl(0..<writes, territory: "conf", ids: ids), format: .jsonl)
            _ = try await a.sync(options: benchSyncOptions)
            _ = try await b.sync(options: benchSyncOptions)
            var measured: [Double] = []
            var baseline: [Double] = []
            var conflictCounts: [Double] = []
            for run in 0..<runs {
                // Baseline: B edits every record; nobody else did.
                for (index, id) in ids.enumerated() {
                    try await b.set("customers", id: id, ["phone": .text("+33 2 \(run) \(index)")])
                }
                let plain = MeasuringTransport(hub: hub.url)
                let plainResult = try await b.sync(transport: plain, options: benchSyncOptions)
                _ = try await a.sync(options: benchSyncOptions)
                // Concurrent: A edits half the records and pushes first, then B edits them all.
                for id in ids.prefix(writes / 2) {
                    try await a.set("customers", id: id, ["phone": .text("+33 3 \(run) a")])
                }
                _ = try await a.sync(options: benchSyncOptions)
                for (index, id) in ids.enumerated() {
                    try await b.set("customers", id: id, ["phone": .text("+33 4 \(run) \(index)")])
                }
                let concurrent = MeasuringTransport(hub: hub.url)
                let concurrentResult = try await b.sync(transport: concurrent, options: benchSyncOptions)
                _ = try await a.sync(options: benchSyncOptions)
                guard plainResult.pushed == writes, concurrentResult.pushed == writes else {
                    throw BenchError(
                        "conflicts: pushed \(plainResult.pushed) and \(concurrentResult.pushed) of \(writes)")
                }
                measured.append(try concurrent.counted().pushSeconds)
                baseline.append(try plain.counted().pushSeconds)
                conflictCounts.append(Double(concurrentResult.conflicts))
                log(
                    "conflicts run \(run + 1): \(try concurrent.counted().pushSeconds) s (\(concurrentResult.conflicts) conflicts) vs \(try plain.counted().pushSeconds) s (\(plainResult.conflicts))"
                )
            }
            let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
            return BenchResult(
                name: "conflicts", metric: "push of \(writes) writes, half concurrent", unit: "s",
                measured: Summary(samples: measured), baselineName: "same push, no concurrency",
                baseline: Summary(samples: baseline), ratioName: "conflict/plain", ratios: ratios, target: "≤ 2×",
                met: ratios.median <= 2,
                notes: [
                    String(
                        format: "conflict reports raised per concurrent push: %.0f",
                        Summary(samples: conflictCounts).median),
                    "time counted: the push requests only (B's pull of A's edits is excluded)",
                ])
        }
    }
}
