import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// Applying a bootstrap of customers from pull pages of 1,000, against raw SQLite inserting the same
/// rows into an empty table in one transaction, measured in the same run. Prints the medians and the
/// ratio; asserts only that everything arrived (no timing assertions).
///
/// Small by default (5,000 customers, one run) so that `swift test` stays quick; 100,000 customers and
/// three runs with `RELAIS_BENCH_FULL=1`. The issue's figure comes from the benchmark, in release, on
/// the same pages (`BootstrapPages`): `swift run -c release relais-bench --only apply`.
struct BenchmarkTests {
    static let full = ProcessInfo.processInfo.environment["RELAIS_BENCH_FULL"] == "1"
    static let customers = full ? 100_000 : 5_000
    static let runs = full ? 3 : 1
    static let pageSize = 1_000
    static let fields = BootstrapPages.fields

    func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }

    /// CPU time of the process (user and system), which a loaded machine disturbs less than wall time.
    static func cpuTime() -> Duration {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test func bootstrapApplyAgainstRawInserts() async throws {
        let pages = BootstrapPages.pages(count: Self.customers, pageSize: Self.pageSize)
        var applied: [Duration] = []
        var raw: [Duration] = []
        var appliedCPU: [Duration] = []
        var rawCPU: [Duration] = []
        for _ in 0..<Self.runs {
            try await ClientTemporaryFolder.with { folder in
                let replica = try Replica.open(path: folder.file("replica.db"))
                let start = ContinuousClock.now
                let startCPU = Self.cpuTime()
                for page in pages { try await replica._applyPullPage(page) }
                // The raw baseline's commit checkpoints its log; so does this side, to be fair.
                try await replica.withStore { try $0.db.execute("PRAGMA wal_checkpoint(PASSIVE)") }
                applied.append(ContinuousClock.now - start)
                appliedCPU.append(Self.cpuTime() - startCPU)
                #expect(
                    try await replica.list(customer, where: ["city": .text("City 3")]).count
                        == (0..<Self.customers).count { $0 % 97 == 3 })
                #expect(try await replica.status().cursor == UInt64(Self.customers))

                let db = try Connection(path: folder.file("raw.db"))
                try db.configureForDurability()
                try db.execute(ReplicaSQL.createTable(Schema.crm.collection(customer)!))
                let columns = Self.fields.map { "\"\($0)\"" }.joined(separator: ", ")
                let rawStart = ContinuousClock.now
                let rawStartCPU = Self.cpuTime()
                try db.transaction {
                    let statement = try db.prepare(
                        "INSERT INTO customers(id, \(columns)) VALUES (?\(String(repeating: ", ?", count: Self.fields.count)))")
                    for page in pages {
                        for record in page.records {
                            try statement.bind(text: record.recordID, at: 1)
                            for (k, field) in record.fields.enumerated() {
                                try ColumnCodec.bind(try Value(field.value), to: statement, at: Int32(k + 2))
                            }
                            try statement.execute()
                        }
                    }
                }
                raw.append(ContinuousClock.now - rawStart)
                rawCPU.append(Self.cpuTime() - rawStartCPU)
                #expect(try db.scalar("SELECT count(*) FROM customers")?.int64Value == Int64(Self.customers))
            }
        }
        func format(_ values: [Duration]) -> String {
            "median \(String(format: "%.3f", Self.seconds(median(values)))) s "
                + "(min \(String(format: "%.3f", Self.seconds(values.min()!))), max \(String(format: "%.3f", Self.seconds(values.max()!))))"
        }
        print(
            "bootstrap of \(Self.customers) customers in \(Self.customers / Self.pageSize) pages, \(Self.runs) runs: "
                + "wall: apply \(format(applied)), raw SQLite \(format(raw)), "
                + "ratio \(String(format: "%.2f", Self.seconds(median(applied)) / Self.seconds(median(raw)))); "
                + "CPU: apply \(format(appliedCPU)), raw SQLite \(format(rawCPU)), "
                + "ratio \(String(format: "%.2f", Self.seconds(median(appliedCPU)) / Self.seconds(median(rawCPU))))")
    }
}
