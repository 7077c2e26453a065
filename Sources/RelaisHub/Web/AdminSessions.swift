import Foundation

/// The admin pages' server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie
/// (Path=/admin), the admin it belongs to, a CSRF token every POST form must carry, and an expiry
/// that slides with use, within an absolute lifetime: a session ends 12 hours after sign-in however
/// busy it was (docs/SECURITY.md). The cookie's value is `<sign-in time in ms>.<32 random bytes as
/// hex>`; the store keeps the SHA-256 of the whole value, so the time cannot be changed without
/// making an unknown session.
///
/// Sessions live in the hub's store (only the SHA-256 of each id), so that with several hubs behind
/// a load balancer any hub serves any page, and a hub's restart signs nobody out.
struct AdminSessions: Sendable {
    let store: any HubStore
    /// How long an idle session lives. Default 8 hours.
    let idleMillis: UInt64
    /// How long a session lives after sign-in, used or not. Default 12 hours.
    let lifetimeMillis: UInt64

    init(store: any HubStore, idleMillis: UInt64 = 8 * 3600 * 1000, lifetimeMillis: UInt64 = 12 * 3600 * 1000) {
        self.store = store
        self.idleMillis = idleMillis
        self.lifetimeMillis = lifetimeMillis
    }

    /// 32 random bytes as hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Opens a session for `user`; returns its id (the cookie's value) and the session.
    ///
    /// `confirm` runs first in the transaction that stores the session and throws to store none: the
    /// sign-in reads its token there again, so that a revocation committed after the token was first
    /// checked leaves no session behind (revoking ends the sessions that exist when it commits).
    func open(
        user: String, now: UInt64,
        confirm: @escaping @Sendable (any HubTransaction) async throws -> Void = { _ in }
    ) async throws -> (id: String, session: AdminSession) {
        let id = "\(now).\(Self.randomToken())"
        let session = AdminSession(
            id: Secrets.hash(id), user: user, csrf: Self.randomToken(), expiresAt: now + min(idleMillis, lifetimeMillis)
        )
        try await store.write { tx in
            try await confirm(tx)
            try await tx.deleteExpiredAdminSessions(at: now)
            try await tx.insertAdminSession(session)
        }
        return (id, session)
    }

    /// The live session `id`, its expiry extended (never past its absolute lifetime); `nil` if
    /// unknown, expired, or past its lifetime (a value without a sign-in time, from before the
    /// lifetime existed, is past it).
    func session(_ id: String, now: UInt64) async throws -> AdminSession? {
        let hash = Secrets.hash(id)
        // No write for a value that cannot be a live session: a forged cookie costs nothing. The
        // stored expiry never passes the lifetime, so a session past it is also expired in the store.
        // A sign-in time so large that adding the lifetime overflows is no session either.
        guard let signedIn = id.split(separator: ".", maxSplits: 1).first.flatMap({ UInt64($0) }),
            id.contains("."), case (let endsAt, false) = signedIn.addingReportingOverflow(lifetimeMillis),
            now < endsAt
        else { return nil }
        let expiresAt = min(now + idleMillis, endsAt)
        return try await store.write { tx in
            guard var session = try await tx.adminSession(id: hash) else { return nil }
            guard session.expiresAt > now else {
                try await tx.deleteAdminSession(id: hash)
                return nil
            }
            session.expiresAt = expiresAt
            try await tx.touchAdminSession(id: hash, expiresAt: expiresAt)
            return session
        }
    }

    /// Ends session `id`.
    func close(_ id: String) async throws {
        let hash = Secrets.hash(id)
        try await store.write { tx in try await tx.deleteAdminSession(id: hash) }
    }
}

/// Constant-time comparison of two secrets.
func secretsEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for index in x.indices { difference |= x[index] ^ y[index] }
    return difference == 0
}
