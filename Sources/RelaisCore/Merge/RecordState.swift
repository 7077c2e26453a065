/// One write's value for a field, with its origin. A field holds one sibling after a sequential
/// write, several after concurrent ones, until a write that has seen them all replaces them.
public struct Sibling: Hashable, Sendable, Codable {
    public var value: Value
    public var dot: Dot
    public var hlc: HLC
    /// The user who made the write.
    public var author: String

    public init(value: Value, dot: Dot, hlc: HLC, author: String) {
        self.value = value
        self.dot = dot
        self.hlc = hlc
        self.author = author
    }

    /// The position of this write in the `lww` order.
    public var order: WriteOrder { WriteOrder(hlc: hlc, replica: dot.replica) }
}

/// The state of one field: the writes not yet superseded (its siblings) and the base they started from.
///
/// The field's value is its merge rule applied to the siblings, so it depends only on which writes
/// were seen, never on the order they arrived in.
public struct FieldState: Hashable, Sendable, Codable {
    /// Sorted by ``WriteOrder``, the latest last. Never empty for a stored field.
    public var siblings: [Sibling]
    /// The value the current siblings replaced, where known: the base of a conflict report.
    public var base: Value?

    public init(siblings: [Sibling], base: Value? = nil) {
        self.siblings = siblings.sorted { $0.order < $1.order }
        self.base = base
    }

    /// The latest sibling in the `lww` order: the field's reported dot and HLC.
    public var latest: Sibling? { siblings.last }

    /// The field's current value under `rule`.
    public func value(rule: MergeRule) -> Value {
        rule.resolve(siblings)
    }
}

/// A record's deletion.
public struct Tombstone: Hashable, Sendable, Codable {
    public var dot: Dot
    public var hlc: HLC
    public var author: String
    /// Other deletes of the record, concurrent with this one and made, like it, after every update:
    /// in ``WriteOrder``, earlier than this one, each without concurrent deletes of its own. Usually
    /// empty. An update that revives the record reports each delete it had not seen.
    public var concurrent: [Tombstone]

    public init(dot: Dot, hlc: HLC, author: String, concurrent: [Tombstone] = []) {
        self.dot = dot
        self.hlc = hlc
        self.author = author
        self.concurrent = concurrent
    }

    private enum CodingKeys: String, CodingKey {
        case dot, hlc, author, concurrent
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dot = try container.decode(Dot.self, forKey: .dot)
        hlc = try container.decode(HLC.self, forKey: .hlc)
        author = try container.decode(String.self, forKey: .author)
        concurrent = try container.decodeIfPresent([Tombstone].self, forKey: .concurrent) ?? []
    }

    /// This delete and the concurrent ones, each on its own.
    public var deletes: [Tombstone] {
        concurrent + [Tombstone(dot: dot, hlc: hlc, author: author)]
    }

    var order: WriteOrder { WriteOrder(hlc: hlc, replica: dot.replica) }
}

/// Everything the merge engine knows of one record: its version vector, each field's state, and
/// its tombstone if it is deleted.
///
/// A deleted record keeps its field states, so that an update concurrent with the delete revives
/// the record whole and an admin can reinstate it.
public struct RecordState: Hashable, Sendable, Codable {
    public var collection: String
    public var id: String
    /// Every write folded into the record, and the contexts its writers had seen.
    public var vector: VersionVector
    public var fields: [String: FieldState]
    public var tombstone: Tombstone?

    public init(
        collection: String, id: String, vector: VersionVector = .empty, fields: [String: FieldState] = [:],
        tombstone: Tombstone? = nil
    ) {
        self.collection = collection
        self.id = id
        self.vector = vector
        self.fields = fields
        self.tombstone = tombstone
    }

    public var isDeleted: Bool { tombstone != nil }

    /// The current value of every stored field under the collection's rules (nulls included).
    public func values(in collection: CollectionSchema) -> [String: Value] {
        var result: [String: Value] = [:]
        for (name, state) in fields {
            guard let field = collection.field(name) else { continue }
            result[name] = state.value(rule: field.rule)
        }
        return result
    }

    /// The current value of `field`, or `.null`.
    public func value(of field: FieldSchema) -> Value {
        fields[field.name]?.value(rule: field.rule) ?? .null
    }
}
