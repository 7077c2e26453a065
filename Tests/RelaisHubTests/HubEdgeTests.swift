import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Limits the hub applies at its edge, before a request costs it memory or a connection slot.
struct HubEdgeTests {

    /// A body declared larger than the route's limit is refused from the headers alone: the hub answers
    /// 413 `body_too_large` while the client has sent no body byte, on every route family that reads
    /// a body (sync, whose push and pull share enroll's decoder; admin API; admin forms).
    @Test(arguments: [
        ("POST /v1/enroll", "application/json", ""),
        ("POST /v1/admin/conflicts/bulk-resolve", "application/json", "admin"),
        ("POST /admin/sign-in", "application/x-www-form-urlencoded", ""),
    ])
    func declaredOversizedBodyIsRefusedBeforeItIsSent(requestLine: String, contentType: String, auth: String)
        async throws
    {
        try await HubFixture.with { hub in
            try await hub.live { url in
                let port = UInt16(url.split(separator: ":").last.map(String.init) ?? "") ?? 0
                var head = "\(requestLine) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(contentType)\r\n"
                if auth == "admin" { head += "Authorization: Bearer \(hub.adminToken)\r\n" }
                head += "Content-Length: 1099511627776\r\n\r\n"
                let response = try await RawHTTP.exchange(port: port, send: head, timeoutSeconds: 30)
                #expect(response.hasPrefix("HTTP/1.1 413"), "\(requestLine): \(response.prefix(200))")
                if !requestLine.hasPrefix("POST /admin/") {  // the web pages answer with a page, not JSON
                    #expect(response.contains("body_too_large"), "\(requestLine): \(response.prefix(400))")
                }
            }
        }
    }
}

