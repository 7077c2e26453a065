public import RelaisCore

// The rows a hub store keeps. Plain values: every store (SQLite now, PostgreSQL next) maps them to
// its own tables. Times are milliseconds since 1970 (the injected ``HubClock``); sequences are the
// hub's global numbering of record changes.

/// A person who may enroll devices.
public struct HubUser: Sendable, Hashable {
    public var name: String
    public var role: Role
    /// Sorted, without duplicates.
    public var territories: [String]
    /// Bumped whenever the role or territories change: a device that bootstrapped under an older
    /// version must bootstrap again.
    public var scopeVersion: Int64
    public var createdAt: UInt64

    public init(name: String, role: Role, territories: [String], scopeVersion: Int64 = 1, createdAt: UInt64) {
        self.name = name
        self.role = role
        self.territories = Array(Set(territories)).sorted()
        self.scopeVersion = scopeVersion
        self.createdAt = createdAt
    }
}

/// A one-time enrollment code (only its hash is kept).
public struct Enrollment: Sendable, Hashable {
    public var codeHash: String
    public var user: String
    public var createdAt: UInt64
    public var expiresAt: UInt64
    /// When the code was used, if it was.
    public var usedAt: UInt64?
    /// The replica it enrolled, if it was used.
    public var replica: ReplicaID?

    public init(
        codeHash: String, user: String, createdAt: UInt64, expiresAt: UInt64, usedAt: UInt64? = nil,
        replica: ReplicaID? = nil
    ) {
        self.codeHash = codeHash
        self.user = user
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.replica = replica
    }
}

/// An admin API token (not a device: it cannot sync). Only its hash is kept.
public struct APIToken: Sendable, Hashable {
    public var tokenHash: String
    public var user: String
    public var createdAt: UInt64
    public var revokedAt: UInt64?

    public init(tokenHash: String, user: String, createdAt: UInt64, revokedAt: UInt64? = nil) {
        self.tokenHash = tokenHash
        self.user = user
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// An enrolled device: one replica number, one token.
public struct Device: Sendable, Hashable {
    public var replica: ReplicaID
    public var user: String
    /// The SHA-256 of the device token.
    public var tokenHash: String
    public var name: String
    /// 1 at enrollment, +1 at each renewal.
    public var epoch: UInt32
    /// The replica number the device first enrolled with; renewals keep it, so that revoking one
    /// replica revokes its whole line.
    public var lineage: ReplicaID
    public var createdAt: UInt64
    public var revokedAt: UInt64?
    /// The replica this one was renewed into (its token then only renews again).
    public var renewedTo: ReplicaID?
    /// The highest dot counter the hub acknowledged from this replica.
    public var highestCounter: UInt64
    /// The cursor of the device's last pull: everything up to it is applied on the device.
    public var acknowledgedCursor: UInt64
    /// The user's ``HubUser/scopeVersion`` when the device last pulled from cursor 0.
    public var scopeVersion: Int64
    public var lastSeenAt: UInt64?
    /// How many of its writes had their HLC clamped (a clock running ahead).
    public var clampedWrites: Int64

    public init(
        replica: ReplicaID, user: String, tokenHash: String, name: String, epoch: UInt32 = 1, lineage: ReplicaID,
        createdAt: UInt64, revokedAt: UInt64? = nil, renewedTo: ReplicaID? = nil, highestCounter: UInt64 = 0,
        acknowledgedCursor: UInt64 = 0, scopeVersion: Int64, lastSeenAt: UInt64? = nil, clampedWrites: Int64 = 0
    ) {
        self.replica = replica
        self.user = user
        self.tokenHash = tokenHash
        self.name = name
        self.epoch = epoch
        self.lineage = lineage
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.renewedTo = renewedTo
        self.highestCounter = highestCounter
        self.acknowledgedCursor = acknowledgedCursor
        self.scopeVersion = scopeVersion
        self.lastSeenAt = lastSeenAt
        self.clampedWrites = clampedWrites
    }

    /// Neither revoked nor renewed: the device syncs.
    public var isActive: Bool { revokedAt == nil && renewedTo == nil }
}

/// Per-field bookkeeping beside a record's merge state.
public struct FieldMeta: Sendable, Hashable, Codable {
    /// The sequence of the field's last change.
    public var seq: UInt64
    /// Whether the hub changed the write that set it (its HLC was clamped): then it is echoed back
    /// even to its own replica.
    public var clamped: Bool

    public init(seq: UInt64, clamped: Bool = false) {
        self.seq = seq
        self.clamped = clamped
    }
}

/// A record as the hub holds it: the merge state plus what pull needs.
public struct StoredRecord: Sendable, Hashable {
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
    /// When the record was deleted (a tombstone), if it is.
    public var deletedAt: UInt64?
    public var fields: [String: FieldMeta]

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

    public var collection: String { state.collection }
    public var id: String { state.id }
}

/// A record's key: its collection and id.
public struct RecordKey: Sendable, Hashable, Comparable {
    public var collection: String
    public var id: String

    public init(collection: String, id: String) {
        self.collection = collection
        self.id = id
    }

    /// By collection, then id, byte by byte: the order stores lock records in.
    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        if lhs.collection != rhs.collection { return lhs.collection.utf8.lexicographicallyPrecedes(rhs.collection.utf8) }
        return lhs.id.utf8.lexicographicallyPrecedes(rhs.id.utf8)
    }
}

/// A change of a record's scope, kept so that a pull can tell what a device saw at its cursor.
public struct ScopeMove: Sendable, Hashable {
    public var seq: UInt64
    public var collection: String
    public var recordID: String
    public var fromScope: String?
    public var toScope: String?

