public import RelaisCore

extension HubService {
    // MARK: - Conflict reports

    /// Conflict reports matching `filter`, newest first.
    public func conflicts(_ filter: ConflictFilter = .init()) async throws -> [ConflictReport] {
        try await store.read { tx in try await tx.conflicts(filter) }
    }

    /// One conflict report.
    ///
    /// - Throws: ``HubError/notFound``.
    public func conflict(id: String) async throws -> ConflictReport {
        try await store.read { tx in
            guard let report = try await tx.conflict(id: id) else { throw HubError.notFound.with("No conflict report `\(id)`.") }
            return report
        }
    }

    /// An admin's decision on a conflict report.
    public enum Decision: Sendable, Hashable {
        /// Reinstate `values[n]` of the report (0-based, as listed). For a `delete-update` report,
        /// picking the delete side deletes the record; picking the update side keeps it.
        case pick(Int)
        /// Write this value (a field report only).
        case value(Value)
        /// Write this JSON value, parsed by the field's declared type (a field report only).
        case json(JSONValue)
    }

    /// Resolves a conflict report: the decision is written as an ordinary write of the hub's own
    /// replica (0) whose context is the record's current vector, so it supersedes every sibling and
    /// reaches every device by the normal pull. The report becomes `resolved`, with who, when and why.
    ///
    /// Resolving an already resolved report overturns the earlier decision the same way.
    ///
    /// - Throws: ``HubError/notFound`` (no report, or its record was purged), ``HubError/badRequest``
    ///   (a pick out of range, a value for a `delete-update` report, a value the field refuses).
    @discardableResult
    public func resolveConflict(id: String, decision: Decision, reason: String, by admin: String) async throws
        -> ConflictReport
    {
        let now = self.now()
        return try await store.write { tx in
            try await self.resolveConflict(id: id, decision: decision, reason: reason, by: admin, tx: tx, now: now)
        }
    }

    /// ``resolveConflict(id:decision:reason:by:)`` inside a write transaction, so that admin tools can
    /// check preconditions (a stale form) and resolve many reports atomically. `check` runs before
    /// anything is written, with the report and the record as they are now.
    nonisolated(nonsending) func resolveConflict(
        id: String, decision: Decision, reason: String, by admin: String, tx: any HubTransaction, now: UInt64,
        check: (ConflictReport, StoredRecord) throws -> Void = { _, _ in }
    ) async throws -> ConflictReport {
        do {
            guard var report = try await tx.conflict(id: id) else {
                throw HubError.notFound.with("No conflict report `\(id)`.")
            }
            let conflict = report.conflict
            guard let collection = self.schema.collection(conflict.collection) else {
                throw HubError.notFound.with("The report's collection is not in the schema.")
            }
            guard let record = try await tx.record(collection: conflict.collection, id: conflict.recordID) else {
                throw HubError.notFound.with("The report's record is no longer held by the hub.")
            }
            try check(report, record)
            var change: RecordWrite.Change?
            var resolvedValue: Value?
            var deleted = false
            if let fieldName = conflict.field {
                guard let field = collection.field(fieldName) else {
                    throw HubError.notFound.with("The report's field is not in the schema.")
                }
                let value: Value
                switch decision {
                case .pick(let index):
                    guard conflict.values.indices.contains(index) else {
                        throw HubError.badRequest.with("Pick \(index) is out of range: the report lists \(conflict.values.count) values.")
                    }
                    value = conflict.values[index].value ?? .null
                case .value(let given):
                    value = given
                case .json(let json):
                    do {
                        value = try field.type.value(
                            fromJSON: json.foundationObject, collection: collection.name, field: field.name)
                    } catch {
                        throw HubError.badRequest.with("The value does not fit the field: \(error)")
                    }
                }
                change = .upsert([fieldName: value])
                resolvedValue = value
            } else {
                guard case .pick(let index) = decision else {
                    throw HubError.badRequest.with("A delete-update report is resolved by picking a side.")
                }
                guard conflict.values.indices.contains(index) else {
                    throw HubError.badRequest.with("Pick \(index) is out of range: the report lists \(conflict.values.count) values.")
                }
                if conflict.values[index].deleted {
                    deleted = true
                    if !record.state.isDeleted { change = .delete }
                }
            }
            if let change {
                let (counter, hlc) = try await tx.takeHubDot(physicalMillis: now)
                let write = RecordWrite(
                    collection: conflict.collection, recordID: conflict.recordID, context: record.state.vector,
                    dot: Dot(replica: .hub, counter: counter), hlc: hlc, author: admin, change: change)
                let outcome = try await self.applyWrite(write, writer: Writer(role: .admin, access: nil, clamped: false), tx: tx, now: now)
                if case .rejected(_, let reason) = outcome {
                    throw HubError.badRequest.with("The hub refused the resolution: \(reason)")
                }
            }
            report.conflict.status = .resolved
            report.resolution = ConflictResolution(by: admin, at: now, reason: reason, value: resolvedValue, deleted: deleted)
            try await tx.setResolution(conflictID: id, report.resolution!)
            try await tx.insertEvent(
                HubEvent(at: now, kind: .conflictResolved, user: admin, detail: "conflict \(id) resolved"))
            return report
        }
    }

