import RelaisCore

/// The `fields` column of `write_history`: a JSON object of tagged values, the same text
/// `Value`'s `Codable` form gives (`{"status":{"t":"lapsed"}}`), written by hand because it is on
/// the push path, one per accepted write (in debug runs JSONEncoder looked as costly as the insert).
enum HistoryJSON {
    /// The object, keys sorted; `nil` when a value has no JSON form (a non-finite number).
    static func encode(_ fields: [String: Value]) -> String? {
        var out = "{"
        var first = true
        for name in fields.keys.sorted() {
            if !first { out += "," }
            first = false
            string(name, &out)
            out += ":"
            switch fields[name]! {
            case .null: out += "null"
            case .text(let text):
                out += "{\"t\":"
                string(text, &out)
                out += "}"
            case .date(let text):
                out += "{\"d\":"
                string(text, &out)
                out += "}"
            case .bool(let flag): out += flag ? "{\"b\":true}" : "{\"b\":false}"
            case .number(let number):
                guard number.isFinite else { return nil }
                out += "{\"n\":\(number)}"
            case .set(let items):
                out += "{\"s\":["
                for (index, item) in items.enumerated() {
                    if index > 0 { out += "," }
                    string(item, &out)
                }
                out += "]}"
            }
        }
        return out + "}"
    }

    private static func string(_ text: String, _ out: inout String) {
        out += "\""
        // Most values need no escape: append them whole (scalar by scalar costs more than the insert).
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out += text
            out += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
