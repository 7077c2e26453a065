import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisCore
import RelaisProtocol
import RelaisTesting
import Testing

@testable import RelaisHub

/// The admin pages: sign-in with a token, the session cookie's attributes, CSRF on every POST form,
/// the list, the detail and the resolve flow, stale forms.
struct AdminPagesTests {
    struct Page {
        var status: Int
        var headers: HTTPFields
        var html: String

        /// `name=value` of each Set-Cookie.
        var cookies: [String: String] {
            var result: [String: String] = [:]
            for field in headers where field.name == .setCookie {
                let pair = field.value.split(separator: ";").first.map(String.init) ?? ""
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { result[parts[0]] = parts[1] } else if parts.count == 1 { result[parts[0]] = "" }
            }
            return result
        }

        func setCookie(_ name: String) -> String? {
            headers.filter { $0.name == .setCookie }.map(\.value).first { $0.hasPrefix(name + "=") }
        }

        /// The value of the first hidden input `name`.
        func hidden(_ name: String) -> String? {
            guard let range = html.range(of: #"name="\#(name)" value=""#) else { return nil }
            return String(html[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    static func request(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, cookies: [String: String] = [:],
        form: [(String, String)]? = nil
    ) async throws -> Page {
        var headers: HTTPFields = [:]
        if !cookies.isEmpty {
            headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        var body: ByteBuffer?
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            body = ByteBuffer(
                string: form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
                    .joined(separator: "&"))
        }
        return try await client.execute(uri: path, method: method, headers: headers, body: body) { response in
            Page(status: Int(response.status.code), headers: response.headers, html: String(buffer: response.body))
        }
    }

    /// Signs in as the admin; returns the session cookie's value and the CSRF token of the forms.
    static func signIn(_ hub: HubFixture, _ client: any TestClientProtocol, token: String? = nil) async throws -> (
        session: String, csrf: String
    ) {
        let form = try await request(client, .get, "/admin/sign-in")
        let signInCookie = try #require(form.cookies["relais_signin"])
        let csrf = try #require(form.hidden("csrf"))
        let signed = try await request(
            client, .post, "/admin/sign-in", cookies: ["relais_signin": signInCookie],
            form: [("csrf", csrf), ("token", token ?? hub.adminToken)])
        #expect(signed.status == 303)
        let session = try #require(signed.cookies["relais_admin"])
        let dashboard = try await request(client, .get, "/admin/dashboard", cookies: ["relais_admin": session])
        return (session, try #require(dashboard.hidden("csrf")))
    }

    /// A session slides with use but ends 12 hours after sign-in however busy it was; a session
    /// cookie without its sign-in time is refused.
    @Test func aSessionEndsTwelveHoursAfterSignInEvenWhenBusy() async throws {
        try await AdminReviewTests.withRouter { hub, client, _ in
            let clock = try #require(hub.clock)
            let (session, _) = try await Self.signIn(hub, client)
            for _ in 0..<11 {
                clock.advance(byMillis: 3600 * 1000)
                let page = try await Self.request(client, .get, "/admin/dashboard", cookies: ["relais_admin": session])
                #expect(page.status == 200)
            }
            clock.advance(byMillis: 3600 * 1000)
            let late = try await Self.request(client, .get, "/admin/dashboard", cookies: ["relais_admin": session])
            #expect(late.headers[.location] == "/admin/sign-in")
            let undated = String(session.split(separator: ".").last ?? "")
            let legacy = try await Self.request(client, .get, "/admin/dashboard", cookies: ["relais_admin": undated])
            #expect(legacy.headers[.location] == "/admin/sign-in")
        }
    }

    /// Conflict lists and pages name the customer, not only the record's id.
    @Test func conflictsNameTheirCustomer() async throws {
        try await AdminReviewTests.withRouter { hub, client, seeded in
            let (session, _) = try await Self.signIn(hub, client)
            let list = try await Self.request(client, .get, "/admin/conflicts", cookies: ["relais_admin": session])
            #expect(list.html.components(separatedBy: #"<span class="customer">Café Müller</span>"#).count == 4)
            let detail = try await Self.request(
                client, .get, "/admin/conflicts/\(seeded.north)", cookies: ["relais_admin": session])
            #expect(detail.html.contains(#"<dd id="customer-name">Café Müller</dd>"#))
        }
    }

    /// The role is checked on every request: an admin demoted to manager since signing in keeps only
    /// the manager's pages; demoted to rep, loses the session.
    @Test func aDemotedAdminLosesTheAdminPagesAtTheNextRequest() async throws {
        try await AdminReviewTests.withRouter { hub, client, _ in
            let (session, _) = try await Self.signIn(hub, client)
            let before = try await Self.request(client, .get, "/admin/dashboard", cookies: ["relais_admin": session])
            #expect(before.status == 200)
            _ = try await hub.service.updateUser("admin", role: .manager, territories: ["north"])
            let manager = try await Self.request(client, .get, "/admin/dashboard", cookies: ["relais_admin": session])
            #expect(manager.status == 403)
            _ = try await hub.service.updateUser("admin", role: .rep, territories: ["north"])
            let after = try await Self.request(client, .get, "/admin/reports", cookies: ["relais_admin": session])
            #expect(after.headers[.location] == "/admin/sign-in")
        }
    }

    /// Revoking a device or an API token, or asking a device's wipe, ends its user's web sessions: a
    /// stolen laptop's browser keeps no admin page open after the office cut the laptop off. Other
    /// users' sessions go on, and revoking a device already revoked ends nothing.
    @Test func revokingOrWipingAnAdminsDeviceEndsTheirSessions() async throws {
        try await AdminReviewTests.withRouter { hub, client, _ in
            let dashboard = "/admin/dashboard"
            let laptop = try await hub.enrollDevice("alice", role: .admin)
            let other = try await Self.signIn(hub, client).session
            let wiped = try await Self.signIn(hub, client, token: laptop.token).session
            #expect(try await Self.request(client, .get, dashboard, cookies: ["relais_admin": wiped]).status == 200)
            _ = try await hub.service.requestWipe(laptop.principal.replica!)
            #expect(
                try await Self.request(client, .get, dashboard, cookies: ["relais_admin": wiped]).headers[.location]
                    == "/admin/sign-in")
            #expect(try await Self.request(client, .get, dashboard, cookies: ["relais_admin": other]).status == 200)

            let second = try await hub.enrollDevice("alice", role: .admin, newUser: false)
            let revoked = try await Self.signIn(hub, client, token: second.token).session
            _ = try await hub.service.revokeDevice(second.principal.replica!)
            #expect(
                try await Self.request(client, .get, dashboard, cookies: ["relais_admin": revoked]).headers[.location]
                    == "/admin/sign-in")
            let audit = try await hub.service.auditLog()
            #expect(
                audit.contains {
                    $0.kind == .deviceRevoked && $0.detail.hasSuffix("1 admin web session of theirs ended")
                })
            // Revoking the already revoked device again ends nothing more; revoking an API token does.
            let script = try await hub.service.issueAPIToken(for: "alice")
            let scripted = try await Self.signIn(hub, client, token: script).session
            _ = try await hub.service.revokeDevice(second.principal.replica!)
            #expect(try await Self.request(client, .get, dashboard, cookies: ["relais_admin": scripted]).status == 200)
            let tokenID = try #require(try await hub.service.apiTokens().first { $0.user == "alice" }?.id)
            _ = try await hub.service.revokeAPIToken(id: tokenID)
            #expect(
                try await Self.request(client, .get, dashboard, cookies: ["relais_admin": scripted]).headers[.location]
                    == "/admin/sign-in")
            #expect(try await Self.request(client, .get, dashboard, cookies: ["relais_admin": other]).status == 200)
        }
    }

    /// Sign-in checks the token, then stores the session: a revocation committed in between must not
    /// leave a live session, since revoking ends only the sessions that exist when it commits.
    @Test func aTokenRevokedAfterItsCheckOpensNoSession() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            let pages = AdminPages(service: hub.service, limits: RequestLimits(edges: .init()))
            func sessions(_ user: String) async throws -> Int {
                // Counting by ending: the test asks once per user, at its end.
                try await hub.store.write { tx in try await tx.deleteAdminSessions(user: user) }
            }
            let laptop = try await hub.enrollDevice("alice", role: .admin)
            let checked = try await hub.service.authenticateOutsideSync(token: laptop.token)
            _ = try await hub.service.revokeDevice(laptop.principal.replica!)
            await #expect(throws: HubError.deviceRevoked) {
                _ = try await pages.openSession(token: laptop.token, user: checked.user)
            }
            #expect(try await sessions("alice") == 0)

