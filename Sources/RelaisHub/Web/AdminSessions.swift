import Foundation

/// The admin pages' server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie
/// (Path=/admin), the admin it belongs to, a CSRF token every POST form must carry, and an expiry
/// that slides with use.
///
/// Sessions live in the hub's store (only the SHA-256 of each id), so that with several hubs behind
/// a load balancer any hub serves any page, and a hub's restart signs nobody out.
struct AdminSessions: Sendable {
    let store: any HubStore
    /// How long an idle session lives. Default 8 hours.
    let idleMillis: UInt64

    init(store: any HubStore, idleMillis: UInt64 = 8 * 3600 * 1000) {
        self.store = store
        self.idleMillis = idleMillis
    }

    /// 32 random bytes as hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Opens a session for `user`; returns its id (the cookie's value) and the session.
    func open(user: String, now: UInt64) async throws -> (id: String, session: AdminSession) {
        let id = Self.randomToken()
        let session = AdminSession(
            id: Secrets.hash(id), user: user, csrf: Self.randomToken(), expiresAt: now + idleMillis)
        try await store.write { tx in
            try await tx.deleteExpiredAdminSessions(at: now)
            try await tx.insertAdminSession(session)
        }
        return (id, session)
    }

    /// The live session `id`, its expiry extended; `nil` if unknown or expired.
    func session(_ id: String, now: UInt64) async throws -> AdminSession? {
        let hash = Secrets.hash(id)
        let expiresAt = now + idleMillis
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
