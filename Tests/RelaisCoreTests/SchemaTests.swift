import Foundation
import RelaisCore
import Testing

struct SchemaTests {
    // MARK: The default CRM schema

    @Test func crmSchemaHasItsCollectionsInParentFirstOrder() throws {
        let schema = Schema.crm
        #expect(schema.version == 2)
        #expect(
            schema.collectionNames == ["customers", "contacts", "interactions", "opportunities", "tasks", "orders"])
        #expect(Schema.crmVersion1.collectionNames == ["customers", "contacts", "interactions"])
        #expect(schema.collection("leads") == nil)
    }

    @Test func crmSchemaDeclaresEveryFieldOfTheDesign() throws {
        // DESIGN §2; `id` is implicit.
        let expected: [String: [String]] = [
            "customers": [
                "name", "segment", "relationship_level", "programme", "status", "territory", "owner", "phone",
                "email", "address", "city", "lifetime_value", "tags", "notes",
            ],
            "contacts": ["customer_id", "name", "role", "phone", "email", "decision_maker", "opted_out"],
            "interactions": [
                "customer_id", "kind", "at", "author", "summary", "outcome", "satisfaction", "follow_up_on",
                "resolved", "contact_id", "channel",
            ],
            // Version 2 (docs/CRM.md).
            "opportunities": [
                "customer_id", "title", "stage", "amount", "close_on", "probability", "owner", "lost_reason",
            ],
            "tasks": ["customer_id", "contact_id", "due_on", "kind", "assignee", "done", "notes"],
            "orders": ["customer_id", "ordered_on", "amount", "margin", "lines"],
        ]
        for (name, fields) in expected {
            let collection = try #require(Schema.crm.collection(name))
            #expect(Set(collection.fieldNames) == Set(fields), "\(name)")
            #expect(collection.fieldNames.count == fields.count, "\(name) declares no extra field")
            #expect(collection.field("id") == nil)
        }
    }

    @Test func crmSchemaFieldTypesFollowTheDesign() throws {
        let customers = try #require(Schema.crm.collection("customers"))
        let interactions = try #require(Schema.crm.collection("interactions"))
        let contacts = try #require(Schema.crm.collection("contacts"))

        #expect(customers.field("segment")?.type == .enumeration(["A", "B", "C"]))
        #expect(
            customers.field("relationship_level")?.type
                == .enumeration(["basic", "reactive", "responsible", "proactive", "partnership"]))
        #expect(
            customers.field("programme")?.type
                == .enumeration(["prospection", "development", "recovery", "loyalty"]))
        #expect(customers.field("status")?.type == .enumeration(["prospect", "active", "at_risk", "lapsed"]))
        #expect(customers.field("tags")?.type == .set)
        #expect(customers.field("notes")?.type == .text)
        #expect(customers.field("lifetime_value")?.type.name == "number")
        #expect(customers.field("name")?.required == true)
        #expect(customers.field("territory")?.required == true)
        #expect(customers.visibility == .territory(field: "territory"))

        #expect(contacts.field("customer_id")?.type == .reference(collection: "customers"))
        #expect(contacts.visibility == .parent(field: "customer_id", collection: "customers"))

        #expect(
            interactions.field("kind")?.type == .enumeration(["visit", "call", "email", "complaint", "suggestion"]))
        #expect(interactions.field("at")?.type == .date)
        #expect(interactions.field("follow_up_on")?.type == .date)
        #expect(interactions.field("resolved")?.type == .bool)
        #expect(interactions.field("satisfaction")?.type == .number(integer: true, minimum: 1, maximum: 5))
        #expect(interactions.field("customer_id")?.type == .reference(collection: "customers"))
        #expect(interactions.visibility == .parent(field: "customer_id", collection: "customers"))
    }

    @Test func everyCRMFieldHasARuleAndAReason() {
        for collection in Schema.crm.collections {
            for field in collection.fields {
                #expect(MergeRule.allCases.contains(field.rule), "\(collection.name).\(field.name)")
                #expect(
                    !field.reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                    "\(collection.name).\(field.name) explains its rule")
            }
        }
    }

    @Test func crmSchemaUsesTheRulesTheDesignNames() throws {
        let customers = try #require(Schema.crm.collection("customers"))
        let interactions = try #require(Schema.crm.collection("interactions"))
        #expect(interactions.field("follow_up_on")?.rule == .min)
        #expect(customers.field("tags")?.rule == .union)
        #expect(customers.field("notes")?.rule == .append)
        #expect(customers.field("phone")?.rule == .lww)
    }

    // MARK: Schema files

    /// A valid one-collection schema file with the given extra fields (JSON objects) and visibility.
    static func file(fields: [String], territory: String = "territory", extraCollections: String = "") -> Data {
        let all = [#"{"name": "territory", "type": "text", "rule": "lww", "required": true, "reason": "r"}"#] + fields
        return Data(
            """
            {"version": 1, "collections": [
              {"name": "accounts", "visibility": {"territory": "\(territory)"}, "fields": [\(all.joined(separator: ",\n"))]}
              \(extraCollections)
            ]}
            """.utf8)
    }

    @Test func aValidFileLoads() throws {
        let schema = try Schema(
            json: Self.file(
                fields: [
                    #"{"name": "score", "type": "number", "integer": true, "minimum": 0, "maximum": 10, "rule": "max"}"#,
                    #"{"name": "labels", "type": "set", "rule": "union", "reason": "keep both"}"#,
                    #"{"name": "level", "type": "enum", "values": ["low", "high"], "rule": "manual"}"#,
                    #"{"name": "parent_id", "type": "reference", "collection": "accounts", "rule": "lww"}"#,
                ]))
        let accounts = try #require(schema.collection("accounts"))
        #expect(accounts.fieldNames == ["territory", "score", "labels", "level", "parent_id"])
        #expect(accounts.field("score")?.type == .number(integer: true, minimum: 0, maximum: 10))
        #expect(accounts.field("score")?.rule == .max)
        #expect(accounts.field("labels")?.reason == "keep both")
        #expect(accounts.field("level")?.type == .enumeration(["low", "high"]))
    }

    struct BadFile: Sendable, CustomTestStringConvertible {
        var problem: String
        var fields: [String]
        var territory = "territory"
        var field: String
        var message: String

        var testDescription: String { problem }
    }

    static let badFiles: [BadFile] = [
        BadFile(
            problem: "unknown type", fields: [#"{"name": "score", "type": "integer", "rule": "lww"}"#],
            field: "score", message: "unknown type"),
        BadFile(
            problem: "unknown rule", fields: [#"{"name": "score", "type": "number", "rule": "sum"}"#],
            field: "score", message: "unknown rule"),
        BadFile(
            problem: "union on a text field", fields: [#"{"name": "labels", "type": "text", "rule": "union"}"#],
            field: "labels", message: "union"),
        BadFile(
            problem: "append on a number", fields: [#"{"name": "score", "type": "number", "rule": "append"}"#],
            field: "score", message: "append"),
        BadFile(
            problem: "max on a set", fields: [#"{"name": "labels", "type": "set", "rule": "max"}"#],
            field: "labels", message: "set"),
        BadFile(
            problem: "enum without values", fields: [#"{"name": "level", "type": "enum", "rule": "lww"}"#],
            field: "level", message: "values"),
        BadFile(
            problem: "enum with no values",
            fields: [#"{"name": "level", "type": "enum", "values": [], "rule": "lww"}"#],
            field: "level", message: "no values"),
        BadFile(
            problem: "enum listing a value twice",
            fields: [#"{"name": "level", "type": "enum", "values": ["a", "a"], "rule": "lww"}"#],
            field: "level", message: "twice"),
        BadFile(
            problem: "reference to an unknown collection",
            fields: [#"{"name": "parent_id", "type": "reference", "collection": "nowhere", "rule": "lww"}"#],
            field: "parent_id", message: "nowhere"),
        BadFile(
            problem: "duplicate field",
            fields: [
                #"{"name": "score", "type": "number", "rule": "lww"}"#,
                #"{"name": "score", "type": "text", "rule": "lww"}"#,
            ],
            field: "score", message: "twice"),
        BadFile(
            problem: "unknown key",
            fields: [#"{"name": "score", "type": "number", "rule": "lww", "requried": true}"#],
            field: "score", message: "requried"),
        BadFile(
            problem: "flag that is not a bool",
            fields: [#"{"name": "score", "type": "number", "rule": "lww", "required": "yes"}"#],
            field: "score", message: "required"),
        BadFile(
            problem: "missing rule", fields: [#"{"name": "score", "type": "number"}"#],
            field: "score", message: "rule"),
        BadFile(
            problem: "declared id", fields: [#"{"name": "id", "type": "text", "rule": "lww"}"#],
            field: "id", message: "implicit"),
        BadFile(
            problem: "field name that is not an identifier",
            fields: [#"{"name": "Score", "type": "number", "rule": "lww"}"#],
            field: "Score", message: "identifier"),
        BadFile(
            problem: "territory field missing", fields: [], territory: "region",
            field: "region", message: "territory"),
        BadFile(
            problem: "territory field not required",
            fields: [#"{"name": "region", "type": "text", "rule": "lww"}"#], territory: "region",
            field: "region", message: "required"),
    ]

    @Test(arguments: badFiles)
    func aBadFileIsRefusedNamingTheCollectionAndField(_ bad: BadFile) {
        let data = Self.file(fields: bad.fields, territory: bad.territory)
        do {
            _ = try Schema(json: data)
            Issue.record("\(bad.problem): the file loaded")
        } catch {
            #expect(error.collection == "accounts", "\(bad.problem): \(error)")
            #expect(error.field == bad.field, "\(bad.problem): \(error)")
            #expect(error.message.contains(bad.message), "\(bad.problem): \(error)")
            #expect(error.description.hasPrefix("schema: accounts.\(bad.field): "), "\(bad.problem)")
        }
    }

    @Test func aParentVisibilityMustReferenceTheParent() {
        let child = """
            , {"name": "notes_of", "visibility": {"parent": "account_id", "collection": "accounts"}, "fields": [
                {"name": "account_id", "type": "text", "rule": "lww", "required": true}]}
            """
        do {
            _ = try Schema(json: Self.file(fields: [], extraCollections: child))
            Issue.record("the file loaded")
        } catch {
            #expect(error.collection == "notes_of")
            #expect(error.field == "account_id")
        }
    }

    @Test func fileLevelProblemsAreRefused() {
        let cases: [(String, String)] = [
            ("not json", "{"),
            ("not an object", "[1, 2]"),
            ("no version", #"{"collections": []}"#),
            ("no collections", #"{"version": 1, "collections": []}"#),
            ("unknown top-level key", #"{"version": 1, "collections": [], "colections": []}"#),
        ]
        for (problem, text) in cases {
            #expect(throws: SchemaError.self, "\(problem)") { _ = try Schema(json: Data(text.utf8)) }
        }
    }

    @Test func aCollectionDeclaredTwiceIsRefused() {
        let twin = """
            , {"name": "accounts", "visibility": {"territory": "territory"}, "fields": [
                {"name": "territory", "type": "text", "rule": "lww", "required": true}]}
            """
        do {
            _ = try Schema(json: Self.file(fields: [], extraCollections: twin))
            Issue.record("the file loaded")
        } catch {
            #expect(error.collection == "accounts")
            #expect(error.message.contains("twice"))
        }
    }
}