extension HubEdgeTests {
    /// A router test client on a fresh hub with `edges`' rate limits.
    func withRouter(
        _ edges: HubServer.Edges, _ body: @escaping @Sendable (HubFixture, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await HubFixture.with { hub in
            let app = Application(router: HubServer.router(service: hub.service, edges: edges))
            try await app.test(.router) { client in try await body(hub, client) }
        }
    }

    /// Pushes and pulls count against their device's limit: past it the answer is `429 rate_limited`
    /// with `Retry-After` (the seconds until the next token), nothing of the refused push is written,
    /// and another device is not held back.
    @Test func pushAndPullOverTheDeviceLimitGet429AndWriteNothing() async throws {
        // The limit's clock stands still: the wait told is exactly a third of a minute.
        let edges = HubServer.Edges(syncRate: RateLimit(perMinute: 3), clock: TestClock())
        try await withRouter(edges) { hub, client in
            let claire = try await HubRouterTests.enroll(hub, client, "claire")
            let bob = try await HubRouterTests.enroll(hub, client, "bob")
            let first = Wire.uuid()
            let pushed = try await HubRouterTests.send(
                client, "/v1/push",
                Wire.push(claire.replica, [Wire.customer(id: first, replica: claire.replica, counter: 1)]),
                token: claire.token)
            #expect(pushed.status == 200)
            for _ in 0..<2 {
                let pull = try await HubRouterTests.send(
                    client, "/v1/pull", Wire.pull(cursor: 0, counter: 1), token: claire.token)
                #expect(pull.status == 200)
            }
            let refused = Wire.uuid()
            let limited = try await HubRouterTests.send(
                client, "/v1/push",
                Wire.push(claire.replica, [Wire.customer(id: refused, replica: claire.replica, counter: 2)]),
                token: claire.token)
            #expect(limited.status == 429 && limited.errorCode == "rate_limited")
            #expect(limited.headers[.retryAfter] == "20")
            let pullLimited = try await HubRouterTests.send(
                client, "/v1/pull", Wire.pull(cursor: 0, counter: 1), token: claire.token)
            #expect(pullLimited.status == 429 && pullLimited.headers[.retryAfter] != nil)
            // Bob syncs as before and sees the first customer, not the refused one.
            let page = try await HubRouterTests.send(client, "/v1/pull", Wire.pull(cursor: 0), token: bob.token)
            #expect(page.status == 200)
            #expect(try page.message(Relais_V1_PullResponse.self).records.map(\.recordID) == [first])
        }
    }

    /// Renewals count per user against the enrollment limit, successful ones too (each makes a
    /// device): past it the answer is `429 rate_limited` and no device is made, also for a renewal from
    /// the new replica (a chain of renewals does not start afresh). Another user's laptop still renews.
    @Test func renewalsOverTheLimitGet429AndMakeNoDevice() async throws {
        let edges = HubServer.Edges(enrollRate: RateLimit(perMinute: 2), clock: TestClock())
        try await withRouter(edges) { hub, client in
            let claire = try await HubRouterTests.enroll(hub, client, "claire")
            let bob = try await HubRouterTests.enroll(hub, client, "bob")
            var request = Relais_V1_ReplicaRenewRequest()
            request.reason = "replica_forked"
            // Two copies of Claire's file renew with the token they share.
            var renewedToken = ""
            for _ in 0..<2 {
                let renewed = try await HubRouterTests.send(client, "/v1/replica/renew", request, token: claire.token)
                #expect(renewed.status == 200)
                renewedToken = try renewed.message(Relais_V1_ReplicaRenewResponse.self).token
            }
            let devices = try await hub.service.devices().count
            for token in [claire.token, renewedToken] {
                let limited = try await HubRouterTests.send(client, "/v1/replica/renew", request, token: token)
                #expect(limited.status == 429 && limited.errorCode == "rate_limited")
                #expect(limited.headers[.retryAfter] == "30")
            }
            #expect(try await hub.service.devices().count == devices)
            let other = try await HubRouterTests.send(client, "/v1/replica/renew", request, token: bob.token)
            #expect(other.status == 200)
            #expect(try await hub.service.devices().count == devices + 1)
        }
    }

    /// Refused enrollments count per address and per code; past the limit even a good code from that
    /// address waits (429 before the body is read). Successful enrollments give their token back, so a
    /// whole office enrolling from one address never meets the limit.
    @Test func enrollmentGuessingIsLimitedAndGoodEnrollmentsAreNot() async throws {
        try await withRouter(HubServer.Edges(enrollRate: RateLimit(perMinute: 3))) { hub, client in
            for index in 0..<6 {
                let code = try await hub.addUser("rep\(index)", role: .rep, territories: ["north"])
                #expect(try await HubRouterTests.send(client, "/v1/enroll", Wire.enroll(code)).status == 200)
            }
            let good = try await hub.addUser("late", role: .rep, territories: ["north"])
            for guess in 0..<3 {
                let answer = try await HubRouterTests.send(
                    client, "/v1/enroll", Wire.enroll("AAAA-BBBB-CCCC-000\(guess)"))
                #expect(answer.status == 403 && answer.errorCode == "invalid_enrollment_code")
            }
            let limited = try await HubRouterTests.send(client, "/v1/enroll", Wire.enroll(good))
            #expect(limited.status == 429 && limited.errorCode == "rate_limited")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(try await hub.service.devices().count == 6)
        }
    }

    /// An enrollment refused for another reason than its code (here a schema the hub does not run) is
    /// no guess: it does not count, and the laptop enrolls once upgraded.
    @Test func enrollmentsRefusedForTheirSchemaDoNotCount() async throws {
        try await withRouter(HubServer.Edges(enrollRate: RateLimit(perMinute: 2))) { hub, client in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            var tooNew = Wire.enroll(code)
            tooNew.schemaVersion += 1
            for _ in 0..<4 {
                let answer = try await HubRouterTests.send(client, "/v1/enroll", tooNew)
                #expect(answer.status == 409 && answer.errorCode == "schema_too_new")
            }
            #expect(try await HubRouterTests.send(client, "/v1/enroll", Wire.enroll(code)).status == 200)
        }
    }
}

/// One request over a plain TCP socket, for requests no HTTP client would send (a body announced
/// and never sent). Reads until the hub closes or a whole response head and body arrived, and gives
/// up after `timeoutSeconds` of silence, so a hub that waits for the body fails the test instead of
/// hanging it.
enum RawHTTP {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func exchange(port: UInt16, send text: String, timeoutSeconds: Int) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try blockingExchange(port: port, text, timeoutSeconds) })
            }
        }
    }

    private static func blockingExchange(port: UInt16, _ text: String, _ timeoutSeconds: Int) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect: errno \(errno)") }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else {
            throw Failure(description: "send: errno \(errno)")
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !isComplete(received) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else {
                throw Failure(description: "no answer within \(timeoutSeconds) s (errno \(errno))")
            }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether `bytes` hold a response head and as many body bytes as its Content-Length says.
    private static func isComplete(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<end.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { return false }
        return text.utf8.count - text[..<end.upperBound].utf8.count >= length
    }
}
