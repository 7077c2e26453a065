public import AsyncHTTPClient
import Foundation
import NIOSSL
import Synchronization

/// How a laptop talks to its hub safely (docs/SECURITY.md, "Transport"):
///
/// - **TLS 1.2 at least**, with the system's root certificates, plus the firm's own CA when
///   ``caFile`` names one (a PEM file; a hub whose certificate the firm issued itself needs no change
///   to the laptop's system trust store).
/// - **No plain HTTP off this machine**: an `http://` hub that is not on loopback (`127.0.0.0/8`,
///   `::1`, `localhost`) is refused before anything is sent, token and enrollment code included,
///   unless ``allowInsecure`` says the network is trusted (`relais enroll --insecure`).
///
/// `relais enroll` stores both in the replica file; every later sync uses them.
public struct HubSecurity: Sendable, Hashable {
    /// A PEM file of certificates trusted besides the system's roots.
    public var caFile: String?
    /// Whether a plain-HTTP hub off loopback is accepted.
    public var allowInsecure: Bool

    /// The default: the system's roots, HTTPS for every hub that is not on loopback.
    public init(caFile: String? = nil, allowInsecure: Bool = false) {
        self.caFile = caFile
        self.allowInsecure = allowInsecure
    }

    /// Checks that `hub` may be called under this policy.
    ///
    /// - Throws: ``SyncError/Code/insecureHub`` for plain HTTP off loopback (unless
    ///   ``allowInsecure``), ``SyncError/Code/protocolFailure`` when `hub` is not an http(s) URL.
    public func check(hub: String) throws {
        guard let url = URLComponents(string: hub), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw SyncError(.protocolFailure, "the hub's address is not an http(s) URL: \(hub)")
        }
        if scheme == "http" && !allowInsecure && !Self.isLoopback(host) {
            throw SyncError(
                .insecureHub,
                "refusing plain HTTP to \(host): the token would cross the network in clear. "
                    + "Use the hub's https:// address, or enroll with --insecure on a network you trust")
        }
    }

    /// Whether `host` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "::1" || bare == "0:0:0:0:0:0:0:1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The HTTP client for this policy: ``HTTPSyncTransport/defaultClient`` without a CA file, else
    /// one client per CA file for the life of the process (like the default client, never shut down).
    ///
    /// - Throws: ``SyncError/Code/protocolFailure`` when the CA file cannot be read as PEM.
    public func client() throws -> HTTPClient {
        guard let caFile else { return HTTPSyncTransport.defaultClient }
        return try Self.clients.withLock { clients in
            if let client = clients[caFile] { return client }
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw SyncError(.protocolFailure, "cannot read the CA file \(caFile): \(error)")
            }
            guard !certificates.isEmpty else {
                throw SyncError(.protocolFailure, "the CA file \(caFile) holds no PEM certificate")
            }
            var tls = Self.tlsConfiguration
            tls.additionalTrustRoots = [.certificates(certificates)]
            let client = HTTPSyncTransport.makeClient(tls: tls)
            clients[caFile] = client
            return client
        }
    }

    /// TLS for every client of the hub: 1.2 at least, full certificate and host name verification.
    static var tlsConfiguration: TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        return tls
    }

    private static let clients = Mutex<[String: HTTPClient]>([:])
}
