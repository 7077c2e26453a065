public import Foundation

/// A schema with the text of its file, exactly as written: what a hub stores and serves
/// (`GET /v1/schema`) and what a replica file keeps, so that the schema travels as data and a
/// program built before a schema change still reads it.
public struct SchemaDefinition: Sendable, Hashable {
    /// The parsed schema.
    public let schema: Schema
    /// The file's text.
    public let text: String

    /// Reads a schema file (``Schema/init(json:)``).
    public init(json: Data) throws(SchemaError) {
        self.schema = try Schema(json: json)
        self.text = String(decoding: json, as: UTF8.self)
    }

    /// Reads a schema file's text.
    public init(text: String) throws(SchemaError) {
        try self.init(json: Data(text.utf8))
    }

    /// The schema's version.
    public var version: Int { schema.version }

    /// The default CRM schema, shipped as `crm-schema.json` (version 2).
    public static let crm: SchemaDefinition = shipped("crm-schema")

    /// Version 1 of the default CRM schema, shipped as `crm-schema-v1.json`.
    public static let crmVersion1: SchemaDefinition = shipped("crm-schema-v1")

    private static func shipped(_ name: String) -> SchemaDefinition {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json") else {
            fatalError("\(name).json is missing from the RelaisCore bundle")
        }
        do {
            return try SchemaDefinition(json: Data(contentsOf: url))
        } catch {
            fatalError("the shipped \(name).json is invalid: \(error)")
        }
    }
}
