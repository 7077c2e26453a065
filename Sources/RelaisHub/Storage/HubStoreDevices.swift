public import RelaisCore

// The devices a hub store keeps: one row per replica number, renewals included.

/// An enrolled device: one replica number, one token.
public struct Device: Sendable, Hashable {
    /// The device's replica number, the replica of every dot it writes: the key.
    public var replica: ReplicaID
    /// The user the device syncs as.
    public var user: String
    /// The lowercase hex SHA-256 of the device token (``Secrets/hash(_:)``).
    public var tokenHash: String
    /// The name the device gave when it enrolled (`device` when it gave none); renewals keep it.
    public var name: String
    /// 1 at enrollment, +1 at each renewal.
    public var epoch: UInt32
    /// The replica number the device first enrolled with; renewals keep it, so that revoking one
    /// replica revokes its whole line.
    public var lineage: ReplicaID
    /// When the device enrolled, or was renewed into this replica, in milliseconds since 1970.
    public var createdAt: UInt64
    /// When an admin revoked the device's lineage, in milliseconds since 1970; `nil` while not revoked.
    public var revokedAt: UInt64?
    /// The replica this one was renewed into (its token then only renews again).
    public var renewedTo: ReplicaID?
    /// The highest dot counter the hub acknowledged from this replica.
    public var highestCounter: UInt64
    /// The cursor of the device's last pull: everything up to it is applied on the device.
    public var acknowledgedCursor: UInt64
    /// The user's ``HubUser/scopeVersion`` when the device last pulled from cursor 0.
    public var scopeVersion: Int64
    /// When the device last pushed or was served a pull page, in milliseconds since 1970; `nil` until then.
    public var lastSeenAt: UInt64?
    /// How many of its writes had their HLC clamped (a clock running ahead).
    public var clampedWrites: Int64

    /// A device; its counter and cursor start at 0 unless given.
    public init(
        replica: ReplicaID, user: String, tokenHash: String, name: String, epoch: UInt32 = 1, lineage: ReplicaID,
        createdAt: UInt64, revokedAt: UInt64? = nil, renewedTo: ReplicaID? = nil, highestCounter: UInt64 = 0,
        acknowledgedCursor: UInt64 = 0, scopeVersion: Int64, lastSeenAt: UInt64? = nil, clampedWrites: Int64 = 0
    ) {
        self.replica = replica
        self.user = user
        self.tokenHash = tokenHash
        self.name = name
        self.epoch = epoch
        self.lineage = lineage
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.renewedTo = renewedTo
        self.highestCounter = highestCounter
        self.acknowledgedCursor = acknowledgedCursor
        self.scopeVersion = scopeVersion
        self.lastSeenAt = lastSeenAt
        self.clampedWrites = clampedWrites
    }

    /// Neither revoked nor renewed: the device syncs.
    public var isActive: Bool { revokedAt == nil && renewedTo == nil }
}
