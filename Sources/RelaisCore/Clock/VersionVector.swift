/// A sparse version vector: for each replica, the highest counter whose writes are folded in.
///
/// Replicas absent from the map count as zero. Vectors are joined (entry-wise maximum) when writes
/// meet, compared to tell "happened before" from "concurrent", and asked whether they cover a dot.
///
/// ```swift
/// var seen = VersionVector([ReplicaID(2): 5])
/// seen.covers(Dot(replica: ReplicaID(2), counter: 4))   // true
/// seen.join(VersionVector([ReplicaID(3): 1]))
/// ```
public struct VersionVector: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Non-zero entries only; a zero entry is never stored, so equal vectors compare equal.
    public private(set) var entries: [ReplicaID: UInt64]

    public init() { entries = [:] }

    public init(_ entries: [ReplicaID: UInt64]) {
        self.entries = entries.filter { $0.value > 0 }
    }

    /// The empty vector: nothing seen.
    public static let empty = VersionVector()

    public var isEmpty: Bool { entries.isEmpty }

    /// The counter recorded for `replica` (zero if absent).
    public subscript(replica: ReplicaID) -> UInt64 {
        get { entries[replica] ?? 0 }
        set {
            if newValue == 0 { entries[replica] = nil } else { entries[replica] = newValue }
        }
    }

    /// Whether the write `dot` is folded into this vector.
    public func covers(_ dot: Dot) -> Bool { self[dot.replica] >= dot.counter }

    /// Whether every write folded into `other` is folded into this vector too.
    public func dominates(_ other: VersionVector) -> Bool {
        other.entries.allSatisfy { self[$0.key] >= $0.value }
    }

    /// Adds `dot` to the vector.
    public mutating func add(_ dot: Dot) {
        if self[dot.replica] < dot.counter { self[dot.replica] = dot.counter }
    }

    /// The entry-wise maximum of the two vectors. Commutative, associative and idempotent.
    public mutating func join(_ other: VersionVector) {
        for (replica, counter) in other.entries where self[replica] < counter {
            entries[replica] = counter
        }
    }

    /// The entry-wise maximum of the two vectors.
    public func joined(_ other: VersionVector) -> VersionVector {
        var copy = self
        copy.join(other)
        return copy
    }

    /// How two vectors relate in the happened-before order.
    public enum Ordering: Sendable, Equatable {
        case equal, before, after, concurrent
    }

    /// Compares this vector with `other`: `.before` when this one is strictly dominated by `other`.
    public func compare(_ other: VersionVector) -> Ordering {
        let geq = dominates(other)
        let leq = other.dominates(self)
        switch (geq, leq) {
        case (true, true): return .equal
        case (true, false): return .after
        case (false, true): return .before
        case (false, false): return .concurrent
        }
    }

    /// Removes a retired replica's entry.
    ///
    /// Only safe once every node has folded that replica's writes into its state (the hub knows this
    /// from acknowledged cursors): afterwards the writes are simply part of the baseline.
    public mutating func retire(_ replica: ReplicaID) {
        entries[replica] = nil
    }

    /// Entries sorted by replica, the canonical order used on the wire and in storage.
    public var sortedEntries: [(replica: ReplicaID, counter: UInt64)] {
        entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    public var description: String {
        "[" + sortedEntries.map { "\($0.replica.rawValue):\($0.counter)" }.joined(separator: ",") + "]"
    }

    // Coded as a flat array [replica, counter, replica, counter, ...] in replica order: compact and
    // deterministic, which matters because vectors are stored as text by both replica and hub.
    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var entries: [ReplicaID: UInt64] = [:]
        while !container.isAtEnd {
            let replica = try container.decode(UInt32.self)
            guard !container.isAtEnd else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "version vector has an odd number of items")
            }
            let counter = try container.decode(UInt64.self)
            if counter > 0 { entries[ReplicaID(replica)] = counter }
        }
        self.entries = entries
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for entry in sortedEntries {
            try container.encode(entry.replica.rawValue)
            try container.encode(entry.counter)
        }
    }
}
