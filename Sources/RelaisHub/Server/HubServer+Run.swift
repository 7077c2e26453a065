import Foundation
public import Hummingbird
public import Logging
import ServiceLifecycle
import UnixSignals

extension HubServer {
    /// Runs the store's background work, the server and the tombstone purger in one service group
    /// (and, under TLS, reloads the certificate on every SIGHUP) until SIGTERM or SIGINT, then
    /// shuts down gracefully (in-flight requests finish, the purger stops) and returns. The caller
    /// closes the store afterwards.
    public static func run(
        service: HubService, configuration: Configuration, purgeInterval: Duration = .seconds(3600), logger: Logger,
        onListening: @escaping @Sendable (String) async -> Void = { _ in },
        onMetricsListening: @escaping @Sendable (String) async -> Void = { _ in }
    ) async throws {
        let certificates = try configuration.tls.map { try TLSCertificates(files: $0) }
        let app = try application(
            service: service, configuration: configuration, logger: logger, certificates: certificates,
            onListening: onListening)
        let purger = TombstonePurger(service: service, interval: purgeInterval, logger: logger)
        // Services shut down in reverse order: the server first (requests drain), then the purger,
        // then the store's background work.
        let store = HubStoreService(store: service.store)
        var services: [any Service] = [store, purger, app]
        if let address = configuration.metrics {
            services.append(
                metricsApplication(service: service, address: address, logger: logger, onListening: onMetricsListening))
        }
        if let certificates {
            services.append(CertificateReloadService(certificates: certificates, logger: logger))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Loggers for the `relais-hub` tool.
public enum HubLogging {
    /// A logger writing to standard error, at the level of the `LOG_LEVEL` environment variable
    /// (default `info`).
    public static func standardError(label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel =
            ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }
}

extension HubServer {
    /// Runs the server for the duration of `body`, which gets the URL it listens on; then shuts the
    /// server down gracefully. For tests and embedding (no signal handling, no purger).
    public static func withRunningServer<T: Sendable>(
        service: HubService, configuration: Configuration = .init(host: "127.0.0.1", port: 0), logger: Logger,
        certificates: TLSCertificates? = nil, addRoutes: (Router<HubRequestContext>) -> Void = { _ in },
        _ body: @escaping @Sendable (String) async throws -> T
    ) async throws -> T {
        let (addresses, continuation) = AsyncStream.makeStream(of: String.self)
        let app = try application(
            service: service, configuration: configuration, logger: logger, certificates: certificates,
            addRoutes: addRoutes
        ) { url in
            continuation.yield(url)
            continuation.finish()
        }
        let group = ServiceGroup(
            configuration: .init(services: [HubStoreService(store: service.store), app], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                continuation.finish()
                return nil
            }
            var iterator = addresses.makeAsyncIterator()
            guard let url = await iterator.next() else {
                // The server stopped before listening: surface its error.
                while (try await tasks.next()) != nil {}
                throw HubError.unavailable.with("The server stopped before it listened.")
            }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(url))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            while (try await tasks.next()) != nil {}
            return try result.get()
        }
    }
}
