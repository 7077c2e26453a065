public import RelaisCore

// Conflict reports as a hub store keeps them, the decisions admins make on them, and the filter that
// lists them.

/// An admin's decision on a conflict report.
public struct ConflictResolution: Sendable, Hashable, Codable {
    /// The admin who decided.
    public var by: String
    /// When the admin decided, in milliseconds since 1970.
    public var at: UInt64
    /// Why, in the admin's words; empty when none was given.
    public var reason: String
    /// The value written, or `nil` when the decision deleted the record or kept it as it was.
    public var value: Value?
    /// Whether the decision deleted the record (the delete side of a `delete-update`).
    public var deleted: Bool

    /// A decision.
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
    /// The report's id: a random UUID in lowercase canonical form.
    public var id: String
    /// When the hub raised the report, in milliseconds since 1970.
    public var createdAt: UInt64
    /// The hub sequence of the write that raised it.
    public var seq: UInt64
    /// What met: the record, field and rule, the competing values, the value chosen, the status.
    public var conflict: Conflict
    /// The record's scope when the report was written.
    public var scope: String?
    /// The admin's decision, the latest if overturned; `nil` until an admin resolves the report.
    public var resolution: ConflictResolution?

    /// A report, unresolved unless `resolution` is given.
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

    /// Where the report stands.
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

    /// A filter: every criterion `nil` (any) unless given, the first page of 100.
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
