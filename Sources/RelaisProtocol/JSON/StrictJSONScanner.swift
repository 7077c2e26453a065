/// A strict check of a JSON body's structure, run before the protobuf JSON parser sees it.
///
/// It accepts exactly RFC 8259 JSON (one value, no BOM, no comments, no trailing commas) and refuses
/// two things the protobuf JSON parser lets through or handles in its own way:
/// - an object that names a key twice, at any level, keys compared after unescaping
///   (`{"a":1,"\u0061":2}` repeats `a`) and after mapping snake_case to lowerCamelCase, because the
///   protobuf JSON mapping reads `record_id` and `recordId` as one field (and would silently keep
///   the last) → ``ProtocolError/duplicateJSONKey``. The price: a map whose keys differ only that
///   way (`a_b` and `aB`) is refused too; no map of the protocol has such keys;
/// - nesting (objects and arrays) deeper than the limit, the top level counting 1
///   → ``ProtocolError/jsonTooDeep``.
///
/// Anything else it cannot read is ``ProtocolError/malformedBody``. It is iterative: a hostile body
/// cannot exhaust the stack, and it uses memory only for the keys of the objects still open.
public enum StrictJSONScanner {
    /// Checks `bytes`; returns normally when the document is well formed within the limits.
    public static func validate(_ bytes: some Collection<UInt8>, maxDepth: Int) throws(ProtocolError) {
        let result: ProtocolError?
        if let r = bytes.withContiguousStorageIfAvailable({ scan($0, maxDepth: maxDepth) }) {
            result = r
        } else {
            result = Array(bytes).withUnsafeBufferPointer { scan($0, maxDepth: maxDepth) }
        }
        if let result { throw result }
    }

    private enum Frame {
        case object(Set<[UInt8]>)
        case array
    }

    private enum State {
        case value  // a value is expected
        case firstKeyOrEnd  // just after `{`
        case firstValueOrEnd  // just after `[`
        case key  // after `,` in an object
        case afterValue  // a value just ended
    }

