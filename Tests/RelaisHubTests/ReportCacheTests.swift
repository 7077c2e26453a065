import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// The reports' customer file, kept up to date from the changes since its last read, is the file a
/// hub reading every record from nothing would see (docs/CRM.md "How the reports stay fast").
struct ReportCacheTests {
    /// What the reports of `user` read, on a hub that starts from nothing on the same store.
    static func fromNothing(_ hub: HubFixture, _ user: String) async throws -> (
        [ReportCustomer], Retention.Report
    ) {
        let fresh = HubService(
            store: hub.store, configuration: hub.service.configuration,
            logger: HubLogging.standardError(label: "fresh"))
        return try await read(fresh, user)
    }

    static func read(_ service: HubService, _ user: String) async throws -> ([ReportCustomer], Retention.Report) {
        let customers = try await service.reportCustomers(for: user)
        let retention = try await service.retention(
            of: customers, from: Day("2026-09-01")!, to: Day("2026-12-01")!)
        return (customers, retention)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func writesMovesDeletesAndRevivalsKeepItEqualToAFreshRead(seed: UInt64) async throws {
        try await HubFixture.with { hub in
            var random = SeededRandom(seed: seed)
            // A manager's laptop: it may move customers between territories.
            var office = try await hub.enrollDevice("office", role: .manager, territories: ["north", "south"])
            _ = try await hub.addUser("marc", role: .manager, territories: ["north"])
            let customers = (0..<8).map { _ in Wire.uuid() }
            let items = (0..<30).map { n in (["interactions", "orders", "opportunities"][n % 3], Wire.uuid()) }
            var deleted: Set<String> = []
            // The laptop knows every record's last write: each write follows it (no conflicts).
            var last: [String: UInt64] = [:]
            func context(_ id: String) -> VersionVector {
                last[id].map { VersionVector([ReplicaID(office.replica): $0]) } ?? .empty
            }
            var day = Day("2026-08-01")!
            let created = customers.enumerated().map { n, id in
                Wire.customer(
                    id: id, replica: office.replica, counter: UInt64(n + 1), territory: n % 2 == 0 ? "north" : "south")
            }
            #expect(try await hub.push(office, created).allSatisfy { $0.status == .applied })
            for (n, id) in customers.enumerated() { last[id] = UInt64(n + 1) }
            office.counter = UInt64(customers.count)
            for round in 0..<40 {
                var writes: [Relais_V1_RecordWrite] = []
                for _ in 0..<random.int(1...6) {
                    office.counter += 1
                    day = day + random.int(0...4)
                    let hlc = HLC(physicalMillis: UInt64(day.number) * 86_400_000 + 36_000_000).rawValue
                    if random.chance(0.35) {
                        let id = random.pick(customers)
                        if random.chance(0.15) {
                            writes.append(
                                Wire.write(
                                    id: id, replica: office.replica, counter: office.counter, delete: true,
                                    context: context(id), hlc: hlc))
                            last[id] = office.counter
                            deleted.insert(id)
                            continue
                        }
                        deleted.remove(id)
                        var extra: [String: Value] = [
                            "status": .text(random.pick(["active", "at_risk", "lapsed"])),
                            "segment": .text(random.pick(["A", "B", "C"])),
                            "lifetime_value": .number(Double(random.int(0...50) * 1_000)),
                            "owner": .text(random.pick(["claire", "dan"])),
                        ]
                        if random.chance(0.3) { extra["programme"] = .text("loyalty") }
                        writes.append(
                            Wire.customer(
                                id: id, replica: office.replica, counter: office.counter,
                                name: "Customer \(id.prefix(4))",
                                territory: random.pick(["north", "south"]), extra: extra, context: context(id),
                                hlc: hlc))
                        last[id] = office.counter
                        continue
                    }
                    let (collection, id) = random.pick(items)
                    if random.chance(0.15) {
                        writes.append(
                            Wire.write(
                                collection, id: id, replica: office.replica, counter: office.counter, delete: true,
                                context: context(id), hlc: hlc))
                        last[id] = office.counter
                        continue
                    }
                    // Filed under a customer chosen again each time: items move between customers.
                    // (A laptop files items under customers that exist.)
                    let live = customers.filter { !deleted.contains($0) }
                    var fields: [String: Value] = ["customer_id": .text(random.pick(live))]
                    let date = Value.date((day - random.int(0...200)).description)
                    switch collection {
                    case "interactions":
                        fields["kind"] = .text(random.pick(["visit", "call", "complaint", "suggestion"]))
                        fields["at"] = date
                        if random.chance(0.5) { fields["satisfaction"] = .number(Double(random.int(1...5))) }
                        fields["resolved"] = .bool(random.chance(0.5))
                    case "orders":
                        fields["ordered_on"] = date
                        fields["amount"] = .number(Double(random.int(1...90) * 100))
                        fields["margin"] = .number(Double(random.int(1...30) * 10))
                    default:
                        fields["title"] = .text("Deal")
                        fields["stage"] = .text(random.pick(["prospecting", "proposal", "won", "lost"]))
                        fields["amount"] = .number(Double(random.int(1...90) * 100))
                        fields["probability"] = .number(Double(random.int(0...100)))
                    }
                    writes.append(
                        Wire.write(
                            collection, id: id, replica: office.replica, counter: office.counter, fields: fields,
                            context: context(id), hlc: hlc))
                    last[id] = office.counter
                }
                let results = try await hub.push(office, writes)
                #expect(
                    results.allSatisfy { $0.status == .applied },
                    "round \(round): \(results.filter { $0.status != .applied }.map(\.reason))")
                if round % 3 == 2 || round == 39 {
                    for user in ["admin", "marc"] {
                        let kept = try await Self.read(hub.service, user)
                        let fresh = try await Self.fromNothing(hub, user)
                        #expect(kept.0 == fresh.0, "seed \(seed), round \(round), \(user): the customers differ")
                        #expect(kept.1 == fresh.1, "seed \(seed), round \(round), \(user): retention differs")
                    }
                }
            }
            // The run did what it is for: items filed under several customers, some deleted.
            let (final, _) = try await Self.read(hub.service, "admin")
            #expect(final.count == customers.count - deleted.count)
            #expect(final.reduce(0) { $0 + $1.interactions.count + $1.orders.count + $1.opportunities.count } > 5)
            #expect(await hub.service.reportCacheRebuilds == 0, "every read after the first caught up")
        }
    }

