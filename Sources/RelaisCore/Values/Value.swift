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
    /// dates chronologically (a day at its UTC midnight; the same instant written two ways by text),
    /// text by its text. Returns `nil` when the values cannot be compared.
    public static func order(_ a: Value, _ b: Value) -> Bool? {
        switch (a, b) {
        case (.number(let x), .number(let y)): x < y
        case (.bool(let x), .bool(let y)): !x && y
        case (.date(let x), .date(let y)):
            switch (instant(x), instant(y)) {
            case (let i?, let j?) where i != j: i < j
            default: x < y
            }
        case (.text(let x), .text(let y)): x < y
        default: nil
        }
    }

    /// Seconds since 1970 and nanoseconds of an ISO 8601 date (`FieldType.isISODate`), or nil.
    ///
    /// Text order is wrong across forms: `09:00:00.5Z` sorts before `09:00:00Z`, and offsets are ignored.
    static func instant(_ text: String) -> Instant? {
        guard FieldType.isISODate(text) else { return nil }
        let u = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + Int(u[$1] - 48) } }
        // Days from the civil date (H. Hinnant's algorithm), proleptic Gregorian.
        let (month, day) = (number(5..<7), number(8..<10))
        let year = number(0..<4) - (month <= 2 ? 1 : 0)
        let era = year / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let days = era * 146_097 + yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear - 719_468
        var seconds = days * 86_400
        var nanos = 0
        guard u.count > 10 else { return Instant(seconds: seconds, nanos: 0) }
        seconds += number(11..<13) * 3_600 + number(14..<16) * 60 + number(17..<19)
        var i = 19
        if u[i] == 46 {  // "."
            var scale = 100_000_000
            i += 1
            while i < u.count, u[i] >= 48, u[i] <= 57 {
                nanos += Int(u[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        if u[i] != 90 {  // "+HH:MM" or "-HH:MM": local time = UTC + offset
            let offset = number((i + 1)..<(i + 3)) * 3_600 + number((i + 4)..<(i + 6)) * 60
            seconds += u[i] == 43 ? -offset : offset
        }
        return Instant(seconds: seconds, nanos: nanos)
    }

    struct Instant: Comparable {
        var seconds: Int
        var nanos: Int

        static func < (a: Instant, b: Instant) -> Bool { (a.seconds, a.nanos) < (b.seconds, b.nanos) }
    }
}
