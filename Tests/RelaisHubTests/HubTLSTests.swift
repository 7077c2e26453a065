import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// HTTPS from `--tls-cert` / `--tls-key` PEM files.
struct HubTLSTests {
    /// A self-signed test certificate for `localhost` and 127.0.0.1 (valid for 100 years) and its
    /// P-256 key. Test material only: it protects nothing.
    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBmzCCAUGgAwIBAgIUYm1mSmfLefYcfcIDrsB+XBkGANYwCgYIKoZIzj0EAwIw
        FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyODIxMzgzNFoYDzIxMjYxMTA0
        MjEzODM0WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
        PQMBBwNCAATngZr6GdnVRsFwOPj1hKCWdQrWJ5/fRYTqMxCRLj55Mio4gFW2C1CS
        BsFkbdXJIha9y4tS7oUaOp+2vlsrAMCNo28wbTAdBgNVHQ4EFgQUgsFaF8GADhij
        k1hYcJj9ai7mP7gwHwYDVR0jBBgwFoAUgsFaF8GADhijk1hYcJj9ai7mP7gwDwYD
        VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
        zj0EAwIDSAAwRQIhAOLXnqzp8146msAnH+hI0nCouQZi7tdWUQKj4OifG+vLAiBj
        1EaZ68x5PEvaWZ5FO8Gu+L1n9234//79rdsHwEA1GA==
        -----END CERTIFICATE-----
        """

    static let privateKey = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgK7wYlNRlN6bHxMGR
        RonbQqwImsoBPfnmgeI/J0BoaouhRANCAATngZr6GdnVRsFwOPj1hKCWdQrWJ5/f
        RYTqMxCRLj55Mio4gFW2C1CSBsFkbdXJIha9y4tS7oUaOp+2vlsrAMCN
        -----END PRIVATE KEY-----
        """

    /// A second self-signed pair for the same names: what a renewed certificate looks like.
    static let renewedCertificate = """
        -----BEGIN CERTIFICATE-----
        MIIBmzCCAUGgAwIBAgIUF+yXyqw+RguK/SZHY7YvysxUPpAwCgYIKoZIzj0EAwIw
        FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNDIyMDgwOVoYDzIxMjYxMTEw
        MjIwODA5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
        PQMBBwNCAAQMS2RlpwBvvrsUXG1vro+N8lzqCaptrwyAiuMR2likSxNV4xGu0Ww2
        lwpA/gmXguViduuQedm15Y7yDtxuMCbWo28wbTAdBgNVHQ4EFgQU3vEr24dvZ/J4
        juQCSitTR7VQC+kwHwYDVR0jBBgwFoAU3vEr24dvZ/J4juQCSitTR7VQC+kwDwYD
        VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
        zj0EAwIDSAAwRQIhANEouoSh/D4SGuy7GcZTeKmhUNz8jxHu9KnGkAl5o+JgAiAy
        LY1YE0dOgffqEP7sJ+rrOyXgvttlkwotNNETFA+vKA==
        -----END CERTIFICATE-----
        """

