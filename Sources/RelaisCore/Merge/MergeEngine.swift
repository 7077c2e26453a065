/// Applies writes to records under the schema's merge rules (DESIGN §4).
///
/// For each field a write sets, the siblings whose dots the write's context covers are superseded
/// (the writer had seen them: a sequential overwrite, no conflict; a replica's own earlier writes count
/// as seen whatever the context says). Siblings it does not cover are concurrent: they stay beside the
/// new value, the field's rule decides the value, and a ``Conflict`` is reported when their values
/// differ. The record's vector becomes the join of its vector, the context and the dot.
///
/// The result depends only on the set of writes applied, not on their order, and applying a write
/// whose dot the record's vector already covers changes nothing.
///
/// ```swift
/// let engine = MergeEngine(schema: .crm)
/// let outcome = try engine.apply(write, to: storedState)
/// store(outcome.state); report(outcome.conflicts)
/// ```
public struct MergeEngine: Sendable {
    public let schema: Schema

    public init(schema: Schema) {
        self.schema = schema
    }

    /// The result of applying one write.
    public struct Outcome: Hashable, Sendable {
        /// The record after the write.
        public var state: RecordState
        /// Conflicts the write raised (empty for a sequential write).
        public var conflicts: [Conflict]
        /// Fields whose state changed.
        public var changedFields: [String]
        /// True when the record's vector already covered the write's dot: nothing was applied.
        public var duplicate: Bool
        /// True when the write created the record or revived a deleted one.
        public var created: Bool
        /// True when the write deleted the record.
        public var deleted: Bool
    }

    /// Checks a write against the schema: known collection and fields, UUID id, typed values, and
    /// required fields (on creation all must be present; none may ever be set to null).
    ///
    /// Returns the write with its values in canonical form.
    public func validate(_ write: RecordWrite, creating: Bool) throws(ValidationError) -> RecordWrite {
        guard let collection = schema.collection(write.collection) else {
            throw .unknownCollection(write.collection)
        }
        guard FieldType.isUUID(write.recordID) else { throw .invalidID(write.collection, write.recordID) }
        guard case .upsert(let values) = write.change else { return write }
        guard !values.isEmpty else { throw .emptyWrite(write.collection) }
        var canonical = [String: Value](minimumCapacity: values.count)
        for name in values.keys.sorted() {
            guard let field = collection.field(name) else { throw .unknownField(write.collection, name) }
            let value = try field.type.validate(values[name]!, collection: write.collection, field: name)
            if field.required, value.isNull { throw .requiredMissing(write.collection, name) }
            canonical[name] = value
        }
        if creating {
            for field in collection.fields where field.required && canonical[field.name] == nil {
                throw .requiredMissing(write.collection, field.name)
            }
        }
        var result = write
        result.recordID = write.recordID.lowercased()
        result.change = .upsert(canonical)
        return result
    }

    /// Applies `write` to `state` (`nil` when the record is new to this node).
    ///
    /// - Throws: ``ValidationError`` when the write does not fit the schema; nothing is applied.
    public func apply(_ write: RecordWrite, to state: RecordState?) throws(ValidationError) -> Outcome {
        let creating = state == nil || state!.fields.isEmpty
        return apply(validated: try validate(write, creating: creating && !write.isDelete), to: state)
    }

