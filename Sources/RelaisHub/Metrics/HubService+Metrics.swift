import RelaisCore

/// The Prometheus exposition, with the gauges read from the store refreshed.
extension HubService {
    /// Refreshes the gauges read from the store and returns the Prometheus text.
    public func metricsExposition() async throws -> [UInt8] {
        let snapshot = try await store.read { tx in
            let head = try await tx.meta().head
            let open = try await tx.conflictCount(ConflictFilter(status: .open))
            let active = try await tx.devices().filter(\.isActive)
            let lags = active.map {
                (replica: $0.replica.rawValue, lag: head >= $0.acknowledgedCursor ? head - $0.acknowledgedCursor : 0)
            }
            let seen = active.compactMap { device in
                device.lastSeenAt.map { (replica: device.replica.rawValue, user: device.user, millis: $0) }
            }
            let activeReplicas = Set(active.map(\.replica))
            let diverged = try await tx.verifications().filter {
                $0.outcome == .unrepaired && activeReplicas.contains($0.replica)
            }.count
            return MetricsSnapshot(head: head, open: open, lags: lags, seen: seen, diverged: diverged)
        }
        metrics.refresh(
            head: snapshot.head, openConflicts: snapshot.open, lags: snapshot.lags, lastSeen: snapshot.seen,
            diverged: snapshot.diverged, size: try await store.size(), statistics: store.statistics())
        return metrics.exposition()
    }

    private struct MetricsSnapshot: Sendable {
        var head: UInt64
        var open: Int
        var lags: [(replica: UInt32, lag: UInt64)]
        var seen: [(replica: UInt32, user: String, millis: UInt64)]
        var diverged: Int
    }
}
