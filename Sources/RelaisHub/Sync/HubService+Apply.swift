import RelaisCore
import RelaisProtocol

/// The one path every write takes into the store, from a device's push or from the hub itself (an
/// admin's resolution): validation, authorization, merge, sequence numbers, scope moves, conflict
/// reports. It runs inside a store transaction and throws only for store failures; a refused write
/// is a ``WriteOutcome/rejected(code:reason:)`` that changed nothing.
extension HubService {
    /// What became of one write.
    enum WriteOutcome: Equatable {
        case applied
        case conflict(ids: [String], rules: [String])
        case rejected(code: RejectionCode, reason: String)
    }

    /// Who writes, for authorization. `nil` access: the hub itself, which may write anything.
    struct Writer {
        var role: Role
        var access: Access?
        var clamped: Bool
    }

    /// A write's context as the hub takes it: no entry above what the hub holds of the record, but
    /// for the writer's own dots below this one (docs/SYNC.md "Writes, dots and contexts"). A
    /// client's context is the record's vector as the hub sent it joined with the writer's own
    /// dots, so an honest one loses nothing here (a laptop that saw a hub since restored from a
    /// backup narrows its own the same way). A context claiming more would make the record's
    /// vector cover writes not made yet, and each of them would then be taken for a replay and
    /// dropped.
    static func context(_ context: VersionVector, heldTo held: VersionVector, writer dot: Dot) -> VersionVector {
        let ownEarlier = dot.counter == 0 ? 0 : dot.counter - 1
        var narrowed = context
        for (replica, counter) in context.entries {
            let limit = replica == dot.replica ? max(held[replica], ownEarlier) : held[replica]
            if counter > limit { narrowed[replica] = limit }
        }
        return narrowed
    }