            let script = try await hub.service.issueAPIToken(for: "admin")
            let admin = try await hub.service.authenticateOutsideSync(token: script)
            let tokenID = try #require(
                try await hub.service.apiTokens().first { $0.tokenHash == Secrets.hash(script) }?.id)
            _ = try await pages.openSession(token: script, user: admin.user)
            _ = try await hub.service.revokeAPIToken(id: tokenID)
            await #expect(throws: HubError.unauthorized) {
                _ = try await pages.openSession(token: script, user: admin.user)
            }
            // The session opened before the revocation was ended by it; the refused one never existed.
            #expect(try await sessions("admin") == 0)
            // A live token still opens one.
            _ = try await pages.openSession(token: hub.adminToken, user: "admin")
            #expect(try await sessions("admin") == 1)
        }
    }

    @Test func signInSetsAStrictHttpOnlySessionAndRefusesBadTokens() async throws {
        try await AdminReviewTests.withRouter { hub, client, _ in
            #expect(try await Self.request(client, .get, "/admin/dashboard").headers[.location] == "/admin/sign-in")
            let form = try await Self.request(client, .get, "/admin/sign-in")
            #expect(form.status == 200)
            #expect(form.html.contains(#"<label for="token">"#))
            let cookie = try #require(form.cookies["relais_signin"])
            let csrf = try #require(form.hidden("csrf"))
            // No or a wrong sign-in CSRF token: refused.
            let forged = try await Self.request(
                client, .post, "/admin/sign-in", form: [("csrf", csrf), ("token", hub.adminToken)])
            #expect(forged.status == 403 && forged.cookies["relais_admin"] == nil)
            let wrong = try await Self.request(
                client, .post, "/admin/sign-in", cookies: ["relais_signin": cookie],
                form: [("csrf", "x"), ("token", hub.adminToken)])
            #expect(wrong.status == 403)
            let badToken = try await Self.request(
                client, .post, "/admin/sign-in", cookies: ["relais_signin": cookie],
                form: [("csrf", csrf), ("token", "nope")])
            #expect(badToken.status == 401 && badToken.html.contains("not valid"))
            let rep = try await hub.enrollDevice("fred")
            let repSignIn = try await Self.request(
                client, .post, "/admin/sign-in", cookies: ["relais_signin": cookie],
                form: [("csrf", csrf), ("token", rep.token)])
            #expect(repSignIn.status == 403 && repSignIn.cookies["relais_admin"] == nil)
            let good = try await Self.request(
                client, .post, "/admin/sign-in", cookies: ["relais_signin": cookie],
                form: [("csrf", csrf), ("token", hub.adminToken)])
            #expect(good.status == 303 && good.headers[.location] == "/admin/dashboard")
            let session = try #require(good.setCookie("relais_admin"))
            #expect(
                session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/admin"))
            let id = try #require(good.cookies["relais_admin"])
            let dashboard = try await Self.request(client, .get, "/admin/dashboard", cookies: ["relais_admin": id])
            #expect(dashboard.status == 200)
            #expect(dashboard.html.contains(#"<span class="number" id="open-count">2</span>"#))
            #expect(
                try await Self.request(client, .get, "/admin/dashboard", cookies: ["relais_admin": "guess"]).status
                    == 303)
            let audit = try await hub.service.auditLog()
            #expect(audit.first?.kind == .adminSignedIn && audit.first?.user == "admin")
        }
    }

    @Test func listFiltersAndDetailShowsTheValuesSideBySide() async throws {
        try await AdminReviewTests.withRouter { hub, client, s in
            let (session, _) = try await Self.signIn(hub, client)
            let list = try await Self.request(
                client, .get, "/admin/conflicts?status=open&territory=south", cookies: ["relais_admin": session])
            #expect(list.status == 200)
            #expect(
                list.html.contains("/admin/conflicts/\(s.south)") && !list.html.contains("/admin/conflicts/\(s.north)"))
            #expect(list.html.contains(#"<span id="total">1</span>"#))
            #expect(
                try await Self.request(client, .get, "/admin/conflicts?from=never", cookies: ["relais_admin": session])
                    .status == 400)
            let detail = try await Self.request(
                client, .get, "/admin/conflicts/\(s.south)", cookies: ["relais_admin": session])
            #expect(detail.status == 200)
            #expect(detail.html.contains(#"id="value-0">lapsed<"#) && detail.html.contains(#"id="value-1">active<"#))
            #expect(detail.html.contains("<ins>lapsed</ins>") && detail.html.contains("<del>"))
            #expect(detail.html.contains(#"<label for="reason">"#) && detail.html.contains(#"name="record_version""#))
            // The field's recent history: the two competing writes, each naming this report.
            let history = try #require(detail.html.components(separatedBy: #"<table id="history""#).dropFirst().first)
                .components(separatedBy: "</table>")[0]
            #expect(history.components(separatedBy: "<tr").count - 1 == 3)  // header and two versions
            #expect(
                history.contains("<td>lapsed") && history.contains("<td>active") && history.contains("<td>erin</td>"))
            #expect(history.components(separatedBy: "(this one)").count - 1 == 2)
            #expect(history.contains("conflict: not chosen by the rule"))
            #expect(
                try await Self.request(client, .get, "/admin/conflicts/nope", cookies: ["relais_admin": session]).status
                    == 404)
        }
    }

    @Test func bulkFormResolvesWhatTheListShowedAndRefusesAStaleOne() async throws {
        try await AdminReviewTests.withRouter { hub, client, s in
            let (session, csrf) = try await Self.signIn(hub, client)
            let cookies = ["relais_admin": session]
            // Filtered by a salesperson: the filter travels as `filter_user`, apart from the strategy's `user`.
            let list = try await Self.request(client, .get, "/admin/conflicts?rule=manual&user=erin", cookies: cookies)
            #expect(list.status == 200)
            #expect(list.hidden("filter_user") == "erin" && list.hidden("rule") == "manual")
            #expect(list.hidden("seen_count") == "1" && list.html.contains(#"<span id="bulk-count">1</span>"#))
            let filters = [
                ("rule", "manual"), ("filter_user", "erin"), ("strategy", "newest"), ("reason", "erin is newer"),
            ]
            let noCSRF = try await Self.request(
                client, .post, "/admin/bulk-resolve", cookies: cookies, form: filters + [("seen_count", "1")])
            #expect(noCSRF.status == 403)
            // The list changed since it was shown (two matched then): 409, nothing written.
            let stale = try await Self.request(
                client, .post, "/admin/bulk-resolve", cookies: cookies,
                form: filters + [("csrf", csrf), ("seen_count", "2")])
            #expect(stale.status == 409 && stale.html.contains("changed since the list was shown"))
            #expect(try await hub.service.conflict(id: s.south).status == .open)
            let done = try await Self.request(
                client, .post, "/admin/bulk-resolve", cookies: cookies,
                form: filters + [("csrf", csrf), ("seen_count", "1")])
            #expect(done.status == 200 && done.html.contains("Resolved 1 conflict(s); skipped 0."))
            let south = try await hub.service.conflict(id: s.south)
            #expect(south.status == .resolved && south.resolution?.value == .text("active"))
            #expect(try await hub.service.conflict(id: s.north).status == .open)
        }
    }

    @Test func resolveFormChecksCSRFReasonAndStaleness() async throws {
        try await AdminReviewTests.withRouter { hub, client, s in
            let (session, csrf) = try await Self.signIn(hub, client)
            let cookies = ["relais_admin": session]
            let detail = try await Self.request(client, .get, "/admin/conflicts/\(s.south)", cookies: cookies)
            let version = try #require(detail.hidden("record_version"))
            let path = "/admin/conflicts/\(s.south)/resolve"
            let fields: [(String, String)] = [
                ("choice", "pick-0"), ("reason", "the customer lapsed"), ("record_version", version),
                ("status_seen", "open"),
            ]
            let missing = try await Self.request(client, .post, path, cookies: cookies, form: fields)
            #expect(missing.status == 403)
            let wrong = try await Self.request(client, .post, path, cookies: cookies, form: fields + [("csrf", "0000")])
            #expect(wrong.status == 403 && wrong.html.contains("CSRF"))
            let noReason = try await Self.request(
                client, .post, path, cookies: cookies,
                form: [
                    ("csrf", csrf), ("choice", "pick-0"), ("reason", " "), ("record_version", version),
                    ("status_seen", "open"),
                ])
            #expect(noReason.status == 400 && noReason.html.contains("Give a reason"))
            let badMerged = try await Self.request(
                client, .post, path, cookies: cookies,
                form: [
                    ("csrf", csrf), ("choice", "merged"), ("merged", "sleepy"), ("reason", "x"),
                    ("record_version", version),
                ])
            #expect(badMerged.status == 400)
            let stale = try await Self.request(
                client, .post, path, cookies: cookies,
                form: [
                    ("csrf", csrf), ("choice", "pick-0"), ("reason", "x"), ("record_version", "1"),
                    ("status_seen", "open"),
                ])
            #expect(stale.status == 409 && stale.html.contains("changed since the form was shown"))
            #expect(try await hub.service.conflict(id: s.south).status == .open)

            let done = try await Self.request(client, .post, path, cookies: cookies, form: fields + [("csrf", csrf)])
            #expect(done.status == 303 && done.headers[.location] == "/admin/conflicts/\(s.south)?done=1")
            let report = try await hub.service.conflict(id: s.south)
            #expect(report.status == .resolved && report.resolution?.value == .text("lapsed"))
            #expect(report.resolution?.reason == "the customer lapsed")
            // The same form again (it still says "open"): 409, the decision stands.
            let twice = try await Self.request(
                client, .post, path, cookies: cookies,
                form: [("csrf", csrf), ("choice", "pick-1"), ("reason", "y"), ("status_seen", "open")])
            #expect(twice.status == 409)
            #expect(try await hub.service.conflict(id: s.south).resolution?.value == .text("lapsed"))
            // Signing out needs the token too, and ends the session.
            #expect(try await Self.request(client, .post, "/admin/sign-out", cookies: cookies, form: []).status == 403)
            #expect(
                try await Self.request(client, .post, "/admin/sign-out", cookies: cookies, form: [("csrf", csrf)])
                    .status == 303)
            #expect(try await Self.request(client, .get, "/admin/dashboard", cookies: cookies).status == 303)
        }
    }

    @Test func valuesAreEscapedAndWordDiffsMarked() async throws {
        try await AdminReviewTests.withRouter { hub, client, _ in
            var gina = try await hub.enrollDevice("gina")
            var hugo = try await hub.enrollDevice("hugo")
            let id = try await ReviewSeed.conflict(
                hub, &gina, &hugo, territory: "north", field: "phone", .text("<script>alert(1)</script> 01 23"),
                .text("call 01 23 after noon"))
            let (session, _) = try await Self.signIn(hub, client)
            let page = try await Self.request(
                client, .get, "/admin/conflicts/\(id)", cookies: ["relais_admin": session])
            #expect(page.status == 200)
            #expect(!page.html.contains("<script>"))
            #expect(page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            // Against the first value, the second adds "call" and "after noon" and keeps "01 23".
            #expect(page.html.contains("<ins>call</ins>") && page.html.contains("<span>01</span>"))
            #expect(page.html.contains("<ins>noon</ins>"))
        }
    }
}
