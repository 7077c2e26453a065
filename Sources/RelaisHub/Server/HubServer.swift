public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
import NIOSSL
import RelaisProtocol
public import ServiceLifecycle

/// The hub's HTTP server (Hummingbird 2): routes, middleware and TLS around a ``HubService``.
///
/// ```swift
/// let app = try HubServer.application(service: hub, configuration: .init(host: "127.0.0.1", port: 7420),
///                                     logger: logger) { address in print("listening on \(address)") }
/// let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint],
///                                               logger: logger))
/// try await group.run()
/// ```
///
/// Graceful shutdown (SIGTERM, SIGINT): the server stops accepting connections, lets in-flight requests
/// (pushes included) finish, and returns; nothing new starts.
public enum HubServer {
    /// Where and how the server listens.
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port; the bound address is reported to `onListening`.
        public var port: Int
        /// PEM files for HTTPS; plain HTTP when `nil`.
        public var tls: TLSFiles?

        public init(host: String = "127.0.0.1", port: Int = 7420, tls: TLSFiles? = nil) {
            self.host = host
            self.port = port
            self.tls = tls
        }
    }

    /// A certificate chain and its private key, as PEM files.
    public struct TLSFiles: Sendable, Hashable {
        public var certificatePath: String
        public var privateKeyPath: String

        public init(certificatePath: String, privateKeyPath: String) {
            self.certificatePath = certificatePath
            self.privateKeyPath = privateKeyPath
        }
    }

    /// The router with every route and middleware; test it with HummingbirdTesting's `.router`.
    public static func router(service: HubService) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: MetricsRecordingMiddleware(metrics: service.metrics))
        router.add(middleware: ErrorMiddleware(logger: service.logger))
        HubRoutes(service: service).register(on: router)
        AdminPages(service: service).register(on: router)
        return router
    }

    /// The application: the router on a listening server.
    ///
    /// - Parameter onListening: Called once the server listens, with its URL (`http://127.0.0.1:7420`).
    /// - Parameter certificates: The TLS pair to serve, which ``TLSCertificates/reload()`` may
    ///   change while the server runs; read from `configuration.tls` when `nil`.
    public static func application(
        service: HubService, configuration: Configuration, logger: Logger, certificates: TLSCertificates? = nil,
        onListening: @escaping @Sendable (String) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol & Service {
        let scheme = configuration.tls == nil ? "http" : "https"
        let host = configuration.host
        let server: HTTPServerBuilder
        if let tls = configuration.tls {
            let certificates = try certificates ?? TLSCertificates(files: tls)
            server = try .tls(.http1(), tlsConfiguration: certificates.serverConfiguration())
        } else {
            server = .http1()
        }
        return Application(
            router: router(service: service),
            server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "relais-hub"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                let shownHost = host.contains(":") ? "[\(host)]" : host
                await onListening("\(scheme)://\(shownHost):\(port)")
            },
            logger: logger)
    }
}
