import Foundation
import RelaisCore
import RelaisSQLite

/// Converts field values to and from the plain columns of a collection table.
///
/// The mapping is the replica file's contract (DESIGN §8): text, enum, reference and date are TEXT;
/// number is REAL; bool is INTEGER 0/1; set is TEXT holding a JSON array of strings, sorted.
enum ColumnCodec {
    /// The SQL column type declared for a field type.
    static func sqlType(_ type: FieldType) -> String {
        switch type {
        case .number: "REAL"
        case .bool: "INTEGER"
        case .text, .date, .enumeration, .set, .reference: "TEXT"
        }
    }

    /// The column value for a (valid) field value.
    static func column(_ value: Value) -> SQLiteValue {
        switch value {
        case .null: .null
        case .text(let s), .date(let s): .text(s)
        case .number(let n): .real(n)
        case .bool(let b): .integer(b ? 1 : 0)
        case .set(let items): .text(jsonArray(items))
        }
    }

    /// Binds a field value at a parameter index without building an intermediate enum.
    static func bind(_ value: Value, to statement: Statement, at index: Int32) throws {
        switch value {
        case .null: try statement.bindNull(at: index)
        case .text(let s), .date(let s): try statement.bind(text: s, at: index)
        case .number(let n): try statement.bind(double: n, at: index)
        case .bool(let b): try statement.bind(int64: b ? 1 : 0, at: index)
        case .set(let items): try statement.bind(text: jsonArray(items), at: index)
        }
    }

    /// Reads a column as a field value of `field`, checking it against the declared type.
    ///
    /// Raw SQL can store anything in any column (SQLite's types are affinities), so every value read
    /// back from a collection table is checked here: a `'abc'` in a REAL column, a `2` in a bool
    /// column or a malformed JSON set is an ``ValidationError/invalidValue(_:_:_:)``.
    static func value(
        _ column: SQLiteValue, field: FieldSchema, collection: String
    ) throws(ValidationError) -> Value {
        func fail(_ message: String) -> ValidationError {
            .invalidValue(collection, field.name, message)
        }
        let raw: Value
        switch (field.type, column) {
        case (_, .null):
            return .null
        case (.text, .text(let s)), (.enumeration, .text(let s)), (.reference, .text(let s)):
            raw = .text(s)
        case (.date, .text(let s)):
            raw = .date(s)
        case (.number, .real(let d)):
            raw = .number(d)
        case (.number, .integer(let i)):
            raw = .number(Double(i))
        case (.bool, .integer(let i)):
            guard i == 0 || i == 1 else { throw fail("\(field.name) must be 0 or 1, not \(i)") }
            raw = .bool(i == 1)
        case (.set, .text(let s)):
            guard let items = parseJSONArray(s) else {
                throw fail("\(field.name) must hold a JSON array of text, like [\"a\",\"b\"]")
            }
            raw = .stringSet(items)
        default:
            throw fail("\(field.name) must be \(field.type.name), not \(describe(column))")
        }
        return try field.type.validate(raw, collection: collection, field: field.name)
    }

    private static func describe(_ column: SQLiteValue) -> String {
        switch column {
        case .null: "null"
        case .integer(let i): "the integer \(i)"
        case .real(let d): "the number \(Value.format(d))"
        case .text(let s): "the text `\(s.prefix(40))`"
        case .blob(let b): "a blob of \(b.count) bytes"
        }
    }

    /// A compact JSON array of strings: `["a","b"]`.
    static func jsonArray(_ items: [String]) -> String {
        var out = "["
        for (i, item) in items.enumerated() {
            if i > 0 { out += "," }
            appendJSONString(item, to: &out)
        }
        out += "]"
        return out
    }

    /// Appends `s` as a JSON string literal.
    static func appendJSONString(_ s: String, to out: inout String) {
        out.append("\"")
        var needsEscape = false
        for u in s.utf8 where u < 0x20 || u == 0x22 || u == 0x5C {
            needsEscape = true
            break
        }
        if !needsEscape {
            out.append(s)
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out.append("\\\"")
                case "\\": out.append("\\\\")
                case "\n": out.append("\\n")
                case "\r": out.append("\\r")
                case "\t": out.append("\\t")
                default:
                    if scalar.value < 0x20 {
                        out.append(String(format: "\\u%04x", scalar.value))
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
        }
        out.append("\"")
    }

    /// Parses a JSON array of strings, or returns nil.
    static func parseJSONArray(_ text: String) -> [String]? {
        guard let data = text.data(using: .utf8),
            let array = try? JSONSerialization.jsonObject(with: data) as? [Any]
        else { return nil }
        var items: [String] = []
        for item in array {
            guard let s = item as? String else { return nil }
            items.append(s)
        }
        return items
    }
}
