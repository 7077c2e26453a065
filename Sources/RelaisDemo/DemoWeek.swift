import Foundation
import RelaisClient
import RelaisCore
public import RelaisHub

/// The simulated team: who works where, what they type over two months and a last week of
/// deliberate concurrent edits, and what the hub made of it.
public struct DemoWeek: Sendable {
    let hub: String
    let folder: String
    let service: HubService
    /// How many customers the office loads before the two months (besides the week's ten).
    let customerCount: Int
    var random: DemoRandom

    /// The demo for the hub at `hub` (its URL), whose users are added through `service`; the laptops'
    /// replica files go in `folder`; `seed` decides everything the salespeople type; `customers`
    /// customers are loaded with their history (about 3,000 in `relais-hub demo`).
    public init(hub: String, folder: String, service: HubService, seed: UInt64, customers: Int = 3_000) {
        self.hub = hub
        self.folder = folder
        self.service = service
        self.customerCount = customers
        self.random = DemoRandom(seed: seed)
    }

    /// The sales force: two managers (one over the north and the south, one over the east), two
    /// salespeople in each territory.
    public static let people: [(name: String, role: Role, territories: [String])] = [
        ("maria", .manager, ["north", "south"]),
        ("lucas", .manager, ["east"]),
        ("claire", .rep, ["north"]),
        ("hugo", .rep, ["north"]),
        ("samir", .rep, ["south"]),
        ("ines", .rep, ["south"]),
        ("theo", .rep, ["east"]),
        ("zoe", .rep, ["east"]),
    ]

    /// The customer file the manager loads on Monday morning: six in the north, four in the south.
    public static let customers: [(name: String, city: String, territory: String, segment: String)] = [
        ("Boulangerie Martin", "Lille", "north", "B"),
        ("Garage du Nord", "Roubaix", "north", "C"),
        ("Hôtel Belvédère", "Amiens", "north", "A"),
        ("Pharmacie Lemoine", "Arras", "north", "B"),
        ("Brasserie de la Gare", "Douai", "north", "C"),
        ("Clinique Saint-Roch", "Lens", "north", "A"),
        ("Cave Duval & Fils", "Nîmes", "south", "A"),
        ("Fromagerie Rouquette", "Montpellier", "south", "B"),
        ("Atelier Ferrand", "Arles", "south", "C"),
        ("Domaine des Oliviers", "Avignon", "south", "A"),
    ]

