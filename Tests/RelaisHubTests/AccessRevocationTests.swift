import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// Taking access away (docs/SECURITY.md, "Revoking access"), over real HTTP on loopback: a revoked
/// admin API token, and a disabled user's devices, codes, tokens and web sessions, are refused at the
/// very next request. Runs on the store CI names (`RELAIS_TEST_HUB_STORE`), SQLite by default.
struct AccessRevocationTests {
    /// A plain HTTP client of a live hub that follows no redirect and sends cookies it is given.
    struct Browser {
        let http: HTTPClient
        let url: String

        struct Answer {
            var status: Int
            var headers: HTTPHeaders
            var body: String

            /// The value of the Set-Cookie named `name`.
            func cookie(_ name: String) -> String? {
                for value in headers["Set-Cookie"] {
                    let pair = value.split(separator: ";").first.map(String.init) ?? ""
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2, parts[0] == name { return parts[1] }
                }
                return nil
            }

            /// The value of the first hidden input `name`.
            func hidden(_ name: String) -> String? {
                guard let range = body.range(of: #"name="\#(name)" value=""#) else { return nil }
                return String(body[range.upperBound...].prefix { $0 != "\"" })
            }
        }

        func send(
            _ method: HTTPMethod, _ path: String, token: String? = nil, cookies: [String: String] = [:],
            form: [(String, String)]? = nil
        ) async throws -> Answer {
            var request = HTTPClientRequest(url: url + path)
            request.method = method
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            if !cookies.isEmpty {
                request.headers.add(
                    name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))
            }
            if let form {
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-._~")
                let text = form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
                    .joined(separator: "&")
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: text))
            }
            let response = try await http.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 8 << 20)
            return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
        }

        /// Signs in to the admin pages with `token`; returns the session cookie's value.
        func signIn(token: String) async throws -> String? {
            let form = try await send(.GET, "/admin/sign-in")
            let signInCookie = try #require(form.cookie("relais_signin"))
            let csrf = try #require(form.hidden("csrf"))
            let signed = try await send(
                .POST, "/admin/sign-in", cookies: ["relais_signin": signInCookie],
                form: [("csrf", csrf), ("token", token)])
            return signed.status == 303 ? signed.cookie("relais_admin") : nil
        }

        /// Whether `session` opens the dashboard (else the hub sends the browser to sign in).
        func dashboardOpens(session: String) async throws -> Bool {
            let page = try await send(.GET, "/admin/dashboard", cookies: ["relais_admin": session])
            return page.status == 200
        }

        /// The admin API's status for `token`.
        func adminAPIStatus(token: String) async throws -> Int {
            try await send(.GET, "/v1/admin/devices", token: token).status
        }

        static func with<T>(url: String, _ body: (Browser) async throws -> T) async throws -> T {
            var configuration = HTTPClient.Configuration()
            configuration.redirectConfiguration = .disallow
            configuration.httpVersion = .http1Only
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            do {
                let result = try await body(Browser(http: http, url: url))
                try await http.shutdown()
                return result
            } catch {
                try? await http.shutdown()
                throw error
            }
        }
    }

    /// What disabling took away: devices, codes, tokens, sessions.
    static func counts(_ disabled: HubService.DisabledUser) -> [Int] {
        [disabled.devices, disabled.enrollmentCodes, disabled.apiTokens, disabled.sessions]
    }

    /// The HTTP status a sync call failed with (200 when it did not fail).
    static func status(_ call: () async throws -> some Any) async throws -> Int {
        do {
            _ = try await call()
            return 200
        } catch let failure as WireClient.Failure {
            return failure.status
        }
    }

    /// A token issued and then revoked is refused by the admin API at its next request; the other
    /// tokens keep working; revoking it again changes nothing.
    @Test func aRevokedTokenIsRefusedAtTheNextRequest() async throws {
        try await HubFixture.with { hub in
            let second = try await hub.service.issueAPIToken(for: "admin")
            let id = APIToken.id(ofToken: second)
            let tokens = try await hub.service.apiTokens()
            #expect(tokens.count == 2 && tokens.allSatisfy { $0.revokedAt == nil })
            #expect(tokens.map(\.id).contains(id))
            try await hub.live { url in
                try await Browser.with(url: url) { browser in
                    #expect(try await browser.adminAPIStatus(token: second) == 200)
                    let (revoked, changed) = try await hub.service.revokeAPIToken(id: id)
                    #expect(changed && revoked.id == id && revoked.revokedAt != nil)
                    #expect(try await browser.adminAPIStatus(token: second) == 401)
                    #expect(try await browser.signIn(token: second) == nil)
                    #expect(try await browser.adminAPIStatus(token: hub.adminToken) == 200)
                }
            }
            let again = try await hub.service.revokeAPIToken(id: id)
            #expect(!again.revoked)
            let after = try await hub.service.apiTokens()
            #expect(after.filter { $0.revokedAt != nil }.map(\.id) == [id])
            let events = try await hub.service.auditLog(limit: 10)
            #expect(events.map(\.kind) == [.apiTokenRevoked, .apiTokenIssued])
            #expect(events.allSatisfy { !$0.detail.contains(second) })
        }
    }

    /// An id names one token or none: an unknown, ambiguous, short or malformed id is refused and
    /// revokes nothing.
    @Test func revokingNeedsAnIdThatNamesOneToken() async throws {
        try await HubFixture.with { hub in
            let hashes = ["abcdef0" + String(repeating: "0", count: 57), "abcdef1" + String(repeating: "0", count: 57)]
            try await hub.store.write { tx in
                for hash in hashes {
                    try await tx.insertAPIToken(APIToken(tokenHash: hash, user: "admin", createdAt: 1))
                }
            }
            await #expect(throws: HubError.conflict) { try await hub.service.revokeAPIToken(id: "abcdef") }
            await #expect(throws: HubError.notFound) { try await hub.service.revokeAPIToken(id: "abcdef2") }
            for malformed in ["abcde", "abcdefg", "", String(repeating: "a", count: 65)] {
                await #expect(throws: HubError.badRequest) { try await hub.service.revokeAPIToken(id: malformed) }
            }
            #expect(try await hub.service.apiTokens().allSatisfy { $0.revokedAt == nil })
            // Upper case is the same id; seven digits name one of the two.
            let (token, revoked) = try await hub.service.revokeAPIToken(id: "ABCDEF1")
            #expect(revoked && token.tokenHash == hashes[1])
            let statuses = try await hub.service.apiTokens().map { ($0.tokenHash, $0.revokedAt != nil) }
            #expect(statuses.filter(\.1).map(\.0) == [hashes[1]])
        }
    }

    /// Disabling a user takes away, at once and together, their device (401 at its next push and
    /// pull), their unused enrollment code, their API token and their admin web session; another
    /// admin is untouched. While disabled, they get no new code or token. Enabled again, what was
    /// revoked stays revoked, and a new code enrolls a laptop that syncs.
    @Test func aDisabledUserLosesDevicesCodesTokensAndSessions() async throws {
        try await HubFixture.with { hub in
            let firstCode = try await hub.addUser("ops", role: .admin)
            let unusedCode = try await hub.service.issueEnrollmentCode(for: "ops")
            let token = try await hub.service.issueAPIToken(for: "ops")
            try await hub.live { url in
                try await WireClient.with(url: url) { client in
                    try await Browser.with(url: url) { browser in
                        let device = try await client.enroll(firstCode)
                        let push = {
                            try await client.push(
                                device.token,
                                Wire.push(
                                    device.replica,
                                    [Wire.customer(id: Wire.uuid(), replica: device.replica, counter: 1)]))
                        }
                        #expect(try await Self.status(push) == 200)
                        let session = try #require(try await browser.signIn(token: token))
                        #expect(try await browser.dashboardOpens(session: session))
                        #expect(try await browser.adminAPIStatus(token: token) == 200)

                        let disabled = try await hub.service.disableUser("ops")
                        #expect(disabled.user.isDisabled)
                        #expect(Self.counts(disabled) == [1, 1, 1, 1])

                        #expect(try await Self.status(push) == 401)
                        #expect(
                            try await Self.status { try await client.pull(device.token, Wire.pull(cursor: 0)) } == 401)
                        #expect(try await Self.status { try await client.enroll(unusedCode) } == 403)
                        #expect(try await browser.adminAPIStatus(token: token) == 401)
                        #expect(try await !browser.dashboardOpens(session: session))
                        #expect(try await browser.signIn(token: token) == nil)
                        // The first admin is untouched.
                        #expect(try await browser.adminAPIStatus(token: hub.adminToken) == 200)
                        await #expect(throws: HubError.conflict) {
                            try await hub.service.issueEnrollmentCode(for: "ops")
                        }
                        await #expect(throws: HubError.conflict) { try await hub.service.issueAPIToken(for: "ops") }

                        let enabled = try await hub.service.enableUser("ops")
                        #expect(!enabled.isDisabled)
                        #expect(try await Self.status(push) == 401)
                        #expect(try await Self.status { try await client.enroll(unusedCode) } == 403)
                        #expect(try await browser.adminAPIStatus(token: token) == 401)
                        let laptop = try await client.enroll(try await hub.service.issueEnrollmentCode(for: "ops"))
                        let pushed = try await client.push(
                            laptop.token,
                            Wire.push(
                                laptop.replica, [Wire.customer(id: Wire.uuid(), replica: laptop.replica, counter: 1)]))
                        #expect(pushed.results.map(\.status) == [.applied])
                    }
                }
            }
            let kinds = try await hub.service.auditLog(limit: 10).map(\.kind)
            #expect(kinds.contains(.userDisabled) && kinds.contains(.userEnabled))
        }
    }

    /// What a request racing the disabling managed to create (a device enrolled, a token inserted)
    /// still does not work: every request reads its user again.
    @Test func whatRacedADisablingStillDoesNotWork() async throws {
        try await HubFixture.with { hub in
            _ = try await hub.addUser("ops", role: .admin)
            try await hub.service.disableUser("ops")
            let deviceToken = "rlt_device_after_disable"
            let apiToken = "rlt_api_after_disable"
            try await hub.store.write { tx in
                try await tx.insertDevice(
                    Device(
                        replica: ReplicaID(4242), user: "ops", tokenHash: Secrets.hash(deviceToken), name: "late",
                        lineage: ReplicaID(4242), createdAt: 1, scopeVersion: 1))
                try await tx.insertAPIToken(APIToken(tokenHash: Secrets.hash(apiToken), user: "ops", createdAt: 1))
            }
            await #expect(throws: HubError.deviceRevoked) { try await hub.service.authenticate(token: deviceToken) }
            await #expect(throws: HubError.unauthorized) { try await hub.service.authenticate(token: apiToken) }
            try await hub.service.enableUser("ops")
            #expect(try await hub.service.authenticate(token: apiToken).user == "ops")
        }
    }

    /// Disabling an unknown user is refused; disabling twice keeps the first time.
    @Test func disablingIsIdempotentAndNamesAUser() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            let clock = try #require(hub.clock)
            await #expect(throws: HubError.notFound) { try await hub.service.disableUser("nobody") }
            _ = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let first = try await hub.service.disableUser("claire")
            clock.advance(byMillis: 60_000)
            let second = try await hub.service.disableUser("claire")
            #expect(second.user.disabledAt == first.user.disabledAt)
            #expect(Self.counts(second) == [0, 0, 0, 0])
            #expect(try await hub.service.users().first { $0.name == "claire" }?.isDisabled == true)
        }
    }
}
