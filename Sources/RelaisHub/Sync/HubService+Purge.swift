/// Tombstone purging, which ``TombstonePurger`` runs periodically.
extension HubService {
    /// What a purge did.
    public struct PurgeReport: Sendable, Hashable {
        /// Tombstones every active device had pulled past.
        public var acknowledged: Int
        /// Tombstones older than the retention period.
        public var expired: Int
        /// The purge horizon afterwards.
        public var horizon: UInt64
        /// The highest sequence of a tombstone or a move purged so far (``HubMeta/purgedUpTo``),
        /// afterwards.
        public var purgedUpTo: UInt64
    }

    /// Purges tombstones (docs/SYNC.md "Tombstones").
    ///
    /// A tombstone goes once every active device that has synced at all has an acknowledged cursor
    /// past it (a device mid-bootstrap counts, at its cursor) — every device, not only those that see the record now, so that a device which saw
    /// it before it moved away still gets its revocation — or once it is older than the retention
    /// period; only the latter advances the purge horizon (devices below it must bootstrap). Either
    /// way ``HubMeta/purgedUpTo`` rises to the highest tombstone or move purged: a snapshot whose
    /// cursor is below it is no longer served (a laptop not synced yet, which the acknowledgements
    /// leave out, would take it and miss those deletes and moves; its view's next laptop waits for a
    /// new one), and a pull started (`since`) below it must bootstrap.
    @discardableResult
    public func purgeTombstones() async throws -> PurgeReport {
        let now = self.now()
        let retention = configuration.tombstoneRetentionMillis
        let report = try await store.write { tx in
            // One hub at a time: another one purging now will have done the same work.
            let meta = try await tx.meta()
            guard try await tx.tryExclusive("tombstone-purge") else {
                return PurgeReport(
                    acknowledged: 0, expired: 0, horizon: meta.purgeHorizon, purgedUpTo: meta.purgedUpTo)
            }
            // Devices that never synced are not waiting for anything: they start from cursor 0.
            let acks = try await tx.devices().filter { $0.isActive && $0.lastSeenAt != nil }.map(\.acknowledgedCursor)
            let safe = acks.min() ?? UInt64.max
            var report = PurgeReport(
                acknowledged: 0, expired: 0, horizon: meta.purgeHorizon, purgedUpTo: meta.purgedUpTo)
            var after: UInt64 = 0
            // The highest tombstone purged by acknowledgement (they come in sequence order).
            var acknowledgedUpTo: UInt64 = 0
            while true {
                let batch = try await tx.tombstones(after: after, limit: 500)
                guard let last = batch.last else { break }
                after = last.seq
                for record in batch {
                    let acknowledged = record.seq <= safe
                    guard acknowledged || record.deletedAt.map({ $0 + retention < now }) == true else { continue }
                    // Only if no push revived it since the read (PostgreSQL: pushes run alongside).
                    guard
                        try await tx.deleteTombstone(collection: record.collection, id: record.id, seq: record.seq)
                    else { continue }
                    if acknowledged {
                        report.acknowledged += 1
                        acknowledgedUpTo = record.seq
                    } else {
                        report.expired += 1
                        report.horizon = max(report.horizon, record.seq)
                    }
                    // Its history goes with it: nothing could show it any more (docs/ADMIN.md).
                    try await tx.deleteHistory(collection: record.collection, recordID: record.id)
                }
            }
            if report.horizon != meta.purgeHorizon {
                try await tx.raisePurgeHorizon(to: report.horizon)
            }
            // Moves at or below every cursor still served (and below the horizon) are no longer needed.
            let movedUpTo = try await tx.deleteMoves(upTo: max(report.horizon, min(safe, meta.head)))
            // A snapshot below what went, or a pull started below it, would miss those deletes and moves.
            report.purgedUpTo = max(report.purgedUpTo, report.horizon, acknowledgedUpTo, movedUpTo ?? 0)
            if report.purgedUpTo != meta.purgedUpTo {
                try await tx.raisePurgedUpTo(report.purgedUpTo)
            }
            // The tokens kept sealed for enrollments whose answer might be lost, once no longer needed:
            // a copy of the store and a logged request must not give a device's token back later.
            try await tx.forgetEnrollmentAttempts(usedAtOrBefore: now &- min(now, Enrollment.answersAgainForMillis))
            if report.acknowledged + report.expired > 0 {
                try await tx.insertEvent(
                    HubEvent(
                        at: now, kind: .tombstonesPurged,
                        detail: "\(report.acknowledged) acknowledged and \(report.expired) expired tombstone(s) purged")
                )
            }
            return report
        }
        return report
    }
}
