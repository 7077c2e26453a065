import Foundation
import RelaisClient
import RelaisHub
import RelaisTesting

extension BenchRunner {
    /// A fresh laptop bootstrapped from the hub's snapshot of its view (docs/SYNC.md "Snapshot
    /// bootstrap"), end to end over loopback HTTP (enroll, download, inflate, copy in, pull the rest),
    /// against raw SQLite inserting the same rows in one transaction, and against the bootstrap by
    /// pages of the same hub, in the same run. The snapshot is built once before the runs (by the first
    /// laptop of the view, as in the field); its build time is reported apart.
    func bootstrapSnapshot() async throws -> BenchResult {
        let count = options.bootstrapRecords
        let runs = options.runs
        log("bootstrap-snapshot: a hub holding \(count) customers")
        return try await withBenchHub(filled: [("north", 0..<count)], log: log) { hub, _ in
            try await hub.ensureUser("reader", territories: ["north"])
            // The first laptop of the view builds the snapshot.
            let first = hub.folder + "/snapshot-first.relais"
            let (_, buildSeconds) = try await timed {
                let replica = try await Replica.enroll(
                    hub: hub.url, code: try await hub.code(for: "reader"), path: first, logger: quietLogger)
                return try await replica.sync(options: benchSyncOptions)
            }
            guard let snapshot = await hub.service.readySnapshots().first else {
                throw BenchError("bootstrap-snapshot: the first bootstrap built no snapshot")
            }
            var measured: [Double] = []
            var baseline: [Double] = []
            var pages: [Double] = []
            var pulled = 0
            for run in 0..<runs {
                let raw = try await RawSQLite.insertAll(path: hub.folder + "/raw-\(run).sqlite", count: count)
                try? FileManager.default.removeItem(atPath: hub.folder + "/raw-\(run).sqlite")
                let path = hub.folder + "/snapshot-\(run).relais"
                let code = try await hub.code(for: "reader")
                let (result, seconds) = try await timed {
                    let replica = try await Replica.enroll(hub: hub.url, code: code, path: path, logger: quietLogger)
                    return try await replica.sync(options: benchSyncOptions)
                }
                pulled = result.pulled
                var byPages = benchSyncOptions
                byPages.snapshots = false
                let pagesPath = hub.folder + "/pages-\(run).relais"
                let pagesCode = try await hub.code(for: "reader")
                let (_, pagesSeconds) = try await timed {
                    let replica = try await Replica.enroll(
                        hub: hub.url, code: pagesCode, path: pagesPath, logger: quietLogger)
                    return try await replica.sync(options: byPages)
                }
                for file in [path, pagesPath] {
                    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file + suffix) }
                }
                measured.append(seconds)
                baseline.append(raw)
                pages.append(pagesSeconds)
                log("bootstrap-snapshot run \(run + 1): \(seconds) s vs raw \(raw) s, by pages \(pagesSeconds) s")
            }
            let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
            let rates = Summary(samples: measured.map { Double(count) / $0 })
            return BenchResult(
                name: "bootstrap-snapshot", metric: "\(count) customers, enroll + sync from the view's snapshot",
                unit: "s", measured: Summary(samples: measured), baselineName: "raw SQLite insert, 1 txn",
                baseline: Summary(samples: baseline), ratioName: "relais/raw", ratios: ratios,
                target: "≥ the session extension's apply rate (stretch: ≤ 1× raw)",
                met: ratios.median <= 1,
                notes: [
                    String(format: "%.0f rows/s (median)", rates.median),
                    String(
                        format: "the same bootstrap by pages: %.2f s (median), %.1f× the snapshot's",
                        Summary(samples: pages).median,
                        Summary(samples: zip(pages, measured).map { $0 / $1 }).median),
                    String(
                        format:
                            "snapshot: %d bytes compressed, %d inflated, cursor %d; built by the first laptop's bootstrap in %.2f s (which included that bootstrap)",
                        snapshot.bytes, snapshot.inflatedBytes, snapshot.cursor, buildSeconds),
                    "records counted by the sync: \(pulled)",
                ])
        }
    }
}
