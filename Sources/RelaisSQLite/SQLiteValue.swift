/// A value stored in, or bound to, SQLite: one of its five storage classes.
///
/// Use it for arguments and for reading columns whose type isn't known in advance. Hot paths
/// should prefer the typed binds and readers of ``Statement``, which avoid the enum.
///
/// The literal conformances make argument lists read naturally:
///
/// ```swift
/// try connection.execute(
///     "INSERT INTO customer(id, name, score, logo, note) VALUES (?, ?, ?, ?, ?)",
///     [42, "Café Müller", 3.5, .blob([0xCA, 0xFE]), nil]
/// )
/// ```
public enum SQLiteValue: Sendable, Hashable {
    /// A stored type, without the value (``Statement/kind(at:)``).
    public enum Kind: Sendable, Hashable {
        case null, integer, real, text, blob
    }

    /// SQL `NULL`.
    case null
    /// A 64-bit signed integer (`INTEGER`).
    case integer(Int64)
    /// An IEEE 754 double (`REAL`). SQLite stores NaN as `NULL`.
    case real(Double)
    /// UTF-8 text (`TEXT`).
    case text(String)
    /// Bytes (`BLOB`). An empty array is a zero-length blob, not `NULL`.
    case blob([UInt8])

    /// `true` for ``null``.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The integer payload, or `nil` when the value is not ``integer(_:)``. No conversion is attempted.
    public var int64Value: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The double payload, or `nil` when the value is not ``real(_:)``. No conversion is attempted.
    public var doubleValue: Double? {
        if case .real(let value) = self { return value }
        return nil
    }

    /// The text payload, or `nil` when the value is not ``text(_:)``. No conversion is attempted.
    public var textValue: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// The blob payload, or `nil` when the value is not ``blob(_:)``. No conversion is attempted.
    public var blobValue: [UInt8]? {
        if case .blob(let value) = self { return value }
        return nil
    }
}

extension SQLiteValue: ExpressibleByNilLiteral {
    /// Creates ``null`` from `nil`.
    public init(nilLiteral: ()) {
        self = .null
    }
}

extension SQLiteValue: ExpressibleByIntegerLiteral {
    /// Creates ``integer(_:)`` from an integer literal.
    public init(integerLiteral value: Int64) {
        self = .integer(value)
    }
}

extension SQLiteValue: ExpressibleByFloatLiteral {
    /// Creates ``real(_:)`` from a floating-point literal.
    public init(floatLiteral value: Double) {
        self = .real(value)
    }
}

extension SQLiteValue: ExpressibleByStringLiteral {
    /// Creates ``text(_:)`` from a string literal.
    public init(stringLiteral value: String) {
        self = .text(value)
    }
}

extension SQLiteValue: ExpressibleByBooleanLiteral {
    /// Creates ``integer(_:)`` 1 or 0 from `true` or `false`, as SQLite stores booleans.
    public init(booleanLiteral value: Bool) {
        self = .integer(value ? 1 : 0)
    }
}

extension SQLiteValue: CustomStringConvertible {
    /// An SQL-literal-like rendering: `NULL`, `42`, `1.5`, `'text'`, `X'CAFE'`.
    public var description: String {
        switch self {
        case .null:
            return "NULL"
        case .integer(let value):
            return String(value)
        case .real(let value):
            return String(value)
        case .text(let value):
            return "'" + value.replacingOccurrences("'", with: "''") + "'"
        case .blob(let bytes):
            let hexDigits = Array("0123456789ABCDEF".utf8)
            var hex: [UInt8] = []
            hex.reserveCapacity(bytes.count * 2)
            for byte in bytes {
                hex.append(hexDigits[Int(byte >> 4)])
                hex.append(hexDigits[Int(byte & 0x0F)])
            }
            return "X'" + String(decoding: hex, as: UTF8.self) + "'"
        }
    }
}

extension String {
    /// Replaces every occurrence of `target`, without Foundation.
    fileprivate func replacingOccurrences(_ target: Character, with replacement: String) -> String {
        var result = ""
        result.reserveCapacity(utf8.count)
        for character in self {
            if character == target {
                result += replacement
            } else {
                result.append(character)
            }
        }
        return result
    }
}
