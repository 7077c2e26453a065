public import RelaisCore

// What a hub store keeps of each pushed or accepted write: its result, for replays, and its history,
// for the admin review.

/// What became of one pushed write: kept so that a replay is answered the same.
public struct StoredWriteResult: Sendable, Hashable {
    /// The write's outcome.
    public enum Status: String, Sendable, Hashable, Codable {
        /// Accepted (merged, or already held), with no conflict report.
        case applied
        /// Merged, and raised the conflict reports `conflictIDs` names.
        case conflict
        /// Refused: nothing changed; `code` and `reason` say why.
        case rejected
    }

    /// The write's dot: the replica that pushed it and its counter (the key).
    public var dot: Dot
    /// SHA-256 of the write's canonical binary encoding.
    public var digest: [UInt8]
    /// What became of the write.
    public var status: Status
    /// The ids of the conflict reports the write raised; empty unless `status` is `conflict`.
    public var conflictIDs: [String]
    /// The rejection code (a `RejectionCode` raw value); empty unless `status` is `rejected`.
    public var code: String
    /// Why the write was rejected, for people; empty unless `status` is `rejected`.
    public var reason: String

    /// A write's result.
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
