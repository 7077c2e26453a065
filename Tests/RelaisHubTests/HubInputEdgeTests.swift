import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisCore
import RelaisProtocol
import RelaisTesting
import Testing

@testable import RelaisHub

/// Input at the edge of what the hub parses: numbers that overflow (a session cookie's sign-in time,
/// a list's offset), a value larger than any laptop accepts written through the office, a malformed
/// `Range`. Each is refused or ignored with an ordinary answer; none stops the hub.
struct HubInputEdgeTests {
    /// A session cookie whose sign-in time is the largest UInt64: adding the lifetime would overflow.
    static let overflowingCookie = "18446744073709551615.x"

    /// Such a cookie is no session: the lookup says so, and an admin page answers as to anyone not
    /// signed in (to the sign-in page); the hub then serves a sign-in as usual.
    @Test func aSessionCookieWhoseTimeOverflowsIsNoSession() async throws {
        try await AdminReviewTests.withRouter { hub, client, _ in
            let sessions = AdminSessions(store: hub.store)
            let now = try #require(hub.clock).millisecondsSince1970()
            #expect(try await sessions.session(Self.overflowingCookie, now: now) == nil)
            #expect(try await sessions.session("\(UInt64.max - 1000).x", now: now) == nil)
            for path in ["/admin/dashboard", "/admin/conflicts"] {
                let page = try await AdminPagesTests.request(
                    client, .get, path, cookies: ["relais_admin": Self.overflowingCookie])
                #expect(page.status == 303, "\(path)")
                #expect(page.headers[.location] == "/admin/sign-in", "\(path)")
            }
            let (session, _) = try await AdminPagesTests.signIn(hub, client)
            let dashboard = try await AdminPagesTests.request(
                client, .get, "/admin/dashboard", cookies: ["relais_admin": session])
            #expect(dashboard.status == 200)
        }
    }

    /// An offset past what a page's arithmetic holds is a bad request on the conflict list page and
    /// on the admin API alike; the largest accepted gives an empty page.
    @Test func aHugeConflictOffsetIsABadRequestNotATrap() async throws {
        try await AdminReviewTests.withRouter { hub, client, _ in
            let (session, _) = try await AdminPagesTests.signIn(hub, client)
            let cookies = ["relais_admin": session]
            for offset in [String(Int.max), String(ConflictFilter.maxOffset + 1)] {
                let page = try await AdminPagesTests.request(
                    client, .get, "/admin/conflicts?offset=\(offset)", cookies: cookies)
                #expect(page.status == 400, "\(offset)")
                #expect(page.html.contains("`offset` is a number from 0 to"), "\(offset)")
                let api = try await AdminReviewTests.get(
                    client, "/v1/admin/conflicts?offset=\(offset)", token: hub.adminToken)
                #expect(api.status == 400, "\(offset)")
                #expect(api.errorCode == "bad_request", "\(offset)")
            }
            let last = try await AdminPagesTests.request(
                client, .get, "/admin/conflicts?offset=\(ConflictFilter.maxOffset)", cookies: cookies)
            #expect(last.status == 200)
            let empty = try await AdminReviewTests.get(
                client, "/v1/admin/conflicts?offset=\(ConflictFilter.maxOffset)", token: hub.adminToken)
            #expect(empty.status == 200)
            #expect((empty.json as? [Any])?.isEmpty == true)
            #expect(empty.headers[HTTPFields.Element.Name("X-Total-Count")!] == "3")
        }
    }

