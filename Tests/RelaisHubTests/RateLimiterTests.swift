import RelaisHub
import RelaisTesting
import Testing

/// The token buckets behind the hub's rate limits, on a test clock.
struct RateLimiterTests {

    /// A bucket of 6 a minute lets 6 requests through at once, refuses the 7th with the wait until the
    /// next token (10 s), and lets one more through once that time has passed.
    @Test func aBucketAllowsItsSizeThenTellsHowLongToWait() {
        let clock = TestClock()
        let limiter = RateLimiter(limit: RateLimit(perMinute: 6), clock: clock)
        for _ in 0..<6 { #expect(limiter.take("203.0.113.7") == .allowed) }
        #expect(limiter.take("203.0.113.7") == .limited(retryAfterSeconds: 10))
        clock.advance(byMillis: 4_000)
        #expect(limiter.take("203.0.113.7") == .limited(retryAfterSeconds: 6))
        clock.advance(byMillis: 6_000)
        #expect(limiter.take("203.0.113.7") == .allowed)
        #expect(limiter.take("203.0.113.7") == .limited(retryAfterSeconds: 10))
        // A minute refills the whole bucket, never more.
        clock.advance(byMillis: 600_000)
        for _ in 0..<6 { #expect(limiter.take("203.0.113.7") == .allowed) }
        #expect(limiter.take("203.0.113.7") != .allowed)
    }

    /// Keys have their own buckets; a token given back (a request that cost nothing) can be taken again.
    @Test func keysAreApartAndATokenCanBeGivenBack() {
        let clock = TestClock()
        let limiter = RateLimiter(limit: RateLimit(perMinute: 2), clock: clock)
        #expect(limiter.take("a") == .allowed)
        #expect(limiter.take("a") == .allowed)
        #expect(limiter.take("a") == .limited(retryAfterSeconds: 30))
        #expect(limiter.take("b") == .allowed)
        limiter.giveBack("a")
        #expect(limiter.take("a") == .allowed)
        #expect(limiter.take("a") != .allowed)
        // Giving back never fills a bucket past its size.
        for _ in 0..<5 { limiter.giveBack("b") }
        #expect(limiter.take("b") == .allowed)
        #expect(limiter.take("b") == .allowed)
        #expect(limiter.take("b") != .allowed)
    }

    /// A wall clock turned back refills nothing and breaks nothing.
    @Test func aClockTurnedBackRefillsNothing() {
        let clock = TestClock()
        let limiter = RateLimiter(limit: RateLimit(perMinute: 1), clock: clock)
        #expect(limiter.take("a") == .allowed)
        clock.turnBack(byMillis: 3_600_000)
        #expect(limiter.take("a") == .limited(retryAfterSeconds: 60))
        clock.advance(byMillis: 3_600_000 + 60_000)
        #expect(limiter.take("a") == .allowed)
    }

    /// An attacker cycling through 20,000 addresses cannot grow the limiter past its bound, and the
    /// address it keeps coming back from stays limited all along (the least recently used go first).
    @Test func keysAreBoundedAndTheBusyOnesAreKept() {
        let clock = TestClock()
        let limiter = RateLimiter(limit: RateLimit(perMinute: 3), maxKeys: 100, clock: clock)
        for _ in 0..<3 { #expect(limiter.take("attacker") == .allowed) }
        for index in 0..<20_000 {
            _ = limiter.take("198.51.100.\(index)")
            #expect(limiter.keyCount <= 100)
            if index % 10 == 0 { #expect(limiter.take("attacker") != .allowed) }
        }
        // Buckets that refilled are forgotten first: after a minute, every cycled key is.
        clock.advance(byMillis: 60_000)
        for index in 0..<60 { _ = limiter.take("192.0.2.\(index)") }
        #expect(limiter.keyCount <= 100)
    }

    /// No limit: everything is allowed and nothing is remembered.
    @Test func zeroIsNoLimit() {
        let limiter = RateLimiter(limit: .unlimited, clock: TestClock())
        for index in 0..<1000 { #expect(limiter.take("k\(index % 3)") == .allowed) }
        #expect(limiter.keyCount == 0)
    }
}
