import Foundation
import RelaisCore
import RelaisTesting
import Testing

@testable import RelaisClient

/// The stored version vector is read by a scanner of its own form; any other text goes to the
/// general JSON parser, and both give the same vector.
struct StorageCodecTests {
    @Test func storedVectorsReadTheSameByTheScannerAndByTheJSONParser() throws {
        try Property.check("storedVectorScanner", cases: 2_000) { rng in
            var entries: [ReplicaID: UInt64] = [:]
            for _ in 0..<rng.int(0...6) {
                entries[ReplicaID(UInt32(rng.int(0...1_000_000)))] = UInt64(rng.int(1...Int.max))
            }
            let vector = VersionVector(entries)
            let text = StorageCodec.encode(vector)
            guard StorageCodec.scanVector(text) == vector else { return "the scanner misread \(text)" }
            guard StorageCodec.decodeVector(text) == vector else { return "decodeVector misread \(text)" }
            return nil
        }
        // What SQLite's json_set writes (keys in insertion order) is read too.
        #expect(
            StorageCodec.scanVector(#"{"5":2,"3":17}"#) == VersionVector([ReplicaID(3): 17, ReplicaID(5): 2]))
        #expect(StorageCodec.scanVector("{}") == .empty)
        // Anything else is left to the JSON parser, which still reads it.
        for text in [
            #"{ "3": 17 }"#, #"{"3":1.0}"#, #"{"x":1}"#, #"{"3":17,}"#, #"{"3":17}x"#, #"{"3":99999999999999999999}"#,
        ] {
            #expect(StorageCodec.scanVector(text) == nil, "\(text)")
        }
        #expect(StorageCodec.decodeVector(#"{ "3": 17 }"#) == VersionVector([ReplicaID(3): 17]))
    }

    /// Every double comes back bit for bit from a pending write's fields and from a confirmed state
    /// (Foundation's `JSONSerialization` reads about one full-precision double in twenty one unit in
    /// the last place off), and so do the other values beside it.
    @Test func numbersComeBackExactlyFromTheStoredForms() throws {
        let collection = try #require(Schema.crm.collection("customers"))
        try Property.check("storedNumbersExact", cases: 5_000) { rng in
            let bits = UInt64(rng.int(0...Int.max)) << 1 | UInt64(rng.int(0...1))
            var number = Double(bitPattern: bits & 0x7fef_ffff_ffff_ffff)  // finite, positive
            if rng.int(0...3) == 0 { number = Double(rng.int(0...10_000_000)) / 100 }
            let fields: [String: Value] = [
                "lifetime_value": .number(number), "name": .text("Ç \"quoted\" \\ \u{1F600}"), "phone": .null,
                "tags": .set(["a", "b"]),
            ]
            let decoded = StorageCodec.decodeFields(StorageCodec.encode(fields))
            guard case .number(let back)? = decoded["lifetime_value"], back.bitPattern == number.bitPattern,
                decoded["name"] == fields["name"], decoded["tags"] == fields["tags"]
            else { return "fields: \(number) read back as \(String(describing: decoded))" }
            let columns = StorageCodec.decodeColumns(
                StorageCodec.encodeColumns(fields, collection: collection), collection: collection)
            guard case .number(let column)? = columns["lifetime_value"], column.bitPattern == number.bitPattern,
                columns["name"] == fields["name"], columns["tags"] == fields["tags"]
            else { return "columns: \(number) read back as \(String(describing: columns))" }
            return nil
        }
        // The form SQLite's json_object writes (bools as 0/1, numbers of 17 digits) reads the same.
        let snapshot = #"{"name":"Acme","lifetime_value":183769.33968020315,"phone":null}"#
        #expect(
            StorageCodec.decodeColumns(snapshot, collection: collection)["lifetime_value"]
                == .number(183769.33968020315))
        #expect(StorageCodec.decodeFields(#"{"x":{"b":true},"y":null}"#) == ["x": .bool(true), "y": .null])
    }
}
