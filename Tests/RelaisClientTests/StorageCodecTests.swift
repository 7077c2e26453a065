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

    /// The scanner of the stored forms reads every text the general decoders read the same way, or
    /// leaves it to them: never another value. Texts as the codec writes them, with escapes the
    /// codec never writes (`\u00e9`, `\/`, surrogate pairs), spaces, numbers of every precision, and
    /// the same texts with one byte cut, changed or added.
    @Test func theScannerReadsWhatTheGeneralDecodersRead() throws {
        let collection = try #require(Schema.crm.collection("customers"))
        var accepted = 0
        try Property.check("storedFormScanner", cases: 3_000) { rng in
            let tagged = Self.randomTagged(&rng)
            let columns = Self.randomColumns(&rng, collection: collection)
            for (text, isColumns) in [(tagged, false), (columns, true)] {
                for variant in [text, Self.mutated(text, &rng)] {
                    if isColumns {
                        guard let fast = StorageCodec.scannedColumns(variant, collection: collection) else { continue }
                        let general = StorageCodec.decodeColumnsInGeneral(variant, collection: collection)
                        guard Self.same(fast, general) else { return "columns \(variant): \(fast) vs \(general)" }
                    } else {
                        guard let fast = StoredFormScanner.tagged(variant) else { continue }
                        let general = StorageCodec.decodeFieldsInGeneral(variant)
                        guard Self.same(fast, general) else { return "fields \(variant): \(fast) vs \(general)" }
                    }
                    if variant == text { accepted += 1 }
                }
            }
            // What the codec itself writes always takes the fast path.
            var fields: [String: Value] = [:]
            for field in collection.fields where rng.int(0...2) > 0 {
                switch field.type {
                case .number: fields[field.name] = .number(Self.randomDouble(&rng))
                case .bool: fields[field.name] = .bool(rng.int(0...1) == 1)
                case .set: fields[field.name] = .stringSet([Self.randomText(&rng), Self.randomText(&rng)])
                default: fields[field.name] = rng.int(0...5) == 0 ? .null : .text(Self.randomText(&rng))
                }
            }
            guard let back = StoredFormScanner.tagged(StorageCodec.encode(fields)), Self.same(back, fields) else {
                return "the scanner did not read back \(StorageCodec.encode(fields))"
            }
            let encoded = StorageCodec.encodeColumns(fields, collection: collection)
            guard let read = StorageCodec.scannedColumns(encoded, collection: collection),
                Self.same(read, StorageCodec.decodeColumnsInGeneral(encoded, collection: collection))
            else { return "the scanner did not read back \(encoded)" }
            return nil
        }
        // Most generated texts are in the forms (the mutated ones mostly are not).
        #expect(accepted > 3_000)
        // Left to the general decoders: duplicate keys, a fraction in a text field, two tags.
        #expect(StoredFormScanner.tagged(#"{"a":null,"a":{"t":"x"}}"#) == nil)
        #expect(StorageCodec.scannedColumns(#"{"name":1.5}"#, collection: collection) == nil)
        #expect(StoredFormScanner.tagged(#"{"a":{"t":"x","n":1}}"#) == nil)
        #expect(StoredFormScanner.tagged(#"{"a":{"t":"\ud800"}}"#) == nil)
    }

    /// Equal, numbers bit for bit.
    static func same(_ a: [String: Value], _ b: [String: Value]) -> Bool {
        guard a.keys.sorted() == b.keys.sorted() else { return false }
        for (key, value) in a {
            if case .number(let x) = value, case .number(let y)? = b[key] {
                if x.bitPattern != y.bitPattern { return false }
            } else if b[key] != value {
                return false
            }
        }
        return true
    }

    static func randomDouble(_ rng: inout SeededRandom) -> Double {
        switch rng.int(0...3) {
        case 0: return Double(rng.int(-1_000_000...1_000_000)) / 100
        case 1: return Double(rng.int(-1_000_000_000...1_000_000_000))
        default:
            let bits = UInt64(rng.int(0...Int.max)) << 1 | UInt64(rng.int(0...1))
            return Double(bitPattern: bits & 0xffef_ffff_ffff_ffff)  // finite, either sign
        }
    }

    static func randomText(_ rng: inout SeededRandom) -> String {
        let pieces = [
            "a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{1F}", "é", "Ç", "\u{1F600}", "日", "0", "\u{0}",
        ]
        return (0..<rng.int(0...8)).map { _ in pieces[rng.int(0...(pieces.count - 1))] }.joined()
    }

    /// A JSON string literal of `text`, each character written plainly or as `\u` escapes at random.
    static func literal(_ text: String, _ rng: inout SeededRandom) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            let mustEscape = scalar == "\"" || scalar == "\\" || scalar.value < 0x20
            if mustEscape || rng.int(0...3) == 0 {
                if scalar == "/" && rng.int(0...1) == 0 {
                    out += "\\/"
                } else if mustEscape && scalar.value >= 0x20 && rng.int(0...1) == 0 {
                    out += "\\" + String(scalar)
                } else {
                    for unit in String(scalar).utf16 { out += String(format: "\\u%04x", unit) }
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func numberLiteral(_ rng: inout SeededRandom) -> String {
        let number = randomDouble(&rng)
        switch rng.int(0...3) {
        case 0: return "\(number)"
        case 1: return String(format: "%.17g", number)
        case 2: return String(Int64(rng.int(-1_000_000_000_000...1_000_000_000_000)))
        default: return String(format: "%.3e", number)
        }
    }

    static func space(_ rng: inout SeededRandom) -> String {
        rng.int(0...5) == 0 ? [" ", "\n", "\t "][rng.int(0...2)] : ""
    }

    static func randomTagged(_ rng: inout SeededRandom) -> String {
        let names = ["name", "city", "tags", "value", "x", "é"].shuffled(using: &rng).prefix(rng.int(0...6))
        let members = names.map { name -> String in
            let value: String
            switch rng.int(0...6) {
            case 0: value = "null"
            case 1: value = #"{"t":"# + literal(randomText(&rng), &rng) + "}"
            case 2: value = #"{"d":"# + literal("2026-12-0\(rng.int(1...9))", &rng) + "}"
            case 3: value = #"{"n":"# + space(&rng) + numberLiteral(&rng) + "}"
            case 4: value = rng.int(0...1) == 0 ? #"{"b":true}"# : #"{"b":false}"#
            case 5:
                value =
                    #"{"s":["#
                    + (0..<rng.int(0...3)).map { _ in literal(randomText(&rng), &rng) }.joined(separator: ",") + "]}"
            default: value = #"{"q":1}"#
            }
            return space(&rng) + literal(name, &rng) + space(&rng) + ":" + space(&rng) + value + space(&rng)
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func randomColumns(_ rng: inout SeededRandom, collection: CollectionSchema) -> String {
        var names = collection.fields.map(\.name) + ["unknown"]
        names.shuffle(using: &rng)
        let members = names.prefix(rng.int(0...names.count)).map { name -> String in
            let value: String
            switch rng.int(0...3) {
            case 0: value = "null"
            case 1: value = literal(randomText(&rng), &rng)
            case 2: value = String(rng.int(-1_000_000...1_000_000))
            default: value = numberLiteral(&rng)
            }
            return space(&rng) + literal(name, &rng) + ":" + space(&rng) + value
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// `text` with one byte cut, changed or added.
    static func mutated(_ text: String, _ rng: inout SeededRandom) -> String {
        var bytes = Array(text.utf8)
        let at = rng.int(0...max(0, bytes.count - 1))
        let noise: [UInt8] = [0x22, 0x5C, 0x2C, 0x3A, 0x7B, 0x7D, 0x5B, 0x5D, 0x30, 0x2E, 0x65, 0x2D, 0x20, 0x80, 0xC3]
        switch rng.int(0...2) {
        case 0: if !bytes.isEmpty { bytes.remove(at: at) }
        case 1: if !bytes.isEmpty { bytes[at] = noise[rng.int(0...(noise.count - 1))] }
        default: bytes.insert(noise[rng.int(0...(noise.count - 1))], at: at)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
