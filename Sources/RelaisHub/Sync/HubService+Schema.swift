import Foundation
import Logging
public import RelaisCore
import Synchronization

/// The data schema in force and what the hub makes from it.
struct ActiveSchema: Sendable {
    let definition: SchemaDefinition
    let engine: MergeEngine

    init(_ definition: SchemaDefinition) {
        self.definition = definition
        self.engine = MergeEngine(schema: definition.schema)
    }
}

/// The data schema lives on the hub (docs/CRM.md "Changing the schema"): the store keeps every
/// version applied, the highest is in force, laptops fetch it (`GET /v1/schema`) when the hub
/// answers `schema_too_old`, and migrate their file in place.
extension HubService {
    /// The data schema in force, with its file's text (what `GET /v1/schema` serves).
    public func schemaDefinition() async throws -> SchemaDefinition {
        try await refreshOrLoadSchema()
        return active.withLock { $0.definition }
    }

    /// ``refreshSchema(_:)``, or ``loadSchema()`` when the store has none recorded yet (once).
    func refreshOrLoadSchema() async throws {
        if try await !store.read({ tx in try await self.refreshSchema(tx) }) { try await loadSchema() }
    }

    /// Reads the schema in force from the store, recording one first when the store has none: the
    /// configured one on a new store; on a store from before stores kept their schema (it holds
    /// records or devices), version 1 of the default CRM schema, which every earlier release ran, so
    /// that its laptops keep syncing until the office applies a newer one (`relais-hub schema apply
    /// --default`). Run at start; pushes and pulls notice later changes themselves
    /// (``refreshSchema(_:)``).
    @discardableResult
    public func loadSchema() async throws -> SchemaDefinition {
        if try await store.read({ tx in try await tx.schemaVersion() }) == nil {
            let configured = configuration.schema
            let now = self.now()
            try await store.write { tx in
                // Under the write lock: another hub may have recorded one meanwhile.
                guard try await tx.schemaVersion() == nil else { return }
                let hasRecords = try await tx.meta().head > 0
                let hasDevices = try await !tx.devices().isEmpty
                let initial = hasRecords || hasDevices ? SchemaDefinition.crmVersion1 : configured
                try await tx.insertSchema(
                    StoredSchema(version: initial.version, definition: initial.text, appliedAt: now))
                try await tx.insertEvent(
                    HubEvent(at: now, kind: .schemaApplied, detail: "data schema version \(initial.version) recorded"))
            }
        }
        try await store.read { tx in _ = try await self.refreshSchema(tx) }
        return active.withLock { $0.definition }
    }

    /// Makes the store's schema the one in force when its version differs from the one held (another
    /// process applied one). Cheap when nothing changed: one row read. Returns whether the store has
    /// a schema recorded.
    @discardableResult
    nonisolated(nonsending) func refreshSchema(_ tx: any HubReadTransaction) async throws -> Bool {
        guard let version = try await tx.schemaVersion() else { return false }
        // The first read of the store's schema only replaces the configured default the hub started with.
        let firstLoad = !schemaLoaded.withLock { loaded in
            defer { loaded = true }
            return loaded
        }
        guard version != active.withLock({ $0.definition.version }), let stored = try await tx.currentSchema()
        else { return true }
        let definition: SchemaDefinition
        do {
            definition = try SchemaDefinition(text: stored.definition)
        } catch {
            logger.error(
                "the stored data schema cannot be read; the hub keeps the one it holds",
                metadata: ["relais.schema_version": "\(stored.version)", "relais.error": "\(error)"])
            return true
        }
        let previous = active.withLock { held -> Int? in
            guard held.definition.version != definition.version else { return nil }
            let previous = held.definition.version
            held = ActiveSchema(definition)
            return previous
        }
        guard let previous else { return true }
        // Stored digests were computed under the previous schema: views are digested from the states
        // until they are computed again.
        digestSchemaChecked.withLock { $0 = false }
        if firstLoad {
            logger.info("data schema in force", metadata: ["relais.version": "\(definition.version)"])
            return true
        }
        logger.notice(
            "data schema changed", metadata: ["relais.from": "\(previous)", "relais.to": "\(definition.version)"])
        Task { [self] in
            do {
                try await backfillDigests()
            } catch {
                logger.warning("view digests not stored again yet", metadata: ["relais.error": "\(error)"])
            }
        }
        return true
    }

    /// Makes `definition` the schema in force when it is a compatible successor of the current one
    /// (``Schema/changes(from:)``), recording it in the store; laptops take it at their next sync.
    /// Works while hubs serve the store: they notice it at their next push or pull.
    ///
    /// - Returns: the changes it makes (empty when this very schema is already in force).
    /// - Throws: ``HubError/badRequest`` naming the first incompatible change; nothing is stored then.
    @discardableResult
    public func applySchema(_ definition: SchemaDefinition) async throws -> [SchemaChange] {
        try await loadSchema()
        let now = self.now()
        let changes = try await store.write { tx -> [SchemaChange] in
            guard let stored = try await tx.currentSchema() else { throw HubError.unavailable }
            let current = try SchemaDefinition(text: stored.definition)
            let changes: [SchemaChange]
            do {
                changes = try definition.schema.changes(from: current.schema)
            } catch {
                throw HubError.badRequest.with(
                    "The schema cannot replace version \(current.version) in place: \(error). Nothing was changed.")
            }
            guard definition.version > current.version else { return [] }
            try await tx.insertSchema(
                StoredSchema(version: definition.version, definition: definition.text, appliedAt: now))
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .schemaApplied,
                    detail: "data schema version \(definition.version) applied over \(current.version): "
                        + (changes.isEmpty ? "no change" : changes.map(\.description).joined(separator: "; "))))
            return changes
        }
        try await store.read { tx in _ = try await self.refreshSchema(tx) }
        return changes
    }

    /// Checks the schema version a client runs against the one in force (read again from the store
    /// first). An older client is told `schema_too_old` (it fetches the schema, migrates its file and
    /// asks again) unless `allowingOlder` (enrollment: the device migrates right after); a newer one
    /// `schema_too_new`. Version 0 (not sent) passes.
    func checkSchemaVersion(_ version: UInt32, allowingOlder: Bool = false) async throws {
        try await refreshOrLoadSchema()
        guard version != 0 else { return }
        let current = schema.version
        if Int(version) < current, !allowingOlder {
            throw HubError.schemaTooOld.with(
                "The client's schema version \(version) is older than the hub's \(current): fetch GET /v1/schema, "
                    + "migrate and try again (a client that cannot: upgrade it).")
        }
        if Int(version) > current {
            throw HubError.schemaTooNew.with(
                "The client's schema version \(version) is newer than the hub's \(current); upgrade the hub's schema.")
        }
    }
}
