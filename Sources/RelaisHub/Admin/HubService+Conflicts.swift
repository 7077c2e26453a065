public import RelaisCore

/// Conflict reports: listing them, and resolving them with an admin's decision.
extension HubService {
    /// Conflict reports matching `filter`, newest first.
    public func conflicts(_ filter: ConflictFilter = .init()) async throws -> [ConflictReport] {
        try await store.read { tx in try await tx.conflicts(filter) }
    }

    /// One conflict report.
    ///
    /// - Throws: ``HubError/notFound``.
    public func conflict(id: String) async throws -> ConflictReport {
        try await store.read { tx in
            guard let report = try await tx.conflict(id: id) else {
                throw HubError.notFound.with("No conflict report `\(id)`.")
            }
            return report
        }
    }

    /// An admin's decision on a conflict report.
    public enum Decision: Sendable, Hashable {
        /// Reinstate `values[n]` of the report (0-based, as listed). For a `delete-update` report,
        /// picking the delete side deletes the record; picking the update side keeps it, writing it
        /// back if an office write deleted it since (an earlier decision overturned).
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
    /// Resolving an already resolved report overturns the earlier decision the same way. A field
    /// report on a record deleted since is resolved without a write: the decision is kept with the
    /// report, and the record stays deleted.
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
        check: (ConflictReport, StoredRecord) async throws -> Void = { _, _ in }
    ) async throws -> ConflictReport {
        do {
            // The head before the report's row, as a bulk resolve and a push take them (PostgreSQL).
            try await tx.lockRecords([])
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
            try await check(report, record)
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
                        throw HubError.badRequest.with(
                            "Pick \(index) is out of range: the report lists \(conflict.values.count) values.")
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
                // A deleted record stays deleted: writing the field would bring it back whole, over the
                // delete. The decision is kept with the report; a revival later brings the record back
                // as it last stood.
                change = record.state.isDeleted ? nil : .upsert([fieldName: value])
                resolvedValue = value
            } else {
                guard case .pick(let index) = decision else {
                    throw HubError.badRequest.with("A delete-update report is resolved by picking a side.")
                }
                guard conflict.values.indices.contains(index) else {
                    throw HubError.badRequest.with(
                        "Pick \(index) is out of range: the report lists \(conflict.values.count) values.")
                }
                if conflict.values[index].deleted {
                    deleted = true
                    if !record.state.isDeleted { change = .delete }
                } else if record.state.isDeleted, record.state.tombstone?.dot.replica == .hub {
                    // The office's delete stands (an earlier decision being overturned): the update side
                    // writes the record back, as the delete side's write removed it. A salesperson's
                    // later delete, made having seen the update, stands: nothing is written.
                    change = .upsert(try Self.revival(of: record.state, in: collection, update: conflict.values[index]))
                }
            }
            if let change,
                let refused = try await self.applyOfficeWrite(
                    change, to: record, author: admin, role: .admin, tx: tx, now: now)
            {
                throw HubError.badRequest.with("The hub refused the resolution: \(refused)")
            }
            report.conflict.status = .resolved
            report.resolution = ConflictResolution(
                by: admin, at: now, reason: reason, value: resolvedValue, deleted: deleted)
            try await tx.setResolution(conflictID: id, report.resolution!)
            try await tx.insertEvent(
                HubEvent(at: now, kind: .conflictResolved, user: admin, detail: "conflict \(id) resolved"))
            return report
        }
    }

    /// The values of the office write that brings a deleted record back for the update side of a
    /// `delete-update` report. A deleted record keeps its field states, so it comes back as it last
    /// stood; the write only has to carry some of them (laptops get a revived record whole). It carries
    /// the fields where the update's value still stands, else every field; in either case only fields
    /// with a single value, so that concurrent values stay side by side for their own report (unless
    /// every field has several). Fewer fields written means fewer edits still on their way from a
    /// laptop that the write would compete with.
    ///
    /// - Throws: ``HubError/badRequest`` when the record holds no value to write back.
    private static func revival(of state: RecordState, in collection: CollectionSchema, update: Competitor) throws
        -> [String: Value]
    {
        var updated: [String: Value] = [:]
        var settled: [String: Value] = [:]
        var contested: [String: Value] = [:]
        for (name, field) in state.fields {
            guard let schema = collection.field(name), let sibling = field.siblings.first else { continue }
            if field.siblings.count > 1 {
                contested[name] = field.value(rule: schema.rule)
                continue
            }
            settled[name] = sibling.value
            if sibling.dot == update.dot { updated[name] = sibling.value }
        }
        let values = !updated.isEmpty ? updated : !settled.isEmpty ? settled : contested
        guard !values.isEmpty else {
            throw HubError.badRequest.with("The deleted record holds no value to write back.")
        }
        return values
    }
}
