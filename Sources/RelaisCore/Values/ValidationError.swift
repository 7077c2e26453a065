/// A write that does not fit the schema. It names the collection and field, and is never coerced.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable snake_case code; compare errors by it and switch over it (new codes may come, so a
    /// `switch` ends with `default`).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let unknownCollection = Code(rawValue: "unknown_collection")
        public static let unknownField = Code(rawValue: "unknown_field")
        public static let invalidValue = Code(rawValue: "invalid_value")
        public static let requiredMissing = Code(rawValue: "required_missing")
        public static let invalidID = Code(rawValue: "invalid_id")
        public static let emptyWrite = Code(rawValue: "empty_write")
    }

    /// What is wrong; sent on the wire as the write's rejection code.
    public let code: Code
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

    /// The same code on the same collection and field (the message aside). To compare kinds, compare
    /// ``code``s.
    public static func == (lhs: ValidationError, rhs: ValidationError) -> Bool {
        lhs.code == rhs.code && lhs.collection == rhs.collection && lhs.field == rhs.field
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(collection)
        hasher.combine(field)
    }

    public var description: String {
        if let field { "\(collection).\(field): \(message)" } else { "\(collection): \(message)" }
    }
}
