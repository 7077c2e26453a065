import Foundation
import RelaisCore

/// The protocol tests' draws from `SplitMix64` (RelaisCore's seeded generator).
///
/// Property tests derive one seed per case and print it on failure; rerun with `RELAIS_SEED=<base seed>`
/// to get the same inputs.
extension SplitMix64 {
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// The seed for case `index` of a property run: spread out, so neighbouring cases differ.
    static func caseSeed(base: UInt64, index: Int) -> UInt64 {
        var mixer = SplitMix64(seed: base ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return mixer.next()
    }
}

/// The base seed of property runs: `RELAIS_SEED` (the one seed variable of every seeded test; decimal,
/// or hexadecimal after `0x`) when set, else a fixed one.
enum PropertySeed {
    static var base: UInt64 {
        guard let text = Environment.value("RELAIS_SEED")?.trimmingCharacters(in: .whitespaces).lowercased() else {
            return 0x5EED_2026_1128
        }
        let seed =
            text.hasPrefix("0x")
            ? UInt64(text.dropFirst(2).replacingOccurrences(of: "_", with: ""), radix: 16) : UInt64(text)
        return seed ?? 0x5EED_2026_1128
    }
}
