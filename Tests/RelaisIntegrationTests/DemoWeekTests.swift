import Foundation
import RelaisDemo
import RelaisHub
import RelaisTesting
import Testing

/// The week `relais-hub demo` runs, through the library: every laptop ends holding exactly the hub's
/// view for its user, the deliberate concurrent edits leave reports to review, and one seed gives
/// the same week on every run.
struct DemoWeekTests {
    private func week(seed: UInt64) async throws -> DemoReport {
        try await HubFixture.with { hub in
            try await hub.live { url in
                var week = DemoWeek(
                    hub: url, folder: hub.folder.path, service: hub.service, seed: seed, customers: 300)
                return try await week.run()
            }
        }
    }

    @Test func theWeekConvergesAndOneSeedGivesOneWeek() async throws {
        let first = try await week(seed: 2026)
        #expect(first.laptops.count == DemoWeek.people.count)
        #expect(first.converged == first.laptops)
        #expect(first.pushed > 0 && first.customers == 300 + DemoWeek.customers.count)
        #expect(first.valuesWritten > 0 && first.orders > 0 && !first.atRisk.isEmpty)
        #expect(first.reports > 0 && first.open > 0)
        #expect(first.rejected == 0)
        let again = try await week(seed: 2026)
        #expect(try again.json() == first.json())
        #expect(again.interactions == first.interactions)
    }
}
