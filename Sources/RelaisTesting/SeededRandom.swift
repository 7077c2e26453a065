import Foundation
import RelaisCore

/// The tests' one seeded random source: RelaisCore's `SplitMix64` with the draws the tests need, and
/// the one seed variable, `RELAIS_SEED`.
///
/// The same seed gives the same sequence on every platform and Swift version, so a failing run
/// replays exactly from the seed it prints (docs/RELIABILITY.md). ``next()`` is SplitMix64's own
/// sequence: a test that draws with `next() % n` gets the numbers a bare `SplitMix64` gave it.
///
/// ```swift
/// static let seed = SeededRandom.seed(default: 20_261_128)   // RELAIS_SEED when set
/// var random = SeededRandom(seed: Self.seed)
/// let delay = random.int(40...260)
/// ```
public struct SeededRandom: RandomNumberGenerator, Sendable {
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

    /// A number in `0..<n` straight from the sequence (`next() % n`: the modulo bias is negligible
    /// for the small `n` tests use).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    /// `items` in a random order: Fisher–Yates on this sequence (the standard library's shuffle may
    /// change between versions, and a seed must replay).
    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        var items = items
        guard items.count > 1 else { return items }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, below(i + 1)) }
        return items
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }

    /// The run's seed: `RELAIS_SEED` when set (decimal, or hexadecimal after `0x`), else `fallback`.
    ///
    /// Each seeded suite passes its own fixed default, so CI is reproducible and `RELAIS_SEED=N` explores.
    public static func seed(default fallback: UInt64) -> UInt64 {
        ProcessInfo.processInfo.environment["RELAIS_SEED"].flatMap(parseSeed) ?? fallback
    }

    /// `12345` or `0x3039` (underscores allowed in the hexadecimal form); nil when neither.
    public static func parseSeed(_ text: String) -> UInt64? {
        let text = text.trimmingCharacters(in: .whitespaces).lowercased()
        if text.hasPrefix("0x") { return UInt64(text.dropFirst(2).replacingOccurrences(of: "_", with: ""), radix: 16) }
        return UInt64(text)
    }
}
