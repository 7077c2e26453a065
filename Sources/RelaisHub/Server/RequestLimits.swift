import Crypto
import Foundation
import Hummingbird
import RelaisCore

/// The rate limits the routes apply (``HubServer/Edges``): per address and per secret tried on
/// enrollment and admin sign-in, per device on push and pull. Secrets are keyed by a hash prefix, so the
/// limiter never holds a code or a token in clear.
struct RequestLimits: Sendable {
    let enroll: RateLimiter
    let signIn: RateLimiter
    let sync: RateLimiter

    init(edges: HubServer.Edges) {
        enroll = RateLimiter(limit: edges.enrollRate, maxKeys: edges.maxRateKeys, clock: edges.clock)
        signIn = RateLimiter(limit: edges.signInRate, maxKeys: edges.maxRateKeys, clock: edges.clock)
        sync = RateLimiter(limit: edges.syncRate, maxKeys: edges.maxRateKeys, clock: edges.clock)
    }

    /// The keys of an attempt from `peer` with `secret`.
    static func attemptKeys(peer: String, secret: String) -> [String] {
        let digest = SHA256.hash(data: Data(secret.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        return ["address:\(peer)", "secret:\(digest)"]
    }

    /// Takes a token for each key from `limiter`, or throws ``RateLimited`` with the longest wait (the
    /// tokens already taken stay taken: an attempt over one limit still counts against the others).
    static func take(_ limiter: RateLimiter, keys: [String], what: String) throws {
        var wait = 0
        for key in keys {
            if case .limited(let seconds) = limiter.take(key) { wait = max(wait, seconds) }
        }
        if wait > 0 { throw RateLimited(retryAfterSeconds: wait, message: "Too many \(what); retry later.") }
    }

    /// Gives back the tokens of an attempt that succeeded.
    static func giveBack(_ limiter: RateLimiter, keys: [String]) {
        for key in keys { limiter.giveBack(key) }
    }

    /// Takes a token for a push or pull of `principal`'s device (its user for a token without one).
    func takeSync(_ principal: Principal) throws {
        let key = principal.replica.map { "replica:\($0.rawValue)" } ?? "user:\(principal.user)"
        try Self.take(sync, keys: [key], what: "sync requests from this device")
    }

    /// Takes a token for a renewal by one of `principal`'s user's devices, from the enrollment limit:
    /// each renewal makes a device and takes a replica number, so the tokens of those that succeed
    /// are not given back. Keyed by user, not by replica: each renewal gives a new replica, so a
    /// per-replica key would let a chain of renewals start afresh at every step. A file copied a few
    /// times renews once per copy, well under the limit; a stolen token makes devices at most at the
    /// enrollment rate, each one in the audit log.
    func takeRenewal(_ principal: Principal) throws {
        try Self.take(enroll, keys: ["renew:\(principal.user)"], what: "renewals by this user's devices")
    }
}

/// A request over a rate limit: `429 rate_limited` with `Retry-After` (Protocol/README.md).
struct RateLimited: Error {
    /// Seconds until the request may succeed.
    let retryAfterSeconds: Int
    /// For people.
    let message: String
}
