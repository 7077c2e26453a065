import Foundation
import RelaisCore

/// The one property-test harness: seeded cases, the first failing case reported with what replays it.
///
/// A property runs `cases` generated cases (10,000 unless `RELAIS_CASES` or the caller says
/// otherwise), each with its own `SeededRandom` seeded from the run's seed, the property's name and
/// the case number, so properties draw independent streams and any case replays alone. The run's
/// seed is ``SeededRandom/seed(default:)``'s: `RELAIS_SEED` (the one seed variable of every seeded
/// test) when set, else a fixed one, so CI is reproducible and `RELAIS_SEED=N` explores.
/// `RELAIS_CASE=i` runs case `i` only. The first failing case stops the run and is thrown as a
/// ``Failure`` naming the seed, the case and the command that replays it; Swift Testing records a
/// thrown error as the test's failure.
///
/// ```swift
/// @Test func mergeIsCommutative() throws {
///     try Property.check("mergeIsCommutative") { random in
///         let (a, b) = (Values.random(&random), Values.random(&random))
///         return merge(a, b) == merge(b, a) ? nil : "\(a) and \(b) merge differently"
///     }
/// }
/// ```
public enum Property {
    /// The seed of runs without `RELAIS_SEED`.
    public static let defaultSeed: UInt64 = 0x5EED_2026_C0DE_0001

    /// The run's seed: `RELAIS_SEED`, else ``defaultSeed``.
    public static let seed: UInt64 = SeededRandom.seed(default: defaultSeed)

    /// Cases a property runs unless its caller says: `RELAIS_CASES`, else 10,000.
    public static let cases: Int = environment("RELAIS_CASES").flatMap { Int($0) } ?? 10_000

    /// `RELAIS_CASE`: the one case to run, to replay a failure.
    public static let onlyCase: Int? = environment("RELAIS_CASE").flatMap { Int($0) }

    /// A failing case: the property, the run's seed, the case and what broke.
    public struct Failure: Error, CustomStringConvertible {
        public let property: String
        public let seed: UInt64
        public let index: Int
        public let problem: String

        public var description: String {
            """
            seed=\(Property.hex(seed)) case=\(index): \(property): \(problem)
            replay: RELAIS_SEED=\(Property.hex(seed)) RELAIS_CASE=\(index) swift test --filter \(property)
            """
        }
    }

    /// Runs `body` on every case of property `name` with the case's generator; `body` returns a
    /// description of the first broken law, or nil. Throws the first failure (a thrown error counts as
    /// one).
    public static func check(
        _ name: String, cases: Int = Property.cases, _ body: (inout SeededRandom) throws -> String?
    ) throws {
        for index in indices(name, cases) {
            var random = SeededRandom(seed: caseSeed(name, index))
            let problem: String?
            do {
                problem = try body(&random)
            } catch {
                problem = "threw \(error)"
            }
            if let problem { throw Failure(property: name, seed: seed, index: index, problem: problem) }
        }
    }

    /// ``check(_:cases:_:)`` for a property whose cases are asynchronous (a simulated schedule, a
    /// request to a hub).
    public static func check(
        _ name: String, cases: Int = Property.cases, _ body: (inout SeededRandom) async throws -> String?
    ) async throws {
        for index in indices(name, cases) {
            var random = SeededRandom(seed: caseSeed(name, index))
            let problem: String?
            do {
                problem = try await body(&random)
            } catch {
                problem = "threw \(error)"
            }
            if let problem { throw Failure(property: name, seed: seed, index: index, problem: problem) }
        }
    }

    /// The seed of case `index` of property `name`.
    public static func caseSeed(_ name: String, _ index: Int) -> UInt64 {
        var mixer = SplitMix64(seed: seed ^ tag(name) &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
        return mixer.next()
    }

    /// `0x…`, as `RELAIS_SEED` takes it.
    public static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    private static func indices(_ name: String, _ cases: Int) -> ClosedRange<Int> {
        let range = onlyCase.map { $0...$0 } ?? 0...(max(cases, 1) - 1)
        print("property \(name): seed=\(hex(seed)) cases=\(range.count)")
        return range
    }

    /// FNV-1a of the property's name: a stable tag (`String.hashValue` is randomised per process).
    private static func tag(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }

    private static func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }
}
