import ArgumentParser
import Foundation
import Logging
import RelaisClient
import RelaisCore
import RelaisHub

/// `relais-hub demo`: a hub on a temporary SQLite store and a simulated sales force.
///
/// Everything is real: the hub serves HTTP on loopback, each salesperson's laptop is a replica file
/// enrolled with a one-time code, edits are made offline through the client library, and `sync` goes
/// over HTTP with compressed change-sets. The week in the field is seeded, so the report is the same
/// on every run.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a hub on a temporary store with a simulated sales force.",
        discussion: """
            Starts a hub on a temporary SQLite store, enrolls a manager and three salespeople in two
            territories, simulates a week of offline work on each laptop (visits, calls, complaints,
            status changes, and deliberate concurrent edits of the same customers), syncs everyone,
            and prints a report: writes synced, conflicts by rule, conflicts waiting for a decision.
            Then it keeps serving, so the conflicts can be reviewed at /admin, until Ctrl-C.

              relais-hub demo                 # serve on 127.0.0.1:7420 until Ctrl-C
              relais-hub demo --once          # print the report and exit (scripts, CI)
              relais-hub demo --port 0        # any free port
              relais-hub demo --keep          # keep the hub store and laptop files afterwards
            """)

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0 picks a free one).") var port = 7420
    @Flag(help: "Exit after the report instead of serving until Ctrl-C.") var once = false
    @Flag(help: "Keep the temporary hub store and replica files (their folder is printed).") var keep = false
    @Option(help: "Seed of the simulated week.") var seed: UInt64 = 2026
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port is 0 to 65535.") }
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("relais-demo-\(UUID().uuidString.prefix(8).lowercased())").path
        try FileManager.default.createDirectory(atPath: folder + "/laptops", withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: folder) } }

        let logger = {
            var logger = HubLogging.standardError(label: "relais.hub.demo")
            if ProcessInfo.processInfo.environment["LOG_LEVEL"] == nil { logger.logLevel = .warning }
            return logger
        }()
        let store = try SQLiteHubStore(folder: folder + "/hub", create: true)
        let service = HubService(store: store, logger: logger)
        let adminToken = try await service.initialize()

        let configuration = HubServer.Configuration(host: host, port: port)
        let (seed, json, keep) = (seed, json, keep)
        let folderShown = keep ? folder : nil
        let simulate: @Sendable (String) async throws -> Void = { url in
            var week = DemoWeek(hub: url, folder: folder + "/laptops", service: service, seed: seed)
            let report = try await week.run()
            let text = json ? try report.json() : report.text(hub: url, adminToken: adminToken, folder: folderShown)
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
        do {
            if once {
                // Serve for the simulated week only, then shut down gracefully.
                // The server logs the cancellation of its idle connections at error level when it stops.
                var quiet = logger
                if ProcessInfo.processInfo.environment["LOG_LEVEL"] == nil { quiet.logLevel = .critical }
                try await HubServer.withRunningServer(service: service, configuration: configuration, logger: quiet, simulate)
            } else {
                // Serve until Ctrl-C (SIGINT) or SIGTERM; the week runs as soon as the hub listens.
                let (addresses, continuation) = AsyncStream.makeStream(of: String.self)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        try await HubServer.run(service: service, configuration: configuration, logger: logger) { url in
                            continuation.yield(url)
                            continuation.finish()
                        }
                    }
                    var iterator = addresses.makeAsyncIterator()
                    guard let url = await iterator.next() else {
                        throw CLIError(message: "the hub did not start", exitCode: 1)
                    }
                    try await simulate(url)
                    FileHandle.standardOutput.write(Data("Serving until Ctrl-C.\n".utf8))
                    try await tasks.waitForAll()
                }
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}

/// The simulated week: who works where, what they type, and what the hub made of it.
struct DemoWeek {
    let hub: String
    let folder: String
    let service: HubService
    var random: DemoRandom

    init(hub: String, folder: String, service: HubService, seed: UInt64) {
        self.hub = hub
        self.folder = folder
        self.service = service
        self.random = DemoRandom(seed: seed)
    }

    /// The sales force: one manager over both territories, two reps in the north, one in the south.
    static let people: [(name: String, role: Role, territories: [String])] = [
        ("maria", .manager, ["north", "south"]),
        ("claire", .rep, ["north"]),
        ("hugo", .rep, ["north"]),
        ("samir", .rep, ["south"]),
    ]

