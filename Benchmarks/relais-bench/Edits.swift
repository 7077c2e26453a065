import Foundation
import RelaisClient
import RelaisCore
import RelaisSQLite

extension BenchRunner {
    /// Edits made through the Swift API, one at a time as a user types them: each `Replica.set` is its
    /// own durable transaction with its stamp (the pending write). Against raw SQLite committing the
    /// same one-field change of an existing row durably (WAL, synchronous=FULL), on the same disk.
    func edits() async throws -> BenchResult {
        let count = options.changedFields
        log("edits: \(count) one-field edits through Replica.set")
        return try await withBenchHub { hub, _ in
            let replica = try await hub.enrolledReplica(user: "edit", territories: ["edit"], file: "edits.relais")
            let ids = (0..<count).map { String(format: "00000000-0000-4000-a100-%012x", $0) }
            try await replica.import(
                "customers", text: Customers.jsonl(0..<count, territory: "edit", ids: ids), format: .jsonl)
            _ = try await replica.sync(options: benchSyncOptions)
            var measured: [Double] = []
            var baseline: [Double] = []
            for run in 0..<options.runs {
                let (_, seconds) = try await timed {
                    for (index, id) in ids.enumerated() {
                        try await replica.set("customers", id: id, ["phone": .text("+33 5 \(run) \(index)")])
                    }
                }
                guard try await replica.pendingCount() == count else {
                    throw BenchError("edits: \(try await replica.pendingCount()) pending writes, expected \(count)")
                }
                // The next run edits a synced file again.
                _ = try await replica.sync(options: benchSyncOptions)
                let rawPath = hub.folder + "/raw-edits-\(run).sqlite"
                let raw = try await RawSQLite.durableUpdates(path: rawPath, count: count, run: run)
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: rawPath + suffix) }
                measured.append(seconds / Double(count))
                baseline.append(raw / Double(count))
                log("edits run \(run + 1): \(seconds) s vs raw \(raw) s")
            }
            let ratios = Summary(samples: zip(measured, baseline).map { $0 / $1 })
            return BenchResult(
                name: "edits", metric: "\(count) one-field edits through Replica.set, one at a time", unit: "s",
                measured: Summary(samples: measured),
                baselineName: "raw SQLite: one durable one-row UPDATE per edit",
                baseline: Summary(samples: baseline), ratioName: "relais/raw", ratios: ratios, target: "(extra line)",
                met: true, notes: ["figures are per edit"])
        }
    }
}

extension RawSQLite {
    /// Fills a table with `count` customers (untimed), then updates one field of each row, one
    /// durable transaction per row; returns the seconds of the updates.
    static func durableUpdates(path: String, count: Int, run: Int) async throws -> Double {
        _ = try await insertAll(path: path, count: count)
        let db = try open(path)
        defer { try? db.close() }
        let update = try db.prepare("UPDATE customers SET phone = ? WHERE id = ?")
        let (_, seconds) = try await timed {
            for index in 0..<count {
                try db.transaction {
                    try update.execute([.text("+33 5 \(run) \(index)"), .text(Customers.id(index))])
                }
            }
        }
        return seconds
    }
}
