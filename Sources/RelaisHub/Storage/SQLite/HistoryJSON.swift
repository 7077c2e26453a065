import RelaisCore

/// JSON texts the stores write on the push path, by hand: `JSONEncoder` looked as costly as the
/// insert in debug runs, and was a tenth of a release hub's push with 500 conflicts. Each text is one
/// `JSONDecoder` reads back as the same values as `JSONEncoder`'s (keys sorted; `HistoryJSONTests`).
///
/// - ``encode(_:)``: the `fields` column of `write_history`, an object of tagged values, the text
///   `Value`'s `Codable` form gives (`{"status":{"t":"lapsed"}}`), one per accepted write;
/// - ``competitors(_:)``, ``value(_:)``: a conflict report's competitors, base and chosen value.
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
            guard append(fields[name]!, &out) else { return nil }
        }
        return out + "}"
    }

    /// A value's tagged form (`{"t":"lapsed"}`, `null`); `nil` for a non-finite number.
    static func value(_ value: Value) -> String? {
        var out = ""
        return append(value, &out) ? out : nil
    }

    /// A conflict's competitors as `Competitor`'s `Codable` form writes them, keys sorted
    /// (`[{"author":"rita","deleted":false,"dot":{"counter":4,"replica":7},"hlc":…,"value":{"t":"x"}}]`,
    /// no `value` for a delete); `nil` when a value has no JSON form.
    static func competitors(_ values: [Competitor]) -> String? {
        var out = "["
        for (index, competitor) in values.enumerated() {
            if index > 0 { out += "," }
            out += "{\"author\":"
            string(competitor.author, &out)
            out += competitor.deleted ? ",\"deleted\":true" : ",\"deleted\":false"
            out += ",\"dot\":{\"counter\":\(competitor.dot.counter),\"replica\":\(competitor.dot.replica.rawValue)}"
            out += ",\"hlc\":\(competitor.hlc.rawValue)"
            if let value = competitor.value {
                out += ",\"value\":"
                guard append(value, &out) else { return nil }
            }
            out += "}"
        }
        return out + "]"
    }

    /// Appends `value`'s tagged form; false for a non-finite number.
    private static func append(_ value: Value, _ out: inout String) -> Bool {
        switch value {
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
            guard number.isFinite else { return false }
            out += "{\"n\":\(number)}"
        case .set(let items):
            out += "{\"s\":["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                string(item, &out)
            }
            out += "]}"
        }
        return true
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
