#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The hub's wall clock, injected so that HLC clamping, expiry and retention are testable.
public protocol HubClock: Sendable {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    func millisecondsSince1970() -> UInt64
}

/// The system's wall clock.
public struct SystemHubClock: HubClock {
    public init() {}

    public func millisecondsSince1970() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1000 + UInt64(spec.tv_nsec) / 1_000_000
    }
}
