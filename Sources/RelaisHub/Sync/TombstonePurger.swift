public import Logging
public import ServiceLifecycle

/// Purges tombstones periodically (``HubService/purgeTombstones()``), as a long-running `Service`.
///
/// At start it records the data schema when the store has none (``HubService/loadSchema()``) and
/// stores missing view digests. It purges once at start, then every ``interval``, and stops at
/// graceful shutdown. A failed run is logged and tried again at the next interval. With
/// ``HubService/Configuration/warmReports``, it reads the reports' customer file after the first
/// purge and again after each purge that removed tombstones (which starts that file again from
/// nothing), so that a manager's report never waits for the whole file to be read.
public struct TombstonePurger: Service {
    public let service: HubService
    public let interval: Duration
    let logger: Logger

    public init(service: HubService, interval: Duration = .seconds(3600), logger: Logger) {
        self.service = service
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            // Once at start: a store from before the store kept its data schema records the one the
            // hub runs; records written before view digests get theirs.
            do {
                try await service.loadSchema()
                let stored = try await service.backfillDigests()
                if stored > 0 { logger.info("view digests stored", metadata: ["relais.records": "\(stored)"]) }
            } catch is CancellationError {
                return
            } catch {
                logger.error("view digests could not be stored", metadata: ["relais.error": "\(error)"])
            }
            var first = true
            while !Task.isCancelled {
                var purged = false
                do {
                    let report = try await service.purgeTombstones()
                    purged = report.acknowledged + report.expired > 0
                    if purged {
                        logger.info(
                            "tombstones purged",
                            metadata: [
                                "relais.purge.acknowledged": "\(report.acknowledged)",
                                "relais.purge.expired": "\(report.expired)",
                                "relais.purge.horizon": "\(report.horizon)",
                            ])
                    }
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("tombstone purge failed", metadata: ["relais.error": "\(error)"])
                }
                if service.configuration.warmReports, first || purged {
                    guard await warmReports() else { return }
                }
                first = false
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
            }
        }
    }

    /// Reads the reports' customer file up to the store's head; false when cancelled.
    private func warmReports() async -> Bool {
        let started = ContinuousClock.now
        do {
            let customers = try await service.warmReports()
            logger.info(
                "reports' customer file read",
                metadata: ["relais.customers": "\(customers)", "relais.duration": "\(ContinuousClock.now - started)"])
        } catch is CancellationError {
            return false
        } catch {
            logger.error("the reports' customer file could not be read", metadata: ["relais.error": "\(error)"])
        }
        return true
    }
}
