/// A field value, typed by the schema.
///
/// Enumerations and references are carried as `.text`; dates as ISO 8601 `.date` text
/// (`2026-11-28` or `2026-11-28T09:30:00Z`), which sorts chronologically as text within one form.
/// A set is kept sorted and free of duplicates, so equal sets are equal values.
public enum Value: Hashable, Sendable, CustomStringConvertible {
    case null
    case text(String)
    case number(Double)
    case bool(Bool)
    case date(String)
    case set([String])

    /// A set value, sorted and without duplicates.
    public static func stringSet<S: Sequence<String>>(_ items: S) -> Value {
        .set(Array(Swift.Set(items)).sorted())
    }

    public var isNull: Bool { if case .null = self { true } else { false } }

    /// The text of a `.text` or `.date` value.
    public var stringValue: String? {
        switch self {
        case .text(let s), .date(let s): s
        default: nil
        }
    }

    /// The items of a `.set` value (`.null` reads as the empty set).
    public var setItems: [String]? {
        switch self {
        case .set(let items): items
        case .null: []
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .text(let s): s
        case .number(let n): Value.format(n)
        case .bool(let b): b ? "true" : "false"
        case .date(let d): d
        case .set(let items): items.joined(separator: ",")
        }
    }

    /// Formats a number without a trailing `.0` when it is integral.
    public static func format(_ n: Double) -> String {
        if n.isFinite, n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
        return String(n)
    }
}

extension Value {
    /// Orders two values of one type for `max` and `min`: numbers numerically, bools false < true,
    /// dates and text by their text. Returns `nil` when the values cannot be compared.
    public static func order(_ a: Value, _ b: Value) -> Bool? {
        switch (a, b) {
        case (.number(let x), .number(let y)): x < y
        case (.bool(let x), .bool(let y)): !x && y
        case (.date(let x), .date(let y)), (.text(let x), .text(let y)): x < y
        default: nil
        }
    }
}
