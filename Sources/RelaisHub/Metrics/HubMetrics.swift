public import Prometheus

/// The hub's Prometheus metrics, served at `GET /metrics`.
///
/// Each hub owns its registry (no process-wide bootstrap), so that several hubs in one test process
/// keep separate figures.
///
/// - `relais_http_requests_total{route,status}` and `relais_http_request_duration_seconds{route}`
/// - `relais_writes_total{outcome}`: pushed writes `applied`, `conflict` or `rejected`
/// - `relais_conflicts_total{rule}`: conflict reports raised, by merge rule
/// - `relais_clamped_writes_total`: writes whose HLC was clamped (a device clock ahead)
/// - `relais_open_conflicts`, `relais_head_sequence`, `relais_device_lag{replica}` (head minus the
///   device's acknowledged cursor), `relais_device_last_seen_timestamp_seconds{replica,user}`,
///   `relais_store_size_bytes`, `relais_store_available_bytes` (SQLite only), `relais_store_commits`
///   and `relais_store_transactions`: refreshed at each scrape.
/// - `relais_snapshots_served_total`, `relais_snapshots_built_total`,
///   `relais_snapshot_build_duration_seconds` (the last build): docs/SYNC.md "Snapshot bootstrap".
public final class HubMetrics: Sendable {
    /// The registry the metrics live in.
    public let registry: PrometheusCollectorRegistry

    private static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "relais", metricName: metric, unitName: unit, helpText: help)
    }

    /// Records one HTTP request.
    public func recordRequest(route: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: Self.name("http_requests", "total", "HTTP requests by route and status."),
            labels: [("route", route), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.name("http_request_duration", "seconds", "HTTP request latency by route."),
            labels: [("route", route)],
            buckets: Self.durationBuckets
        ).record(duration)
    }

    /// Records the outcome of pushed writes.
    func recordWrites(applied: Int, conflict: Int, rejected: Int, clamped: Int, conflictRules: [String]) {
        for (outcome, count) in [("applied", applied), ("conflict", conflict), ("rejected", rejected)] where count > 0 {
            registry.makeCounter(
                descriptor: Self.name("writes", "total", "Pushed writes by outcome."), labels: [("outcome", outcome)]
            ).increment(by: Int64(count))
        }
        for rule in conflictRules {
            registry.makeCounter(
                descriptor: Self.name("conflicts", "total", "Conflict reports raised, by rule."),
                labels: [("rule", rule)]
            ).increment()
        }
        if clamped > 0 {
            registry.makeCounter(
                descriptor: Self.name(
                    "clamped_writes", "total", "Writes whose HLC time was clamped to the allowed skew.")
            ).increment(by: Int64(clamped))
        }
    }

    /// Records a snapshot served to a laptop, and how long its build took when it was built for it.
    func recordSnapshotServed() {
        registry.makeCounter(
            descriptor: Self.name("snapshots_served", "total", "Snapshots served to bootstrapping laptops.")
        ).increment()
    }

    /// Records a device that reported its remote wipe.
    func recordWipe() {
        registry.makeCounter(
            descriptor: Self.name("devices_wiped", "total", "Devices that erased their replica at an admin's request.")
        ).increment()
    }

    /// Records a device's verification report (`POST /v1/verification`).
    func recordVerification(_ verification: DeviceVerification) {
        registry.makeCounter(
            descriptor: Self.name("verifications", "total", "Verification reports from devices, by outcome."),
            labels: [("outcome", verification.outcome.rawValue)]
        ).increment()
        if verification.repaired > 0 {
            registry.makeCounter(
                descriptor: Self.name("records_repaired", "total", "Records devices repaired after a verification.")
            ).increment(by: Int64(clamping: verification.repaired))
        }
    }

    /// Records a snapshot built.
    func recordSnapshotBuilt(seconds: Double) {
        registry.makeCounter(descriptor: Self.name("snapshots_built", "total", "Snapshots built.")).increment()
        registry.makeGauge(
            descriptor: Self.name("snapshot_build_duration", "seconds", "How long the last snapshot build took.")
        ).set(seconds)
    }

    /// Refreshes the gauges read from the store.
    func refresh(
        head: UInt64, openConflicts: Int, lags: [(replica: UInt32, lag: UInt64)],
        lastSeen: [(replica: UInt32, user: String, millis: UInt64)], diverged: Int, size: HubStoreSize,
        statistics: HubStoreStatistics
    ) {
        registry.makeGauge(
            descriptor: Self.name(
                "devices_diverged", "", "Active devices whose last verification found records it could not repair.")
        ).set(Double(diverged))
        registry.makeGauge(descriptor: Self.name("head_sequence", "", "The hub's highest sequence number.")).set(
            Double(head))
        registry.makeGauge(descriptor: Self.name("open_conflicts", "", "Conflict reports awaiting an admin."))
            .set(Double(openConflicts))
        for entry in lags {
            registry.makeGauge(
                descriptor: Self.name("device_lag", "", "Head sequence minus the device's acknowledged cursor."),
                labels: [("replica", String(entry.replica))]
            ).set(Double(entry.lag))
        }
        for entry in lastSeen {
            registry.makeGauge(
                descriptor: Self.name(
                    "device_last_seen", "timestamp_seconds", "When the device last pushed or pulled (Unix time)."),
                labels: [("replica", String(entry.replica)), ("user", entry.user)]
            ).set(Double(entry.millis) / 1000)
        }
        registry.makeGauge(descriptor: Self.name("store_size", "bytes", "Bytes the hub's store takes.")).set(
            Double(size.used))
        if let available = size.available {
            registry.makeGauge(
                descriptor: Self.name("store_available", "bytes", "Bytes left on the file system of a SQLite store.")
            ).set(Double(available))
        }
        registry.makeGauge(descriptor: Self.name("store_commits", "", "Store commits (fsyncs) since start."))
            .set(Double(statistics.commits))
        registry.makeGauge(descriptor: Self.name("store_transactions", "", "Store write transactions since start."))
            .set(Double(statistics.transactions))
    }

    /// The metrics in the Prometheus text format.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
