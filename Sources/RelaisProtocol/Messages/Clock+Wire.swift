public import RelaisCore

// Conversions between the wire clock messages and the core clock types.

extension Relais_V1_Dot {
    /// The wire form of `dot`.
    public init(_ dot: Dot) {
        self.init()
        replica = dot.replica.rawValue
        counter = dot.counter
    }

    /// The core dot.
    public var core: Dot { Dot(replica: ReplicaID(replica), counter: counter) }
}

extension Dot {
    /// The dot carried by `proto`.
    public init(_ proto: Relais_V1_Dot) {
        self.init(replica: ReplicaID(proto.replica), counter: proto.counter)
    }
}

extension Relais_V1_VersionVector {
    /// The wire form of `vector`: entries sorted by replica, no zero counters.
    public init(_ vector: VersionVector) {
        self.init()
        entries = vector.sortedEntries.map { entry in
            var wire = Relais_V1_VectorEntry()
            wire.replica = entry.replica.rawValue
            wire.counter = entry.counter
            return wire
        }
    }

    /// The core vector. Entries may come in any order; zero counters are dropped.
    ///
    /// - Throws: ``ProtocolError/invalidMessage`` when a replica appears twice.
    public var core: VersionVector {
        get throws(ProtocolError) { try VersionVector(self) }
    }
}

extension VersionVector {
    /// The vector carried by `proto`. Entries may come in any order; zero counters are dropped.
    ///
    /// - Throws: ``ProtocolError/invalidMessage`` when a replica appears twice.
    public init(_ proto: Relais_V1_VersionVector) throws(ProtocolError) {
        var entries: [ReplicaID: UInt64] = [:]
        entries.reserveCapacity(proto.entries.count)
        for entry in proto.entries {
            let replica = ReplicaID(entry.replica)
            guard entries.updateValue(entry.counter, forKey: replica) == nil else {
                throw ProtocolError.invalidMessage.with(
                    "A version vector names replica \(entry.replica) twice.",
                    ["replica": String(entry.replica)]
                )
            }
        }
        self.init(entries)
    }
}

extension HLC {
    /// The HLC time carried in a `uint64 hlc` field (48 bits of Unix milliseconds, 16 logical bits).
    public init(wire: UInt64) { self.init(rawValue: wire) }
}

extension Relais_V1_RecordVersion {
    /// The dot and HLC time of `field`, one of this record's fields: its own, or, when it carries no
    /// dot, the record's (a page asked for with `compact_dots`, Protocol/README.md section 7.2).
    public func dotAndTime(of field: Relais_V1_FieldVersion) -> (dot: Relais_V1_Dot, hlc: UInt64) {
        field.hasDot || !hasDot ? (field.dot, field.hlc) : (dot, hlc)
    }
}