    // MARK: - Export

    /// The hub's view of what `user`'s replica should hold: visible, non-deleted records with their
    /// non-null current values, in the shape of ``CanonicalExport``.
    ///
    /// - Throws: ``HubError/notFound`` for an unknown user.
    public func export(user name: String) async throws -> [String: [CanonicalExport.Record]] {
        let schema = self.schema
        return try await store.read { tx in
            guard let user = try await tx.user(named: name) else { throw HubError.notFound.with("No user `\(name)`.") }
            let access = Access(role: user.role, territories: Set(user.territories))
            var result: [String: [CanonicalExport.Record]] = [:]
            try await tx.forEachLiveRecord { record in
                guard access.sees(scope: record.scope), let collection = schema.collection(record.collection) else { return }
                let values = record.state.values(in: collection).filter { !$0.value.isNull }
                result[record.collection, default: []].append(CanonicalExport.Record(id: record.id, values: values))
            }
            return result
        }
    }

    /// ``export(user:)`` as the canonical JSON text `relais export` prints.
    public func exportJSON(user name: String) async throws -> [UInt8] {
        let records = try await export(user: name)
        return Array(try CanonicalExport.json(schema: schema, records: records))
    }

    // MARK: - Tombstones

    /// What a purge did.
    public struct PurgeReport: Sendable, Hashable {
        /// Tombstones every active device had pulled past.
        public var acknowledged: Int
        /// Tombstones older than the retention period.
        public var expired: Int
        /// The purge horizon afterwards.
        public var horizon: UInt64
    }

    /// Purges tombstones (docs/SYNC.md "Tombstones").
    ///
    /// A tombstone goes once every active device that has synced at all has an acknowledged cursor
    /// past it (a device mid-bootstrap counts, at its cursor) — every device, not only those that see the record now, so that a device which saw
    /// it before it moved away still gets its revocation — or once it is older than the retention
    /// period; only the latter advances the purge horizon (devices below it must bootstrap).
    @discardableResult
    public func purgeTombstones() async throws -> PurgeReport {
        let now = self.now()
        let retention = configuration.tombstoneRetentionMillis
        return try await store.write { tx in
            // One hub at a time: another one purging now will have done the same work.
            let meta = try await tx.meta()
            guard try await tx.tryExclusive("tombstone-purge") else {
                return PurgeReport(acknowledged: 0, expired: 0, horizon: meta.purgeHorizon)
            }
            // Devices that never synced are not waiting for anything: they start from cursor 0.
            let acks = try await tx.devices().filter { $0.isActive && $0.lastSeenAt != nil }.map(\.acknowledgedCursor)
            let safe = acks.min() ?? UInt64.max
            var report = PurgeReport(acknowledged: 0, expired: 0, horizon: meta.purgeHorizon)
            var after: UInt64 = 0
            while true {
                let batch = try await tx.tombstones(after: after, limit: 500)
                guard let last = batch.last else { break }
                after = last.seq
                for record in batch {
                    if record.seq <= safe {
                        report.acknowledged += 1
                    } else if let deletedAt = record.deletedAt, deletedAt + retention < now {
                        report.expired += 1
                        report.horizon = max(report.horizon, record.seq)
                    } else {
                        continue
                    }
                    try await tx.deleteRecord(collection: record.collection, id: record.id)
                    // Its history goes with it: nothing could show it any more (docs/ADMIN.md).
                    try await tx.deleteHistory(collection: record.collection, recordID: record.id)
                }
            }
            if report.horizon != meta.purgeHorizon {
                try await tx.raisePurgeHorizon(to: report.horizon)
            }
            // Moves at or below every cursor still served (and below the horizon) are no longer needed.
            try await tx.deleteMoves(upTo: max(report.horizon, min(safe, meta.head)))
            if report.acknowledged + report.expired > 0 {
                try await tx.insertEvent(
                    HubEvent(
                        at: now, kind: .tombstonesPurged,
                        detail: "\(report.acknowledged) acknowledged and \(report.expired) expired tombstone(s) purged"))
            }
            return report
        }
    }

    // MARK: - Metrics

    /// Refreshes the gauges read from the store and returns the Prometheus text.
    public func metricsExposition() async throws -> [UInt8] {
        let snapshot = try await store.read { tx in
            let head = try await tx.meta().head
            let open = try await tx.conflictCount(ConflictFilter(status: .open))
            let lags = try await tx.devices().filter(\.isActive).map {
                (replica: $0.replica.rawValue, lag: head >= $0.acknowledgedCursor ? head - $0.acknowledgedCursor : 0)
            }
            return MetricsSnapshot(head: head, open: open, lags: lags)
        }
        metrics.refresh(head: snapshot.head, openConflicts: snapshot.open, lags: snapshot.lags, statistics: store.statistics())
        return metrics.exposition()
    }

    private struct MetricsSnapshot: Sendable {
        var head: UInt64
        var open: Int
        var lags: [(replica: UInt32, lag: UInt64)]
    }
}