    public init(seq: UInt64, collection: String, recordID: String, fromScope: String?, toScope: String?) {
        self.seq = seq
        self.collection = collection
        self.recordID = recordID
        self.fromScope = fromScope
        self.toScope = toScope
    }
}

/// What became of one pushed write: kept so that a replay is answered the same.
public struct StoredWriteResult: Sendable, Hashable {
    /// The write's outcome.
    public enum Status: String, Sendable, Hashable, Codable {
        case applied
        case conflict
        case rejected
    }

    public var dot: Dot
    /// SHA-256 of the write's canonical binary encoding.
    public var digest: [UInt8]
    public var status: Status
    public var conflictIDs: [String]
    public var code: String
    public var reason: String

    public init(
        dot: Dot, digest: [UInt8], status: Status, conflictIDs: [String] = [], code: String = "",
        reason: String = ""
    ) {
        self.dot = dot
        self.digest = digest
        self.status = status
        self.conflictIDs = conflictIDs
        self.code = code
        self.reason = reason
    }
}

/// An admin's decision on a conflict report.
public struct ConflictResolution: Sendable, Hashable, Codable {
    /// The admin who decided.
    public var by: String
    public var at: UInt64
    public var reason: String
    /// The value written, or `nil` when the decision deleted the record or kept it as it was.
    public var value: Value?
    /// Whether the decision deleted the record (the delete side of a `delete-update`).
    public var deleted: Bool

    public init(by: String, at: UInt64, reason: String, value: Value?, deleted: Bool = false) {
        self.by = by
        self.at = at
        self.reason = reason
        self.value = value
        self.deleted = deleted
    }
}

/// A stored conflict report (DESIGN §4).
public struct ConflictReport: Sendable, Hashable {
    public var id: String
    public var createdAt: UInt64
    /// The hub sequence of the write that raised it.
    public var seq: UInt64
    public var conflict: Conflict
    /// The record's scope when the report was written.
    public var scope: String?
    public var resolution: ConflictResolution?

    public init(
        id: String, createdAt: UInt64, seq: UInt64, conflict: Conflict, scope: String?,
        resolution: ConflictResolution? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.seq = seq
        self.conflict = conflict
        self.scope = scope
        self.resolution = resolution
    }

    public var status: ConflictStatus { conflict.status }
}

/// Which conflict reports to list: every filter of the admin review, applied inside the store, and a
/// page. `nil` means "any".
public struct ConflictFilter: Sendable, Hashable {
    /// Only reports with this status.
    public var status: ConflictStatus?
    /// Only reports on this collection.
    public var collection: String?
    /// Only reports on this field.
    public var field: String?
    /// Only reports decided by this merge rule (`manual`, `lww`, `delete-update`…).
    public var rule: String?
    /// Only reports where this user wrote one of the competing values.
    public var user: String?
    /// Only reports on records of this territory (the record's scope when the report was written).
    public var territory: String?
    /// Only reports on this record.
    public var recordID: String?
    /// Only reports raised at or after this time (milliseconds since 1970).
    public var from: UInt64?
    /// Only reports raised before this time (milliseconds since 1970).
    public var to: UInt64?
    /// At most this many reports.
    public var limit: Int
    /// Skip this many matching reports.
    public var offset: Int

    public init(
        status: ConflictStatus? = nil, collection: String? = nil, field: String? = nil, rule: String? = nil,
        user: String? = nil, territory: String? = nil, recordID: String? = nil, from: UInt64? = nil,
        to: UInt64? = nil, limit: Int = 100, offset: Int = 0
    ) {
        self.status = status
        self.collection = collection
        self.field = field
        self.rule = rule
        self.user = user
        self.territory = territory
        self.recordID = recordID
        self.from = from
        self.to = to
        self.limit = limit
        self.offset = offset
    }

    /// Whether `report` passes every filter (the page is not considered): what a store's query means.
    public func matches(_ report: ConflictReport) -> Bool {
        let conflict = report.conflict
        if let status, conflict.status != status { return false }
        if let collection, conflict.collection != collection { return false }
        if let field, conflict.field != field { return false }
        if let rule, conflict.rule != rule { return false }
        if let user, !conflict.values.contains(where: { $0.author == user }) { return false }
        if let territory, report.scope != territory { return false }
        if let recordID, conflict.recordID != recordID { return false }
        if let from, report.createdAt < from { return false }
        if let to, report.createdAt >= to { return false }
        return true
    }
}

/// A signed-in admin's web session, kept in the store so that any hub serves any page.
public struct AdminSession: Sendable, Hashable {
    /// The SHA-256 (hex) of the session id, which is 32 random bytes as hex sent in an HttpOnly cookie:
    /// the store never holds the id itself.
    public var id: String
    /// The admin it belongs to.
    public var user: String
    /// The token every POST form of the session must carry.
    public var csrf: String
    /// When it expires unless used (milliseconds since 1970).
    public var expiresAt: UInt64

