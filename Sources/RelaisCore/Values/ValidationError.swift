/// A write that does not fit the schema. It names the collection and field, and is never coerced.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: String, Sendable {
        case unknownCollection = "unknown_collection"
        case unknownField = "unknown_field"
        case invalidValue = "invalid_value"
        case requiredMissing = "required_missing"
        case invalidID = "invalid_id"
        case emptyWrite = "empty_write"
    }

    private let code: Code
    /// The collection named by the write.
    public let collection: String
    /// The field at fault, when there is one.
    public let field: String?
    /// What is wrong, for a person.
    public let message: String

    private init(_ code: Code, collection: String, field: String?, message: String) {
        self.code = code
        self.collection = collection
        self.field = field
        self.message = message
    }

    /// The stable, snake_case code sent on the wire as a rejection code.
    public var codeName: String { code.rawValue }

    public static func unknownCollection(_ collection: String) -> ValidationError {
        .init(.unknownCollection, collection: collection, field: nil, message: "unknown collection `\(collection)`")
    }
    public static func unknownField(_ collection: String, _ field: String) -> ValidationError {
        .init(.unknownField, collection: collection, field: field, message: "unknown field `\(field)`")
    }
    public static func invalidValue(_ collection: String, _ field: String, _ message: String) -> ValidationError {
        .init(.invalidValue, collection: collection, field: field, message: message)
    }
    public static func requiredMissing(_ collection: String, _ field: String) -> ValidationError {
        .init(.requiredMissing, collection: collection, field: field, message: "`\(field)` is required")
    }
    public static func invalidID(_ collection: String, _ id: String) -> ValidationError {
        .init(.invalidID, collection: collection, field: "id", message: "`\(id)` is not a UUID")
    }
    public static func emptyWrite(_ collection: String) -> ValidationError {
        .init(.emptyWrite, collection: collection, field: nil, message: "the write changes no field")
    }

    public static func == (lhs: ValidationError, rhs: ValidationError) -> Bool {
        lhs.code == rhs.code && lhs.collection == rhs.collection && lhs.field == rhs.field
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(collection)
        hasher.combine(field)
    }

    /// Whether two errors are of the same kind, whatever the field.
    public func isSameKind(as other: ValidationError) -> Bool { code == other.code }

    public var description: String {
        if let field { "\(collection).\(field): \(message)" } else { "\(collection): \(message)" }
    }
}
