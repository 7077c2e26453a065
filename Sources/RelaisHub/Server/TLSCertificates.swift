import Logging
import NIOCore
public import NIOSSL
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The hub's certificate chain and key, read from their PEM files, and read again on ``reload()``
/// (`relais-hub serve` calls it on `SIGHUP`) without dropping a connection: each TLS handshake takes
/// the pair current when it starts, and connections already open keep theirs.
///
/// A reload that cannot read the files, or reads a key that does not match the certificate, throws
/// and leaves the current pair in place: a renewal script that writes half a file never takes the
/// hub's HTTPS down.
public final class TLSCertificates: Sendable {
    /// The files, read again on every reload.
    public let files: HubServer.TLSFiles
    private let current: Mutex<Pair>

    private struct Pair: Sendable {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
    }

    /// Reads `files`.
    ///
    /// - Throws: when a file cannot be read, or the key does not match the certificate.
    public init(files: HubServer.TLSFiles) throws {
        self.files = files
        current = Mutex(try Self.read(files))
    }

    /// Reads the files again; new handshakes use them from now on.
    ///
    /// - Throws: as ``init(files:)``; the pair in use is then kept.
    public func reload() throws {
        let pair = try Self.read(files)
        current.withLock { $0 = pair }
    }

    /// The certificate chain new handshakes present (the server certificate first).
    public var chain: [NIOSSLCertificate] { current.withLock { $0.chain } }

    /// The server's TLS configuration: TLS 1.2 at least (1.0 and 1.1 are broken and deprecated,
    /// RFC 8996), and the current pair chosen at each handshake.
    func serverConfiguration() -> TLSConfiguration {
        let pair = current.withLock { $0 }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: pair.chain.map { .certificate($0) }, privateKey: .privateKey(pair.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.sslContextCallback = { [self] _, promise in
            let pair = current.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = pair.chain.map { .certificate($0) }
            override.privateKey = .privateKey(pair.key)
            promise.succeed(override)
        }
        return configuration
    }

    private static func read(_ files: HubServer.TLSFiles) throws -> Pair {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath)
        guard !chain.isEmpty else {
            throw TLSCertificateError(description: "\(files.certificatePath) holds no PEM certificate")
        }
        let key = try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem)
        // A context checks that the key is the certificate's.
        var check = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        check.minimumTLSVersion = .tlsv12
        do {
            _ = try NIOSSLContext(configuration: check)
        } catch {
            throw TLSCertificateError(
                description:
                    "\(files.privateKeyPath) is not the key of the certificate in \(files.certificatePath): \(error)")
        }
        return Pair(chain: chain, key: key)
    }
}

/// A certificate file without a certificate, or a key that is not the certificate's.
public struct TLSCertificateError: Error, CustomStringConvertible {
    public let description: String
}

/// Reloads ``TLSCertificates`` on every `SIGHUP` until the service group shuts down.
struct CertificateReloadService: Service {
    let certificates: TLSCertificates
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            do {
                try certificates.reload()
                logger.notice(
                    "reloaded the TLS certificate",
                    metadata: ["relais.certificate": "\(certificates.files.certificatePath)"])
            } catch {
                logger.error("kept the TLS certificate in use: the reload failed: \(error)")
            }
        }
    }
}
