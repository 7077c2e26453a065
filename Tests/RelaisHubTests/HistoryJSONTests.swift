import Foundation
import RelaisCore
import RelaisTesting
import Testing

@testable import RelaisHub

/// The JSON texts the stores write by hand read back, through `JSONDecoder`, as the same values as
/// `JSONEncoder`'s texts of them: history fields, a conflict's competitors, base and chosen value.
struct HistoryJSONTests {
    /// Values of every kind, with text that needs escapes (quotes, backslashes, control characters,
    /// a NUL), non-ASCII text, and numbers of every size and precision.
    static func value(_ rng: inout SeededRandom) -> Value {
        func text(_ rng: inout SeededRandom) -> String {
            let pieces = ["a", "Zoé", "\"", "\\", "\n", "\t", "\u{0}", "\u{1F}", "/", "☕️", " ", "\u{2028}", "é"]
            return (0..<rng.int(0...8)).map { _ in pieces[rng.int(0...(pieces.count - 1))] }.joined()
        }
        switch rng.int(0...5) {
        case 0: return .null
        case 1: return .text(text(&rng))
        case 2: return .date("2026-12-0\(rng.int(1...9))")
        case 3: return .bool(rng.int(0...1) == 1)
        case 4:
            let numbers: [Double] = [
                0, -0.0, 1, -1, 0.1, 1234.5, 1e21, 1e-7, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude,
                123_456_789.125,
                Double(rng.int(-1_000_000...1_000_000)) / 7,
            ]
            return .number(numbers[rng.int(0...(numbers.count - 1))])
        default: return .set((0..<rng.int(0...4)).map { _ in text(&rng) })
        }
    }

    static func roundTrip<T: Codable & Equatable>(_ mine: String?, _ value: T) throws -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let theirs = try JSONDecoder().decode(T.self, from: try encoder.encode(value))
        guard let mine else { return "no text for \(value)" }
        let read = try JSONDecoder().decode(T.self, from: Data(mine.utf8))
        return read == theirs ? nil : "\(mine) reads as \(read), JSONEncoder's text as \(theirs)"
    }

    @Test func handWrittenTextsReadAsJSONEncodersDo() throws {
        try Property.check("historyJSON", cases: 2_000) { rng in
            var fields: [String: Value] = [:]
            for index in 0..<rng.int(0...5) { fields["f\(index)\(["", "\"", "é"][rng.int(0...2)])"] = Self.value(&rng) }
            if let problem = try Self.roundTrip(HistoryJSON.encode(fields), fields) { return problem }
            let single = Self.value(&rng)
            if let problem = try Self.roundTrip(HistoryJSON.value(single), single) { return problem }
            let competitors = (0..<rng.int(0...4)).map { index in
                let deleted = rng.int(0...3) == 0
                return Competitor(
                    value: deleted ? nil : Self.value(&rng), deleted: deleted,
                    dot: Dot(replica: ReplicaID(UInt32(rng.int(0...100_000))), counter: UInt64(rng.int(1...Int.max))),
                    hlc: HLC(rawValue: UInt64(rng.int(0...Int.max))), author: ["rita", "marc \"M\"", "zoé"][index % 3])
            }
            return try Self.roundTrip(HistoryJSON.competitors(competitors), competitors)
        }
        // A non-finite number has no JSON form: no text (the store then throws, as JSONEncoder does).
        #expect(HistoryJSON.value(.number(.nan)) == nil)
        #expect(
            HistoryJSON.competitors([
                Competitor(
                    value: .number(.infinity), dot: Dot(replica: .hub, counter: 1), hlc: HLC(rawValue: 1), author: "a")
            ]) == nil)
    }
}
