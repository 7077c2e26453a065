import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
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
}
