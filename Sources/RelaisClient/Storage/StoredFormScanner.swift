import RelaisCore

/// A reader of the two stored forms that hold field values: a pending write's fields in tagged form
/// (`{"name":{"t":"Acme"},"lifetime_value":{"n":12.5},"phone":null}`) and a confirmed state in column
/// form (`{"name":"Acme","lifetime_value":12.5,"phone":null}`, as ``StorageCodec`` and the capture
/// triggers' `json_object` write them).
///
/// `JSONDecoder` read them exactly but cost three quarters of stamping a write and of taking a push
/// batch (docs/PERFORMANCE.md). This scanner reads the same forms with the same numbers (Swift's
/// `Double(_:)` parses the shortest round-trip text, and any other, to the nearest double, as
/// `JSONDecoder` does) and returns `nil` for anything else: other shapes, duplicate keys, a number
/// where the field wants text, invalid UTF-8, lone surrogates. The general decoders then read that
/// text as before, so the scanner changes how fast a form is read, never what it reads.
struct StoredFormScanner {
    /// A value of the column form.
    enum Scalar: Equatable {
        case null
        case text(String)
        case integer(Int64)
        case real(Double)
    }

    /// The column form: one object of field names to scalars (no `true` or `false`: a column holds
    /// integers).
    static func columns(_ text: String) -> [String: Scalar]? {
        members(text) { try $0.scalar() }
    }

    /// The tagged form: one object of field names to `null` or a one-key object whose key says the
    /// type (`t`, `d`, `n`, `b`, `s`; any other key reads as null, as the decoder does).
    static func tagged(_ text: String) -> [String: Value]? {
        members(text) { try $0.taggedValue() }
    }

    /// One object of names to values read by `value`; refused when a name comes twice.
    private static func members<V>(_ text: String, _ value: (inout StoredFormScanner) throws -> V) -> [String: V]? {
        scan(text) { scanner in
            var members: [String: V] = [:]
            guard
                try scanner.object({ name, scanner in
                    guard members.updateValue(try value(&scanner), forKey: name) == nil else { throw Refused() }
                })
            else { throw Refused() }
            return members
        }
    }

    // MARK: - The scanner

    private struct Refused: Error {}

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private static func scan<T>(_ text: String, _ body: (inout StoredFormScanner) throws -> T) -> T? {
        var text = text
        return text.withUTF8 { bytes -> T? in
            var scanner = StoredFormScanner(bytes)
            guard let value = try? body(&scanner) else { return nil }
            scanner.skipSpace()
            return scanner.index == bytes.count ? value : nil
        }
    }

    private mutating func skipSpace() {
        while index < bytes.count,
            bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D
                || bytes[index] == 0x09
        {
            index += 1
        }
    }

    /// Takes `byte` (after any space) when it comes next.
    private mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func expect(_ byte: UInt8) throws {
        guard take(byte) else { throw Refused() }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        skipSpace()
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// An object: `member` reads each value after its key. False when no object comes next.
    private mutating func object(_ member: (String, inout StoredFormScanner) throws -> Void) throws -> Bool {
        guard take(0x7B) else { return false }  // {
        if take(0x7D) { return true }  // }
        repeat {
            skipSpace()
            let name = try string()
            try expect(0x3A)  // :
            try member(name, &self)
        } while take(0x2C)  // ,
        try expect(0x7D)
        return true
    }

    private mutating func scalar() throws -> Scalar {
        if literal("null") { return .null }
        skipSpace()
        guard index < bytes.count else { throw Refused() }
        if bytes[index] == 0x22 { return .text(try string()) }
        let (text, integral) = try numberText()
        if integral, let integer = Int64(text) { return .integer(integer) }
        guard !integral, let real = Double(text), real.isFinite else { throw Refused() }
        return .real(real)
    }

    private mutating func taggedValue() throws -> Value {
        if literal("null") { return .null }
        var value: Value?
        let isObject = try object { tag, scanner in
            guard value == nil else { throw Refused() }  // one key only
            switch tag {
            case "t": value = .text(try scanner.string())
            case "d": value = .date(try scanner.string())
            case "n":
                guard let number = Double(try scanner.numberText().text), number.isFinite else { throw Refused() }
                value = .number(number)
            case "b":
                if scanner.literal("true") {
                    value = .bool(true)
                } else if scanner.literal("false") {
                    value = .bool(false)
                } else {
                    throw Refused()
                }
            case "s":
                try scanner.expect(0x5B)  // [
                var items: [String] = []
                if !scanner.take(0x5D) {
                    repeat {
                        scanner.skipSpace()
                        items.append(try scanner.string())
                    } while scanner.take(0x2C)
                    try scanner.expect(0x5D)  // ]
                }
                value = .stringSet(items)
            default:
                throw Refused()
            }
        }
        guard isObject else { throw Refused() }
        return value ?? .null
    }

    /// A JSON number's text, and whether it has neither fraction nor exponent.
    private mutating func numberText() throws -> (text: Substring, integral: Bool) {
        skipSpace()
        let start = index
        func digits() -> Int {
            let first = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            return index - first
        }
        if index < bytes.count, bytes[index] == 0x2D { index += 1 }  // -
        let intStart = index
        let intDigits = digits()
        guard intDigits > 0, intDigits == 1 || bytes[intStart] != 0x30 else { throw Refused() }  // no leading 0
        var integral = true
        if index < bytes.count, bytes[index] == 0x2E {  // .
            index += 1
            guard digits() > 0 else { throw Refused() }
            integral = false
        }
        if index < bytes.count, bytes[index] == 0x65 || bytes[index] == 0x45 {  // e E
            index += 1
            if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D { index += 1 }
            guard digits() > 0 else { throw Refused() }
            integral = false
        }
        return (Substring(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self), integral)
    }

    /// A string literal (the cursor on its opening quote), its escapes decoded; refused when it is
    /// not valid UTF-8 or holds a lone surrogate or an unescaped control character.
    private mutating func string() throws -> String {
        guard index < bytes.count, bytes[index] == 0x22 else { throw Refused() }
        index += 1
        let start = index
        while index < bytes.count, bytes[index] != 0x22, bytes[index] != 0x5C, bytes[index] >= 0x20 { index += 1 }
        guard index < bytes.count else { throw Refused() }
        if bytes[index] == 0x22 {
            let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            index += 1
            guard let text else { throw Refused() }
            return text
        }
        var buffer = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard index < bytes.count else { throw Refused() }
            let byte = bytes[index]
            index += 1
            switch byte {
            case 0x22:
                guard let text = String(validating: buffer, as: UTF8.self) else { throw Refused() }
                return text
            case 0x5C:
                guard index < bytes.count else { throw Refused() }
                let escape = bytes[index]
                index += 1
                switch escape {
                case 0x22, 0x5C, 0x2F: buffer.append(escape)
                case 0x62: buffer.append(0x08)
                case 0x66: buffer.append(0x0C)
                case 0x6E: buffer.append(0x0A)
                case 0x72: buffer.append(0x0D)
                case 0x74: buffer.append(0x09)
                case 0x75:
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard bytes.count - index >= 2, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else {
                            throw Refused()
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Refused() }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw Refused() }
                    buffer.append(contentsOf: UTF8.encode(unicode)!)
                default: throw Refused()
                }
            default:
                guard byte >= 0x20 else { throw Refused() }
                buffer.append(byte)
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - index >= 4 else { throw Refused() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw Refused()
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
