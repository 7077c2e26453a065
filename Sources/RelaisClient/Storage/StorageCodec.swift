import Foundation
import RelaisCore
import RelaisSQLite

/// Text encodings of the bookkeeping columns. Hand-written because they run once per record on the
/// pull path, where `JSONEncoder` would cost more than the SQLite work itself.
enum StorageCodec {
    // MARK: Version vectors: {"3":17,"5":2}

    /// A vector as a JSON object keyed by replica number (so SQL's JSON functions can read one entry).
    static func encode(_ vector: VersionVector) -> String {
        var out = "{"
        for (i, entry) in vector.sortedEntries.enumerated() {
            if i > 0 { out += "," }
            out += "\"\(entry.replica.rawValue)\":\(entry.counter)"
        }
        return out + "}"
    }

    static func decodeVector(_ text: String?) -> VersionVector {
        guard let text else { return .empty }
        if let vector = scanVector(text) { return vector }
        guard let data = text.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return .empty }
        var entries: [ReplicaID: UInt64] = [:]
        for (key, value) in object {
            guard let replica = UInt32(key), let counter = (value as? NSNumber)?.uint64Value else { continue }
            entries[ReplicaID(replica)] = counter
        }
        return VersionVector(entries)
    }

    /// The stored form (`{"3":17,"5":2}`, as ``encode(_:)`` and SQLite's `json_set` write it) read
    /// without `JSONSerialization`, which cost more than the rest of acknowledging a write; `nil` for
    /// any other text (spaces, other numbers), which the general parser then reads.
    static func scanVector(_ text: String) -> VersionVector? {
        var text = text
        return text.withUTF8 { bytes -> VersionVector? in
            var index = 0
            func number() -> UInt64? {
                var value: UInt64 = 0
                let start = index
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                    let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
                    let (sum, overflowSum) = times.addingReportingOverflow(UInt64(bytes[index] - 0x30))
                    guard !overflowTimes, !overflowSum else { return nil }
                    value = sum
                    index += 1
                }
                return index > start ? value : nil
            }
            func expect(_ byte: UInt8) -> Bool {
                guard index < bytes.count, bytes[index] == byte else { return false }
                index += 1
                return true
            }
            guard expect(0x7B) else { return nil }  // {
            var vector = VersionVector.empty
            if expect(0x7D) { return index == bytes.count ? vector : nil }  // }
            while true {
                guard expect(0x22), let replica = number(), replica <= UInt64(UInt32.max), expect(0x22), expect(0x3A),
                    let counter = number()
                else { return nil }
                vector[ReplicaID(UInt32(replica))] = counter
                if expect(0x2C) { continue }  // ,
                guard expect(0x7D), index == bytes.count else { return nil }
                return vector
            }
        }
    }

    // MARK: Tagged values: {"name":{"t":"Acme"},"tags":{"s":["a"]},"phone":null}

    static func encode(_ fields: [String: Value]) -> String {
        var out = "{"
        for (i, name) in fields.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            ColumnCodec.appendJSONString(name, to: &out)
            out += ":"
            appendTagged(fields[name]!, to: &out)
        }
        return out + "}"
    }

    static func appendTagged(_ value: Value, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .text(let s):
            out += "{\"t\":"
            ColumnCodec.appendJSONString(s, to: &out)
            out += "}"
        case .date(let s):
            out += "{\"d\":"
            ColumnCodec.appendJSONString(s, to: &out)
            out += "}"
        case .number(let n):
            out += "{\"n\":\(numberText(n))}"
        case .bool(let b): out += b ? "{\"b\":true}" : "{\"b\":false}"
        case .set(let items): out += "{\"s\":\(ColumnCodec.jsonArray(items))}"
        }
    }

    static func numberText(_ n: Double) -> String {
        if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
        return "\(n)"
    }

    static func decodeFields(_ text: String) -> [String: Value] {
        StoredFormScanner.tagged(text) ?? decodeFieldsInGeneral(text)
    }

    /// ``decodeFields(_:)`` by `JSONDecoder`, then `JSONSerialization`: any text the scanner refuses.
    static func decodeFieldsInGeneral(_ text: String) -> [String: Value] {
        if let exact = try? exactDecoder.decode([String: TaggedValue].self, from: Data(text.utf8)) {
            return exact.mapValues(\.value)
        }
        guard let data = text.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        var fields: [String: Value] = [:]
        for (name, raw) in object {
            fields[name] = taggedValue(raw)
        }
        return fields
    }

    static func taggedValue(_ raw: Any) -> Value {
        guard let object = raw as? [String: Any], let (tag, payload) = object.first else { return .null }
        switch tag {
        case "t": return .text(payload as? String ?? "")
        case "d": return .date(payload as? String ?? "")
        case "n": return .number((payload as? NSNumber)?.doubleValue ?? 0)
        case "b": return .bool((payload as? NSNumber)?.boolValue ?? false)
        case "s": return .stringSet((payload as? [String]) ?? [])
        default: return .null
        }
    }

    // MARK: Column form: a row as json_object(...) writes it

    /// A row in column form, as the capture triggers snapshot it with `json_object`.
    static func encodeColumns(_ values: [String: Value], collection: CollectionSchema) -> String {
        var out = "{"
        var first = true
        for field in collection.fields {
            guard let value = values[field.name] else { continue }
            if !first { out += "," }
            first = false
            ColumnCodec.appendJSONString(field.name, to: &out)
            out += ":"
            switch ColumnCodec.column(value) {
            case .null, .blob: out += "null"
            case .integer(let i): out += String(i)
            case .real(let d): out += numberText(d)
            case .text(let s): ColumnCodec.appendJSONString(s, to: &out)
            }
        }
        return out + "}"
    }

    /// Reads a column-form row back into field values. Values that do not fit their field (a raw edit
    /// that was never valid) are left out.
    static func decodeColumns(_ text: String?, collection: CollectionSchema) -> [String: Value] {
        guard let text else { return [:] }
        return scannedColumns(text, collection: collection) ?? decodeColumnsInGeneral(text, collection: collection)
    }

    /// ``decodeColumns(_:collection:)`` by `JSONDecoder`, then `JSONSerialization`: any text the
    /// scanner refuses.
    static func decodeColumnsInGeneral(_ text: String, collection: CollectionSchema) -> [String: Value] {
        guard let data = text.data(using: .utf8) else { return [:] }
        let read =
            (try? exactDecoder.decode([String: ColumnScalar].self, from: data))?.mapValues(\.object)
            ?? (try? JSONSerialization.jsonObject(with: data) as? [String: Any])
        guard let object = read else { return [:] }
        var values: [String: Value] = [:]
        for field in collection.fields {
            guard let raw = object[field.name] else { continue }
            let column = sqliteValue(raw, type: field.type)
            values[field.name] = try? ColumnCodec.value(column, field: field, collection: collection.name)
        }
        return values
    }

    /// ``decodeColumns(_:collection:)`` by ``StoredFormScanner``, giving each field the column the
    /// general path gives it; `nil` for text the scanner leaves to that path, and for a number with
    /// a fraction or an exponent in a field that is not a number (the general path writes it as
    /// Foundation prints it).
    static func scannedColumns(_ text: String, collection: CollectionSchema) -> [String: Value]? {
        guard let columns = StoredFormScanner.columns(text) else { return nil }
        var values: [String: Value] = [:]
        for field in collection.fields {
            guard let scalar = columns[field.name] else { continue }
            let column: SQLiteValue
            switch (scalar, field.type) {
            case (.null, _): column = .null
            case (.text(let text), _): column = .text(text)
            case (.integer(let integer), .bool): column = .integer(integer)
            case (.integer(let integer), .number): column = .real(Double(integer))
            case (.integer(let integer), _): column = .text(String(integer))
            case (.real(let real), .number): column = .real(real)
            case (.real, _): return nil
            }
            values[field.name] = try? ColumnCodec.value(column, field: field, collection: collection.name)
        }
        return values
    }

    static func sqliteValue(_ raw: Any, type: FieldType) -> SQLiteValue {
        switch raw {
        case is NSNull: return .null
        case let s as String: return .text(s)
        case let n as NSNumber:
            switch type {
            case .bool: return .integer(n.int64Value)
            case .number: return .real(n.doubleValue)
            default: return .text(n.stringValue)
            }
        default: return .null
        }
    }

    /// Display text of column-form values (for the rejected list, where values may be invalid).
    static func displayColumns(_ text: String) -> [String: String] {
        guard let data = text.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        var result: [String: String] = [:]
        for (key, raw) in object {
            switch raw {
            case is NSNull: result[key] = ""
            case let s as String: result[key] = s
            case let n as NSNumber: result[key] = numberText(n.doubleValue)
            default: result[key] = "\(raw)"
            }
        }
        return result
    }

    /// A column-form JSON object of raw SQLite values, for the rejected list.
    static func encodeRaw(_ values: [(String, SQLiteValue)]) -> String {
        var out = "{"
        for (i, (name, value)) in values.enumerated() {
            if i > 0 { out += "," }
            ColumnCodec.appendJSONString(name, to: &out)
            out += ":"
            switch value {
            case .null: out += "null"
            case .integer(let n): out += String(n)
            case .real(let d): out += d.isFinite ? numberText(d) : "null"
            case .text(let s): ColumnCodec.appendJSONString(s, to: &out)
            case .blob(let b): ColumnCodec.appendJSONString("<\(b.count) bytes>", to: &out)
            }
        }
        return out + "}"
    }

    /// ISO 8601 text of a time in milliseconds (`2026-11-28T09:30:00.000Z`), without a formatter:
    /// it runs once per stamped write.
    static func iso(millis: UInt64) -> String {
        let inDay = Int64(millis % 86_400_000)
        func pad(_ n: Int64, _ width: Int) -> String {
            let text = String(n)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(Day(millis: millis))T\(pad(inDay / 3_600_000, 2)):"
            + "\(pad(inDay / 60_000 % 60, 2)):\(pad(inDay / 1000 % 60, 2)).\(pad(inDay % 1000, 3))Z"
    }
}

