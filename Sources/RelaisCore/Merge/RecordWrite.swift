/// One write to one record, as a replica sends it: the fields it sets (or a delete), the dot and
/// HLC time it was stamped with, and its context, the record's version vector as the writer last
/// saw it from the hub.
public struct RecordWrite: Hashable, Sendable {
    /// What the write does.
    public enum Change: Hashable, Sendable {
        /// Sets the given fields (creating the record if the hub does not have it).
        case upsert([String: Value])
        /// Deletes the record.
        case delete
    }

    public var collection: String
    public var recordID: String
    public var context: VersionVector
    public var dot: Dot
    public var hlc: HLC
    /// The user who made the write; the hub sets it from the device token, never from the client.
    public var author: String
    public var change: Change

    public init(
        collection: String, recordID: String, context: VersionVector, dot: Dot, hlc: HLC, author: String,
        change: Change
    ) {
        self.collection = collection
        self.recordID = recordID
        self.context = context
        self.dot = dot
        self.hlc = hlc
        self.author = author
        self.change = change
    }

    /// The field values set, or empty for a delete.
    public var fieldValues: [String: Value] {
        if case .upsert(let values) = change { values } else { [:] }
    }

    public var isDelete: Bool { change == .delete }
}
