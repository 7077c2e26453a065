public import RelaisCore
public import RelaisProtocol

// Records as a hub store keeps them, and their scope moves. Sequences are the hub's global numbering
// of record changes (``HubTransaction/nextSequence()``).

/// Per-field bookkeeping beside a record's merge state.
public struct FieldMeta: Sendable, Hashable, Codable {
    /// The sequence of the field's last change.
    public var seq: UInt64
    /// Whether the hub changed the write that set it (its HLC was clamped): then it is echoed back
    /// even to its own replica.
    public var clamped: Bool

    /// The bookkeeping of a field last changed at `seq`.
    public init(seq: UInt64, clamped: Bool = false) {
        self.seq = seq
        self.clamped = clamped
    }
}

/// A record as the hub holds it: the merge state plus what pull needs.
public struct StoredRecord: Sendable, Hashable {
    /// The merge state: the record's collection and id, version vector, field states and tombstone.
    public var state: RecordState
    /// The sequence of the record's last change (unique across records).
    public var seq: UInt64
    /// The sequence at which the record was last revived (or kept alive against a concurrent
    /// delete), 0 if never: a device whose cursor is below it gets the record whole.
    public var wholeSince: UInt64
    /// The territory that decides visibility: a customer's own, a child's customer's; `nil` when a
    /// child's customer is unknown.
    public var scope: String?
    /// A child's customer id (its visibility parent), if the collection has one.
    public var parentID: String?
    /// When the record was deleted (a tombstone), in milliseconds since 1970; `nil` while it lives.
    public var deletedAt: UInt64?
    /// Per-field bookkeeping, by field name, for every field whose state a write on the hub changed.
    public var fields: [String: FieldMeta]
    /// The live record's view digest (Protocol/README.md section 14), which ``HubService`` sets from
    /// the state under the schema's rules before every write; `nil` for a tombstone. Stores keep it
    /// beside the state; a row without one (written before digests) has it computed when read
    /// (``DigestRow``). Write-only: stores do not read it back into a record.
    public var digest: RecordDigest?

    /// A record as stored.
    public init(
        state: RecordState, seq: UInt64, wholeSince: UInt64, scope: String?, parentID: String?,
        deletedAt: UInt64?, fields: [String: FieldMeta]
    ) {
        self.state = state
        self.seq = seq
        self.wholeSince = wholeSince
        self.scope = scope
        self.parentID = parentID
        self.deletedAt = deletedAt
        self.fields = fields
    }

    /// The record's collection.
    public var collection: String { state.collection }
    /// The record's id (lowercase).
    public var id: String { state.id }
}

/// A record as a pull page reads it: what ``StoredRecord`` holds, its merge state still in its
/// stored encoding. Pages are written from those bytes without building the merge state
/// (docs/PERFORMANCE.md, "pages"); ``decoded()`` gives the ``StoredRecord``.
public struct StoredRecordRow: Sendable {
    public var collection: String
    public var id: String
    public var seq: UInt64
    public var wholeSince: UInt64
    public var scope: String?
    public var parentID: String?
    public var deletedAt: UInt64?
    /// The merge state and field bookkeeping, encoded by ``RecordCodec``.
    var state: [UInt8]

    init(
        collection: String, id: String, seq: UInt64, wholeSince: UInt64, scope: String?, parentID: String?,
        deletedAt: UInt64?, state: [UInt8]
    ) {
        self.collection = collection
        self.id = id
        self.seq = seq
        self.wholeSince = wholeSince
        self.scope = scope
        self.parentID = parentID
        self.deletedAt = deletedAt
        self.state = state
    }

    /// The record, its state decoded.
    public func decoded() throws -> StoredRecord {
        let (state, fields) = try self.state.withUnsafeBytes {
            try RecordCodec.decode($0, collection: collection, id: id)
        }
        return StoredRecord(
            state: state, seq: seq, wholeSince: wholeSince, scope: scope, parentID: parentID, deletedAt: deletedAt,
            fields: fields)
    }
}

/// A live record as a view digest reads it: its stored digest, or, for a row written before digests,
/// its encoded state to compute one from.
public struct DigestRow: Sendable {
    public var collection: String
    public var id: String
    /// ``RecordDigest/stored`` bytes; `nil` when the row has none.
    public var digest: [UInt8]?
    /// The state, encoded by ``RecordCodec``, when `digest` is `nil`.
    public var state: [UInt8]?

    init(collection: String, id: String, digest: [UInt8]?, state: [UInt8]?) {
        self.collection = collection
        self.id = id
        self.digest = digest
        self.state = state
    }
}

/// What a device last reported of comparing its copy with the hub's view (`POST /v1/verification`).
public struct DeviceVerification: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        case equal, repaired, unrepaired
    }
    public var replica: ReplicaID
    /// When the hub received the report, in milliseconds since 1970.
    public var at: UInt64
    public var outcome: Outcome
    /// The live records the device held of its view.
    public var records: UInt64
    /// Records found different.
    public var differing: UInt64
    /// Of those, the records the repair fixed.
    public var repaired: UInt64
    /// A full check (`relais verify`), not a sync's.
    public var full: Bool

    public init(
        replica: ReplicaID, at: UInt64, outcome: Outcome, records: UInt64, differing: UInt64, repaired: UInt64,
        full: Bool
    ) {
        self.replica = replica
        self.at = at
        self.outcome = outcome
        self.records = records
        self.differing = differing
        self.repaired = repaired
        self.full = full
    }
}

/// A record's key: its collection and id.
public struct RecordKey: Sendable, Hashable, Comparable {
    /// The record's collection.
    public var collection: String
    /// The record's id (lowercase, as stored).
    public var id: String

    /// The key of record `id` of `collection`.
    public init(collection: String, id: String) {
        self.collection = collection
        self.id = id
    }

    /// By collection, then id, byte by byte: the order stores lock records in.
    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        if lhs.collection != rhs.collection {
            return lhs.collection.utf8.lexicographicallyPrecedes(rhs.collection.utf8)
        }
        return lhs.id.utf8.lexicographicallyPrecedes(rhs.id.utf8)
    }
}

/// A change of a record's scope, kept so that a pull can tell what a device saw at its cursor.
public struct ScopeMove: Sendable, Hashable {
    /// The sequence the move took: the record's sequence once moved (the key).
    public var seq: UInt64
    /// The moved record's collection.
    public var collection: String
    /// The moved record's id (lowercase).
    public var recordID: String
    /// The record's scope before the move; `nil` when it had none (see ``StoredRecord/scope``).
    public var fromScope: String?
    /// The record's scope after the move; `nil` when it has none.
    public var toScope: String?

    /// A move.
    public init(seq: UInt64, collection: String, recordID: String, fromScope: String?, toScope: String?) {
        self.seq = seq
        self.collection = collection
        self.recordID = recordID
        self.fromScope = fromScope
        self.toScope = toScope
    }
}
