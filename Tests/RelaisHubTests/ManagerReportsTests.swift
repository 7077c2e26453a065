import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// The manager's figures on a small file worked out by hand (docs/CRM.md gives each formula).
struct ManagerReportsTests {
    static let today = Day("2026-12-04")!

    static func on(_ offset: Int) -> Day { today + offset }

    /// Visits every 14 days, then 130 days of silence; satisfaction 5, 4, then 2; never a complaint.
    static let alpha = ReportCustomer(
        id: "a", name: "Alpha", territory: "north", owner: "claire", segment: "A", status: "active",
        programme: "loyalty", lifetimeValue: 100_000,
        interactions: [
            ReportInteraction(kind: "visit", on: on(-200), satisfaction: 5),
            ReportInteraction(kind: "visit", on: on(-186), satisfaction: 4),
            ReportInteraction(kind: "visit", on: on(-172)), ReportInteraction(kind: "visit", on: on(-158)),
            ReportInteraction(kind: "visit", on: on(-144)),
            ReportInteraction(kind: "visit", on: on(-130), satisfaction: 2),
        ])
    /// Regular calls, and a complaint open for 20 days without a follow-up date.
    static let bravo = ReportCustomer(
        id: "b", name: "Bravo", territory: "north", owner: "claire", segment: "B", status: "active",
        programme: "development", lifetimeValue: 50_000,
        interactions: [
            ReportInteraction(kind: "call", on: on(-60)), ReportInteraction(kind: "call", on: on(-30)),
            ReportInteraction(kind: "complaint", on: on(-20), channel: "visit"),
            ReportInteraction(kind: "call", on: on(-10)),
        ])
    /// Content, with a complaint resolved in 6 days and one open with a follow-up still ahead.
    static let charlie = ReportCustomer(
        id: "c", name: "Charlie", territory: "south", owner: "dan", segment: "C", status: "active",
        programme: "development", lifetimeValue: 200_000,
        interactions: [
            ReportInteraction(kind: "complaint", on: on(-50), resolved: true, resolvedOn: on(-44)),
            ReportInteraction(kind: "visit", on: on(-40), satisfaction: 4),
            ReportInteraction(kind: "visit", on: on(-25)),
            ReportInteraction(kind: "complaint", on: on(-5), followUpOn: on(3)),
        ])
    /// A prospect nobody has contacted yet.
    static let delta = ReportCustomer(id: "d", name: "Delta", territory: "north", owner: "claire", status: "prospect")

    @Test func daysReadSchemaDates() {
        #expect(Day("1970-01-01") == Day(0))
        #expect(Day("2026-12-04T09:30:00Z") == Self.today)
        #expect(Self.today.description == "2026-12-04")
        #expect((Day("2024-03-01")! - Day("2024-02-28")!) == 2, "2024 is a leap year")
        #expect(Day(millis: 1_796_342_400_000) == Self.today)
        #expect(Day(millis: 1_796_428_799_999) == Self.today)
        #expect(Day("2026-13-01") == nil)
    }

    @Test func theDefectionScoreAddsItsSignals() {
        let model = DefectionModel()
        // Alpha: silent 130 days against 14 (35), contacts 4 → 0 a quarter (20), satisfaction 2 down from
        // 4.5 (20), 6 contacts over 200 days without a complaint (10).
        let alpha = model.score(Self.alpha, today: Self.today)
        #expect(alpha.score == 85)
        #expect(alpha.reasons.map(\.signal) == ["silence", "falling_contact", "satisfaction", "never_complains"])
        #expect(alpha.reasons.map(\.points) == [35, 20, 20, 10])
        #expect(alpha.reasons[0].text == "no contact for 130 days (usually every 14)")
        #expect(alpha.reasons[2].text == "satisfaction 2/5, down from 4.5")
        // Bravo: last contact 10 days ago, usual gap 10 (median of 10, 10, 30): no silence; one complaint
        // 20 days old without a follow-up date: overdue (15).
        let bravo = model.score(Self.bravo, today: Self.today)
        #expect(bravo.score == 15)
        #expect(bravo.reasons.map(\.signal) == ["overdue_complaint"])
        #expect((bravo.openComplaints, bravo.overdueComplaints) == (1, 1))
        // Charlie: in touch, satisfied, its open complaint not yet due.
        let charlie = model.score(Self.charlie, today: Self.today)
        #expect(charlie.score == 0)
        #expect((charlie.openComplaints, charlie.overdueComplaints) == (1, 0))
        // Delta: never contacted.
        #expect(model.score(Self.delta, today: Self.today).reasons.map(\.points) == [35])
    }

