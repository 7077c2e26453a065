import RelaisTesting
import Testing

@testable import RelaisClient

/// The digest's in-memory join table finds every id it was given, with its own vector, and no other,
/// whatever its capacity hint: none, exact, too small, too large (it then grows its bytes by
/// reserving from the first entries' mean size, or by a quarter at a time).
struct DigestVectorTableTests {
    @Test func everyIdFindsItsVectorWhateverTheCapacityHint() throws {
        try Property.check("digestVectorTable", cases: 40) { rng in
            let count = rng.int(0...3_000)
            let hint = [0, count, count / 3, count * 2, 300][rng.int(0...4)]
            // Ids of varied lengths (long ones overflow the first reservation before 256 entries).
            let ids = (0..<count).map { n in "id-\(n)-" + String(repeating: "x", count: rng.int(0...120)) }
            let vectors = (0..<count).map { n in "{\"\(rng.int(1...9))\":\(n)}" }
            var table = DigestVectorTable(capacity: hint)
            for (id, vector) in zip(ids, vectors) {
                let id = Array(id.utf8)
                let vector = Array(vector.utf8)
                id.withUnsafeBytes { id in
                    vector.withUnsafeBytes { table.insert(id: id, hash: DigestVectorTable.hash(id), vector: $0) }
                }
            }
            guard table.count == count else { return "\(table.count) entries for \(count) inserted" }
            for (id, vector) in zip(ids, vectors) {
                let found = Array(id.utf8).withUnsafeBytes { id in
                    table.withVector(id: id, hash: DigestVectorTable.hash(id)) { $0.map { Array($0) } }
                }
                guard found == Array(vector.utf8) else { return "\(id) (hint \(hint)): \(String(describing: found))" }
            }
            let absent = Array("absent-\(count)".utf8).withUnsafeBytes { id in
                table.withVector(id: id, hash: DigestVectorTable.hash(id)) { $0 == nil }
            }
            return absent ? nil : "an id never inserted was found"
        }
    }
}
