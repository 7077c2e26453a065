public import RelaisCore

/// Who a request comes from, as established from its bearer token.
public struct Principal: Sendable, Hashable {
    /// The user the token belongs to.
    public var user: String
    /// The user's role.
    public var role: Role
    /// The territories the user sees, sorted.
    public var territories: [String]
    /// The device's replica, or `nil` for an admin API token (which cannot sync).
    public var replica: ReplicaID?
    /// Whether the token is the old token of a renewed replica, or one a rotation replaced: it may
    /// only renew (within the grace window).
    public var renewed: Bool
    /// Whether an admin asked for the device to be wiped: it may push what it holds and report the
    /// wipe, nothing else (docs/SECURITY.md "Remote wipe").
    public var wipeRequested: Bool

    public init(
        user: String, role: Role, territories: [String], replica: ReplicaID?, renewed: Bool = false,
        wipeRequested: Bool = false
    ) {
        self.user = user
        self.role = role
        self.territories = territories
        self.replica = replica
        self.renewed = renewed
        self.wipeRequested = wipeRequested
    }

    /// The access rules for this principal.
    public var access: Access { Access(role: role, territories: Set(territories)) }
}

/// Which scopes (territories) a user sees: all of them for an admin, their own for a rep or manager.
public struct Access: Sendable, Hashable {
    public var role: Role
    public var territories: Set<String>

    public init(role: Role, territories: Set<String>) {
        self.role = role
        self.territories = territories
    }

    /// Whether a record in `scope` is visible. A record without a scope (a child whose customer the
    /// hub does not hold) is visible to admins only.
    public func sees(scope: String?) -> Bool {
        if role.seesEverything { return true }
        guard let scope else { return false }
        return territories.contains(scope)
    }
}