// MARK: Exact numbers

/// Foundation's `JSONSerialization` (swift-corelibs-foundation) reads some doubles one unit in the
/// last place off: `183769.33968020315` comes back as `183769.33968020318`, for about one in twenty
/// doubles of full precision (amounts typed with two decimals read back exactly). The
/// stored forms that hold field values (pending writes, confirmed states) are therefore read with
/// `JSONDecoder`, whose numbers are exact; `JSONSerialization` stays the fallback for any text the
/// decoder refuses, as before.
extension StorageCodec {
    static var exactDecoder: JSONDecoder { JSONDecoder() }

    /// A tagged value (``appendTagged(_:to:)``): `{"t":…}`, `{"d":…}`, `{"n":…}`, `{"b":…}`,
    /// `{"s":[…]}`, or `null`.
    struct TaggedValue: Decodable {
        var value: Value

        init(from decoder: any Decoder) throws {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                value = .null
                return
            }
            let tagged = try decoder.container(keyedBy: JSONKey.self)
            guard let key = tagged.allKeys.first else {
                value = .null
                return
            }
            switch key.stringValue {
            case "t": value = .text(try tagged.decode(String.self, forKey: key))
            case "d": value = .date(try tagged.decode(String.self, forKey: key))
            case "n": value = .number(try tagged.decode(Double.self, forKey: key))
            case "b": value = .bool(try tagged.decode(Bool.self, forKey: key))
            case "s": value = .stringSet(try tagged.decode([String].self, forKey: key))
            default: value = .null
            }
        }
    }

    /// A column of a column-form row, as ``sqliteValue(_:type:)`` reads `JSONSerialization`'s output.
    struct ColumnScalar: Decodable {
        var object: Any

        init(from decoder: any Decoder) throws {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() {
                object = NSNull()
            } else if let text = try? single.decode(String.self) {
                object = text
            } else if let integer = try? single.decode(Int64.self) {
                object = NSNumber(value: integer)
            } else if let number = try? single.decode(Double.self) {
                object = NSNumber(value: number)
            } else {
                object = NSNumber(value: try single.decode(Bool.self))
            }
        }
    }

    struct JSONKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
