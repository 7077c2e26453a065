import RelaisCore

/// A local write waiting for the hub's answer (one row of `_relais_pending`).
struct PendingWrite: Sendable, Hashable {
    /// The dot's counter; the dot's replica is the replica's current number.
    var counter: UInt64
    var collection: String
    var recordID: String
    /// The record's version vector as last seen from the hub (with this replica's acknowledged dots),
    /// captured at the record's first edit and kept through coalescing.
    var context: VersionVector
    var hlc: HLC
    var isDelete: Bool
    /// The fields set (empty for a delete).
    var fields: [String: Value]
    /// Sent in a push whose answer has not arrived: never coalesced into, re-sent unchanged.
    var inFlight: Bool
}

/// The hub-confirmed state of a record with pending writes (one row of `_relais_overlay`).
///
/// The visible row is always this state with the pending writes laid on top, in counter order.
struct ConfirmedState: Sendable, Hashable {
    /// Whether the hub holds the record alive (false for a record created here, or deleted).
    var exists: Bool
    /// The confirmed field values (kept for a deleted record, which an update may revive whole).
    var values: [String: Value]

    /// The visible row: this state with `writes` applied in order, or nil when the record is absent.
    func applying(_ writes: [PendingWrite]) -> [String: Value]? {
        var exists = self.exists
        var values = self.values
        for write in writes {
            if write.isDelete {
                exists = false
            } else {
                exists = true
                values.merge(write.fields) { _, new in new }
            }
        }
        return exists ? values : nil
    }

    /// Whether the record is there once `writes` are applied to a state that exists or not: the
    /// existence ``applying(_:)`` gives, without the values.
    static func exists(_ exists: Bool, after writes: [PendingWrite]) -> Bool {
        writes.last.map { !$0.isDelete } ?? exists
    }
}

/// The key of a record across collections.
struct RecordKey: Hashable, Sendable {
    var collection: String
    var id: String
}
