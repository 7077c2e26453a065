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
/// Small by default (5,000 customers, one run) so that `swift test` stays quick; the issue's figure
/// (100,000 customers, median of three runs) with `RELAIS_BENCH_FULL=1`, in release:
/// `RELAIS_BENCH_FULL=1 swift test -c release -j 2 --filter BenchmarkTests`.
struct BenchmarkTests {
    static let full = ProcessInfo.processInfo.environment["RELAIS_BENCH_FULL"] == "1"
    static let customers = full ? 100_000 : 5_000
    static let runs = full ? 3 : 1
    static let pageSize = 1_000
    static let fields = ["name", "territory", "status", "city", "phone", "email", "tags"]

    static func value(_ field: String, _ i: Int) -> Value {
        switch field {
        case "name": .text("Customer \(i)")
        case "territory": .text("north")
        case "status": .text("active")
        case "city": .text("City \(i % 97)")
        case "phone": .text("+33 1 \(10_000_000 + i)")
        case "email": .text("c\(i)@example.com")
        default: .set(["t\(i % 5)", "all"])
        }
    }

    static func id(_ i: Int) -> String { String(format: "%08x-0000-4000-8000-%012x", i &* 2_654_435_761 % 0xFFFF_FFFF, i) }

    static func pages() -> [Relais_V1_PullResponse] {
        var pages: [Relais_V1_PullResponse] = []
        var i = 0
        while i < customers {
            var page = Relais_V1_PullResponse()
            for j in i..<min(i + pageSize, customers) {
                var record = Relais_V1_RecordVersion()
                record.collection = "customers"
                record.recordID = id(j)
                let dot = Dot(replica: ReplicaID(UInt32(1 + j % 50)), counter: UInt64(j + 1))
                record.vector = Relais_V1_VersionVector(VersionVector([dot.replica: dot.counter]))
                record.fields = fields.map {
                    Relais_V1_FieldVersion(field: $0, value: value($0, j), dot: dot, hlc: HLC(physicalMillis: 1_795_856_400_000))
                }
                record.seq = UInt64(j + 1)
                page.records.append(record)
            }
            i += pageSize
            page.nextCursor = UInt64(i)
            page.more = i < customers
            pages.append(page)
        }
        return pages
    }

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
        let pages = Self.pages()
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
