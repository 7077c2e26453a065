/// Re-indents compact JSON (two spaces, `"key": value`), copying strings byte for byte.
///
/// The golden `.json` vectors are the canonical JSON encoding, pretty-printed with this, so that
/// a person can read them and a test can still compare them exactly.
enum PrettyJSON {
    static func format(_ compact: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var depth = 0
        var inString = false
        var escaped = false
        var i = 0
        func newline() {
            out.append(0x0A)
            out.append(contentsOf: Array(repeating: 0x20, count: depth * 2))
        }
        while i < compact.count {
            let c = compact[i]
            if inString {
                out.append(c)
                if escaped {
                    escaped = false
                } else if c == UInt8(ascii: "\\") {
                    escaped = true
                } else if c == UInt8(ascii: "\"") {
                    inString = false
                }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "\""):
                inString = true
                out.append(c)
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if i + 1 < compact.count, compact[i + 1] == close {
                    out.append(c)
                    out.append(close)
                    i += 1
                } else {
                    out.append(c)
                    depth += 1
                    newline()
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                newline()
                out.append(c)
            case UInt8(ascii: ","):
                out.append(c)
                newline()
            case UInt8(ascii: ":"):
                out.append(c)
                out.append(0x20)
            default:
                out.append(c)
            }
            i += 1
        }
        out.append(0x0A)
        return out
    }
}
