import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting

extension BenchRunner {
    /// Bytes on the wire for one SQL UPDATE of three fields on every customer of laptop A, synced by A
    /// then by laptop B (issue 15's delta step): the push leg, and the pull leg with field-level pull
    /// against the same pull without `since` (whole records, what an older client gets), both measured
    /// in the same run on the same rows.
    func delta() async throws -> BenchResult {
        let count = options.smoke ? 200 : 10_000
        let runs = options.runs
        log("delta: \(count) customers; one SQL UPDATE of status, lifetime_value and city on A; sync A then B")
        return try await withBenchHub { hub, _ in
            // A is the office's (a manager: lifetime_value is written by the office only); B a rep's.
            _ = try await hub.service.addUser("office", role: .manager, territories: ["delta"])
            let writer = try await Replica.enroll(
                hub: hub.url, code: try await hub.code(for: "office"), path: hub.folder + "/a.relais",
                deviceName: "a", logger: quietLogger)
            let reader = try await hub.enrolledReplica(user: "delta", territories: ["delta"], file: "b.relais")
            try await writer.import("customers", text: Customers.jsonl(0..<count, territory: "delta"), format: .jsonl)
            _ = try await writer.sync(options: benchSyncOptions)
            _ = try await reader.sync(options: benchSyncOptions)
            let fields = 3 * count
            let statuses = ["prospect", "active", "at_risk", "lapsed"]
            var pushPerField: [Double] = []
            var pullPerField: [Double] = []
            var wholePerField: [Double] = []
            for run in 0..<runs {
                let raw = try Connection(path: writer.path)
                raw.busyTimeout = .seconds(5)
                try raw.execute(
                    """
                    UPDATE customers SET status = '\(statuses[run % statuses.count])',
                        lifetime_value = coalesce(lifetime_value, 0) + 1, city = 'City \(run)'
                    """)
                try raw.close()
                let start = try await reader.status().cursor
                let writerTransport = MeasuringTransport(hub: hub.url, countBytes: true)
                let readerTransport = MeasuringTransport(hub: hub.url, countBytes: true)
                let pushed = try await writer.sync(transport: writerTransport, options: benchSyncOptions)
                let pulled = try await reader.sync(transport: readerTransport, options: benchSyncOptions)
                guard pushed.pushed == count, pulled.pulled == count else {
                    let rejected = try await writer.rejected().first.map { "\($0.code): \($0.reason)" } ?? "none"
                    throw BenchError(
                        "delta: pushed \(pushed.pushed), pulled \(pulled.pulled), expected \(count); "
                            + "rejected \(pushed.rejected) (first: \(rejected))")
                }
                // The same pull as a client without `since` makes it: every field of each record.
                guard let token = try await reader.identity()?.token else { throw BenchError("delta: no token") }
                let whole = MeasuringTransport(hub: hub.url, countBytes: true)
                var cursor = start
                while true {
                    var request = Relais_V1_PullRequest()
                    request.cursor = cursor
                    request.pageSize = benchSyncOptions.pageSize
                    request.counter = UInt64.max
                    request.schemaVersion = UInt32(Schema.crm.version)
                    let page = try await whole.pull(request, token: token)
                    cursor = page.nextCursor
                    if !page.more { break }
                }
                let push = try writerTransport.counted().pushBytes
                let pull = try readerTransport.counted().pullBytes
                let wholeBytes = try whole.counted().pullBytes
                pushPerField.append(Double(push) / Double(fields))
                pullPerField.append(Double(pull) / Double(fields))
                wholePerField.append(Double(wholeBytes) / Double(fields))
                log(
                    "delta run \(run + 1): push \(push) B, pull \(pull) B, the same pull with whole records \(wholeBytes) B"
                )
            }
            let ratios = Summary(samples: zip(wholePerField, pullPerField).map { $0 / $1 })
            return BenchResult(
                name: "delta", metric: "bytes pulled per changed field (\(count) customers × 3 fields)", unit: "B",
                measured: Summary(samples: pullPerField), baselineName: "the same pull, whole records (no `since`)",
                baseline: Summary(samples: wholePerField), ratioName: "whole/field", ratios: ratios,
                target: "≤ 17 B (the SQLite session extension, issue 15)",
                met: Summary(samples: pullPerField).median <= 17,
                notes: [
                    String(format: "push: %.1f B per changed field", Summary(samples: pushPerField).median),
                    "bytes: deflated protobuf bodies as sent (MeasuringTransport), HTTP headers excluded",
                ])
        }
    }
}
