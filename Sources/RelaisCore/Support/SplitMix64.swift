/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny seeded generator that gives the same sequence on
/// every platform and Swift version.
///
/// Relais uses it wherever a run must replay from its seed: the demo's simulated week, the fault
/// simulation's schedules, the property tests and the crash tests' kill points. Not for secrets (tokens
/// and enrollment codes come from the system's generator).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator seeded with `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
