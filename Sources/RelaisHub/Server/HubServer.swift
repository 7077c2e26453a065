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
        /// Timeouts, the connection cap and the rate limits.
        public var edges: Edges
        /// Where `GET /metrics` is served instead of the sync port (plain HTTP, that one route);
        /// `nil`: on the sync port.
        public var metrics: MetricsAddress?

        public init(
            host: String = "127.0.0.1", port: Int = 7420, tls: TLSFiles? = nil, edges: Edges = Edges(),
            metrics: MetricsAddress? = nil
        ) {
            self.host = host
            self.port = port
            self.tls = tls
            self.edges = edges
            self.metrics = metrics
        }
    }

    /// The address of the metrics listener: keep it where only the office's Prometheus reaches
    /// (docs/SECURITY.md, "Transport").
    public struct MetricsAddress: Sendable, Hashable {
        public var host: String
        /// 0 picks a free port.
        public var port: Int

        public init(host: String = "127.0.0.1", port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// What the server refuses before a request costs it a connection slot, memory or a store
    /// transaction (docs/SECURITY.md, "Edges"). The defaults leave room for any normal sync: a laptop
    /// makes a few requests a minute, a bootstrap at most a few hundred.
    public struct Edges: Sendable {
        /// The time a new connection has to send its first request's head (TLS handshake included);
        /// past it the connection is closed. Default 10 s.
        public var headerTimeout: Duration
        /// The time a request's body has to arrive whole, from its head; past it the connection is
        /// closed. Default 60 s, the laptop's own time limit for a request.
        public var bodyTimeout: Duration
        /// The time a connection may stay without a request (between two requests, or sending nothing
        /// of one); past it the connection is closed. Default 75 s, longer than the laptop's pool keeps
        /// an idle connection (60 s), so the laptop closes first.
        public var idleTimeout: Duration
        /// The most connections held at once; a connection beyond it is closed as soon as it is accepted,
        /// and the open ones are served as before. Default 1,000.
        public var maxConnections: Int
        /// `/v1/enroll`, per remote address and per enrollment code. A successful enrollment gives its
        /// token back, so only refused attempts count. Default 10 a minute.
        public var enrollRate: RateLimit
        /// The admin sign-in form, per remote address and per token tried. A successful sign-in gives
        /// its token back. Default 10 a minute.
        public var signInRate: RateLimit
        /// `/v1/push` and `/v1/pull`, per device. Default 3,000 a minute.
        public var syncRate: RateLimit
        /// The most keys (addresses, tokens, devices) each rate limit remembers. Default 10,000.
        public var maxRateKeys: Int
        /// The clock of the rate limits.
        public var clock: any HubClock

        public init(
            headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(60),
            idleTimeout: Duration = .seconds(75), maxConnections: Int = 1000,
            enrollRate: RateLimit = RateLimit(perMinute: 10), signInRate: RateLimit = RateLimit(perMinute: 10),
            syncRate: RateLimit = RateLimit(perMinute: 3000), maxRateKeys: Int = 10_000,
            clock: any HubClock = SystemHubClock()
        ) {
            self.headerTimeout = headerTimeout
            self.bodyTimeout = bodyTimeout
            self.idleTimeout = idleTimeout
            self.maxConnections = maxConnections
            self.enrollRate = enrollRate
            self.signInRate = signInRate
            self.syncRate = syncRate
            self.maxRateKeys = maxRateKeys
            self.clock = clock
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
    ///
    /// - Parameters:
    ///   - edges: The rate limits (its timeouts and connection cap belong to the server).
    ///   - servesTLS: Whether the server speaks TLS itself: every answer then carries
    ///     `Strict-Transport-Security` and the admin cookies are `Secure`.
    ///   - servesMetrics: Whether `GET /metrics` is answered (else it is on ``metricsApplication``).
    public static func router(
        service: HubService, edges: Edges = Edges(), servesTLS: Bool = false, servesMetrics: Bool = true
    ) -> Router<HubRequestContext> {
        let router = Router(context: HubRequestContext.self)
        router.add(middleware: MetricsRecordingMiddleware(metrics: service.metrics))
        if servesTLS { router.add(middleware: StrictTransportSecurityMiddleware()) }
        router.add(middleware: ErrorMiddleware(logger: service.logger))
        router.add(middleware: NULRefusingMiddleware())
        let limits = RequestLimits(edges: edges)
        HubRoutes(service: service, limits: limits, servesMetrics: servesMetrics).register(on: router)
        AdminPages(service: service, limits: limits, secureCookies: servesTLS).register(on: router)
        return router
    }

    /// The application: the router on a listening server.
    ///
    /// - Parameter onListening: Called once the server listens, with its URL (`http://127.0.0.1:7420`).
    /// - Parameter certificates: The TLS pair to serve, which ``TLSCertificates/reload()`` may
    ///   change while the server runs; read from `configuration.tls` when `nil`.
    /// - Parameter addRoutes: Adds routes to the hub's router before it serves (the benchmark's
    ///   echo route); nothing by default.
    public static func application(
        service: HubService, configuration: Configuration, logger: Logger, certificates: TLSCertificates? = nil,
        addRoutes: (Router<HubRequestContext>) -> Void = { _ in },
        onListening: @escaping @Sendable (String) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol & Service {
        let scheme = configuration.tls == nil ? "http" : "https"
        let host = configuration.host
        let edges = configuration.edges
        let connections = ConnectionCount()
        let http1 = HTTPServerBuilder.http1(
            configuration: .init(
                additionalChannelHandlers: [ConnectionGuard(count: connections, edges: edges, logger: logger)],
                idleTimeout: TimeAmount(edges.idleTimeout)))
        let server: HTTPServerBuilder
        if let tls = configuration.tls {
            let certificates = try certificates ?? TLSCertificates(files: tls)
            server = try .tls(http1, tlsConfiguration: certificates.serverConfiguration())
        } else {
            server = http1
        }
        let router = router(
            service: service, edges: edges, servesTLS: configuration.tls != nil,
            servesMetrics: configuration.metrics == nil)
        addRoutes(router)
        return Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "relais-hub"),
            onServerRunning: { channel in
                await onListening(url(scheme, host, channel.localAddress?.port ?? configuration.port))
            },
            logger: logger)
    }

    /// `scheme://host:port`, an IPv6 host in brackets: the address a listener reports.
    private static func url(_ scheme: String, _ host: String, _ port: Int) -> String {
        "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// The metrics listener: `GET /metrics` alone, plain HTTP, at `address`.
    ///
    /// - Parameter onListening: Called once it listens, with its URL (`http://127.0.0.1:9742/metrics`).
    public static func metricsApplication(
        service: HubService, address: MetricsAddress, logger: Logger,
        onListening: @escaping @Sendable (String) async -> Void = { _ in }
    ) -> some ApplicationProtocol & Service {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware(logger: service.logger))
        router.get("/metrics") { _, _ in try await HubRoutes.metrics(service) }
        let host = address.host
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(address.host, port: address.port), serverName: "relais-hub-metrics"),
            onServerRunning: { channel in
                await onListening(url("http", host, channel.localAddress?.port ?? address.port) + "/metrics")
            },
            logger: logger)
    }
}
