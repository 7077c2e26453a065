import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting

/// The manager's reports page (docs/CRM.md): what the hub computes for an admin's view of
/// `bootstrapRecords` customers with ten interactions each, against a plain SQL aggregate of the same
/// rows in a plain SQLite file.
extension BenchRunner {
    static let interactionsPerCustomer = 10

    func reports() async throws -> BenchResult {
        let count = options.bootstrapRecords
        let perCustomer = Self.interactionsPerCustomer
        let runs = options.runs
        log("reports: \(count) customers, \(count * perCustomer) interactions")
        let seed: @Sendable (HubService) async throws -> Void = { service in
            try await Self.seedReports(service, customers: count, perCustomer: perCustomer)
        }
        return try await withBenchHub(seeded: (key: "reports\(count)x\(perCustomer)", seed: seed), log: log) { hub, _ in
            let plain = hub.folder + "/plain.sqlite"
            try Self.writePlain(plain, customers: count, perCustomer: perCustomer)
            var measured: [Double] = []
            var baseline: [Double] = []
            for run in 0..<runs {
                let (figures, seconds) = try await timed {
                    // What the reports page computes (AdminPages.reports).
                    let customers = try await hub.service.reportCustomers(for: "admin")
                    let today = hub.service.today()
                    let atRisk = ManagerReports.valueAtRisk(customers, today: today, limit: 50)
                    let complaints = ManagerReports.complaints(customers, today: today)
                    let levels = ManagerReports.levelDifferences(customers, today: today)
                    let retention = try await hub.service.retention(of: customers, from: today - 90, to: today)
                    return (customers.count, atRisk.count, complaints.open.count, levels.count, retention.overall)
                }
                guard figures.0 == count else { throw BenchError("reports: read \(figures.0) of \(count) customers") }
                let (rows, aggregate) = try await timed { try Self.aggregate(plain) }
                guard rows == count else { throw BenchError("reports: the aggregate gave \(rows) rows") }
                measured.append(seconds)
                baseline.append(aggregate)
                log("reports run \(run + 1): \(seconds) s; the SQL aggregate \(aggregate) s")
            }
            return BenchResult(
                name: "reports",
                metric: "the manager's reports over \(count) customers and \(count * perCustomer) interactions",
                unit: "s", measured: Summary(samples: measured),
                baselineName:
                    "a plain SQL aggregate of the same rows (last contact, count, satisfaction, open complaints)",
                baseline: Summary(samples: baseline), ratioName: "reports/aggregate",
                ratios: Summary(samples: zip(measured, baseline).map { $0 / $1 }), target: "≤ 1 s",
                met: Summary(samples: measured).median <= 1.0,
                notes: [
                    "value at risk, complaints, relationship levels and retention, as the page computes them; the hub decodes every record of the view"
                ])
        }
    }

    /// The rows both sides hold: customer `n` of territory north, its interactions one every 30
    /// days back from yesterday, every 7th a complaint, satisfaction on every other.
    static func interaction(_ n: Int, _ k: Int) -> (
        id: String, kind: String, day: Int, satisfaction: Int?, resolved: Bool
    ) {
        (
            String(format: "10000000-0000-4000-a000-%012x", n * 64 + k), k % 7 == 3 ? "complaint" : "visit",
            -1 - 30 * k - n % 30, k % 2 == 0 ? 1 + (n + k) % 5 : nil, k % 14 != 3
        )
    }

    static func customerID(_ n: Int) -> String { String(format: "20000000-0000-4000-a000-%012x", n) }

    static func seedReports(_ service: HubService, customers: Int, perCustomer: Int) async throws {
        let code = try await service.addUser("seed-office", role: .manager, territories: ["north"])
        let enrolled = try await service.enroll(Wire.enroll(code))
        let principal = try await service.authenticate(token: enrolled.token)
        let today = Day(millis: UInt64(Date().timeIntervalSince1970 * 1000))
        var counter: UInt64 = 0
        var batch: [Relais_V1_RecordWrite] = []
        func flush() async throws {
            guard !batch.isEmpty else { return }
            let response = try await service.push(Wire.push(enrolled.replica, batch), from: principal)
            guard response.results.allSatisfy({ $0.status == .applied }) else {
                throw BenchError("reports: the hub refused a seeding write")
            }
            batch.removeAll(keepingCapacity: true)
        }
        for n in 0..<customers {
            counter += 1
            batch.append(
                Wire.customer(
                    id: customerID(n), replica: enrolled.replica, counter: counter, name: "Customer \(n)",
                    extra: ["status": .text("active"), "lifetime_value": .number(Double(1_000 + n % 97 * 500))]))
            for k in 0..<perCustomer {
                let row = interaction(n, k)
                var fields: [String: Value] = [
                    "customer_id": .text(customerID(n)), "kind": .text(row.kind),
                    "at": .date((today + row.day).description),
                ]
                if let satisfaction = row.satisfaction { fields["satisfaction"] = .number(Double(satisfaction)) }
                if row.kind == "complaint" { fields["resolved"] = .bool(row.resolved) }
                counter += 1
                batch.append(
                    Wire.write("interactions", id: row.id, replica: enrolled.replica, counter: counter, fields: fields))
            }
            if batch.count >= ProtocolLimits.default.maxWritesPerBatch - perCustomer - 1 { try await flush() }
        }
        try await flush()
    }

    static func writePlain(_ path: String, customers: Int, perCustomer: Int) throws {
        let db = try Connection(path: path)
        defer { try? db.close() }
        try db.execute(
            """
            CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, territory TEXT, status TEXT, lifetime_value REAL);
            CREATE TABLE interactions (id TEXT PRIMARY KEY, customer_id TEXT, kind TEXT, at TEXT, satisfaction INTEGER,
                resolved INTEGER);
            CREATE INDEX interactions_customer ON interactions (customer_id);
            """)
        let today = Day(millis: UInt64(Date().timeIntervalSince1970 * 1000))
        try db.transaction(.immediate) {
            let customer = try db.prepare("INSERT INTO customers VALUES (?, ?, 'north', 'active', ?)")
            let insert = try db.prepare("INSERT INTO interactions VALUES (?, ?, ?, ?, ?, ?)")
            for n in 0..<customers {
                try customer.execute([
                    .text(customerID(n)), .text("Customer \(n)"), .real(Double(1_000 + n % 97 * 500)),
                ])
                for k in 0..<perCustomer {
                    let row = interaction(n, k)
                    try insert.execute([
                        .text(row.id), .text(customerID(n)), .text(row.kind), .text((today + row.day).description),
                        row.satisfaction.map { .integer(Int64($0)) } ?? .null, .integer(row.resolved ? 1 : 0),
                    ])
                }
            }
        }
    }

    /// Per customer: its value, last contact, contacts, lowest satisfaction and open complaints.
    static func aggregate(_ path: String) throws -> Int {
        let db = try Connection(path: path)
        defer { try? db.close() }
        var rows = 0
        try db.query(
            """
            SELECT c.id, c.lifetime_value, max(i.at), count(i.id), min(i.satisfaction),
                   sum(i.kind = 'complaint' AND i.resolved = 0)
            FROM customers AS c LEFT JOIN interactions AS i ON i.customer_id = c.id
            GROUP BY c.id
            """
        ) { _ in rows += 1 }
        return rows
    }
}
