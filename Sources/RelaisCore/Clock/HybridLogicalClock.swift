/// A hybrid logical clock time: milliseconds since 1970 in the high 48 bits, a logical counter in
/// the low 16.
///
/// HLC times follow the wall clock closely but never go backwards on one node, and a node that
/// receives a time from elsewhere moves past it. Packed into one `UInt64`, they compare as integers.
public struct HLC: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(physicalMillis: UInt64, logical: UInt16 = 0) {
        self.rawValue = (physicalMillis << 16) | UInt64(logical)
    }

    /// The zero time, earlier than any real write.
    public static let zero = HLC(rawValue: 0)

    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var physicalMillis: UInt64 { rawValue >> 16 }
    /// Tie-breaker among events in the same millisecond.
    public var logical: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    public static func < (lhs: HLC, rhs: HLC) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(physicalMillis).\(logical)" }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(UInt64.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The next time after this one (the logical part carries into the millisecond).
    public var successor: HLC { HLC(rawValue: rawValue &+ 1) }
}

/// The total order used by `lww` and `append`: the later HLC time wins, the higher replica number
/// breaks a tie. Two distinct writes never compare equal, because one replica never stamps two
/// writes with the same HLC time.
public struct WriteOrder: Hashable, Comparable, Sendable {
    public var hlc: HLC
    public var replica: ReplicaID

    public init(hlc: HLC, replica: ReplicaID) {
        self.hlc = hlc
        self.replica = replica
    }

    public static func < (lhs: WriteOrder, rhs: WriteOrder) -> Bool {
        (lhs.hlc, lhs.replica) < (rhs.hlc, rhs.replica)
    }
}

/// A hybrid logical clock (Kulkarni et al.), as a value: the caller supplies the physical time, so
/// the core never reads the wall clock.
///
/// ```swift
/// var clock = HybridLogicalClock()
/// let t1 = clock.now(physicalMillis: wall())          // a local write
/// let t2 = clock.receive(remote, physicalMillis: wall())  // after seeing another node's time
/// ```
public struct HybridLogicalClock: Sendable, Hashable {
    /// The last time this clock issued or observed.
    public private(set) var last: HLC

    public init(last: HLC = .zero) { self.last = last }

    /// A time for a local event: later than every time issued or observed so far, and at least the
    /// physical time.
    public mutating func now(physicalMillis: UInt64) -> HLC {
        let candidate = HLC(physicalMillis: physicalMillis)
        last = candidate > last ? candidate : last.successor
        return last
    }

    /// Observes a time from another node and returns a time later than both it and every earlier
    /// time of this clock.
    public mutating func receive(_ remote: HLC, physicalMillis: UInt64) -> HLC {
        let physical = HLC(physicalMillis: physicalMillis)
        let highest = Swift.max(last, remote)
        last = physical > highest ? physical : highest.successor
        return last
    }

    /// The result of checking a remote time against the allowed skew.
    public struct SkewCheck: Sendable, Equatable {
        /// The time to use: the remote time, or the clamped one.
        public var hlc: HLC
        /// Whether the remote time was more than the allowed skew ahead and was clamped.
        public var clamped: Bool
    }

    /// Clamps `remote` to at most `maxSkewMillis` ahead of `physicalMillis` (DESIGN §4, HLC safety).
    ///
    /// A device whose clock runs far ahead would otherwise win every `lww` contest for as long as its
    /// clock stays ahead. The clamped time keeps the remote logical part, so clamping is deterministic.
    public static func clamp(_ remote: HLC, physicalMillis: UInt64, maxSkewMillis: UInt64) -> SkewCheck {
        let limit = physicalMillis &+ maxSkewMillis
        guard remote.physicalMillis > limit else { return SkewCheck(hlc: remote, clamped: false) }
        return SkewCheck(hlc: HLC(physicalMillis: limit, logical: remote.logical), clamped: true)
    }

    /// The default allowed skew: five minutes.
    public static let defaultMaxSkewMillis: UInt64 = 5 * 60 * 1000
}
