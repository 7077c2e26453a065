import Foundation

/// How concurrent writes to one field are merged (DESIGN §4).
public enum MergeRule: String, Sendable, Hashable, Codable, CaseIterable {
    /// The greater `(hlc, replica)` wins.
    case lww
    /// Set union of the competing values (set fields only).
    case union
    /// Every competing text is kept, in `(hlc, replica)` order, each marked with its author.
    case append
    /// The greatest value wins (numbers, dates, bools with false < true).
    case max
    /// The least value wins.
    case min
    /// The `lww` winner stands provisionally; the conflict report stays open until an admin decides.
    case manual
}

/// The type of a field's values.
public enum FieldType: Sendable, Hashable {
    case text
    case number(integer: Bool, minimum: Double?, maximum: Double?)
    /// ISO 8601: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.sss]Z`.
    case date
    case bool
    /// One of a fixed list of values, carried as text.
    case enumeration([String])
    /// A set of strings, carried sorted and without duplicates.
    case set
    /// The id of a record of another collection.
    case reference(collection: String)

    /// The name used in the schema file.
    public var name: String {
        switch self {
        case .text: "text"
        case .number: "number"
        case .date: "date"
        case .bool: "bool"
        case .enumeration: "enum"
        case .set: "set"
        case .reference: "reference"
        }
    }
}

/// One field of a collection: its type, merge rule and constraints.
public struct FieldSchema: Sendable, Hashable {
    public var name: String
    public var type: FieldType
    public var rule: MergeRule
    /// A record cannot be created without it, nor can it be set to null.
    public var required: Bool
    /// Only the office (managers, admins, the hub itself) may write it; a rep's write is rejected.
    public var hubOnly: Bool
    /// Why the field has its merge rule: shown to admins and in the docs.
    public var reason: String

    public init(
        name: String, type: FieldType, rule: MergeRule, required: Bool = false, hubOnly: Bool = false,
        reason: String = ""
    ) {
        self.name = name
        self.type = type
        self.rule = rule
        self.required = required
        self.hubOnly = hubOnly
        self.reason = reason
    }
}

/// Who may see a collection's records.
public enum Visibility: Sendable, Hashable {
    /// The record's own territory field decides.
    case territory(field: String)
    /// The record follows its parent's visibility through a reference field.
    case parent(field: String, collection: String)
}

/// A collection: a table on every replica and on the hub.
public struct CollectionSchema: Sendable, Hashable {
    public var name: String
    public var fields: [FieldSchema]
    public var visibility: Visibility
    private var index: [String: Int]

    public init(name: String, fields: [FieldSchema], visibility: Visibility) {
        self.name = name
        self.fields = fields
        self.visibility = visibility
        self.index = Dictionary(fields.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The field named `name`, if declared.
    public func field(_ name: String) -> FieldSchema? {
        index[name].map { fields[$0] }
    }

    /// The position in ``fields`` of the field named `name`, if declared.
    public func fieldIndex(_ name: String) -> Int? {
        index[name]
    }

    /// The field names in declaration order.
    public var fieldNames: [String] { fields.map(\.name) }
}

/// The declared data model: collections, fields, types and merge rules, with a version number.
///
/// Load the default CRM schema shipped with Relais with ``Schema/crm``, or any schema file with
/// ``Schema/init(json:)``. A malformed file is refused with a ``SchemaError`` that names the
/// collection and field at fault.
public struct Schema: Sendable, Hashable {
    /// Bumped by every migration; a client older than the hub's schema is told so.
    public var version: Int
    public var collections: [CollectionSchema]
    private var index: [String: Int]

    public init(version: Int, collections: [CollectionSchema]) throws(SchemaError) {
        self.version = version
        self.collections = collections
        self.index = [:]
        for (i, collection) in collections.enumerated() {
            guard index[collection.name] == nil else {
                throw SchemaError(collection: collection.name, field: nil, message: "collection declared twice")
            }
            index[collection.name] = i
        }
        try validate()
    }

    /// The collection named `name`, if declared.
    public func collection(_ name: String) -> CollectionSchema? {
        index[name].map { collections[$0] }
    }

    /// The names of the collections in declaration order (parents before children).
    public var collectionNames: [String] { collections.map(\.name) }

    /// The default CRM schema of DESIGN §2 (version 2, docs/CRM.md), shipped as `crm-schema.json`.
    public static var crm: Schema { SchemaDefinition.crm.schema }

    /// Version 1 of the default CRM schema (customers, contacts, interactions): what replica files
    /// and hubs made before version 2 hold.
    public static var crmVersion1: Schema { SchemaDefinition.crmVersion1.schema }

    private func validate() throws(SchemaError) {
        for collection in collections {
            if !Schema.isIdentifier(collection.name) {
                throw SchemaError(collection: collection.name, field: nil, message: "name is not an identifier")
            }
            var seen = Swift.Set<String>()
            for field in collection.fields {
                func fail(_ message: String) -> SchemaError {
                    SchemaError(collection: collection.name, field: field.name, message: message)
                }
                guard Schema.isIdentifier(field.name), !field.name.hasPrefix("_") else {
                    throw fail("name is not an identifier")
                }
                guard field.name != "id" else { throw fail("`id` is implicit and cannot be declared") }
                guard seen.insert(field.name).inserted else { throw fail("field declared twice") }
                switch (field.rule, field.type) {
                case (.union, .set): break
                case (.union, _): throw fail("rule `union` needs a set field, not \(field.type.name)")
                case (.append, .text): break
                case (.append, _): throw fail("rule `append` needs a text field, not \(field.type.name)")
                case (.max, .set), (.min, .set):
                    throw fail("rule `\(field.rule.rawValue)` cannot order a set field")
                default: break
                }
                if case .enumeration(let values) = field.type, values.isEmpty {
                    throw fail("enum declares no values")
                }
                if case .reference(let target) = field.type, index[target] == nil {
                    throw fail("references unknown collection `\(target)`")
                }
            }
            switch collection.visibility {
            case .territory(let name):
                guard let field = collection.field(name) else {
                    throw SchemaError(
                        collection: collection.name, field: name, message: "territory field is not declared")
                }
                guard field.required else {
                    throw SchemaError(
                        collection: collection.name, field: name, message: "territory field must be required")
                }
            case .parent(let name, let parent):
                guard let field = collection.field(name), field.type == .reference(collection: parent) else {
                    throw SchemaError(
                        collection: collection.name, field: name,
                        message: "visibility parent field must be a reference to `\(parent)`")
                }
                guard field.required else {
                    throw SchemaError(
                        collection: collection.name, field: name, message: "parent reference must be required")
                }
            }
        }
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}

/// A schema file that cannot be used. The message names the collection and field at fault.
public struct SchemaError: Error, Sendable, Equatable, CustomStringConvertible {
    public var collection: String?
    public var field: String?
    public var message: String

    public init(collection: String?, field: String?, message: String) {
        self.collection = collection
        self.field = field
        self.message = message
    }

    public var description: String {
        switch (collection, field) {
        case (let c?, let f?): "schema: \(c).\(f): \(message)"
        case (let c?, nil): "schema: \(c): \(message)"
        default: "schema: \(message)"
        }
    }
}