    /// A rep's laptop that pushed two customers, "Gone" and "Kept"; returns it and Gone's id.
    static func goneAndKept(_ hub: HubFixture) async throws -> (TestDevice, String) {
        let claire = try await hub.enrollDevice("claire", territories: ["north"])
        let gone = Wire.uuid()
        #expect(
            try await hub.push(
                claire,
                [
                    Wire.customer(id: gone, replica: claire.replica, counter: 1, name: "Gone"),
                    Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 2, name: "Kept"),
                ]
            ).map(\.status) == [.applied, .applied])
        return (claire, gone)
    }

    /// Deletes `gone` from the laptop of ``goneAndKept(_:)``, which then pulls past the tombstone:
    /// acknowledged by every device, the next purge removes it.
    static func deleteAndPull(_ hub: HubFixture, _ claire: inout TestDevice, _ gone: String) async throws {
        let context = VersionVector([ReplicaID(claire.replica): 1])
        #expect(
            try await hub.push(
                claire, [Wire.write(id: gone, replica: claire.replica, counter: 3, delete: true, context: context)]
            ).map(\.status) == [.applied])
        claire.counter = 3
        _ = try await hub.pullAll(&claire)
        _ = try await hub.pullAll(&claire)
    }

    @Test func aDeletePurgedBeforeTheCacheReadItStartsTheCacheAgain() async throws {
        try await HubFixture.with { hub in
            var (claire, gone) = try await Self.goneAndKept(hub)
            #expect(try await hub.service.reportCustomers(for: "admin").map(\.name).sorted() == ["Gone", "Kept"])
            // Deleted, pulled by the only laptop (so acknowledged), and purged before a report reads it.
            try await Self.deleteAndPull(hub, &claire, gone)
            let purge = try await hub.service.purgeTombstones()
            #expect(purge.acknowledged == 1)
            #expect(try await hub.service.reportCustomers(for: "admin").map(\.name) == ["Kept"])
            #expect(await hub.service.reportCacheRebuilds == 1)
        }
    }

    /// With `warmReports`, the hub's housekeeping reads the file at start and again after a purge
    /// that removed tombstones (which starts it again from nothing), before any report asks for it;
    /// without, the file waits for the first report. Either way the report then reads the same.
    /// The waits are long (60 s): the suite runs every test at once, and on CI's two cores the
    /// housekeeping's first steps have taken over 10 s. A pass returns as soon as it holds.
    @Test(arguments: [true, false])
    func theHousekeepingReadsTheFileAtStartAndAfterAPurge(warm: Bool) async throws {
        var configuration = HubService.Configuration()
        configuration.warmReports = warm
        try await HubFixture.with(configuration: configuration) { hub in
            var (claire, gone) = try await Self.goneAndKept(hub)
            let head = try await hub.store.read { tx in try await tx.meta().head }
            let purger = TombstonePurger(
                service: hub.service, interval: .milliseconds(50), logger: HubLogging.standardError(label: "purger"))
            let housekeeping = Task { try await purger.run() }
            defer { housekeeping.cancel() }
            func purges() async throws -> Int {
                try await hub.store.read { tx in try await tx.events(kinds: [.tombstonesPurged], limit: 10).count }
            }

            if warm {
                // Read at start, with no report asked for.
                #expect(try await eventually(within: .seconds(60)) { await hub.service.reportCacheCursor >= head })
            }
            // A delete pulled by the only laptop: the next purge removes its tombstone.
            try await Self.deleteAndPull(hub, &claire, gone)
            #expect(try await eventually(within: .seconds(60)) { try await purges() == 1 })
            let purgedHead = try await hub.store.read { tx in try await tx.meta().head }
            if warm {
                // Read again from nothing by the housekeeping, up to the purge, with no report asked.
                #expect(try await eventually(within: .seconds(60)) { await hub.service.reportCacheRebuilds == 1 })
                #expect(
                    try await eventually(within: .seconds(60)) { await hub.service.reportCacheCursor >= purgedHead })
            } else {
                #expect(await hub.service.reportCacheCursor == 0)
            }
            #expect(try await hub.service.reportCustomers(for: "admin").map(\.name) == ["Kept"])
            #expect(await hub.service.reportCacheRebuilds == (warm ? 1 : 0))
        }
    }

    /// A read cancelled wherever it stands (here: before it starts, or between its pages of 2,000
    /// records) leaves the file at a cursor it read whole; the next read goes on from there and
    /// sees what a hub reading from nothing sees.
    @Test func aCancelledReadLeavesAFileTheNextReadCompletes() async throws {
        try await HubFixture.with { hub in
            let claire = try await hub.enrollDevice("claire", territories: ["north"])
            var counter: UInt64 = 0
            for _ in 0..<5 {
                let writes = (0..<500).map { _ in
                    counter += 1
                    return Wire.customer(
                        id: Wire.uuid(), replica: claire.replica, counter: counter, name: "C\(counter)")
                }
                #expect(try await hub.push(claire, writes).allSatisfy { $0.status == .applied })
            }
            let head = try await hub.store.read { tx in try await tx.meta().head }
            var stops: Set<UInt64> = []
            for delay in [0, 1, 5, 20] {
                let fresh = HubService(
                    store: hub.store, configuration: hub.service.configuration,
                    logger: HubLogging.standardError(label: "cancelled"))
                let reading = Task { try await fresh.warmReports() }
                if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
                reading.cancel()
                _ = try? await reading.value
                stops.insert(await fresh.reportCacheCursor)
                let (customers, _) = try await Self.read(fresh, "admin")
                #expect(customers.count == 2_500)
                #expect(try await Self.fromNothing(hub, "admin").0 == customers)
            }
            #expect(stops.contains { $0 < head }, "no read was cancelled before its end: \(stops)")
        }
    }

    @Test func concurrentReadersEachSeeWhatWasWrittenBeforeTheyAsked() async throws {
        try await HubFixture.with { hub in
            let claire = try await hub.enrollDevice("claire", territories: ["north"])
            let customer = Wire.uuid()
            #expect(
                try await hub.push(claire, [Wire.customer(id: customer, replica: claire.replica, counter: 1)]).map(
                    \.status) == [.applied])
            _ = try await hub.service.reportCustomers(for: "admin")
            var laptops: [TestDevice] = []
            for n in 0..<20 { laptops.append(try await hub.enrollDevice("rep\(n)", territories: ["north"])) }
            let writers = laptops
            // Twenty laptops writing at once, each reading the reports right after its write was applied.
            let seen = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for n in 0..<20 {
                    group.addTask {
                        let id = Wire.uuid()
                        let day = Day("2026-11-01")! + n
                        let write = Wire.write(
                            "interactions", id: id, replica: writers[n].replica, counter: 1,
                            fields: [
                                "customer_id": .text(customer), "kind": .text("call"), "at": .date(day.description),
                            ])
                        let results = try await hub.push(writers[n], [write])
                        guard results.map(\.status) == [.applied] else { return (id, false) }
                        let customers = try await hub.service.reportCustomers(for: "admin")
                        return (id, customers.first?.interactions.contains { $0.on == day } == true)
                    }
                }
                return try await group.reduce(into: [String: Bool]()) { $0[$1.0] = $1.1 }
            }
            #expect(seen.count == 20)
            #expect(seen.values.allSatisfy { $0 }, "a reader missed a write applied before it asked")
            let (kept, _) = try await Self.read(hub.service, "admin")
            #expect(kept == (try await Self.fromNothing(hub, "admin")).0)
            #expect(kept.first?.interactions.count == 20)
            #expect(await hub.service.reportCacheRebuilds == 0)
        }
    }
}
