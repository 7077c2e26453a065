public import RelaisCore

/// Exports: the hub's view of what a user's replica should hold.
extension HubService {
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
                guard access.sees(scope: record.scope), let collection = schema.collection(record.collection) else {
                    return
                }
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
}