    /// Applies a write the office makes through the hub (an admin's resolution, a manager's
    /// confirmation, the customer values): the hub's replica 0 with its next dot, and `record`'s
    /// current version as context, so it follows every write the hub holds. Returns the reason when
    /// the hub refused it (nothing changed), nil when it was applied. A value larger than a push may
    /// carry is refused: every laptop's pull would refuse it (`field_too_large`) and stop syncing.
    nonisolated(nonsending) func applyOfficeWrite(
        _ change: RecordWrite.Change, to record: StoredRecord, author: String, role: Role, tx: any HubTransaction,
        now: UInt64
    ) async throws -> String? {
        if case .upsert(let fields) = change {
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
                do {
                    try configuration.limits.validate(
                        fieldValue: Relais_V1_Value(value), path: "\(record.state.collection).\(name)")
                } catch {
                    return error.message
                }
            }
        }
        let (counter, hlc) = try await tx.takeHubDot(physicalMillis: now)
        let write = RecordWrite(
            collection: record.state.collection, recordID: record.state.id, context: record.state.vector,
            dot: Dot(replica: .hub, counter: counter), hlc: hlc, author: author, change: change)
        let outcome = try await applyWrite(
            write, writer: Writer(role: role, access: nil, clamped: false), tx: tx, now: now)
        if case .rejected(_, let reason) = outcome { return Self.storable(reason) }
        return nil
    }

    /// `text` with any NUL character written `\u0000`: a reason may quote what a laptop sent, and
    /// PostgreSQL's text refuses the character itself.
    static func storable(_ text: String) -> String {
        text.utf8.contains(0)
            ? text.split(separator: "\u{0}", omittingEmptySubsequences: false).joined(separator: "\\u0000") : text
    }

    private func reject(_ error: ValidationError) -> WriteOutcome {
        .rejected(code: RejectionCode(rawValue: error.code.rawValue), reason: error.description)
    }

    nonisolated(nonsending) func applyWrite(
        _ incoming: RecordWrite, writer: Writer, tx: any HubTransaction, now: UInt64
    ) async throws -> WriteOutcome {
        guard let collection = schema.collection(incoming.collection) else {
            return reject(.unknownCollection(incoming.collection))
        }
        let recordID = incoming.recordID.lowercased()
        let existing = try await tx.record(collection: collection.name, id: recordID)
        if existing == nil, incoming.isDelete {
            // A record made and deleted before it ever reached the hub: nothing to delete, and only
            // its creator ever knew its id.
            if !FieldType.isUUID(incoming.recordID) {
                return reject(.invalidID(incoming.collection, incoming.recordID))
            }
            return .applied
        }
        let creating = existing == nil || existing!.state.fields.isEmpty
        var write: RecordWrite
        do {
            write = try engine.validate(incoming, creating: creating && !incoming.isDelete)
        } catch {
            return reject(error)
        }
        write.context = Self.context(write.context, heldTo: existing?.state.vector ?? .empty, writer: write.dot)

        // A territory is stored as the record's scope, a text column on PostgreSQL, which refuses a
        // NUL character: a name holding one is refused on every store.
        if case .territory(let field) = collection.visibility, let name = write.fieldValues[field]?.stringValue,
            name.utf8.contains(0)
        {
            return .rejected(
                code: .invalidValue,
                reason: "\(collection.name).\(field): `\(name)` holds a NUL character, which no territory's name may")
        }

        // Authorization: hub-only fields, then visibility before and after the write.
        if !writer.role.mayWriteHubOnlyFields {
            for name in write.fieldValues.keys.sorted() where collection.field(name)?.hubOnly == true {
                return .rejected(
                    code: .hubOnlyField, reason: "\(collection.name).\(name): only the office may write this field")
            }
        }
        // Where the writer means the record to be: what its access is checked against.
        let intended = try await scopeAfter(write, collection: collection, existing: existing, tx: tx)
        if let access = writer.access {
            if let existing, !access.sees(scope: existing.scope) {
                return .rejected(
                    code: .outsideTerritory, reason: "\(collection.name) \(recordID) is outside your territories")
            }
            if !write.isDelete, !access.sees(scope: intended.scope) {
                return .rejected(
                    code: .outsideTerritory,
                    reason:
                        "\(collection.name) \(recordID) would be in territory `\(intended.scope ?? "none")`, outside yours"
                )
            }
            if writer.role == .rep, let existing, case .territory(let field) = collection.visibility,
                let value = write.fieldValues[field], value != existing.state.value(of: collection.field(field)!)
            {
                return .rejected(code: .notAllowed, reason: "a rep may not move a customer to another territory")
            }
        }

        // Validated above, for the same state.
        let outcome = engine.apply(validated: write, to: existing?.state)
        if outcome.duplicate { return .applied }
        // Where the record is once merged: a concurrent move that wins the merge keeps its territory.
        let (scope, parentID) = try await scopeMerged(
            outcome.state, intended: intended, write: write, collection: collection, existing: existing, tx: tx)

        let seq = try await tx.nextSequence()
        var record =
            existing
            ?? StoredRecord(
                state: outcome.state, seq: seq, wholeSince: 0, scope: scope, parentID: parentID, deletedAt: nil,
                fields: [:])
        record.state = outcome.state
        record.seq = seq
        let lostDelete = write.isDelete && !outcome.deleted && existing?.state.isDeleted == false
        if (outcome.created && existing != nil) || lostDelete {
            // Revived, or a delete that lost to a concurrent update: devices removed it locally, so
            // every device gets it whole. (A new record needs no mark: all its fields are newer than
            // any cursor that predates it.)
            record.wholeSince = seq
        }
        for name in outcome.changedFields {
            record.fields[name] = FieldMeta(seq: seq, clamped: writer.clamped)
        }
        if outcome.state.tombstone == nil {
            record.deletedAt = nil
        } else if outcome.deleted {
            record.deletedAt = now
        }
        if let existing, existing.scope != scope {
            try await tx.insertMove(
                ScopeMove(
                    seq: seq, collection: collection.name, recordID: recordID, fromScope: existing.scope, toScope: scope
                ))
            // Devices that lost sight of it removed it: from now on its own writes are echoed too.
            record.wholeSince = seq
        }
        record.scope = scope
        record.parentID = parentID
        record = digested(record)
        if existing == nil {
            try await tx.insertRecord(record)
        } else {
            try await tx.updateRecord(record)
        }
        if existing == nil || existing!.scope != scope {
            try await moveChildren(of: record, access: writer.access, tx: tx)
        }
        // The field history of the admin review: one row per accepted write (docs/ADMIN.md).
        try await tx.insertHistory(
            HistoryEntry(
                seq: seq, collection: collection.name, recordID: recordID, dot: write.dot, hlc: write.hlc,
                user: write.author, at: now, fields: write.fieldValues, deleted: write.isDelete))

        guard !outcome.conflicts.isEmpty else { return .applied }
        var ids: [String] = []
        for conflict in outcome.conflicts {
            let id = secrets.uuid()
            try await tx.insertConflict(
                ConflictReport(id: id, createdAt: now, seq: seq, conflict: conflict, scope: scope))
            ids.append(id)
        }
        return .conflict(ids: ids, rules: outcome.conflicts.map(\.rule))
    }

    /// The scope (territory) and visibility parent a record has once `write` is applied.
    private nonisolated(nonsending) func scopeAfter(
        _ write: RecordWrite, collection: CollectionSchema, existing: StoredRecord?, tx: any HubTransaction
    ) async throws -> (scope: String?, parentID: String?) {
        switch collection.visibility {
        case .territory(let field):
            if let value = write.fieldValues[field] { return (value.stringValue, nil) }
            return (existing?.scope, nil)
        case .parent(let field, let parentCollection):
            let parentID = write.fieldValues[field]?.stringValue?.lowercased() ?? existing?.parentID
            guard let parentID else { return (nil, nil) }
            let parent = try await tx.record(collection: parentCollection, id: parentID)
            return (parent?.scope, parentID)
        }
    }

    /// The scope and visibility parent of the merged `state`: `intended` (``scopeAfter``) unless the
    /// write set the field that decides them and the merge kept another value for it (a concurrent
    /// move with the later time, under the field's rule), in which case that value decides.
    private nonisolated(nonsending) func scopeMerged(
        _ state: RecordState, intended: (scope: String?, parentID: String?), write: RecordWrite,
        collection: CollectionSchema, existing: StoredRecord?, tx: any HubTransaction
    ) async throws -> (scope: String?, parentID: String?) {
        let name: String
        switch collection.visibility {
        case .territory(let field): name = field
        case .parent(let field, _): name = field
        }
        guard let written = write.fieldValues[name], let field = collection.field(name) else { return intended }
        let merged = state.value(of: field)
        guard merged != written else { return intended }
        switch collection.visibility {
        case .territory:
            return (merged.stringValue, nil)
        case .parent(_, let parentCollection):
            guard let parentID = merged.stringValue?.lowercased() ?? existing?.parentID else { return (nil, nil) }
            let parent = try await tx.record(collection: parentCollection, id: parentID)
            return (parent?.scope, parentID)
        }
    }

    /// Gives the children of `parent` (records whose visibility follows it) the parent's scope, each
    /// change numbered and recorded as a move, recursively.
    ///
    /// A writer carries along only children it may see (`access`; `nil`: the hub itself): those that
    /// never had a scope (they reached the hub before their parent) or whose scope it sees. The
    /// children of a customer deleted and purged keep their territory when someone creates a customer
    /// with the same id elsewhere, so they never reach that territory's users.
    private nonisolated(nonsending) func moveChildren(of parent: StoredRecord, access: Access?, tx: any HubTransaction)
        async throws
    {
        for var child in try await tx.children(of: parent.id) {
            guard let collection = schema.collection(child.collection),
                case .parent(_, let parentCollection) = collection.visibility, parentCollection == parent.collection,
                child.scope != parent.scope
            else { continue }
            if let access, child.scope != nil, !access.sees(scope: child.scope) { continue }
            let seq = try await tx.nextSequence()
            try await tx.insertMove(
                ScopeMove(
                    seq: seq, collection: child.collection, recordID: child.id, fromScope: child.scope,
                    toScope: parent.scope))
            child.scope = parent.scope
            child.seq = seq
            child.wholeSince = seq
            try await tx.updateRecord(digested(child))
            try await moveChildren(of: child, access: access, tx: tx)
        }
    }
}
