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
    /// When ``tokenHash`` stops working, in milliseconds since 1970; `nil` for a token issued before
    /// tokens expired (it works until the device rotates it, at its next sync).
    public var tokenExpiresAt: UInt64?
    /// The SHA-256 of the token the last rotation replaced: it may only renew, until
    /// ``previousTokenUntil`` (docs/SECURITY.md "Device tokens").
    public var previousTokenHash: String?
    /// The end of the replaced token's grace window, in milliseconds since 1970.
    public var previousTokenUntil: UInt64?
    /// When an admin asked for the device to be wiped (`relais-hub device wipe`); `nil` otherwise.
    public var wipeRequestedAt: UInt64?
    /// When the device reported its replica erased, in milliseconds since 1970.
    public var wipedAt: UInt64?
    /// What the device reported at its wipe: writes the hub received after the wipe was asked for, and
    /// writes it could not send.
    public var wipeSavedWrites: Int64?
    public var wipeUnsavedWrites: Int64?

    /// A device; its counter and cursor start at 0 unless given.
    public init(
        replica: ReplicaID, user: String, tokenHash: String, name: String, epoch: UInt32 = 1, lineage: ReplicaID,
        createdAt: UInt64, revokedAt: UInt64? = nil, renewedTo: ReplicaID? = nil, highestCounter: UInt64 = 0,
        acknowledgedCursor: UInt64 = 0, scopeVersion: Int64, lastSeenAt: UInt64? = nil, clampedWrites: Int64 = 0,
        tokenExpiresAt: UInt64? = nil, previousTokenHash: String? = nil, previousTokenUntil: UInt64? = nil,
        wipeRequestedAt: UInt64? = nil, wipedAt: UInt64? = nil, wipeSavedWrites: Int64? = nil,
        wipeUnsavedWrites: Int64? = nil
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
        self.tokenExpiresAt = tokenExpiresAt
        self.previousTokenHash = previousTokenHash
        self.previousTokenUntil = previousTokenUntil
        self.wipeRequestedAt = wipeRequestedAt
        self.wipedAt = wipedAt
        self.wipeSavedWrites = wipeSavedWrites
        self.wipeUnsavedWrites = wipeUnsavedWrites
    }

    /// Neither revoked nor renewed: the device syncs.
    public var isActive: Bool { revokedAt == nil && renewedTo == nil }
}