    static let renewedPrivateKey = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHHQc1SAJbTqRAFdg
        uUccbpwhMFTRIy86EViIJzYSbkChRANCAAQMS2RlpwBvvrsUXG1vro+N8lzqCapt
        rwyAiuMR2likSxNV4xGu0Ww2lwpA/gmXguViduuQedm15Y7yDtxuMCbW
        -----END PRIVATE KEY-----
        """

    @Test func servesHTTPSFromPEMFiles() async throws {
        try await HubFixture.with { hub in
            let certPath = hub.folder.path + "/hub.pem"
            let keyPath = hub.folder.path + "/hub-key.pem"
            try Self.certificate.write(toFile: certPath, atomically: true, encoding: .utf8)
            try Self.privateKey.write(toFile: keyPath, atomically: true, encoding: .utf8)
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let configuration = HubServer.Configuration(
                host: "127.0.0.1", port: 0, tls: .init(certificatePath: certPath, privateKeyPath: keyPath))
            try await HubServer.withRunningServer(
                service: hub.service, configuration: configuration, logger: HubLogging.standardError(label: "test")
            ) { url in
                #expect(url.hasPrefix("https://127.0.0.1:"))
                var tls = TLSConfiguration.makeClientConfiguration()
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(Self.certificate.utf8)))
                var clientConfiguration = HTTPClient.Configuration(tlsConfiguration: tls)
                clientConfiguration.httpVersion = .http1Only
                let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
                do {
                    let client = WireClient(http: http, url: url)
                    let enrolled = try await client.enroll(code)
                    #expect(enrolled.user == "claire")
                    let pushed = try await client.push(
                        enrolled.token,
                        Wire.push(
                            enrolled.replica, [Wire.customer(id: Wire.uuid(), replica: enrolled.replica, counter: 1)]))
                    #expect(pushed.results.map(\.status) == [.applied])
                } catch {
                    try? await http.shutdown()
                    throw error
                }
                try await http.shutdown()
            }
        }
    }

    /// A laptop trusts a hub on the firm's own CA through `relais enroll --ca-file`, kept in the
    /// replica file for every sync; without the CA the same hub is refused at the handshake, before
    /// the enrollment code is sent.
    @Test func aLaptopTrustsTheFirmsCAFromItsFile() async throws {
        try await withTLSHub { hub, url, _ in
            let caFile = hub.folder.path + "/firm-ca.pem"
            try Self.certificate.write(toFile: caFile, atomically: true, encoding: .utf8)

            let untrusted = hub.folder.path + "/untrusted.relais"
            let refusedCode = try await hub.addUser("bruno", role: .rep, territories: ["north"])
            let refused = await #expect(throws: SyncError.self) {
                _ = try await Replica.enroll(hub: url, code: refusedCode, path: untrusted)
            }
            #expect(refused?.code == .hubUnreachable)
            #expect(!FileManager.default.fileExists(atPath: untrusted))

            let path = hub.folder.path + "/claire.relais"
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let laptop = try await Replica.enroll(
                hub: url, code: code, path: path, security: HubSecurity(caFile: caFile))
            #expect(try await laptop.hubSecurity() == HubSecurity(caFile: caFile))
            let id = try await laptop.add(
                "customers", ["name": .text("Boulangerie Martin"), "territory": .text("north")])
            let result = try await laptop.sync()
            #expect(result.pushed == 1)
            #expect(try await hub.service.export(user: "claire")["customers"]?.map(\.id) == [id])
        }
    }

    /// The hub refuses TLS 1.1 and older at the handshake (RFC 8996).
    @Test func theHubRefusesTLSOlderThan12() async throws {
        try await withTLSHub { _, url, _ in
            let modern = try await Self.reaches(url, trusting: Self.certificate, maximum: .tlsv12)
            let old = try await Self.reaches(url, trusting: Self.certificate, maximum: .tlsv11)
            #expect(modern)
            #expect(!old)
        }
    }

    /// A reload (SIGHUP for `relais-hub serve`) makes new handshakes present the renewed
    /// certificate, keeps the connections already open, and keeps the pair in use when the new files
    /// do not match.
    @Test func aReloadedCertificateServesNewConnectionsAndKeepsOpenOnes() async throws {
        try await withTLSHub { _, url, certificates in
            let trustingOld = try Self.client(trusting: Self.certificate)
            do {
                let before = try await trustingOld.execute(
                    HTTPClientRequest(url: url + "/v1/health"), timeout: .seconds(10))
                #expect(before.status == .ok)
                _ = try await before.body.collect(upTo: 1 << 20)

                try Self.renewedCertificate.write(
                    toFile: certificates.files.certificatePath, atomically: true, encoding: .utf8)
                try Self.renewedPrivateKey.write(
                    toFile: certificates.files.privateKeyPath, atomically: true, encoding: .utf8)
                try certificates.reload()

                // The open connection goes on (a new one would be refused: this client trusts only the old certificate).
                let after = try await trustingOld.execute(
                    HTTPClientRequest(url: url + "/v1/health"), timeout: .seconds(10))
                #expect(after.status == .ok)
                _ = try await after.body.collect(upTo: 1 << 20)
            } catch {
                try? await trustingOld.shutdown()
                throw error
            }
            try await trustingOld.shutdown()
            #expect(try await Self.reaches(url, trusting: Self.renewedCertificate))
            #expect(try await !Self.reaches(url, trusting: Self.certificate))

            // A key that is not the certificate's: the reload fails and the renewed pair stays.
            try Self.privateKey.write(toFile: certificates.files.privateKeyPath, atomically: true, encoding: .utf8)
            #expect(throws: TLSCertificateError.self) { try certificates.reload() }
            #expect(try await Self.reaches(url, trusting: Self.renewedCertificate))
        }
    }

    /// Under TLS, answers carry `Strict-Transport-Security` and the admin cookies are `Secure`, so a
    /// browser never sends an admin session over plain HTTP.
    @Test func underTLSAnswersCarryHSTSAndAdminCookiesAreSecure() async throws {
        try await withTLSHub { _, url, _ in
            let http = try Self.client(trusting: Self.certificate)
            do {
                for path in ["/admin/sign-in", "/v1/health", "/no-such-page"] {
                    let response = try await http.execute(HTTPClientRequest(url: url + path), timeout: .seconds(10))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    #expect(response.headers.first(name: "Strict-Transport-Security") == "max-age=31536000", "\(path)")
                    if path == "/admin/sign-in" {
                        let cookie = try #require(response.headers.first(name: "Set-Cookie"))
                        #expect(cookie.contains("Secure") && cookie.contains("HttpOnly"), "\(cookie)")
                    }
                }
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    /// Over plain HTTP (on loopback, or behind a proxy that adds them) neither is sent: a `Secure`
    /// cookie would never come back over HTTP.
    @Test func overPlainHTTPNeitherHSTSNorSecureCookies() async throws {
        try await HubFixture.with { hub in
            try await HubServer.withRunningServer(service: hub.service, logger: HubLogging.standardError(label: "test"))
            {
                url in
                let response = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: url + "/admin/sign-in"), timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 1 << 20)
                #expect(response.headers.first(name: "Strict-Transport-Security") == nil)
                let cookie = try #require(response.headers.first(name: "Set-Cookie"))
                #expect(!cookie.contains("Secure"), "\(cookie)")
            }
        }
    }

    /// A client that trusts only `pem`, over HTTP/1.1, failing at once when it cannot connect.
    private static func client(trusting pem: String, maximum: TLSVersion = .tlsv13) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
        tls.minimumTLSVersion = .tlsv1
        tls.maximumTLSVersion = maximum
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Whether `GET url/v1/health` answers 200 on a new connection that trusts only `pem` and speaks
    /// TLS of at most `maximum`.
    private static func reaches(_ url: String, trusting pem: String, maximum: TLSVersion = .tlsv13) async throws -> Bool
    {
        let http = try client(trusting: pem, maximum: maximum)
        let reached: Bool
        do {
            let response = try await http.execute(HTTPClientRequest(url: url + "/v1/health"), timeout: .seconds(10))
            reached = response.status == .ok
        } catch {
            reached = false
        }
        try await http.shutdown()
        return reached
    }

    /// A hub on HTTPS from the test certificate, for `body(hub, url, certificates)`.
    private func withTLSHub(
        _ body: @escaping @Sendable (HubFixture, String, TLSCertificates) async throws -> Void
    ) async throws {
        try await HubFixture.with { hub in
            let files = HubServer.TLSFiles(
                certificatePath: hub.folder.path + "/hub.pem", privateKeyPath: hub.folder.path + "/hub-key.pem")
            try Self.certificate.write(toFile: files.certificatePath, atomically: true, encoding: .utf8)
            try Self.privateKey.write(toFile: files.privateKeyPath, atomically: true, encoding: .utf8)
            let certificates = try TLSCertificates(files: files)
            try await HubServer.withRunningServer(
                service: hub.service, configuration: HubServer.Configuration(host: "127.0.0.1", port: 0, tls: files),
                logger: HubLogging.standardError(label: "test"), certificates: certificates
            ) { url in
                try await body(hub, url, certificates)
            }
        }
    }
}

/// The laptop's transport policy: plain HTTP only to this machine unless told otherwise.
struct HubSecurityTests {
    @Test(arguments: [
        "http://127.0.0.1:7420", "http://127.9.8.7", "http://localhost:7420/", "http://[::1]:7420",
        "https://hub.example.com:7420", "https://10.0.0.11",
    ])
    func acceptsHTTPSAndLoopback(hub: String) throws {
        try HubSecurity().check(hub: hub)
    }

    @Test(arguments: ["http://hub.example.com:7420", "http://10.0.0.11:7420", "http://127.0.0.1.example.com"])
    func refusesPlainHTTPOffThisMachine(hub: String) throws {
        let error = #expect(throws: SyncError.self) { try HubSecurity().check(hub: hub) }
        #expect(error?.code == .insecureHub)
        try HubSecurity(allowInsecure: true).check(hub: hub)
    }

    @Test(arguments: ["hub.example.com:7420", "ftp://hub.example.com", "https://", "not a url"])
    func refusesWhatIsNotAnHTTPURL(hub: String) {
        let error = #expect(throws: SyncError.self) { try HubSecurity(allowInsecure: true).check(hub: hub) }
        #expect(error?.code == .protocolFailure)
    }

    /// Nothing is sent to a plain-HTTP hub off loopback: the enrollment fails at once (192.0.2.1 is a
    /// documentation address that answers nothing: reaching for it would be `hubUnreachable`),
    /// and no replica file is left behind.
    @Test func anEnrollmentToAPlainHTTPHubOffThisMachineSendsNothing() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path + "/laptop.relais"
        let error = await #expect(throws: SyncError.self) {
            _ = try await Replica.enroll(hub: "http://192.0.2.1:7420", code: "7KQ2-AAAA", path: path)
        }
        #expect(error?.code == .insecureHub)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