    /// Enrolls the sales force, works the week offline, syncs every laptop, and reports.
    public mutating func run() async throws -> DemoReport {
        var replicas: [String: Replica] = [:]
        for person in Self.people {
            let code = try await service.addUser(person.name, role: person.role, territories: person.territories)
            replicas[person.name] = try await Replica.enroll(
                hub: hub, code: code, path: "\(folder)/\(person.name).relais", deviceName: "\(person.name)-laptop")
        }
        var report = DemoReport()
        try await twoMonths(replicas, count: customerCount, report: &report)

        // Monday morning at the office: Maria loads the customer file and everyone syncs before leaving.
        let maria = replicas["maria"]!
        var ids: [String] = []
        for customer in Self.customers {
            ids.append(
                try await maria.add(
                    "customers",
                    [
                        "name": .text(customer.name), "city": .text(customer.city),
                        "territory": .text(customer.territory),
                        "segment": .text(customer.segment), "status": .text("active"), "programme": .text("loyalty"),
                        "relationship_level": .text("reactive"),
                        "owner": .text(customer.territory == "north" ? "claire" : "samir"),
                        "phone": .text(phoneNumber()),
                        "tags": .stringSet(["key-account"].filter { _ in customer.segment == "A" }),
                    ]))
        }
        for person in Self.people { report.add(try await replicas[person.name]!.sync()) }

        // The week in the field, offline: ordinary work on every laptop.
        let north = Array(ids[0..<6])
        let south = Array(ids[6...])
        let kinds = ["visit", "call", "email", "complaint", "suggestion"]
        for day in 0..<5 {
            let date = "2026-11-\(String(format: "%02d", 23 + day))"
            for (name, territory) in [("claire", north), ("hugo", north), ("samir", south)] {
                let replica = replicas[name]!
                for _ in 0..<3 {
                    let customer = territory[random.next(territory.count)]
                    let kind = kinds[random.next(kinds.count)]
                    var values: [String: Value] = [
                        "customer_id": .text(customer), "kind": .text(kind),
                        "at": .date("\(date)T\(String(format: "%02d", 9 + random.next(8))):30:00Z"),
                        "author": .text(name), "summary": .text(summary(kind)),
                        "satisfaction": .number(Double(1 + random.next(5))),
                    ]
                    if kind == "complaint" {
                        values["resolved"] = .bool(false)
                        values["follow_up_on"] = .date("2026-12-0\(1 + random.next(5))")
                    }
                    _ = try await replica.add("interactions", values)
                }
                if random.next(3) == 0 {
                    let customer = territory[random.next(territory.count)]
                    let level = ["reactive", "responsible", "proactive", "partnership"][random.next(4)]
                    try await replica.set("customers", id: customer, ["relationship_level": .text(level)])
                }
            }
        }

        // Deliberate concurrent edits: Claire and Hugo both work on the same northern customers.
        let claire = replicas["claire"]!
        let hugo = replicas["hugo"]!
        let hotel = north[2]
        let pharmacy = north[3]
        let brasserie = north[4]
        let garage = north[1]
        try await claire.set(
            "customers", id: hotel,
            ["phone": .text("+33 3 22 91 40 00"), "tags": .stringSet(["key-account", "events"])])
        try await hugo.set(
            "customers", id: hotel,
            ["phone": .text("+33 3 22 91 40 77"), "tags": .stringSet(["key-account", "weddings"])])
        try await claire.set(
            "customers", id: pharmacy,
            ["status": .text("at_risk"), "notes": .text("Competitor offered 10% off; owner hesitant.")])
        try await hugo.set(
            "customers", id: pharmacy,
            ["status": .text("active"), "notes": .text("Reordered the winter range on Thursday.")])
        try await maria.set("customers", id: pharmacy, ["programme": .text("recovery")])
        try await claire.set("customers", id: pharmacy, ["programme": .text("development")])
        let complaint = try await claire.add(
            "interactions",
            [
                "customer_id": .text(brasserie), "kind": .text("complaint"), "at": .date("2026-11-24T10:00:00Z"),
                "author": .text("claire"),
                "summary": .text("Late delivery for the second week running."), "follow_up_on": .date("2026-12-05"),
                "resolved": .bool(false),
            ])
        report.add(try await claire.sync())
        report.add(try await hugo.sync())
        try await hugo.set(
            "interactions", id: complaint, ["follow_up_on": .date("2026-12-02"), "resolved": .bool(true)])
        try await claire.set(
            "interactions", id: complaint,
            ["follow_up_on": .date("2026-12-09"), "outcome": .text("Driver schedule changed.")])
        try await hugo.delete("customers", id: garage)
        try await claire.set(
            "customers", id: garage, ["status": .text("at_risk"), "notes": .text("Owner retiring next spring.")])

        // Friday evening: everyone syncs, twice, so every laptop has everything.
        for _ in 0..<2 {
            for person in Self.people.reversed() { report.add(try await replicas[person.name]!.sync()) }
        }

        let conflicts = try await service.conflicts(ConflictFilter(limit: 10_000))
        for conflict in conflicts {
            report.byRule[conflict.conflict.rule, default: 0] += 1
            if conflict.status == .open { report.open += 1 }
        }
        report.reports = conflicts.count
        for person in Self.people {
            let laptop = try await replicas[person.name]!.export()
            let hubView = try await service.exportJSON(user: person.name)
            if DemoReport.sameJSON(laptop, Data(hubView)) { report.converged.append(person.name) }
        }
        report.laptops = Self.people.map(\.name)
        let everything = try await service.reportCustomers(for: "admin")
        report.customers = everything.count
        report.interactions = everything.reduce(0) { $0 + $1.interactions.count }
        report.orders = everything.reduce(0) { $0 + $1.orders.count }
        report.opportunities = everything.reduce(0) { $0 + $1.opportunities.count }
        let today = service.today()
        report.atRisk = ManagerReports.valueAtRisk(everything, today: today, limit: 3).map {
            "\($0.customer.name): \(Int($0.valueAtRisk)) at risk, score \($0.score.score)"
        }
        let complaints = ManagerReports.complaints(everything, today: today)
        report.openComplaints = complaints.open.count
        report.overdueComplaints = complaints.open.filter(\.overdue).count
        report.managerToken = try await service.issueAPIToken(for: "maria")
        return report
    }

    private mutating func phoneNumber() -> String {
        "+33 \(1 + random.next(5)) \(10 + random.next(90)) \(10 + random.next(90)) \(10 + random.next(90)) \(10 + random.next(90))"
    }

    private mutating func summary(_ kind: String) -> String {
        let lines: [String: [String]] = [
            "visit": [
                "Presented the spring catalogue.", "Checked the shelf display.", "Met the new purchasing manager.",
            ],
            "call": ["Confirmed the next delivery.", "Answered a pricing question.", "Followed up on the last order."],
            "email": ["Sent the updated price list.", "Shared the loyalty programme terms."],
            "complaint": ["Invoice sent twice.", "Damaged packaging on delivery.", "Sales rep hard to reach."],
            "suggestion": ["Asks for smaller pack sizes.", "Would like online ordering."],
        ]
        let options = lines[kind] ?? ["Noted."]
        return options[random.next(options.count)]
    }
}

/// A seeded generator, so the simulated week is the same on every run.
struct DemoRandom {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    /// A number in `0..<bound`.
    mutating func next(_ bound: Int) -> Int {
        Int(generator.next() % UInt64(bound))
    }
}