    static let customers: [(name: String, city: String, territory: String, segment: String)] = [
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

    mutating func run() async throws -> DemoReport {
        var replicas: [String: Replica] = [:]
        for person in Self.people {
            let code = try await service.addUser(person.name, role: person.role, territories: person.territories)
            replicas[person.name] = try await Replica.enroll(
                hub: hub, code: code, path: "\(folder)/\(person.name).relais", deviceName: "\(person.name)-laptop")
        }
        var report = DemoReport()

        // Monday morning at the office: Maria loads the customer file and everyone syncs before leaving.
        let maria = replicas["maria"]!
        var ids: [String] = []
        for customer in Self.customers {
            ids.append(
                try await maria.add(
                    "customers",
                    [
                        "name": .text(customer.name), "city": .text(customer.city), "territory": .text(customer.territory),
                        "segment": .text(customer.segment), "status": .text("active"), "programme": .text("loyalty"),
                        "relationship_level": .text("reactive"), "owner": .text(customer.territory == "north" ? "claire" : "samir"),
                        "phone": .text(phoneNumber()), "tags": .stringSet(["key-account"].filter { _ in customer.segment == "A" }),
                    ]))
        }
        for name in ["maria", "claire", "hugo", "samir"] { report.add(try await replicas[name]!.sync()) }

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
                        "customer_id": .text(customer), "kind": .text(kind), "at": .date("\(date)T\(String(format: "%02d", 9 + random.next(8))):30:00Z"),
                        "author": .text(name), "summary": .text(summary(kind)), "satisfaction": .number(Double(1 + random.next(5))),
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
        let claire = replicas["claire"]!, hugo = replicas["hugo"]!
        let hotel = north[2], pharmacy = north[3], brasserie = north[4], garage = north[1]
        try await claire.set("customers", id: hotel, ["phone": .text("+33 3 22 91 40 00"), "tags": .stringSet(["key-account", "events"])])
        try await hugo.set("customers", id: hotel, ["phone": .text("+33 3 22 91 40 77"), "tags": .stringSet(["key-account", "weddings"])])
        try await claire.set("customers", id: pharmacy, ["status": .text("at_risk"), "notes": .text("Competitor offered 10% off; owner hesitant.")])
        try await hugo.set("customers", id: pharmacy, ["status": .text("active"), "notes": .text("Reordered the winter range on Thursday.")])
        try await maria.set("customers", id: pharmacy, ["programme": .text("recovery")])
        try await claire.set("customers", id: pharmacy, ["programme": .text("development")])
        let complaint = try await claire.add(
            "interactions",
            [
                "customer_id": .text(brasserie), "kind": .text("complaint"), "at": .date("2026-11-24T10:00:00Z"), "author": .text("claire"),
                "summary": .text("Late delivery for the second week running."), "follow_up_on": .date("2026-12-05"), "resolved": .bool(false),
            ])
        report.add(try await claire.sync())
        report.add(try await hugo.sync())
        try await hugo.set("interactions", id: complaint, ["follow_up_on": .date("2026-12-02"), "resolved": .bool(true)])
        try await claire.set("interactions", id: complaint, ["follow_up_on": .date("2026-12-09"), "outcome": .text("Driver schedule changed.")])
        try await hugo.delete("customers", id: garage)
        try await claire.set("customers", id: garage, ["status": .text("at_risk"), "notes": .text("Owner retiring next spring.")])

        // Friday evening: everyone syncs, twice, so every laptop has everything.
        for _ in 0..<2 {
            for name in ["claire", "hugo", "samir", "maria"] { report.add(try await replicas[name]!.sync()) }
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
        report.customers = try await maria.list("customers").count
        report.interactions = try await maria.list("interactions").count
        return report
    }

    private mutating func phoneNumber() -> String {
        "+33 \(1 + random.next(5)) \(10 + random.next(90)) \(10 + random.next(90)) \(10 + random.next(90)) \(10 + random.next(90))"
    }

    private mutating func summary(_ kind: String) -> String {
        let lines: [String: [String]] = [
            "visit": ["Presented the spring catalogue.", "Checked the shelf display.", "Met the new purchasing manager."],
            "call": ["Confirmed the next delivery.", "Answered a pricing question.", "Followed up on the last order."],
            "email": ["Sent the updated price list.", "Shared the loyalty programme terms."],
            "complaint": ["Invoice sent twice.", "Damaged packaging on delivery.", "Sales rep hard to reach."],
            "suggestion": ["Asks for smaller pack sizes.", "Would like online ordering."],
        ]
        let options = lines[kind] ?? ["Noted."]
        return options[random.next(options.count)]
    }
}

/// What the demo prints.
struct DemoReport {
    var pushed = 0
    var pulled = 0
    var conflictsOnWrites = 0
    var rejected = 0
    var reports = 0
    var open = 0
    var byRule: [String: Int] = [:]
    var laptops: [String] = []
    var converged: [String] = []
    var customers = 0
    var interactions = 0

    mutating func add(_ result: SyncResult) {
        pushed += result.pushed
        pulled += result.pulled
        conflictsOnWrites += result.conflicts
        rejected += result.rejected
    }

    func text(hub: String, adminToken: String, folder: String?) -> String {
        var lines = [
            "Relais demo: a week in the field for 1 manager and 3 salespeople (north, south)",
            "",
            "  writes synced        \(pushed)  (\(customers) customers, \(interactions) interactions on the hub's books)",
            "  records pulled       \(pulled)",
            "  rejected writes      \(rejected)",
            "  conflict reports     \(reports)",
        ]
        for rule in byRule.keys.sorted() {
            lines.append("    \(rule.padding(toLength: 18, withPad: " ", startingAt: 0)) \(byRule[rule]!)")
        }
        lines.append("  waiting for a decision  \(open) open")
        let agree = converged.count == laptops.count ? "all \(laptops.count) laptops" : "\(converged.count) of \(laptops.count) laptops"
        lines.append("  convergence          \(agree) hold exactly the hub's view for their user")
        lines += [
            "",
            "Review the conflicts:",
            "  admin pages   \(hub)/admin   (sign in with the admin token)",
            "  admin token   \(adminToken)",
            "  command line  relais admin conflicts list --hub \(hub) --token \(adminToken)",
        ]
        if let folder { lines.append("  files         \(folder)") }
        return lines.joined(separator: "\n")
    }

    func json() throws -> String {
        let object: [String: Any] = [
            "pushed": pushed, "pulled": pulled, "rejected": rejected, "conflicts": reports, "open_conflicts": open,
            "conflicts_by_rule": byRule, "laptops": laptops, "converged": converged,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func sameJSON(_ a: Data, _ b: Data) -> Bool {
        guard let x = try? JSONSerialization.jsonObject(with: a), let y = try? JSONSerialization.jsonObject(with: b) else {
            return false
        }
        return NSDictionary(dictionary: x as? [String: Any] ?? [:]).isEqual(to: y as? [String: Any] ?? [:])
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