    @Test func valueAtRiskRanksByValueTimesScore() {
        let list = ManagerReports.valueAtRisk(
            [Self.delta, Self.charlie, Self.bravo, Self.alpha], today: Self.today)
        #expect(list.map(\.customer.name) == ["Alpha", "Bravo", "Delta"], "Charlie scores 0")
        #expect(list.map(\.valueAtRisk) == [85_000, 7_500, 0])
        #expect(list.map(\.proposedProgramme) == ["recovery", nil, "prospection"])
        #expect(list.map(\.proposesAtRisk) == [true, false, false])
    }

    @Test func complaintsAreCountedBySalespersonTerritoryAndSegment() {
        let report = ManagerReports.complaints([Self.alpha, Self.bravo, Self.charlie, Self.delta], today: Self.today)
        #expect(report.open.map(\.customer.name) == ["Bravo", "Charlie"], "segment B before C")
        #expect(report.open.map(\.overdue) == [true, false])
        #expect(report.open.map(\.ageDays) == [20, 5])
        func summary(_ groups: [ManagerReports.ComplaintGroup]) -> [String] {
            groups.map {
                "\($0.name) \($0.open)/\($0.overdue)/\($0.resolved) \($0.meanDaysToResolve.map { "\($0)" } ?? "-")"
            }
        }
        #expect(summary(report.bySalesperson) == ["claire 1/1/0 -", "dan 1/0/1 6.0"])
        #expect(summary(report.byTerritory) == ["north 1/1/0 -", "south 1/0/1 6.0"])
        #expect(summary(report.bySegment) == ["B 1/1/0 -", "C 1/0/1 6.0"])
    }

    @Test func lifetimeValueIsMarginKeptPlusTheWeightedPipelineAndSegmentsArePareto() {
        func with(_ customer: ReportCustomer, orders: [ReportOrder], opportunities: [ReportOpportunity] = [])
            -> ReportCustomer
        {
            var customer = customer
            customer.orders = orders
            customer.opportunities = opportunities
            return customer
        }
        let customers = [
            // 3,000 of margin this year (the order of 13 months ago does not count) × 0.8 / 0.3 = 8,000;
            // a proposal of 20,000 at its stage's 50 % = 10,000; a won one is no longer pipeline.
            with(
                Self.alpha,
                orders: [
                    ReportOrder(on: Self.on(-400), amount: 50_000),
                    ReportOrder(on: Self.on(-186), amount: 10_000, margin: 3_000),
                ],
                opportunities: [
                    ReportOpportunity(stage: "proposal", amount: 20_000),
                    ReportOpportunity(stage: "won", amount: 99_999, probability: 100),
                ]),
            // 2,000 of amount (no margin recorded) × 8/3 = 5,333.33; 4,000 at 30 % = 1,200.
            with(
                Self.bravo, orders: [ReportOrder(on: Self.on(-33), amount: 2_000)],
                opportunities: [ReportOpportunity(stage: "qualified", amount: 4_000, probability: 30)]),
            // 600 of margin × 8/3 = 1,600.
            with(Self.charlie, orders: [ReportOrder(on: Self.on(-3), amount: 900, margin: 600)]),
            Self.delta,
        ]
        let values = CustomerValueModel().values(customers, today: Self.today)
        #expect(values["a"].map { ($0.current, $0.future, $0.lifetime) } ?? (0, 0, 0) == (3_000, 10_000, 18_000))
        #expect(values["b"]?.lifetime == 6_533)
        #expect(values["c"]?.lifetime == 1_600)
        #expect(values["d"]?.lifetime == 0)
        // Total 26,133: Alpha starts at 0 % and Bravo at 68.9 % (A), Charlie at 93.9 % (B); Delta is worth nothing (C).
        #expect(["a", "b", "c", "d"].map { values[$0]?.segment } == ["A", "A", "B", "C"])
    }

