import Foundation
import RelaisCore
import RelaisHub
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// A laptop whose program knows only version 1 of the CRM schema, with writes not yet sent, syncs
/// with a hub the office moved to version 2 (docs/CRM.md "Changing the schema"): the writes land,
/// the file gains the new tables and columns in place, nothing is pulled again.
struct SchemaMigrationTests {
    private var version1: HubService.Configuration {
        var configuration = HubService.Configuration()
        configuration.schema = .crmVersion1
        return configuration
    }

    @Test func aVersion1LaptopWithPendingWritesMigratesWhenTheHubMovesToVersion2() async throws {
        try await HubFixture.with(configuration: version1) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "schema-migration")
            defer { folder.remove() }
            try await hub.live { url in
                let path = folder.file("claire.db")
                let claire = try await Replica.enroll(hub: url, code: code, path: path, schema: .crmVersion1)
                let kept = try await claire.add(customer, acme("Kept"))
                _ = try await claire.sync()
                let cursor = try await claire.withStore { try $0.cursor }

                // Offline: an edit through the API, one with plain SQL, a new record.
                try await claire.set(customer, id: kept, ["phone": .text("+33 4 72 00 00 00")])
                let raw = try Connection(path: path)
                try raw.execute("UPDATE customers SET city = 'Lyon' WHERE id = ?", [.text(kept)])
                try raw.close()
                let added = try await claire.add(customer, acme("Added offline"))

                // The office applies version 2 while the hub serves.
                try await hub.service.applySchema(.crm)

                let result = try await claire.sync()
                #expect(result.pushed == 2)
                #expect(result.rejected == 0)
                #expect(claire.schema.version == 2)
                #expect(try await claire.status().pending == 0)
                // Nothing was pulled again: the cursor moved on from where it stood.
                #expect(try await claire.withStore { try $0.cursor } > cursor)
                #expect(result.pulled == 0)
                let onHub = try await hub.service.exportJSON(user: "claire")
                #expect(try await claire.export() == Data(onHub))
                let row = try #require(try await claire.get(customer, id: kept))
                #expect(row["phone"] == .text("+33 4 72 00 00 00"))
                #expect(row["city"] == .text("Lyon"))
                #expect(try await claire.get(customer, id: added) != nil)

                // The file has the new tables and columns, and they are captured like the others.
                let columns = try Self.columns(path, "interactions")
                #expect(columns.suffix(2) == ["contact_id", "channel"])
                for table in ["opportunities", "tasks", "orders"] { #expect(try !Self.columns(path, table).isEmpty) }
                let order = UUID().uuidString.lowercased()
                let sql = try Connection(path: path)
                try sql.execute(
                    "INSERT INTO orders (id, customer_id, ordered_on, amount) VALUES (?, ?, '2026-12-01', 1250)",
                    [.text(order), .text(kept)])
                try sql.close()
                _ = try await claire.add(
                    "opportunities",
                    ["customer_id": .text(kept), "title": .text("Spring range"), "stage": .text("proposal")])
                #expect(try await claire.sync().pushed == 2)
                #expect(try await claire.export() == Data(try await hub.service.exportJSON(user: "claire")))

                // The program built for version 1 opens the file on version 2: it keeps its schema.
                let reopened = try Replica.open(path: path, schema: .crmVersion1, create: false)
                #expect(reopened.schema.version == 2)
                #expect(try await reopened.sync().pushed == 0)
            }
        }
    }

    @Test func aLaptopEnrollingWithAnOlderProgramTakesTheHubsSchemaAtOnce() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("marc", role: .manager, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "schema-enroll")
            defer { folder.remove() }
            try await hub.live { url in
                let marc = try await Replica.enroll(
                    hub: url, code: code, path: folder.file("marc.db"), schema: .crmVersion1)
                #expect(marc.schema.version == 2)
                let id = try await marc.add(customer, acme("Acme"))
                _ = try await marc.add(
                    "tasks",
                    [
                        "customer_id": .text(id), "due_on": .date("2026-12-10"), "kind": .text("visit"),
                        "assignee": .text("claire"),
                    ])
                #expect(try await marc.sync().pushed == 2)
            }
        }
    }

    @Test func aSchemaThatCannotReplaceTheFilesIsRefusedAndChangesNothing() async throws {
        let folder = try TemporaryFolder(prefix: "schema-refused")
        defer { folder.remove() }
        let replica = try Replica.open(path: folder.file("r.db"), schema: .crm)
        let id = try await replica.add(customer, acme("Pending"))
        let older = try await #require(throws: ReplicaError.self) { try await replica.adopt(.crmVersion1) }
        #expect(older.message.contains("older than the version in force"))
        #expect(replica.schema.version == 2)
        #expect(try await replica.status().pending == 1)
        #expect(try await replica.get(customer, id: id) != nil)
    }

    private static func columns(_ path: String, _ table: String) throws -> [String] {
        let db = try Connection(path: path)
        defer { try? db.close() }
        var names: [String] = []
        try db.query("SELECT name FROM pragma_table_info(?)", [.text(table)]) { row in
            names.append(row.text(at: 0) ?? "")
        }
        return names
    }
}
