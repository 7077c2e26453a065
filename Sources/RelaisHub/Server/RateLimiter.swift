import Synchronization

/// How often one key (an address, a token, a device) may do something: a token bucket that holds
/// ``perMinute`` tokens, starts full and refills at ``perMinute`` tokens a minute. Each request takes a
/// token; with none left the answer is `429 rate_limited` and a `Retry-After` of the seconds until the
/// next token.
public struct RateLimit: Sendable, Hashable {
    /// Requests a minute, and as many at once (the bucket's size). 0: no limit.
    public var perMinute: Int

    /// `perMinute` requests a minute per key; 0 turns the limit off.
    public init(perMinute: Int) {
        self.perMinute = perMinute
    }

    /// No limit.
    public static let unlimited = RateLimit(perMinute: 0)
}

/// One key's bucket: its tokens at ``updatedAt`` (milliseconds on a ``HubClock``). A value with no
/// clock of its own, so its arithmetic is tested by passing times.
public struct TokenBucket: Sendable, Hashable {
    /// The bucket's size.
    public let capacity: Double
    /// Tokens added each millisecond.
    public let refillPerMilli: Double
    /// Tokens left at ``updatedAt``.
    public private(set) var tokens: Double
    /// When ``tokens`` was last brought up to date.
    public private(set) var updatedAt: UInt64

    /// A full bucket for `limit` at `now` (which must not be unlimited).
    public init(limit: RateLimit, now: UInt64) {
        capacity = Double(max(limit.perMinute, 1))
        refillPerMilli = capacity / 60_000
        tokens = capacity
        updatedAt = now
    }

    /// Takes a token at `now`; when none is left, returns the milliseconds until there will be one
    /// and takes nothing.
    public mutating func take(now: UInt64) -> UInt64? {
        refill(now: now)
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return UInt64(((1 - tokens) / refillPerMilli).rounded(.up))
    }

    /// Gives a token back (a request that turned out to cost nothing, such as a successful sign-in).
    public mutating func giveBack(now: UInt64) {
        refill(now: now)
        tokens = min(capacity, tokens + 1)
    }

    /// Whether the bucket would be full at `now`: then it is the same as no bucket at all.
    public func isFull(at now: UInt64) -> Bool {
        var copy = self
        copy.refill(now: now)
        return copy.tokens >= capacity
    }

    /// A wall clock turned back counts as no time passing.
    private mutating func refill(now: UInt64) {
        guard now > updatedAt else { return }
        tokens = min(capacity, tokens + Double(now - updatedAt) * refillPerMilli)
        updatedAt = now
    }
}

/// Token buckets by key, in memory and bounded in size: at ``maxKeys`` keys it first forgets the
/// buckets that have refilled (indistinguishable from new ones), then the least recently used, down to
/// half, so an attacker cycling addresses or tokens cannot grow it without bound. A forgotten key
/// starts again with a full bucket.
///
/// ```swift
/// let limiter = RateLimiter(limit: RateLimit(perMinute: 10))
/// if case .limited(let seconds) = limiter.take("203.0.113.7") { /* 429, Retry-After: seconds */ }
/// ```
public final class RateLimiter: Sendable {
    /// What ``take(_:)`` decided.
    public enum Decision: Sendable, Hashable {
        /// Go ahead: a token was taken.
        case allowed
        /// Over the limit: retry after this many seconds (at least 1).
        case limited(retryAfterSeconds: Int)
    }

    private struct Entry {
        var bucket: TokenBucket
        /// The ``State/uses`` count at its last use: the order of use, whatever the clock says.
        var lastUsed: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var uses: UInt64 = 0
    }

    /// The limit for each key.
    public let limit: RateLimit
    /// The most keys held at once.
    public let maxKeys: Int
    private let clock: any HubClock
    private let state = Mutex(State())

    /// A limiter of `limit` per key, holding at most `maxKeys` keys, on `clock`.
    public init(limit: RateLimit, maxKeys: Int = 10_000, clock: any HubClock = SystemHubClock()) {
        self.limit = limit
        self.maxKeys = max(maxKeys, 2)
        self.clock = clock
    }

    /// Takes a token from `key`'s bucket.
    public func take(_ key: String) -> Decision {
        guard limit.perMinute > 0 else { return .allowed }
        let now = clock.millisecondsSince1970()
        return state.withLock { state in
            if state.entries[key] == nil, state.entries.count >= maxKeys {
                Self.evict(&state.entries, keeping: maxKeys / 2, now: now)
            }
            state.uses += 1
            var entry = state.entries[key] ?? Entry(bucket: TokenBucket(limit: limit, now: now), lastUsed: 0)
            let wait = entry.bucket.take(now: now)
            entry.lastUsed = state.uses
            state.entries[key] = entry
            guard let wait else { return .allowed }
            return .limited(retryAfterSeconds: max(1, Int((wait + 999) / 1000)))
        }
    }

    /// Gives back the token a request took from `key` (it turned out to cost nothing).
    public func giveBack(_ key: String) {
        guard limit.perMinute > 0 else { return }
        let now = clock.millisecondsSince1970()
        state.withLock { state in
            state.entries[key]?.bucket.giveBack(now: now)
        }
    }

    /// The number of keys held.
    public var keyCount: Int { state.withLock { $0.entries.count } }

    /// Forgets the full buckets, then the least recently used, until at most `keeping` keys are left.
    private static func evict(_ entries: inout [String: Entry], keeping: Int, now: UInt64) {
        entries = entries.filter { !$0.value.bucket.isFull(at: now) }
        guard entries.count > keeping else { return }
        let oldest = entries.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(entries.count - keeping)
        for (key, _) in oldest { entries[key] = nil }
    }
}
