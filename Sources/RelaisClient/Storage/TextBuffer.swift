/// Text built as UTF-8 bytes in a reused buffer.
///
/// The pull path writes a record's bookkeeping text (its vector and its per-field dots) for every
/// record it applies; built as Swift strings, that text cost more than SQLite's insert of the row.
/// Bound with `Statement.bind(utf8:at:)`. Only ASCII punctuation, decimal numbers, whole strings and
/// the bytes of another such buffer are appended, so the bytes are always valid UTF-8.
struct TextBuffer {
    private(set) var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(512)
    }

    var count: Int { bytes.count }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// Appends ASCII text (punctuation).
    mutating func append(ascii text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ other: [UInt8]) {
        bytes.append(contentsOf: other)
    }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends a number in decimal.
    mutating func append(_ number: UInt64) {
        var digits = 1
        var rest = number
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var value = number
        var index = start + digits - 1
        while value > 0 {
            bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
            index -= 1
        }
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }
}

/// A record's per-field dots and HLC times, as the bookkeeping row (`_relais_records.fields`) holds
/// them, in two forms built together.
///
/// - Explicit: one entry per field, `{"name":[3,17,116…],"city":[3,18,116…]}` (replica, counter,
///   HLC time).
/// - Shared: the dot of the first field, with every field that carries it, under the key `"*"`;
///   other fields have their own entry: `{"*":[3,17,116…,"name","phone"],"city":[3,18,116…]}`. A
///   record created by one write (a bootstrap, mostly) stores one dot instead of one per field, a
///   third of the bookkeeping row.
///
/// A field's own entry wins over `"*"`. So a stored row in either form merges with a later write's
/// explicit entries by `json_patch`, and stays right: the pull path inserts the shared form and
/// patches an existing row with the explicit one. Field names are schema names (`[a-z_][a-z0-9_]*`):
/// no escaping, and none is `"*"`.
struct FieldDotsText {
    private(set) var explicit = TextBuffer()
    private(set) var shared = TextBuffer()
    private var entries: [(name: String, replica: UInt32, counter: UInt64, hlc: UInt64)] = []
    private var triple = TextBuffer()

    /// Whether the shared form differs from the explicit one (two fields or more share the first dot).
    private(set) var isShared = false

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
    }

    mutating func add(_ name: String, replica: UInt32, counter: UInt64, hlc: UInt64) {
        entries.append((name, replica, counter, hlc))
    }

    /// Writes both forms of the fields added since ``removeAll()``.
    mutating func finish() {
        explicit.removeAll()
        shared.removeAll()
        triple.removeAll()
        guard let base = entries.first else {
            explicit.append(ascii: "{}")
            shared.append(ascii: "{}")
            isShared = false
            return
        }
        triple.append(UInt64(base.replica))
        triple.append(ascii: ",")
        triple.append(base.counter)
        triple.append(ascii: ",")
        triple.append(base.hlc)
        var sharing = 0
        explicit.append(ascii: "{")
        for (i, entry) in entries.enumerated() {
            if i > 0 { explicit.append(ascii: ",") }
            explicit.append(ascii: "\"")
            explicit.append(entry.name)
            explicit.append(ascii: "\":[")
            if entry.replica == base.replica, entry.counter == base.counter, entry.hlc == base.hlc {
                explicit.append(triple.bytes)
                sharing += 1
            } else {
                Self.appendTriple(entry.replica, entry.counter, entry.hlc, to: &explicit)
            }
            explicit.append(ascii: "]")
        }
        explicit.append(ascii: "}")
        isShared = sharing >= 2
        guard isShared else { return }
        shared.append(ascii: "{\"*\":[")
        shared.append(triple.bytes)
        for entry in entries
        where entry.replica == base.replica && entry.counter == base.counter && entry.hlc == base.hlc {
            shared.append(ascii: ",\"")
            shared.append(entry.name)
            shared.append(ascii: "\"")
        }
        shared.append(ascii: "]")
        for entry in entries
        where entry.replica != base.replica || entry.counter != base.counter || entry.hlc != base.hlc {
            shared.append(ascii: ",\"")
            shared.append(entry.name)
            shared.append(ascii: "\":[")
            Self.appendTriple(entry.replica, entry.counter, entry.hlc, to: &shared)
            shared.append(ascii: "]")
        }
        shared.append(ascii: "}")
    }

    /// The form to insert: shared when it is smaller.
    var insertBytes: [UInt8] { isShared ? shared.bytes : explicit.bytes }

    private static func appendTriple(_ replica: UInt32, _ counter: UInt64, _ hlc: UInt64, to out: inout TextBuffer) {
        out.append(UInt64(replica))
        out.append(ascii: ",")
        out.append(counter)
        out.append(ascii: ",")
        out.append(hlc)
    }
}
