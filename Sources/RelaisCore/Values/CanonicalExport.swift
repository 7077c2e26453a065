public import Foundation

/// The canonical JSON export of a set of records, shared by `relais export` and `relais-hub export`
/// so that a replica's file and the hub's view of its user compare byte for byte.
///
/// Shape: one object keyed by collection name (every collection of the schema, possibly empty), each
/// an array of records sorted by id; a record is `{"id": ..., "<field>": ...}` without null fields; a
/// set is a sorted array; keys are sorted.
public enum CanonicalExport {
    /// One record: its id and its non-null field values.
    public struct Record: Sendable, Hashable {
        public var id: String
        public var values: [String: Value]

        public init(id: String, values: [String: Value]) {
            self.id = id
            self.values = values
        }
    }

    /// The export as a JSON-compatible object (for embedding in other output).
    public static func object(schema: Schema, records: [String: [Record]]) -> [String: Any] {
        var result: [String: Any] = [:]
        for collection in schema.collections {
            let sorted = (records[collection.name] ?? []).sorted { $0.id < $1.id }
            result[collection.name] = sorted.map { record(schema: collection, $0) }
        }
        return result
    }

    /// One record as a JSON-compatible object, nulls omitted.
    public static func record(schema: CollectionSchema, _ record: Record) -> [String: Any] {
        var object: [String: Any] = ["id": record.id]
        for field in schema.fields {
            guard let value = record.values[field.name], !value.isNull else { continue }
            object[field.name] = FieldType.jsonObject(value)
        }
        return object
    }

    /// The export as JSON text with sorted keys.
    public static func json(schema: Schema, records: [String: [Record]], pretty: Bool = true) throws -> Data {
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        if pretty { options.insert(.prettyPrinted) }
        return try JSONSerialization.data(withJSONObject: object(schema: schema, records: records), options: options)
    }
}