    /// An admin resolving a conflict with a value larger than a push may carry is refused before
    /// anything is written (every laptop's pull would refuse it and stop syncing); a value at the
    /// limit is written.
    @Test func anOfficeWriteOverTheFieldLimitIsRefusedAndWritesNothing() async throws {
        try await AdminReviewTests.withRouter { hub, client, s in
            let limit = hub.service.configuration.limits.maxFieldValueBytes
            let before = try await hub.service.conflict(id: s.phone)
            let field = try #require(hub.service.schema.collection("customers")?.field("phone"))
            func phone() async throws -> Value? {
                try await hub.store.read { tx in
                    try await tx.record(collection: "customers", id: before.conflict.recordID)
                }?.state.value(of: field)
            }
            let phoneBefore = try await phone()
            let head = try await hub.store.read { tx in try await tx.meta().head }

            let large = String(repeating: "7", count: 70_000)
            let refused = try await AdminReviewTests.post(
                client, "/v1/admin/conflicts/\(s.phone)/resolve", token: hub.adminToken,
                json: #"{"value": "\#(large)", "reason": "x"}"#)
            #expect(refused.status == 400)
            #expect(refused.errorCode == "bad_request")
            #expect(String(decoding: refused.body, as: UTF8.self).contains("70000 bytes; the limit is \(limit)"))
            await #expect(throws: HubError.self) {
                try await hub.service.resolveConflict(
                    id: s.phone, decision: .value(.text(large)), reason: "x", by: "admin")
            }
            #expect(try await hub.service.conflict(id: s.phone) == before)
            #expect(try await phone() == phoneBefore)
            #expect(try await hub.store.read { tx in try await tx.meta().head } == head)

            let atLimit = String(repeating: "7", count: limit)
            let written = try await AdminReviewTests.post(
                client, "/v1/admin/conflicts/\(s.phone)/resolve", token: hub.adminToken,
                json: #"{"value": "\#(atLimit)", "reason": "x"}"#)
            #expect(written.status == 200)
            #expect(try await phone() == .text(atLimit))
        }
    }

    /// A NUL character from the office (a filter in an address, a reason in the API's JSON or in a
    /// page's form) is a bad request on every store, and nothing is written: PostgreSQL's text
    /// refuses the character, which failed such a request with a 500 there.
    @Test func aNulCharacterFromTheOfficeIsABadRequestAndWritesNothing() async throws {
        try await AdminReviewTests.withRouter { hub, client, s in
            let filtered = try await AdminReviewTests.get(
                client, "/v1/admin/conflicts?territory=nor%00th", token: hub.adminToken)
            #expect(filtered.status == 400 && filtered.errorCode == "bad_request")
            let before = try await hub.service.conflict(id: s.south)
            let byAPI = try await AdminReviewTests.post(
                client, "/v1/admin/conflicts/\(s.south)/resolve", token: hub.adminToken,
                json: #"{"pick": 0, "reason": "a\u0000b"}"#)
            #expect(byAPI.status == 400 && byAPI.errorCode == "bad_request")
            #expect(String(decoding: byAPI.body, as: UTF8.self).contains("NUL"))

            let (session, csrf) = try await AdminPagesTests.signIn(hub, client)
            func bulkResolve(reason: String) async throws -> AdminPagesTests.Page {
                try await AdminPagesTests.request(
                    client, .post, "/admin/bulk-resolve", cookies: ["relais_admin": session],
                    form: [
                        ("csrf", csrf), ("rule", "manual"), ("filter_user", "erin"), ("strategy", "newest"),
                        ("reason", reason), ("seen_count", "1"),
                    ])
            }
            #expect(try await bulkResolve(reason: "erin\u{0}is newer").status == 400)
            #expect(try await hub.service.conflict(id: s.south) == before)
            // The same reason without the NUL is taken.
            #expect(try await bulkResolve(reason: "erin is newer").status == 200)
            #expect(try await hub.service.conflict(id: s.south).status == .resolved)
        }
    }

    /// A snapshot asked with a `Range` that is not `bytes=N-` with N digits is served whole, with the
    /// right length; N past what an integer holds is past the end (416).
    @Test func aMalformedSnapshotRangeIsServedWholeOrRefused() async throws {
        try await HubFixture.with { hub in
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in
                let claire = try await HubRouterTests.enroll(hub, client, "claire")
                let push = try await HubRouterTests.send(
                    client, "/v1/push",
                    Wire.push(
                        claire.replica, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 1)]),
                    token: claire.token)
                #expect(push.status == 200)
                func snapshot(range: String?) async throws -> HubRouterTests.Answer {
                    var headers: HTTPFields = [.authorization: "Bearer \(claire.token)"]
                    if let range { headers[.range] = range }
                    return try await client.execute(
                        uri: "/v1/snapshot?schema_version=\(Schema.crm.version)", method: .get, headers: headers,
                        body: nil
                    ) { response in
                        HubRouterTests.Answer(
                            status: Int(response.status.code), headers: response.headers,
                            body: Array(response.body.readableBytesView))
                    }
                }
                let whole = try await snapshot(range: nil)
                #expect(whole.status == 200)
                #expect(whole.body.count > 5)
                for range in ["bytes=-5-", "bytes=+5-", "bytes=-", "bytes= 5-", "bytes=0x5-"] {
                    let answer = try await snapshot(range: range)
                    #expect(answer.status == 200, "\(range)")
                    #expect(answer.headers[.contentLength] == String(whole.body.count), "\(range)")
                    #expect(answer.headers[.contentRange] == nil, "\(range)")
                    #expect(answer.body == whole.body, "\(range)")
                }
                let part = try await snapshot(range: "bytes=5-")
                #expect(part.status == 206)
                #expect(part.body == Array(whole.body.dropFirst(5)))
                for range in ["bytes=\(whole.body.count)-", "bytes=99999999999999999999-"] {
                    let answer = try await snapshot(range: range)
                    #expect(answer.status == 416, "\(range)")
                    #expect(answer.errorCode == "range_not_satisfiable", "\(range)")
                }
            }
        }
    }
}
