import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisSQLite

/// Verification (issue 20, Protocol/README.md section 14): what the check of a laptop against the
/// hub's digest adds to a sync, and what the full check of a large view costs.
extension BenchRunner {
    func verify() async throws -> [BenchResult] {
        [try await verifyOnSync(), try await verifyFull()]
    }

    /// The incremental sync of `changedFields` fields (the `incremental` step's workload: a writer and
    /// a reader holding those records), with the check after each sync and without it, in the same run.
    func verifyOnSync() async throws -> BenchResult {
        let fields = options.changedFields
        let runs = options.runs
        log("verify-sync: \(fields) changed fields, push + pull, with and without the digest check")
        return try await withBenchHub { hub, _ in
            let writer = try await hub.enrolledReplica(user: "inc", territories: ["inc"], file: "writer.relais")
            let reader = try await hub.enrolledReplica(user: "inc", territories: ["inc"], file: "reader.relais")
            let ids = (0..<fields).map { String(format: "00000000-0000-4000-a000-%012x", $0) }
            try await writer.import(
                "customers", text: Customers.jsonl(0..<fields, territory: "inc", ids: ids), format: .jsonl)
            _ = try await writer.sync(options: benchSyncOptions)
            _ = try await reader.sync(options: benchSyncOptions)
            var without = benchSyncOptions
            without.verification = .off
            var with = benchSyncOptions
            with.verification = .everySync
            var measured: [Double] = []
            var baseline: [Double] = []
            var edit = 0
            func round(_ options: SyncOptions) async throws -> Double {
                edit += 1
                for (index, id) in ids.enumerated() {
                    try await writer.set("customers", id: id, ["phone": .text("+33 6 \(edit) \(index)")])
                }
                let (results, seconds) = try await timed {
                    (
                        try await writer.sync(options: options),
                        try await reader.sync(options: options)
                    )
                }
                guard results.0.pushed == fields, results.1.pulled == fields else {
                    throw BenchError("verify-sync: pushed \(results.0.pushed), pulled \(results.1.pulled)")
                }
                if options.verification == .everySync {
                    guard results.0.verification?.outcome == .equal, results.1.verification?.outcome == .equal else {
                        throw BenchError("verify-sync: the check did not find the copies equal")
                    }
                }
                return seconds
            }
            _ = try await round(with)  // warm-up
            for run in 0..<runs {
                // Alternating which goes first, so that a drift of the machine weighs on both.
                if run % 2 == 0 {
                    baseline.append(try await round(without))
                    measured.append(try await round(with))
                } else {
                    measured.append(try await round(with))
                    baseline.append(try await round(without))
                }
                log("verify-sync run \(run + 1): \(measured.last!) s with the check, \(baseline.last!) s without")
            }
            let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
            return BenchResult(
                name: "verify-sync", metric: "\(fields) changed fields: push + pull, digests checked", unit: "s",
                measured: Summary(samples: measured), baselineName: "the same sync without the check",
                baseline: Summary(samples: baseline), ratioName: "with/without", ratios: ratios, target: "≤ 1.10×",
                met: ratios.median <= 1.10,
                notes: [
                    "each sync's check: the laptop's digest of its \(fields) records against the last page's, then the report (one request)"
                ])
        }
    }

    /// `relais verify` of a laptop holding `bootstrapRecords` customers: a sync with the full check,
    /// against a plain `SELECT` of every column of the same rows in the same file; then the bytes
    /// exchanged to find one record changed behind the engine's back.
    func verifyFull() async throws -> BenchResult {
        let count = options.bootstrapRecords
        let runs = options.runs
        log("verify-full: relais verify of \(count) customers")
        return try await withBenchHub(filled: [("north", 0..<count)], log: log) { hub, _ in
            let path = hub.folder + "/verify.relais"
            try await hub.ensureUser("verifier", territories: ["north"])
            let replica = try await Replica.enroll(
                hub: hub.url, code: try await hub.code(for: "verifier"), path: path, logger: quietLogger)
            let first = try await replica.sync(options: benchSyncOptions)
            guard first.pulled == count else {
                throw BenchError("verify-full: bootstrapped \(first.pulled) of \(count)")
            }
            var full = benchSyncOptions
            full.verification = .full
            var measured: [Double] = []
            var baseline: [Double] = []
            var localDigest: [Double] = []
            var hubDigest: [Double] = []
            for run in 0..<runs {
                let (result, seconds) = try await timed { try await replica.sync(options: full) }
                guard result.verification?.outcome == .equal, result.verification?.records == count else {
                    throw BenchError("verify-full: \(String(describing: result.verification))")
                }
                let (_, select) = try await timed { try Self.selectEveryColumn(path) }
                let (_, digest) = try await timed { _ = try await replica.viewDigest() }
                let (_, hubRead) = try await timed { _ = try await hub.service.viewDigest(user: "verifier") }
                hubDigest.append(hubRead)
                measured.append(seconds)
                baseline.append(select)
                localDigest.append(digest)
                log(
                    "verify-full run \(run + 1): \(seconds) s; SELECT \(select) s; the laptop's digest alone \(digest) s"
                )
            }
            // One record changed behind the engine's back: what finding and repairing it exchanges.
            let raw = try Connection(path: path)
            raw.busyTimeout = .seconds(5)
            try raw.execute(
                """
                INSERT INTO _relais_engine(writing) VALUES (1);
                UPDATE customers SET city = 'Nowhere' WHERE id = (SELECT id FROM customers ORDER BY id LIMIT 1 OFFSET \(count / 2));
                DELETE FROM _relais_engine;
                """)
            try raw.close()
            let repaired = try await replica.sync(options: full)
            guard let verification = repaired.verification, verification.outcome == .repaired,
                verification.differences.count == 1
            else {
                throw BenchError(
                    "verify-full: the changed record was not found: \(String(describing: repaired.verification))")
            }
            let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
            return BenchResult(
                name: "verify-full", metric: "relais verify of \(count) customers", unit: "s",
                measured: Summary(samples: measured), baselineName: "SELECT of every column of the same rows",
                baseline: Summary(samples: baseline), ratioName: "verify/SELECT", ratios: ratios, target: "≤ 2×",
                met: ratios.median <= 2,
                notes: [
                    "measured: a sync (nothing to push, an empty pull whose last page carries the hub's digest), the laptop's digest of every record, the comparison and the report",
                    String(
                        format:
                            "the hub's digest of the view came from its cache (nothing written since the bootstrap); read from the store it takes %.1f ms more",
                        Summary(samples: hubDigest).median * 1000),
                    String(
                        format: "of which the laptop's digest of its %d records: %.1f ms (%.2f µs per record)", count,
                        Summary(samples: localDigest).median * 1000,
                        Summary(samples: localDigest).median * 1e6 / Double(max(1, count))),
                    "one record changed among \(count): found and repaired with \(verification.requests) digest requests, \(verification.bytes) bytes of digests (protobuf, before deflate)",
                ])
        }
    }

    /// Reads every column of every customer row (the baseline of a full check).
    static func selectEveryColumn(_ path: String) throws -> Int {
        let db = try Connection(path: path, mode: .readOnly)
        defer { try? db.close() }
        let statement = try db.prepare("SELECT * FROM customers")
        var cells = 0
        let columns = statement.columnCount
        try statement.forEachRow { row in
            for column in 0..<columns {
                if row.text(at: column) != nil { cells += 1 }
            }
        }
        return cells
    }
}
