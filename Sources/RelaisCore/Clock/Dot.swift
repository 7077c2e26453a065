/// A replica number, handed out by the hub when a device enrolls.
///
/// Replica numbers are small so that version vectors stay compact. Number `0` is the hub's own
/// replica: writes an administrator makes (a conflict resolution, a reassignment) are stamped with it.
public struct ReplicaID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// The hub's own replica.
    public static let hub = ReplicaID(0)

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "r\(rawValue)" }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(UInt32.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// One write's identity: the replica that made it and that replica's counter at the time.
///
/// Every replica keeps a persistent counter; each local write takes the next value. A dot is assigned
/// once and never changes, so a replayed write is recognised by its dot.
public struct Dot: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var replica: ReplicaID
    public var counter: UInt64

    public init(replica: ReplicaID, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.replica, lhs.counter) < (rhs.replica, rhs.counter)
    }

    public var description: String { "(\(replica.rawValue),\(counter))" }
}