    public init(id: String, user: String, csrf: String, expiresAt: UInt64) {
        self.id = id
        self.user = user
        self.csrf = csrf
        self.expiresAt = expiresAt
    }
}

/// Something an admin should know: a fork, a clamped clock, a device enrolled, revoked or renewed.
public struct HubEvent: Sendable, Hashable {
    /// The kind of event.
    public struct Kind: RawRepresentable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let deviceEnrolled = Kind(rawValue: "device_enrolled")
        public static let deviceRevoked = Kind(rawValue: "device_revoked")
        public static let deviceRenewed = Kind(rawValue: "device_renewed")
        public static let replicaForked = Kind(rawValue: "replica_forked")
        public static let counterBackwards = Kind(rawValue: "counter_backwards")
        public static let clockSkewClamped = Kind(rawValue: "clock_skew_clamped")
        public static let conflictResolved = Kind(rawValue: "conflict_resolved")
        public static let userChanged = Kind(rawValue: "user_changed")
        public static let tombstonesPurged = Kind(rawValue: "tombstones_purged")
    }

    /// Assigned by the store.
    public var id: Int64
    public var at: UInt64
    public var kind: Kind
    public var replica: ReplicaID?
    public var user: String?
    /// A sentence for people: never a secret or a field value.
    public var detail: String

    public init(id: Int64 = 0, at: UInt64, kind: Kind, replica: ReplicaID? = nil, user: String? = nil, detail: String) {
        self.id = id
        self.at = at
        self.kind = kind
        self.replica = replica
        self.user = user
        self.detail = detail
    }
}

/// The hub's singleton state.
public struct HubMeta: Sendable, Hashable {
    /// The highest sequence handed out.
    public var head: UInt64
    /// The highest sequence of a tombstone purged for age: a device whose cursor (not 0) is below
    /// it must bootstrap.
    public var purgeHorizon: UInt64
    /// The hub replica's (0) last counter, for admins' writes.
    public var hubCounter: UInt64
    /// The hub's HLC, for admins' writes.
    public var hubClock: HLC
    /// The next replica number to hand out.
    public var nextReplica: UInt32

    public init(head: UInt64, purgeHorizon: UInt64, hubCounter: UInt64, hubClock: HLC, nextReplica: UInt32) {
        self.head = head
        self.purgeHorizon = purgeHorizon
        self.hubCounter = hubCounter
        self.hubClock = hubClock
        self.nextReplica = nextReplica
    }
}

/// Figures about how the store commits: group commit shows as fewer commits than transactions.
public struct HubStoreStatistics: Sendable, Hashable {
    /// Write transactions run (each a savepoint inside a shared commit).
    public var transactions: Int
    /// Commits (each one `fsync`).
    public var commits: Int
    /// The most transactions that shared one commit.
    public var largestGroup: Int

    public init(transactions: Int = 0, commits: Int = 0, largestGroup: Int = 0) {
        self.transactions = transactions
        self.commits = commits
        self.largestGroup = largestGroup
    }
}

/// One accepted write as the hub applied it, from a device's push or from the hub itself (an admin's
/// resolution): the rows the field history of the admin review is read from (docs/ADMIN.md).
///
/// It keeps every value the write carried, whether the merge kept it or not: a value that lost to a
/// concurrent one is still in the history.
public struct HistoryEntry: Sendable, Hashable {
    /// The hub sequence the write took.
    public var seq: UInt64
    /// The record's collection.
    public var collection: String
    /// The record's id (lowercase).
    public var recordID: String
    /// The write's dot: the replica (device; 0 for the hub's own writes) and its counter.
    public var dot: Dot
    /// The write's HLC (after clamping), i.e. when it was typed.
    public var hlc: HLC
    /// Who wrote it: the device's salesperson, or the admin for a resolution.
    public var user: String
    /// When the hub accepted it, in milliseconds since 1970.
    public var at: UInt64
    /// The values the write carried (none for a delete).
    public var fields: [String: Value]
    /// Whether the write deleted the record.
    public var deleted: Bool

    /// An entry.
    public init(
        seq: UInt64, collection: String, recordID: String, dot: Dot, hlc: HLC, user: String, at: UInt64,
        fields: [String: Value], deleted: Bool
    ) {
        self.seq = seq
        self.collection = collection
        self.recordID = recordID
        self.dot = dot
        self.hlc = hlc
        self.user = user
        self.at = at
        self.fields = fields
        self.deleted = deleted
    }
}
