import Foundation
import RelaisCore
import Testing

/// Which changes a schema may make in place (`Schema.changes(from:)`, docs/CRM.md "Changing the
/// schema"): each refused one is named in the error, each accepted one is listed.
struct SchemaEvolutionTests {
    /// The shipped version 1 with one edit to its JSON, as the next version.
    private func edited(_ edit: (inout [String: Any]) -> Void, version: Int = 2) throws -> Schema {
        var root = try #require(
            try JSONSerialization.jsonObject(with: Data(SchemaDefinition.crmVersion1.text.utf8)) as? [String: Any])
        root["version"] = version
        edit(&root)
        return try Schema(json: try JSONSerialization.data(withJSONObject: root))
    }

    private func editCollection(_ name: String, _ edit: @escaping (inout [String: Any]) -> Void) -> (
        inout [String: Any]
    ) -> Void {
        { root in
            var collections = root["collections"] as! [[String: Any]]
            let index = collections.firstIndex { $0["name"] as? String == name }!
            edit(&collections[index])
            root["collections"] = collections
        }
    }

    private func editField(_ collection: String, _ field: String, _ edit: @escaping (inout [String: Any]) -> Void)
        -> (inout [String: Any]) -> Void
    {
        editCollection(collection) { raw in
            var fields = raw["fields"] as! [[String: Any]]
            let index = fields.firstIndex { $0["name"] as? String == field }!
            edit(&fields[index])
            raw["fields"] = fields
        }
    }

    private func refusal(_ schema: Schema, from current: Schema = .crmVersion1) -> SchemaError? {
        do {
            _ = try schema.changes(from: current)
            return nil
        } catch {
            return error
        }
    }

    @Test func theShippedVersion2ExtendsVersion1InPlace() throws {
        let changes = try Schema.crm.changes(from: .crmVersion1)
        #expect(Schema.crm.version == 2)
        #expect(
            changes == [
                .fieldAdded(collection: "contacts", field: "decision_maker"),
                .fieldAdded(collection: "contacts", field: "opted_out"),
                .fieldAdded(collection: "interactions", field: "contact_id"),
                .fieldAdded(collection: "interactions", field: "channel"),
                .collectionAdded("opportunities"), .collectionAdded("tasks"), .collectionAdded("orders"),
            ])
        // Every field of version 2 says why it merges as it does.
        for collection in Schema.crm.collections {
            for field in collection.fields { #expect(!field.reason.isEmpty, "\(collection.name).\(field.name)") }
        }
    }

    @Test func theSameVersionIsNoChangeAndAnotherWithTheSameNumberIsRefused() throws {
        #expect(try Schema.crmVersion1.changes(from: .crmVersion1) == [])
        let other = try edited(editField("customers", "city") { $0["rule"] = "manual" }, version: 1)
        #expect(refusal(other)?.message.contains("in force with other contents") == true)
        #expect(refusal(.crmVersion1, from: .crm)?.message.contains("older than the version in force") == true)
    }

    @Test func widerEnumsAndOtherRulesAreAccepted() throws {
        let schema = try edited { root in
            editField("customers", "status") {
                $0["values"] = ["prospect", "active", "at_risk", "lapsed", "won_back"]
            }(
                &root)
            editField("interactions", "satisfaction") { $0["rule"] = "lww" }(&root)
            editField("customers", "city") { $0["reason"] = "Follows the address, corrected with it." }(&root)
        }
        #expect(
            try schema.changes(from: .crmVersion1) == [
                .enumWidened(collection: "customers", field: "status", added: ["won_back"]),
                .reasonChanged(collection: "customers", field: "city"),
                .ruleChanged(collection: "interactions", field: "satisfaction", from: .min, to: .lww),
            ])
    }

    @Test func everyOtherChangeIsRefusedAndNamed() throws {
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            (
                "field removed",
                editCollection("customers") { raw in
                    raw["fields"] = (raw["fields"] as! [[String: Any]]).filter { $0["name"] as? String != "city" }
                }, "customers.city: the field is removed"
            ),
            (
                "field moved",
                editCollection("customers") { raw in
                    var fields = raw["fields"] as! [[String: Any]]
                    fields.swapAt(1, 2)
                    raw["fields"] = fields
                }, "customers.segment: the field moved"
            ),
            (
                "new field in the middle",
                editCollection("contacts") { raw in
                    var fields = raw["fields"] as! [[String: Any]]
                    fields.insert(["name": "title", "type": "text", "rule": "lww"], at: 1)
                    raw["fields"] = fields
                }, "contacts.name: the field moved"
            ),
            ("type changed", editField("customers", "city") { $0["type"] = "date" }, "type changed from text to date"),
            (
                "enum narrowed", editField("customers", "status") { $0["values"] = ["prospect", "active", "at_risk"] },
                "no longer accepts `lapsed`"
            ),
            (
                "bounds changed", editField("interactions", "satisfaction") { $0["maximum"] = 10 },
                "type changed from integer ≥ 1.0 ≤ 5.0 to integer ≥ 1.0 ≤ 10.0"
            ),
            ("now required", editField("customers", "city") { $0["required"] = true }, "the field becomes required"),
            ("now hub only", editField("customers", "city") { $0["hub_only"] = true }, "written by the office only"),
            (
                "new required field",
                editCollection("contacts") { raw in
                    raw["fields"] =
                        (raw["fields"] as! [[String: Any]]) + [
                            ["name": "title", "type": "text", "rule": "lww", "required": true]
                        ]
                }, "contacts.title: a new field of an existing collection cannot be required"
            ),
            (
                "visibility changed", editCollection("interactions") { $0["visibility"] = ["territory": "kind"] },
                "interactions: its visibility changed"
            ),
            (
                "collection removed",
                { root in
                    root["collections"] = (root["collections"] as! [[String: Any]]).filter {
                        $0["name"] as? String != "interactions"
                    }
                }, "interactions: the collection is removed"
            ),
            (
                "collection inserted before an existing one",
                { root in
                    var collections = root["collections"] as! [[String: Any]]
                    collections.insert(
                        [
                            "name": "notes", "visibility": ["parent": "customer_id", "collection": "customers"],
                            "fields": [
                                [
                                    "name": "customer_id", "type": "reference", "collection": "customers",
                                    "rule": "lww",
                                    "required": true,
                                ]
                            ],
                        ], at: 1)
                    root["collections"] = collections
                }, "contacts: the collection moved"
            ),
        ]
        for (name, edit, expected) in cases {
            let schema = try edited(edit)
            let error = try #require(refusal(schema), "\(name) was accepted")
            #expect(error.description.contains(expected), "\(name): \(error)")
        }
    }
}
