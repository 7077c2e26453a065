import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// A manager signs in to the pages with their token, sees the figures of their territories only,
/// confirms a proposal, and the salesperson's laptop receives it; the same figures as JSON. Reps
/// cannot sign in; the admin's pages stay the admin's.
struct ManagerPagesTests {
    typealias Page = AdminPagesTests.Page

    /// North: Nordwind (never contacted, lifetime value 100,000); south: Südhang. Marc manages north.
    static func withManager(
        _ body:
            @escaping @Sendable (HubFixture, any TestClientProtocol, _ marc: String, _ north: String, _ south: String)
            async throws -> Void
    ) async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            let office = try await hub.enrollDevice("marc", role: .manager, territories: ["north"])
            let southOffice = try await hub.enrollDevice("sue", role: .manager, territories: ["south"])
            let north = Wire.uuid()
            let south = Wire.uuid()
            #expect(
                try await hub.push(
                    office,
                    [
                        Wire.customer(
                            id: north, replica: office.replica, counter: 1, name: "Nordwind",
                            extra: ["lifetime_value": .number(100_000), "status": .text("active")])
                    ]
                ).map(\.status) == [.applied])
            #expect(
                try await hub.push(
                    southOffice,
                    [
                        Wire.customer(
                            id: south, replica: southOffice.replica, counter: 1, name: "Südhang", territory: "south",
                            extra: ["lifetime_value": .number(500_000)])
                    ]
                ).map(\.status) == [.applied])
            let token = try await hub.service.issueAPIToken(for: "marc")
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in try await body(hub, client, token, north, south) }
        }
    }

    static func signIn(_ client: any TestClientProtocol, token: String) async throws -> Page {
        let form = try await AdminPagesTests.request(client, .get, "/admin/sign-in")
        let cookie = try #require(form.cookies["relais_signin"])
        return try await AdminPagesTests.request(
            client, .post, "/admin/sign-in", cookies: ["relais_signin": cookie],
            form: [("csrf", try #require(form.hidden("csrf"))), ("token", token)])
    }

    @Test func aManagerSeesTheirTerritoryAndConfirmsAProposalThatReachesTheLaptops() async throws {
        try await Self.withManager { hub, client, token, north, south in
            let signed = try await Self.signIn(client, token: token)
            #expect(signed.status == 303 && signed.headers[.location] == "/admin/reports")
            let cookies = ["relais_admin": try #require(signed.cookies["relais_admin"])]

            let page = try await AdminPagesTests.request(client, .get, "/admin/reports", cookies: cookies)
            #expect(page.status == 200)
            #expect(page.html.contains("Nordwind") && !page.html.contains("Südhang"))
            // Never contacted: silence (35 points) × 100,000 = 35,000 at risk; programme proposed.
            #expect(page.html.contains("+35 no contact recorded"))
            #expect(page.html.contains("35,000") || page.html.contains("35000"), "\(page.html)")
            #expect(page.html.contains("Confirm programme development"))
            #expect(
                page.html.contains("<tr><td>Nordwind</td><td>north</td><td>—</td><td>basic</td>"), "no contact: basic")
            #expect(!page.html.contains(#"href="/admin/conflicts"#), "a manager's menu has no admin entries")
            // The admin's pages are not a manager's.
            #expect(try await AdminPagesTests.request(client, .get, "/admin/dashboard", cookies: cookies).status == 403)
            #expect(try await AdminPagesTests.request(client, .get, "/admin/conflicts", cookies: cookies).status == 403)

            let csrf = try #require(page.hidden("csrf"))
            // A customer of another territory cannot be touched.
            let outside = try await AdminPagesTests.request(
                client, .post, "/admin/reports/confirm", cookies: cookies,
                form: [("csrf", csrf), ("customer", south), ("programme", "recovery")])
            #expect(outside.status == 404)
            // Without the session's CSRF token, nothing is written.
            let forged = try await AdminPagesTests.request(
                client, .post, "/admin/reports/confirm", cookies: cookies,
                form: [("csrf", "x"), ("customer", north), ("programme", "development")])
            #expect(forged.status == 403)
            let confirmed = try await AdminPagesTests.request(
                client, .post, "/admin/reports/confirm", cookies: cookies,
                form: [("csrf", csrf), ("customer", north), ("programme", "development")])
            #expect(confirmed.status == 200)
            #expect(confirmed.html.contains("Nordwind: programme development confirmed"))
            #expect(!confirmed.html.contains("Confirm programme development"), "the proposal is taken")

            // A rep of the territory receives it at the next pull, written by the office.
            var claire = try await hub.enrollDevice("claire", territories: ["north"])
            let records = try await hub.pullAll(&claire).records
            let record = try #require(records.first { $0.recordID == north })
            #expect(record.value("programme") == .text("development"))
            #expect(record.vector.entries.contains { $0.replica == 0 })
            let events = try await hub.store.read { try await $0.events(kinds: [.proposalConfirmed], limit: 5) }
            #expect(events.map(\.user) == ["marc"])
        }
    }

    @Test func theFiguresAsJSONFollowTheTokensTerritories() async throws {
        try await Self.withManager { hub, client, token, _, _ in
            func names(_ token: String) async throws -> (Int, [String]) {
                let answer = try await AdminReviewTests.get(
                    client, "/v1/reports/value-at-risk?today=2026-12-04", token: token)
                let customers = (answer.json as? [String: Any])?["customers"] as? [[String: Any]] ?? []
                return (answer.status, customers.compactMap { ($0["customer"] as? [String: Any])?["name"] as? String })
            }
            #expect(try await names(token) == (200, ["Nordwind"]))
            #expect(try await names(hub.adminToken) == (200, ["Südhang", "Nordwind"]), "ranked by value at risk")
            let rep = try await hub.enrollDevice("claire", territories: ["north"])
            #expect(try await names(rep.token).0 == 403)
            let complaints = try await AdminReviewTests.get(client, "/v1/reports/complaints", token: token)
            #expect(complaints.status == 200)
            #expect((complaints.json as? [String: Any])?["open"] as? [Any] != nil)
            let levels = try await AdminReviewTests.get(client, "/v1/reports/relationship-levels", token: token)
            let observed = ((levels.json as? [String: Any])?["customers"] as? [[String: Any]])?.map {
                $0["observed"] as? String
            }
            #expect(levels.status == 200 && observed == ["basic"])
            let badDay = try await AdminReviewTests.get(client, "/v1/reports/complaints?today=tomorrow", token: token)
            #expect(badDay.status == 400)
            // A manager's token does not open the admin API.
            #expect(try await AdminReviewTests.get(client, "/v1/admin/conflicts", token: token).status == 403)
        }
    }

    @Test func aRepCannotSignIn() async throws {
        try await Self.withManager { hub, client, _, _, _ in
            let rep = try await hub.enrollDevice("claire", territories: ["north"])
            let refused = try await Self.signIn(client, token: rep.token)
            #expect(refused.status == 403 && refused.cookies["relais_admin"] == nil)
            await #expect(throws: HubError.self) { try await hub.service.issueAPIToken(for: "claire") }
        }
    }
}
