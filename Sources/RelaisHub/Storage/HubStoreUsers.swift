public import RelaisCore

// Who may use the hub, as a hub store keeps them: users, their enrollment codes, admin API tokens and
// admin web sessions. Secrets are kept only as hashes.

/// A person who may enroll devices.
public struct HubUser: Sendable, Hashable {
    /// The user's name, unique on the hub: devices, tokens and the writes they author refer to it.
    public var name: String
    /// What the user may see and write.
    public var role: Role
    /// The territories whose records the user sees (an admin sees all): sorted, without duplicates.
    public var territories: [String]
    /// Bumped whenever the role or territories change: a device that bootstrapped under an older
    /// version must bootstrap again.
    public var scopeVersion: Int64
    /// When the user was added, in milliseconds since 1970.
    public var createdAt: UInt64
    /// When an admin disabled the user, in milliseconds since 1970; `nil` while enabled. A disabled
    /// user's devices, codes, tokens and sessions do not work, and no new ones are issued.
    public var disabledAt: UInt64?

    /// A user; `territories` are deduplicated and sorted.
    public init(
        name: String, role: Role, territories: [String], scopeVersion: Int64 = 1, createdAt: UInt64,
        disabledAt: UInt64? = nil
    ) {
        self.name = name
        self.role = role
        self.territories = Array(Set(territories)).sorted()
        self.scopeVersion = scopeVersion
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }

    /// Whether an admin disabled the user.
    public var isDisabled: Bool { disabledAt != nil }
}

/// A one-time enrollment code (only its hash is kept).
public struct Enrollment: Sendable, Hashable {
    /// The key: the lowercase hex SHA-256 of the normalised code (``Secrets/hashEnrollmentCode(_:)``).
    public var codeHash: String
    /// The user whose device the code enrolls.
    public var user: String
    /// When the code was issued, in milliseconds since 1970.
    public var createdAt: UInt64
    /// When the code stops working, in milliseconds since 1970: it enrolls a device only before then.
    public var expiresAt: UInt64
    /// When the code was used, in milliseconds since 1970; `nil` while unused.
    public var usedAt: UInt64?
    /// The replica it enrolled, if it was used.
    public var replica: ReplicaID?
    /// The SHA-256 of the `attempt` the enrollment that used the code sent, with the
    /// `previous_replica` it named (``Secrets/hash(_:)`` of `attempt/previous_replica`); `nil` while
    /// unused, when it sent none, or once forgotten.
    public var attemptHash: String?
    /// The token that enrollment was given, sealed with a key only its attempt gives
    /// (``Secrets/sealToken(_:attempt:)``), so that the same attempt gets the same answer again.
    public var sealedToken: String?

    /// An enrollment code, unused unless `usedAt` and `replica` say otherwise.
    public init(
        codeHash: String, user: String, createdAt: UInt64, expiresAt: UInt64, usedAt: UInt64? = nil,
        replica: ReplicaID? = nil, attemptHash: String? = nil, sealedToken: String? = nil
    ) {
        self.codeHash = codeHash
        self.user = user
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.replica = replica
        self.attemptHash = attemptHash
        self.sealedToken = sealedToken
    }

    /// Whether the code still enrolls a device at `time`: unused and not expired.
    public func enrolls(at time: UInt64) -> Bool { usedAt == nil && expiresAt > time }

    /// How long after its use a code answers again the enrollment that used it: longer than a
    /// laptop's three attempts (each may wait 60 s for its answer), short enough that a request body
    /// seen later (a log, a proxy) is worth nothing. 10 minutes.
    public static let answersAgainForMillis: UInt64 = 10 * 60 * 1000

    /// Whether the code, used, may answer again at `time` the enrollment that used it, whose answer
    /// was lost: the same attempt (its hash `attemptHash`), within ``answersAgainForMillis`` of the
    /// use, and the code not expired. The device it made must also not have synced since, and still
    /// hold that token (``HubService/enroll(_:)`` checks that).
    public func answersAgain(attemptHash: String?, at time: UInt64) -> Bool {
        guard let attemptHash, let usedAt, replica != nil, sealedToken != nil, expiresAt > time,
            time < usedAt &+ Self.answersAgainForMillis
        else { return false }
        return self.attemptHash == attemptHash
    }
}

/// An admin API token (not a device: it cannot sync). Only its hash is kept.
public struct APIToken: Sendable, Hashable {
    /// The lowercase hex SHA-256 of the token (``Secrets/hash(_:)``): the key.
    public var tokenHash: String
    /// The admin the token authenticates as.
    public var user: String
    /// When the token was issued, in milliseconds since 1970.
    public var createdAt: UInt64
    /// When the token was revoked, in milliseconds since 1970; `nil` while it works.
    public var revokedAt: UInt64?

    /// A token, valid unless `revokedAt` is given.
    public init(tokenHash: String, user: String, createdAt: UInt64, revokedAt: UInt64? = nil) {
        self.tokenHash = tokenHash
        self.user = user
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// How many hex digits of the hash ``id`` shows.
    public static let idLength = 12

    /// The token's short id: the first 12 hex digits of its hash. It names the token in lists and
    /// revocations without revealing it (the hash cannot be turned back into the token).
    public var id: String { String(tokenHash.prefix(Self.idLength)) }

    /// The short id of `token` (a token as issued, not its hash).
    public static func id(ofToken token: String) -> String { String(Secrets.hash(token).prefix(idLength)) }
}

/// A signed-in admin's web session, kept in the store so that any hub serves any page.
public struct AdminSession: Sendable, Hashable {
    /// The SHA-256 (hex) of the session id, which is 32 random bytes as hex sent in an HttpOnly cookie:
    /// the store never holds the id itself.
    public var id: String
    /// The admin it belongs to.
    public var user: String
    /// The token every POST form of the session must carry.
    public var csrf: String
    /// When it expires unless used (milliseconds since 1970).
    public var expiresAt: UInt64

    /// A session.
    public init(id: String, user: String, csrf: String, expiresAt: UInt64) {
        self.id = id
        self.user = user
        self.csrf = csrf
        self.expiresAt = expiresAt
    }
}
