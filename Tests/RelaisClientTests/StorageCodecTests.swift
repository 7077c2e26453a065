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
}
