import Foundation

/// The admin pages' server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie
/// (Path=/admin), the admin it belongs to, a CSRF token every POST form must carry, and an expiry
/// that slides with use.
actor AdminSessions {
    struct Session: Sendable {
        var user: String
        var csrf: String
        var expiresAt: UInt64
    }

    /// How long an idle session lives. Default 8 hours.
    let idleMillis: UInt64
    private var sessions: [String: Session] = [:]

    init(idleMillis: UInt64 = 8 * 3600 * 1000) {
        self.idleMillis = idleMillis
    }

    /// 32 random bytes as hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Opens a session for `user`; returns its id.
    func open(user: String, now: UInt64) -> (id: String, session: Session) {
        sessions = sessions.filter { $0.value.expiresAt > now }
        let id = Self.randomToken()
        let session = Session(user: user, csrf: Self.randomToken(), expiresAt: now + idleMillis)
        sessions[id] = session
        return (id, session)
    }

    /// The live session `id`, its expiry extended; `nil` if unknown or expired.
    func session(_ id: String, now: UInt64) -> Session? {
        guard var session = sessions[id] else { return nil }
        guard session.expiresAt > now else {
            sessions[id] = nil
            return nil
        }
        session.expiresAt = now + idleMillis
        sessions[id] = session
        return session
    }

    /// Ends session `id`.
    func close(_ id: String) {
        sessions[id] = nil
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
