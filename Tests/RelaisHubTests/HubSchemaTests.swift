import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

/// The data schema lives on the hub (docs/CRM.md "Changing the schema"): a compatible version is
/// applied while hubs serve, an incompatible one is refused and changes nothing, and clients on an
/// older version are told to fetch it.
struct HubSchemaTests {
    /// A hub that started on version 1 of the CRM schema.
    private var version1: HubService.Configuration {
        var configuration = HubService.Configuration()
        configuration.schema = .crmVersion1
        return configuration
    }

    /// Version 2 with `customers.city` removed: refused.
    private func withoutCity() throws -> SchemaDefinition {
        var root = try #require(
            try JSONSerialization.jsonObject(with: Data(SchemaDefinition.crm.text.utf8)) as? [String: Any])
        var collections = try #require(root["collections"] as? [[String: Any]])
        collections[0]["fields"] = (collections[0]["fields"] as! [[String: Any]]).filter {
            $0["name"] as? String != "city"
        }
        root["collections"] = collections
        return try SchemaDefinition(json: try JSONSerialization.data(withJSONObject: root))
    }

    @Test func aCompatibleSchemaIsAppliedAndAnIncompatibleOneChangesNothing() async throws {
        try await HubFixture.with(configuration: version1) { hub in
            #expect(try await hub.service.schemaDefinition() == .crmVersion1)

            let refused = try withoutCity()
            let error = try await #require(throws: HubError.self) { try await hub.service.applySchema(refused) }
            #expect(error.code == .badRequest)
            #expect(error.message.contains("customers.city: the field is removed"), "\(error)")
            #expect(try await hub.service.schemaDefinition() == .crmVersion1)
            #expect(try await hub.store.read { try await $0.schemaVersion() } == 1)

            let changes = try await hub.service.applySchema(.crm)
            #expect(changes.contains(.collectionAdded("orders")))
            #expect(changes.contains(.fieldAdded(collection: "interactions", field: "channel")))
            #expect(hub.service.schema.version == 2)
            #expect(try await hub.service.schemaDefinition() == .crm)
            // Applying it again changes nothing and records nothing.
            #expect(try await hub.service.applySchema(.crm) == [])
            let events = try await hub.store.read { try await $0.events(kinds: [.schemaApplied], limit: 10) }
            #expect(events.count == 2, "version 1 recorded, version 2 applied")
            #expect(events.contains { $0.detail.contains("new collection `opportunities`") })
        }
    }

    /// A store from before stores kept their schema ran version 1: it records version 1, so that
    /// its laptops keep syncing, until the office applies the new default.
    @Test func aStoreFromBeforeRecordsVersion1UntilTheOfficeAppliesTheDefault() async throws {
        try await HubFixture.with(store: .sqlite) { hub in
            _ = try await hub.enrollDevice("claire")
            let db = try Connection(path: hub.dataFolder + "/" + SQLiteHubStore.fileName)
            try db.execute("DELETE FROM data_schemas")
            try db.close()
            let upgraded = HubService(store: hub.store, logger: HubLogging.standardError(label: "relais.hub.test"))
            #expect(try await upgraded.schemaDefinition() == .crmVersion1)
            #expect(try await upgraded.applySchema(.crm).contains(.collectionAdded("orders")))
            #expect(upgraded.schema.version == 2)
        }
    }

    @Test func aServingHubTakesASchemaAppliedByAnotherProcess() async throws {
        try await HubFixture.with(configuration: version1) { hub in
            // A laptop on version 1 enrolls.
            var enrollment = Wire.enroll(try await hub.addUser("claire", role: .rep, territories: ["north"]))
            enrollment.schemaVersion = 1
            let enrolled = try await hub.service.enroll(enrollment)
            #expect(enrolled.schemaVersion == 1)
            var claire = TestDevice(
                replica: enrolled.replica, token: enrolled.token,
                principal: try await hub.service.authenticate(token: enrolled.token))
            // Another process (`relais-hub schema apply`) on the same store.
            let tool = HubService(store: hub.store, logger: HubLogging.standardError(label: "relais.hub.tool"))
            try await tool.applySchema(.crm)
            #expect(hub.service.schema.version == 1, "the serving hub has not looked yet")

            // A client on version 1 is told to fetch the new schema; nothing is applied.
            var old = Wire.push(claire.replica, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 1)])
            old.schemaVersion = 1
            let error = try await #require(throws: HubError.self) {
                try await hub.service.push(old, from: claire.principal)
            }
            #expect(error.code == .schemaTooOld)
            #expect(hub.service.schema.version == 2)
            #expect(try await hub.store.read { try await $0.meta().head } == 0)

            // On version 2 it writes the new collections.
            let customer = Wire.uuid()
            let opportunity = Wire.write(
                "opportunities", id: Wire.uuid(), replica: claire.replica, counter: 2,
                fields: [
                    "customer_id": .text(customer), "title": .text("Spring range"), "stage": .text("proposal"),
                    "amount": .number(12_000), "probability": .number(40),
                ])
            let results = try await hub.push(
                claire, [Wire.customer(id: customer, replica: claire.replica, counter: 1), opportunity])
            #expect(results.map(\.status) == [.applied, .applied])
            claire.counter = 2
            #expect(
                try await hub.pullAll(&claire).records.map(\.collection).sorted() == ["customers", "opportunities"])
        }
    }
}
