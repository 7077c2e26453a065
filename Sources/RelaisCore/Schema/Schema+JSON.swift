public import Foundation

extension Schema {
    /// Reads a schema file.
    ///
    /// The file is a JSON object `{"version": n, "collections": [...]}`; each collection has a
    /// `name`, a `visibility` (`{"territory": field}` or `{"parent": field, "collection": name}`) and
    /// `fields`, each with `name`, `type` (`text`, `number`, `date`, `bool`, `enum`, `set`,
    /// `reference`), `rule`, and optionally `required`, `hub_only`, `values` (enum), `collection`
    /// (reference), `integer`, `minimum`, `maximum` (number) and `reason`. Unknown keys are refused
    /// so that a typo never passes silently.
    public init(json data: Data) throws(SchemaError) {
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw SchemaError(collection: nil, field: nil, message: "the file is not a JSON object")
            }
            root = object
        } catch let error as SchemaError {
            throw error
        } catch {
            throw SchemaError(collection: nil, field: nil, message: "the file is not valid JSON: \(error)")
        }
        try Schema.checkKeys(root, allowed: ["version", "collections", "description"], collection: nil, field: nil)
        guard let version = root["version"] as? Int, version > 0 else {
            throw SchemaError(collection: nil, field: nil, message: "`version` must be a positive integer")
        }
        guard let rawCollections = root["collections"] as? [[String: Any]], !rawCollections.isEmpty else {
            throw SchemaError(collection: nil, field: nil, message: "`collections` must be a non-empty array")
        }
        var collections: [CollectionSchema] = []
        for raw in rawCollections {
            collections.append(try Schema.parseCollection(raw))
        }
        try self.init(version: version, collections: collections)
    }

    private static func parseCollection(_ raw: [String: Any]) throws(SchemaError) -> CollectionSchema {
        guard let name = raw["name"] as? String else {
            throw SchemaError(collection: nil, field: nil, message: "a collection has no `name`")
        }
        try checkKeys(raw, allowed: ["name", "visibility", "fields", "description"], collection: name, field: nil)
        guard let rawFields = raw["fields"] as? [[String: Any]], !rawFields.isEmpty else {
            throw SchemaError(collection: name, field: nil, message: "`fields` must be a non-empty array")
        }
        var fields: [FieldSchema] = []
        for rawField in rawFields {
            fields.append(try parseField(rawField, collection: name))
        }
        let visibility: Visibility
        switch raw["visibility"] {
        case let object as [String: Any]:
            if let territory = object["territory"] as? String, object.count == 1 {
                visibility = .territory(field: territory)
            } else if let parent = object["parent"] as? String, let target = object["collection"] as? String,
                object.count == 2
            {
                visibility = .parent(field: parent, collection: target)
            } else {
                throw SchemaError(
                    collection: name, field: nil,
                    message: "`visibility` must be {\"territory\": field} or {\"parent\": field, \"collection\": name}")
            }
        default:
            throw SchemaError(collection: name, field: nil, message: "`visibility` is missing")
        }
        return CollectionSchema(name: name, fields: fields, visibility: visibility)
    }

    private static func parseField(_ raw: [String: Any], collection: String) throws(SchemaError) -> FieldSchema {
        guard let name = raw["name"] as? String else {
            throw SchemaError(collection: collection, field: nil, message: "a field has no `name`")
        }
        func fail(_ message: String) -> SchemaError {
            SchemaError(collection: collection, field: name, message: message)
        }
        try checkKeys(
            raw,
            allowed: [
                "name", "type", "rule", "required", "hub_only", "values", "collection", "integer", "minimum",
                "maximum", "reason",
            ], collection: collection, field: name)
        guard let typeName = raw["type"] as? String else { throw fail("`type` is missing") }
        let type: FieldType
        switch typeName {
        case "text": type = .text
        case "date": type = .date
        case "bool": type = .bool
        case "set": type = .set
        case "number":
            type = .number(
                integer: raw["integer"] as? Bool ?? false,
                minimum: (raw["minimum"] as? NSNumber)?.doubleValue,
                maximum: (raw["maximum"] as? NSNumber)?.doubleValue)
        case "enum":
            guard let values = raw["values"] as? [String] else { throw fail("enum needs `values`, an array of text") }
            guard Swift.Set(values).count == values.count else { throw fail("enum lists a value twice") }
            type = .enumeration(values)
        case "reference":
            guard let target = raw["collection"] as? String else { throw fail("reference needs `collection`") }
            type = .reference(collection: target)
        default:
            throw fail("unknown type `\(typeName)`")
        }
        guard let ruleName = raw["rule"] as? String else { throw fail("`rule` is missing") }
        guard let rule = MergeRule(rawValue: ruleName) else { throw fail("unknown rule `\(ruleName)`") }
        for flag in ["required", "hub_only", "integer"] where raw[flag] != nil && !(raw[flag] is Bool) {
            throw fail("`\(flag)` must be true or false")
        }
        return FieldSchema(
            name: name, type: type, rule: rule,
            required: raw["required"] as? Bool ?? false,
            hubOnly: raw["hub_only"] as? Bool ?? false,
            reason: raw["reason"] as? String ?? "")
    }

    private static func checkKeys(
        _ raw: [String: Any], allowed: Swift.Set<String>, collection: String?, field: String?
    ) throws(SchemaError) {
        if let unknown = raw.keys.filter({ !allowed.contains($0) }).sorted().first {
            throw SchemaError(collection: collection, field: field, message: "unknown key `\(unknown)`")
        }
    }
}
