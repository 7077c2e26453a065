import AsyncHTTPClient
import Foundation
import Glibc
import NIOCore
import NIOHTTP1
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
        let changes = min(1_000, count)
        log("reports: \(count) customers, \(count * perCustomer) interactions")
        let seed: @Sendable (HubService) async throws -> Void = { service in
            try await Self.seedReports(service, customers: count, perCustomer: perCustomer)
        }
        return try await withBenchHub(seeded: (key: "reports\(count)x\(perCustomer)", seed: seed), log: log) { hub, _ in
            let plain = hub.folder + "/plain.sqlite"
            try Self.writePlain(plain, customers: count, perCustomer: perCustomer)
            var configuration = HTTPClient.Configuration()
            configuration.redirectConfiguration = .disallow  // the sign-in's 303 carries the cookie
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            do {
                let result = try await measure(hub, http: http, plain: plain, changes: changes)
                try await http.shutdown()
                return result
            } catch {
                try? await http.shutdown()
                throw error
            }
        }
    }

    private func measure(_ hub: BenchHub, http: HTTPClient, plain: String, changes: Int) async throws -> BenchResult {
        let count = options.bootstrapRecords
        let perCustomer = Self.interactionsPerCustomer
        let runs = options.runs
        let page = AdminPageClient(http: http, url: hub.url)
        let cookie = try await page.signIn(token: try await hub.service.issueAPIToken(for: "admin"))
        // The hub's first page reads the whole file into the reports' cache.
        trimHeap()
        let before = residentKilobytes()
        let (firstBytes, first) = try await timed { try await page.get("/admin/reports", cookie: cookie) }
        trimHeap()  // what the first read decoded and freed, given back: what stays is the cache
        let held = Double(residentKilobytes() - before) / 1024
        log("reports: first page \(first) s (\(firstBytes) bytes); the process holds \(held) MB more")
        let office = try await BenchDevice.enroll(
            hub.service, user: "bench-office", territories: ["north"], name: "office")
        let principal = try await hub.service.authenticate(token: office.token)
        var measured: [Double] = []
        var baseline: [Double] = []
        for run in 0..<runs {
            // Salespeople went on working since the last page: new interactions to catch up with.
            let writes = (0..<changes).map { k in
                Wire.write(
                    "interactions", id: Wire.uuid(), replica: office.replica,
                    counter: UInt64(run * changes + k + 1),
                    fields: [
                        "customer_id": .text(Self.customerID((run * changes + k) * 7919 % count)),
                        "kind": .text("call"), "at": .date(hub.service.today().description),
                    ])
            }
            let pushed = try await hub.service.push(Wire.push(office.replica, writes), from: principal)
            guard pushed.results.allSatisfy({ $0.status == .applied }) else {
                throw BenchError("reports: the hub refused a new interaction")
            }
            let (bytes, seconds) = try await timed { try await page.get("/admin/reports", cookie: cookie) }
            let (rows, aggregate) = try await timed { try Self.aggregate(plain) }
            guard rows == count else { throw BenchError("reports: the aggregate gave \(rows) rows") }
            measured.append(seconds)
            baseline.append(aggregate)
            log("reports run \(run + 1): \(seconds) s (\(bytes) bytes); the SQL aggregate \(aggregate) s")
        }
        return BenchResult(
            name: "reports",
            metric:
                "GET /admin/reports over \(count) customers and \(count * perCustomer) interactions, \(changes) new since the last page",
            unit: "s", measured: Summary(samples: measured),
            baselineName:
                "a plain SQL aggregate of the same rows (last contact, count, satisfaction, open complaints)",
            baseline: Summary(samples: baseline), ratioName: "reports/aggregate",
            ratios: Summary(samples: zip(measured, baseline).map { $0 / $1 }), target: "≤ 1 s",
            met: Summary(samples: measured).median <= 1.0,
            notes: [
                "the page as an admin's browser gets it: value at risk, complaints, relationship levels, retention, rendered",
                String(
                    format:
                        "the hub's first page after its start reads the whole file into the reports' cache: %.2f s; the process holds %.0f MB more (resident, after malloc_trim)",
                    first, held),
            ])
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

/// The admin's pages as a browser gets them: signed in with an API token, then pages read with the
/// session cookie.
struct AdminPageClient {
    let http: HTTPClient
    let url: String

    /// Signs in with `token` and returns the session cookie (`name=value`).
    func signIn(token: String) async throws -> String {
        let form = try await http.execute(HTTPClientRequest(url: url + "/admin/sign-in"), timeout: .seconds(30))
        let html = String(buffer: try await form.body.collect(upTo: 1 << 20))
        guard let signin = Self.cookie("relais_signin", form.headers),
            let range = html.range(of: #"name="csrf" value=""#),
            let end = html[range.upperBound...].firstIndex(of: "\"")
        else { throw BenchError("reports: the sign-in form has no csrf") }
        let csrf = String(html[range.upperBound..<end])
        var post = HTTPClientRequest(url: url + "/admin/sign-in")
        post.method = .POST
        post.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        post.headers.add(name: "Cookie", value: signin)
        let body = "csrf=\(Self.encoded(csrf))&token=\(Self.encoded(token))"
        post.body = .bytes(ByteBuffer(string: body))
        let signed = try await http.execute(post, timeout: .seconds(30))
        _ = try await signed.body.collect(upTo: 1 << 20)
        guard signed.status.code == 303, let session = Self.cookie("relais_admin", signed.headers) else {
            throw BenchError("reports: signing in answered \(signed.status.code)")
        }
        return session
    }

    /// The page at `path`, signed in; returns its size in bytes.
    func get(_ path: String, cookie: String) async throws -> Int {
        var request = HTTPClientRequest(url: url + path)
        request.headers.add(name: "Cookie", value: cookie)
        let response = try await http.execute(request, timeout: .seconds(600))
        let body = try await response.body.collect(upTo: 256 << 20)
        guard response.status.code == 200 else { throw BenchError("reports: \(path) answered \(response.status.code)") }
        return body.readableBytes
    }

    private static func cookie(_ name: String, _ headers: HTTPHeaders) -> String? {
        headers["Set-Cookie"].lazy.compactMap { $0.split(separator: ";").first.map(String.init) }
            .first { $0.hasPrefix(name + "=") }
    }

    private static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }
}

/// glibc's `malloc_trim(0)`: freed memory given back to the system, so that the resident set counts
/// what is held (Swift's Glibc module does not declare it).
func trimHeap() {
    typealias Trim = @convention(c) (Int) -> Int32
    if let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") { _ = unsafeBitCast(symbol, to: Trim.self)(0) }
}