    // The scanner proper. Returns the first error, or nil.
    private static func scan(_ b: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> ProtocolError? {
        var i = 0
        let n = b.count
        var stack: [Frame] = []
        var state = State.value

        func malformed(_ what: String) -> ProtocolError {
            ProtocolError.malformedBody.with("The JSON body is malformed: \(what) at byte \(i).", ["offset": String(i)])
        }
        func skipWhitespace() {
            while i < n, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }
        func open(_ frame: Frame) -> ProtocolError? {
            stack.append(frame)
            if stack.count > maxDepth {
                return ProtocolError.jsonTooDeep.with(
                    "The JSON body nests deeper than \(maxDepth) levels.",
                    ["limit": String(maxDepth)]
                )
            }
            return nil
        }

        while true {
            skipWhitespace()
            switch state {
            case .value, .firstValueOrEnd:
                guard i < n else { return malformed("unexpected end") }
                if state == .firstValueOrEnd, b[i] == UInt8(ascii: "]") {
                    i += 1
                    stack.removeLast()
                    state = .afterValue
                    continue
                }
                switch b[i] {
                case UInt8(ascii: "{"):
                    i += 1
                    if let error = open(.object([])) { return error }
                    state = .firstKeyOrEnd
                case UInt8(ascii: "["):
                    i += 1
                    if let error = open(.array) { return error }
                    state = .firstValueOrEnd
                case UInt8(ascii: "\""):
                    guard scanString(b, &i, into: nil) else { return malformed("invalid string") }
                    state = .afterValue
                case UInt8(ascii: "t"):
                    guard literal(b, &i, "true") else { return malformed("invalid literal") }
                    state = .afterValue
                case UInt8(ascii: "f"):
                    guard literal(b, &i, "false") else { return malformed("invalid literal") }
                    state = .afterValue
                case UInt8(ascii: "n"):
                    guard literal(b, &i, "null") else { return malformed("invalid literal") }
                    state = .afterValue
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    guard scanNumber(b, &i) else { return malformed("invalid number") }
                    state = .afterValue
                default:
                    return malformed("unexpected character")
                }
            case .firstKeyOrEnd, .key:
                guard i < n else { return malformed("unexpected end") }
                if state == .firstKeyOrEnd, b[i] == UInt8(ascii: "}") {
                    i += 1
                    stack.removeLast()
                    state = .afterValue
                    continue
                }
                guard b[i] == UInt8(ascii: "\"") else { return malformed("expected a key") }
                let keyStart = i
                var key: [UInt8] = []
                guard scanString(b, &i, into: &key) else { return malformed("invalid key") }
                guard case .object(var keys) = stack.removeLast() else { return malformed("internal state") }
                if !keys.insert(lowerCamelCase(key)).inserted {
                    let shown = ContentEncoding.excerpt(String(decoding: key, as: UTF8.self))
                    return ProtocolError.duplicateJSONKey.with(
                        "The JSON body repeats the key \"\(shown)\" in one object (byte \(keyStart)).",
                        ["key": shown, "offset": String(keyStart)]
                    )
                }
                stack.append(.object(keys))
                skipWhitespace()
                guard i < n, b[i] == UInt8(ascii: ":") else { return malformed("expected ':'") }
                i += 1
                state = .value
            case .afterValue:
                guard let top = stack.last else {
                    return i == n ? nil : malformed("unexpected data after the document")
                }
                guard i < n else { return malformed("unexpected end") }
                switch (top, b[i]) {
                case (.object, UInt8(ascii: ",")):
                    i += 1
                    state = .key
                case (.object, UInt8(ascii: "}")), (.array, UInt8(ascii: "]")):
                    i += 1
                    stack.removeLast()
                case (.array, UInt8(ascii: ",")):
                    i += 1
                    state = .value
                default:
                    return malformed("expected ',' or the end of a container")
                }
            }
        }
    }

    /// The protobuf JSON name of a field name: each `_` dropped and the letter after it capitalised
    /// (`record_id` → `recordId`). Keys without `_` are unchanged.
    static func lowerCamelCase(_ key: [UInt8]) -> [UInt8] {
        guard key.contains(UInt8(ascii: "_")) else { return key }
        var out: [UInt8] = []
        out.reserveCapacity(key.count)
        var capitalizeNext = false
        for byte in key {
            if byte == UInt8(ascii: "_") {
                capitalizeNext = true
            } else if capitalizeNext, byte >= UInt8(ascii: "a"), byte <= UInt8(ascii: "z") {
                out.append(byte - 32)
                capitalizeNext = false
            } else {
                out.append(byte)
                capitalizeNext = false
            }
        }
        return out
    }

    private static func literal(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard b.count - i >= count else { return false }
        let bytes = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for k in 0..<count where b[i + k] != bytes[k] { return false }
        i += count
        return true
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func scanNumber(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        let n = b.count
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n, isDigit(b[i]) else { return false }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < n, isDigit(b[i]) { i += 1 }
        }
        if i < n, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < n, isDigit(b[i]) else { return false }
            while i < n, isDigit(b[i]) { i += 1 }
        }
        if i < n, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < n, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < n, isDigit(b[i]) else { return false }
            while i < n, isDigit(b[i]) { i += 1 }
        }
        return true
    }

    private static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(c - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private static func hex4(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> UInt32? {
        guard b.count - i >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(b[i]) else { return nil }
            value = value << 4 | digit
            i += 1
        }
        return value
    }

    /// Scans a string starting at its opening quote; on success `i` is past the closing quote. When
    /// `out` is given, appends the unescaped UTF-8 bytes to it. Validates escapes, control
    /// characters, surrogate pairs and UTF-8.
    private static func scanString(
        _ b: UnsafeBufferPointer<UInt8>,
        _ i: inout Int,
        into out: UnsafeMutablePointer<[UInt8]>?
    ) -> Bool {
        let n = b.count
        i += 1  // opening quote
        while i < n {
            let c = b[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return true
            case UInt8(ascii: "\\"):
                i += 1
                guard i < n else { return false }
                let e = b[i]
                i += 1
                var scalar: UInt32
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalar = UInt32(e)
                case UInt8(ascii: "b"): scalar = 0x08
                case UInt8(ascii: "f"): scalar = 0x0C
                case UInt8(ascii: "n"): scalar = 0x0A
                case UInt8(ascii: "r"): scalar = 0x0D
                case UInt8(ascii: "t"): scalar = 0x09
                case UInt8(ascii: "u"):
                    guard let high = hex4(b, &i) else { return false }
                    scalar = high
                    if (0xD800...0xDBFF).contains(high) {
                        guard b.count - i >= 6, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                            return false
                        }
                        i += 2
                        guard let low = hex4(b, &i), (0xDC00...0xDFFF).contains(low) else { return false }
                        scalar = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(high) {
                        return false
                    }
                default:
                    return false
                }
                if let out, let unicode = Unicode.Scalar(scalar) {
                    out.pointee.append(contentsOf: String(Character(unicode)).utf8)
                }
            case 0x00..<0x20:
                return false
            case 0x00..<0x80:
                out?.pointee.append(c)
                i += 1
            default:
                guard let length = utf8SequenceLength(b, i) else { return false }
                out?.pointee.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<(i + length)]))
                i += length
            }
        }
        return false
    }

    /// The length of the valid UTF-8 sequence starting at `i` (a non-ASCII lead byte), or nil.
    private static func utf8SequenceLength(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        let c = b[i]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: return nil
        }
        guard b.count - i >= length else { return nil }
        guard b[i + 1] >= low, b[i + 1] <= high else { return nil }
        for k in 2..<length where b[i + k] < 0x80 || b[i + k] > 0xBF { return nil }
        return length
    }
}
