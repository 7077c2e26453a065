/// Where a conflict report stands.
public enum ConflictStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// The merge rule decided; an admin may still overturn it.
    case autoResolved = "auto-resolved"
    /// A `manual` field: the `lww` winner stands provisionally until an admin decides.
    case open
    /// An admin decided.
    case resolved
}

/// One of the values that met in a conflict, with its origin.
public struct Competitor: Hashable, Sendable, Codable {
    /// The value written; `nil` for the delete side of a `delete-update` conflict.
    public var value: Value?
    /// Whether this competitor deleted the record.
    public var deleted: Bool
    public var dot: Dot
    public var hlc: HLC
    public var author: String

    public init(value: Value?, deleted: Bool = false, dot: Dot, hlc: HLC, author: String) {
        self.value = value
        self.deleted = deleted
        self.dot = dot
        self.hlc = hlc
        self.author = author
    }

    init(_ sibling: Sibling) {
        self.init(value: sibling.value, dot: sibling.dot, hlc: sibling.hlc, author: sibling.author)
    }
}

/// A conflict the merge engine found: concurrent writes with different values for one field, or a
/// delete concurrent with an update. The hub stores it as a report with an id and a time.
public struct Conflict: Hashable, Sendable {
    /// The rule name reported for a delete concurrent with an update.
    public static let deleteUpdateRule = "delete-update"

    public var collection: String
    public var recordID: String
    /// The field, or `nil` for a `delete-update` conflict, which concerns the whole record.
    public var field: String?
    /// `lww`, `union`, `append`, `max`, `min`, `manual` or `delete-update`.
    public var rule: String
    /// What the writers started from, where known.
    public var base: Value?
    /// Every competing value, in `(hlc, replica)` order.
    public var values: [Competitor]
    /// The value the rule chose; `nil` for `delete-update` (the record is kept).
    public var chosen: Value?
    public var status: ConflictStatus

    public init(
        collection: String, recordID: String, field: String?, rule: String, base: Value?, values: [Competitor],
        chosen: Value?, status: ConflictStatus
    ) {
        self.collection = collection
        self.recordID = recordID
        self.field = field
        self.rule = rule
        self.base = base
        self.values = values
        self.chosen = chosen
        self.status = status
    }
}
