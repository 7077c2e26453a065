/// Values are stored by the hub and the replica's bookkeeping as small tagged JSON objects:
/// `{"t":"text"}`, `{"n":1.5}`, `{"b":true}`, `{"d":"2026-11-28"}`, `{"s":["a","b"]}`, or `null`.
/// The tag keeps a date apart from text and an integral number apart from a bool.
extension Value: Codable {
    private enum Key: String, CodingKey {
        case t, n, b, d, s
    }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), single.decodeNil() {
            self = .null
            return
        }
        let container = try decoder.container(keyedBy: Key.self)
        guard let key = container.allKeys.first, container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a value has exactly one tag"))
        }
        switch key {
        case .t: self = .text(try container.decode(String.self, forKey: key))
        case .n: self = .number(try container.decode(Double.self, forKey: key))
        case .b: self = .bool(try container.decode(Bool.self, forKey: key))
        case .d: self = .date(try container.decode(String.self, forKey: key))
        case .s: self = .stringSet(try container.decode([String].self, forKey: key))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        if case .null = self {
            var single = encoder.singleValueContainer()
            try single.encodeNil()
            return
        }
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .null: break
        case .text(let s): try container.encode(s, forKey: .t)
        case .number(let n): try container.encode(n, forKey: .n)
        case .bool(let b): try container.encode(b, forKey: .b)
        case .date(let d): try container.encode(d, forKey: .d)
        case .set(let items): try container.encode(items, forKey: .s)
        }
    }
}