    @Test func observedLevelsComeFromTheContactPattern() {
        func declared(_ customer: ReportCustomer, _ level: String?) -> ReportCustomer {
            var customer = customer
            customer.relationshipLevel = level
            return customer
        }
        let model = RelationshipLevelModel()
        // Alpha: 4 visits in the last 180 days (one every two months or more): proactive, not partnership.
        #expect(model.observed(Self.alpha, today: Self.today).level == "proactive")
        #expect(
            model.observed(Self.alpha, today: Self.today).evidence
                == "4 salesperson contact(s) and 0 from the customer in 180 days")
        // Charlie: 2 visits, 2 complaints: the customer calls more than the salesperson; an order
        // followed up 5 days later makes it responsible.
        #expect(model.observed(Self.charlie, today: Self.today).level == "reactive")
        var followed = Self.charlie
        followed.orders = [ReportOrder(on: Self.on(-45), amount: 100)]
        #expect(model.observed(followed, today: Self.today).level == "responsible")
        #expect(model.observed(Self.delta, today: Self.today).level == "basic")

        let differences = ManagerReports.levelDifferences(
            [
                declared(Self.alpha, "partnership"), declared(Self.bravo, "proactive"),
                declared(Self.charlie, "responsible"), Self.delta,
            ], today: Self.today)
        #expect(differences.map(\.customer.name) == ["Charlie", "Alpha", "Delta"], "Bravo's level is right")
        #expect(differences.map(\.declared) == ["responsible", "partnership", nil])
        #expect(differences.map(\.observed) == ["reactive", "proactive", "basic"])
    }

    @Test func retentionCountsTheCustomersActiveOnTheFirstDayNotLapsedOnTheLast() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire", territories: ["north"])
            var hugo = try await hub.enrollDevice("hugo", territories: ["north"])
            func at(_ date: String) -> UInt64 {
                HLC(physicalMillis: UInt64(Day(date)!.number) * 86_400_000 + 43_200_000).rawValue
            }
            func create(_ device: inout TestDevice, _ id: String, _ name: String, _ status: String, _ date: String)
                async throws
            {
                let counter = device.nextCounter()
                let write = Wire.customer(
                    id: id, replica: device.replica, counter: counter, name: name,
                    extra: ["status": .text(status), "owner": .text(device.principal.user)], hlc: at(date))
                #expect(try await hub.push(device, [write]).map(\.status) == [.applied])
            }
            func status(_ device: inout TestDevice, _ id: String, _ status: String, _ date: String, seen: UInt64)
                async throws
            {
                let write = Wire.write(
                    id: id, replica: device.replica, counter: device.nextCounter(), fields: ["status": .text(status)],
                    context: VersionVector([ReplicaID(device.replica): seen]), hlc: at(date))
                #expect(try await hub.push(device, [write]).map(\.status) == [.applied])
            }
            let (a, b, c, d, e) = (Wire.uuid(), Wire.uuid(), Wire.uuid(), Wire.uuid(), Wire.uuid())
            try await create(&claire, a, "Atelier A", "active", "2026-06-01")  // lost on 15 September
            try await create(&claire, b, "Boutique B", "active", "2026-06-01")  // kept
            try await create(&claire, c, "Cave C", "active", "2026-08-01")  // not a customer yet on 1 July
            try await create(&claire, d, "Droguerie D", "prospect", "2026-06-01")  // a prospect is not counted
            try await status(&claire, a, "lapsed", "2026-09-15", seen: 1)
            try await create(&hugo, e, "Épicerie E", "active", "2026-06-01")
            try await status(&hugo, e, "at_risk", "2026-07-15", seen: 1)
            try await status(&hugo, e, "lapsed", "2026-10-05", seen: 2)  // after the period: kept within it

            _ = try await hub.addUser("marc", role: .manager, territories: ["north"])
            let report = try await hub.service.retention(
                for: "marc", from: Day("2026-07-01"), to: Day("2026-10-01"))
            #expect((report.overall.customers, report.overall.retained) == (3, 2))
            #expect(
                report.bySalesperson.map { "\($0.name) \($0.retained)/\($0.customers)" } == ["claire 1/2", "hugo 1/1"])
            #expect(report.byTerritory.map { "\($0.name) \($0.retained)/\($0.customers)" } == ["north 2/3"])
            #expect(report.lost.map { "\($0.customer.name) \($0.on)" } == ["Atelier A 2026-09-15"])
            // Over the next month, Épicerie E lapses too.
            let later = try await hub.service.retention(for: "marc", from: Day("2026-10-01"), to: Day("2026-11-01"))
            #expect((later.overall.customers, later.overall.retained) == (3, 2), "B, C kept; E lapsed")
        }
    }

    @Test func theHubWritesValuesThatChangedAndTheLaptopsReceiveThem() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire", territories: ["north"])
            let customer = Wire.uuid()
            let order = Wire.write(
                "orders", id: Wire.uuid(), replica: claire.replica, counter: 2,
                fields: [
                    "customer_id": .text(customer), "ordered_on": .date(hub.service.today().description),
                    "amount": .number(1_500), "margin": .number(300),
                ])
            #expect(
                try await hub.push(claire, [Wire.customer(id: customer, replica: claire.replica, counter: 1), order])
                    .map(\.status) == [.applied, .applied])
            claire.counter = 2
            _ = try await hub.pullAll(&claire)

            let first = try await hub.service.updateCustomerValues()
            #expect(first == CustomerValueUpdate(written: 1, customers: 1))
            let pulled = try await hub.pullAll(&claire).records
            let record = try #require(pulled.first { $0.recordID == customer })
            #expect(record.value("lifetime_value") == .number(800), "300 × 0.8 / 0.3")
            #expect(record.value("segment") == .text("A"))
            #expect(try await hub.service.updateCustomerValues() == CustomerValueUpdate(written: 0, customers: 1))
        }
    }

    @Test func aManagerSeesTheirTerritoriesAnAdminEverythingARepNothing() async throws {
        try await HubFixture.with { hub in
            let claire = try await hub.enrollDevice("claire", territories: ["north"])
            let dan = try await hub.enrollDevice("dan", territories: ["south"])
            _ = try await hub.addUser("marc", role: .manager, territories: ["north"])
            let north = Wire.uuid()
            let south = Wire.uuid()
            let hlc = HLC(physicalMillis: 1_796_400_000_000).rawValue
            #expect(
                try await hub.push(
                    claire,
                    [
                        Wire.customer(id: north, replica: claire.replica, counter: 1, name: "Nordwind"),
                        Wire.write(
                            "interactions", id: Wire.uuid(), replica: claire.replica, counter: 2,
                            fields: [
                                "customer_id": .text(north), "kind": .text("complaint"), "at": .date("2026-11-01"),
                                "resolved": .bool(true),
                            ], hlc: hlc),
                    ]
                ).map(\.status) == [.applied, .applied])
            #expect(
                try await hub.push(
                    dan,
                    [Wire.customer(id: south, replica: dan.replica, counter: 1, name: "Südhang", territory: "south")]
                ).map(\.status) == [.applied])

            let marcs = try await hub.service.reportCustomers(for: "marc")
            #expect(marcs.map(\.name) == ["Nordwind"])
            let complaint = try #require(marcs.first?.interactions.first)
            #expect(complaint.resolved && complaint.on == Day("2026-11-01"))
            #expect(complaint.resolvedOn == Day(millis: 1_796_400_000_000), "the day `resolved` was written")
            #expect(Set(try await hub.service.reportCustomers(for: "admin").map(\.name)) == ["Nordwind", "Südhang"])
            let refused = try await #require(throws: HubError.self) {
                try await hub.service.valueAtRisk(for: "claire")
            }
            #expect(refused.code == .forbidden)
        }
    }
}
