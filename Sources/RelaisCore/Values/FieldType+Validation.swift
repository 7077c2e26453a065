import Foundation

extension FieldType {
    /// Checks that `value` has this type; `.null` is always of the type (required-ness is checked
    /// separately). Returns the value in canonical form (a set sorted and de-duplicated).
    public func validate(_ value: Value, collection: String, field: String) throws(ValidationError) -> Value {
        func fail(_ message: String) -> ValidationError {
            .invalidValue(collection, field, message)
        }
        switch (self, value) {
        case (_, .null):
            return .null
        case (.text, .text):
            return value
        case (.number(let integer, let minimum, let maximum), .number(let n)):
            guard n.isFinite else { throw fail("\(field) must be a finite number") }
            if integer, n != n.rounded() { throw fail("\(field) must be a whole number, not \(Value.format(n))") }
            if let minimum, n < minimum { throw fail("\(field) must be at least \(Value.format(minimum))") }
            if let maximum, n > maximum { throw fail("\(field) must be at most \(Value.format(maximum))") }
            return value
        case (.date, .date(let text)):
            guard FieldType.isISODate(text) else {
                throw fail("`\(text)` is not an ISO 8601 date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)")
            }
            return value
        case (.bool, .bool):
            return value
        case (.enumeration(let values), .text(let text)):
            guard values.contains(text) else {
                throw fail("`\(text)` is not one of \(values.joined(separator: ", "))")
            }
            return value
        case (.set, .set(let items)):
            return .stringSet(items)
        case (.reference, .text(let text)):
            guard FieldType.isUUID(text) else { throw fail("`\(text)` is not a record id (UUID)") }
            return .text(text.lowercased())
        default:
            throw fail("expected \(name), got \(value.kindName)")
        }
    }

    /// Parses a command-line or CSV value (`field=value`) by the field's type: a number, a date, a
    /// set as `a,b,c`, a bool as true/false/yes/no/1/0, text as is. An empty string is null.
    public func parse(_ text: String, collection: String, field: String) throws(ValidationError) -> Value {
        if text.isEmpty { return .null }
        let value: Value
        switch self {
        case .text, .enumeration, .reference:
            value = .text(text)
        case .number:
            guard let n = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw .invalidValue(collection, field, "`\(text)` is not a number")
            }
            value = .number(n)
        case .date:
            value = .date(text)
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "1": value = .bool(true)
            case "false", "no", "0": value = .bool(false)
            default: throw .invalidValue(collection, field, "`\(text)` is not true or false")
            }
        case .set:
            value = .stringSet(
                text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        return try validate(value, collection: collection, field: field)
    }

    /// Reads a JSON value (as produced by `JSONSerialization`) by the field's type.
    public func value(fromJSON json: Any?, collection: String, field: String) throws(ValidationError) -> Value {
        let value: Value
        switch (self, json) {
        case (_, nil), (_, is NSNull):
            value = .null
        case (.bool, let b as Bool) where FieldType.isJSONBool(json):
            value = .bool(b)
        case (.number, let n as NSNumber) where !FieldType.isJSONBool(json):
            value = .number(n.doubleValue)
        case (.date, let s as String):
            value = .date(s)
        case (.text, let s as String), (.enumeration, let s as String), (.reference, let s as String):
            value = .text(s)
        case (.set, let items as [Any]):
            var strings: [String] = []
            for item in items {
                guard let s = item as? String else {
                    throw .invalidValue(collection, field, "a set holds text items only")
                }
                strings.append(s)
            }
            value = .stringSet(strings)
        default:
            throw .invalidValue(collection, field, "expected \(name)")
        }
        return try validate(value, collection: collection, field: field)
    }

    /// The JSON form of a value of this type (for `--json` output and the replica's set columns).
    public static func jsonObject(_ value: Value) -> Any {
        switch value {
        case .null: NSNull()
        case .text(let s), .date(let s): s
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? NSNumber(value: Int64(n)) : NSNumber(value: n)
        case .bool(let b): b
        case .set(let items): items
        }
    }

    static func isJSONBool(_ any: Any?) -> Bool {
        guard let number = any as? NSNumber else { return false }
        return type(of: number) == type(of: NSNumber(value: true)) && String(cString: number.objCType) == "c"
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with a real calendar date.
    public static func isISODate(_ text: String) -> Bool {
        let u = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= u.count else { return nil }
            var n = 0
            for i in range {
                guard u[i] >= 48, u[i] <= 57 else { return nil }
                n = n * 10 + Int(u[i] - 48)
            }
            return n
        }
        guard u.count >= 10, let year = digits(0..<4), u[4] == 45, let month = digits(5..<7), u[7] == 45,
            let day = digits(8..<10), (1...12).contains(month), year >= 1
        else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return false }
        if u.count == 10 { return true }
        guard u.count >= 20, u[10] == 84, let hour = digits(11..<13), u[13] == 58, let minute = digits(14..<16),
            u[16] == 58, let second = digits(17..<19), hour < 24, minute < 60, second < 61
        else { return false }
        var i = 19
        if u[i] == 46 {
            i += 1
            let start = i
            while i < u.count, u[i] >= 48, u[i] <= 57 { i += 1 }
            guard i > start else { return false }
        }
        guard i < u.count else { return false }
        if u[i] == 90 { return i == u.count - 1 }
        guard u[i] == 43 || u[i] == 45, u.count == i + 6, let oh = digits((i + 1)..<(i + 3)), u[i + 3] == 58,
            let om = digits((i + 4)..<(i + 6))
        else { return false }
        return oh < 24 && om < 60
    }

    /// A UUID in its 8-4-4-4-12 hexadecimal text form, as `UUID(uuidString:)` takes it.
    ///
    /// The usual form (36 bytes: hexadecimal digits of either case, dashes at 8, 13, 18 and 23) is
    /// checked byte by byte: Foundation's parser scans the text with `sscanf`, which took a tenth of
    /// the hub's time to apply a write (every write's record id is checked). Any other text goes to
    /// Foundation's parser, which also takes a space or a sign before a pair of digits
    /// (`8d3f6a4e-1c2b-4e5f-9a7b-0c1d2e3f4a+b`): ids stored that way stay valid.
    public static func isUUID(_ text: String) -> Bool {
        var text = text
        let canonical = text.withUTF8 { bytes in
            guard bytes.count == 36 else { return false }
            for (index, byte) in bytes.enumerated() {
                switch index {
                case 8, 13, 18, 23:
                    guard byte == UInt8(ascii: "-") else { return false }
                default:
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
                        UInt8(ascii: "A")...UInt8(ascii: "F"):
                        continue
                    default:
                        return false
                    }
                }
            }
            return true
        }
        return canonical || UUID(uuidString: text) != nil
    }
}

extension Value {
    /// The name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .text: "text"
        case .number: "number"
        case .bool: "bool"
        case .date: "date"
        case .set: "set"
        }
    }
}