    /// ``apply(_:to:)`` of a write that ``validate(_:creating:)`` returned for the same `state`
    /// (`creating` when `state` is `nil` or has no fields, and the write is no delete). The hub
    /// validates each write before it authorizes it, and need not validate it twice.
    public func apply(validated write: RecordWrite, to state: RecordState?) -> Outcome {
        let collection = schema.collection(write.collection)!
        var record = state ?? RecordState(collection: write.collection, id: write.recordID)

        if record.vector.covers(write.dot) {
            return Outcome(
                state: record, conflicts: [], changedFields: [], duplicate: true, created: false, deleted: false)
        }

        var conflicts: [Conflict] = []
        var changed: [String] = []
        var created = state == nil
        var deleted = false
        // A replica has always seen its own earlier writes, even when the context it sent (the record as
        // last acknowledged by the hub) predates them: its dots reach the hub in counter order.
        var context = write.context
        if write.dot.counter > 1 { context.add(Dot(replica: write.dot.replica, counter: write.dot.counter - 1)) }

        switch write.change {
        case .upsert(let values):
            if let tombstone = record.tombstone {
                // Writing to a deleted record revives it. If the writer never saw a delete, the two
                // were concurrent: the record lives on and the delete is reported.
                for delete in tombstone.deletes where !context.covers(delete.dot) {
                    conflicts.append(deleteUpdateConflict(record: record, delete: delete, update: write))
                }
                record.tombstone = nil
                created = true
            }
            for name in values.keys.sorted() {
                let field = collection.field(name)!
                let incoming = Sibling(value: values[name]!, dot: write.dot, hlc: write.hlc, author: write.author)
                let previous = record.fields[name]
                let superseded = previous?.siblings.filter { context.covers($0.dot) } ?? []
                let survivors = previous?.siblings.filter { !context.covers($0.dot) } ?? []
                var base = previous?.base
                if !superseded.isEmpty { base = field.rule.resolve(superseded) }
                let next = FieldState(siblings: survivors + [incoming], base: base)
                record.fields[name] = next
                changed.append(name)
                if survivors.contains(where: { $0.value != incoming.value }) {
                    conflicts.append(
                        Conflict(
                            collection: write.collection, recordID: write.recordID, field: name,
                            rule: field.rule.rawValue, base: base,
                            values: next.siblings.map(Competitor.init),
                            chosen: next.value(rule: field.rule),
                            status: field.rule == .manual ? .open : .autoResolved))
                }
            }

        case .delete:
            let tombstone = Tombstone(dot: write.dot, hlc: write.hlc, author: write.author)
            let unseen = record.fields.values.flatMap(\.siblings).filter { !context.covers($0.dot) }
            if let latest = unseen.max(by: { $0.order < $1.order }) {
                // The deleter had not seen every update: the update wins over this delete and the
                // record stays as it is (alive, or deleted by a delete that had seen everything).
                let update = RecordWrite(
                    collection: write.collection, recordID: write.recordID, context: .empty,
                    dot: latest.dot, hlc: latest.hlc, author: latest.author, change: .upsert([:]))
                conflicts.append(deleteUpdateConflict(record: record, delete: tombstone, update: update))
            } else if let existing = record.tombstone {
                // Two deletes that both saw every update: the record stays deleted. The deletes this one
                // had seen are folded away; concurrent ones are kept beside the latest, so that an
                // update that revives the record and never saw one of them reports it.
                let kept = (existing.deletes.filter { !context.covers($0.dot) } + [tombstone])
                    .sorted { $0.order < $1.order }
                var latest = kept.last!
                latest.concurrent = Array(kept.dropLast())
                record.tombstone = latest
            } else {
                record.tombstone = tombstone
                deleted = true
                created = false
            }
        }

        record.vector.join(context)
        record.vector.add(write.dot)
        return Outcome(
            state: record, conflicts: conflicts, changedFields: changed, duplicate: false, created: created,
            deleted: deleted)
    }

    private func deleteUpdateConflict(record: RecordState, delete: Tombstone, update: RecordWrite) -> Conflict {
        let sides = [
            Competitor(value: nil, deleted: true, dot: delete.dot, hlc: delete.hlc, author: delete.author),
            Competitor(value: nil, deleted: false, dot: update.dot, hlc: update.hlc, author: update.author),
        ].sorted { WriteOrder(hlc: $0.hlc, replica: $0.dot.replica) < WriteOrder(hlc: $1.hlc, replica: $1.dot.replica) }
        return Conflict(
            collection: record.collection, recordID: record.id, field: nil, rule: Conflict.deleteUpdateRule,
            base: nil, values: sides, chosen: nil, status: .autoResolved)
    }
}
