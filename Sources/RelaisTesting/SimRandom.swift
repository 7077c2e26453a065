import RelaisCore

/// A seeded, reproducible random number generator (SplitMix64) for the fault simulation and the fuzzer.
///
/// The same seed gives the same sequence on every platform, so a failing schedule replays exactly.
public struct SimRandom: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64

    /// A generator seeded with `seed`.
    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    /// A generator for schedule `schedule` of the run seeded with `seed` (independent streams).
    public init(seed: UInt64, schedule: Int) {
        var mixer = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: schedule) &* 0x9E37_79B9_7F4A_7C15))
        generator = SplitMix64(seed: mixer.next())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 { generator.next() }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// A uniformly chosen integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// A uniformly chosen element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}
