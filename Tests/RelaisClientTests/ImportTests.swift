import Foundation
import RelaisCore
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// Bulk import: one transaction, captured like any edit, all or nothing with line numbers.
struct ImportTests {
    @Test func importsCSVWithQuotesKeptIDsAndSets() async throws {
        try await withReplica(role: "manager") { replica, _, _ in
            let kept = "6F1C2A1E-0000-4000-8000-00000000AAAA"
            let csv = #"""
                id,name,territory,tags,lifetime_value,notes
                \#(kept),"Dupont, Fils",north,"vip,b2b",1200,"line one
                line two"
                not-a-uuid,Martin,north,,,
                ,"Say ""hi""",north,,,

                """#
            #expect(try await replica.import(customer, text: csv, format: .csv) == 3)
            let dupont = try #require(try await replica.get(customer, id: kept))
            #expect(dupont["name"] == .text("Dupont, Fils"))
            #expect(dupont["tags"] == .set(["b2b", "vip"]))
            #expect(dupont["lifetime_value"] == .number(1200))
            #expect(dupont["notes"] == .text("line one\nline two"))
            let all = try await replica.list(customer)
            #expect(Set(all.map { $0["name"] }) == [.text("Dupont, Fils"), .text("Martin"), .text(#"Say "hi""#)])
            #expect(all.allSatisfy { FieldType.isUUID($0.id) })
            #expect(try await replica.pendingCount() == 3)
        }
    }

    /// Lines may end in `\r\n`; blank lines (spaces, tabs, a no-break space) are skipped and still
    /// counted in the line numbers.
    @Test func jsonLinesEndingInCRLFAndBlankLinesKeepTheirNumbers() async throws {
        try await withReplica { replica, _, _ in
            let jsonl =
                "{\"name\": \"One\", \"territory\": \"north\"}\r\n \t\r\n\u{00A0}\r\n"
                + "{\"name\": \"Two\", \"territory\": \"north\"}\r\n\r\n"
            #expect(try await replica.import(customer, text: jsonl, format: .jsonl) == 2)
            #expect(Set(try await replica.list(customer).map { $0["name"] }) == [.text("One"), .text("Two")])
            do {
                try await replica.import(customer, text: jsonl + "  \r\n{\"name\": \"Three\"}\r\n", format: .jsonl)
                Issue.record("the import should have been refused")
            } catch let error as ReplicaError {
                #expect(error.problems.map(\.line) == [7])
            }
        }
    }

    /// The pending writes of a file, as stored (dots and times aside).
    func pendingWrites(_ path: String) throws -> [String] {
        let raw = try rawConnection(path)
        defer { try? raw.close() }
        var rows: [String] = []
        try raw.query(
            "SELECT collection, record_id, context, is_delete, fields, in_flight FROM _relais_pending ORDER BY record_id"
        ) { row in
            rows.append((0..<6).map { row.text(at: $0) ?? "" }.joined(separator: " | "))
        }
        return rows
    }

    static let mixedRows = #"""
        id,name,territory,tags,lifetime_value,notes,phone
        6f1c2a1e-0000-4000-8000-00000000000a,"Dupont, Fils",north,"vip,b2b",1200,"line one
        line two",
        6f1c2a1e-0000-4000-8000-00000000000b,Martin,north,,12.5,,+33 1 02 03 04 05
        6f1c2a1e-0000-4000-8000-00000000000c,Été,north,b2b,,"Say ""hi""",

        """#

    /// An import stamps each new record as it inserts it, without the capture: its pending writes
    /// are the ones the capture makes of the same rows inserted with SQL, value for value.
    @Test func importedRecordsAreStampedAsTheCaptureStampsTheSameRows() async throws {
        try await withReplica(role: "manager") { imported, importedFolder, _ in
            #expect(try await imported.import(customer, text: Self.mixedRows, format: .csv) == 3)
            try await withReplica(role: "manager") { typed, typedFolder, _ in
                let raw = try rawConnection(typedFolder.file("replica.db"))
                try raw.execute("ATTACH DATABASE ? AS imported", [.text(importedFolder.file("replica.db"))])
                try raw.execute("INSERT INTO customers SELECT * FROM imported.customers")
                try raw.execute("DETACH DATABASE imported")
                try raw.close()
                #expect(try await typed.pendingCount() == 3)  // stamps the captured rows
                let stamped = try pendingWrites(typedFolder.file("replica.db"))
                #expect(stamped.count == 3)
                #expect(try pendingWrites(importedFolder.file("replica.db")) == stamped)
                #expect(try await imported.export() == typed.export())
            }
            let raw = try rawConnection(importedFolder.file("replica.db"))
            defer { try? raw.close() }
            #expect(try raw.scalar("SELECT count(*) FROM _relais_capture")?.int64Value == 0)
            // As the capture keeps for a row it saw inserted: the hub does not have the record yet.
            #expect(
                try raw.scalar("SELECT count(*) FROM _relais_overlay WHERE confirmed_exists = 0 AND confirmed IS NULL")?
                    .int64Value == 3)
        }
    }

    /// A record the file knows (deleted on the hub) is imported through the capture: its write is
    /// the whole row on the record's last vector, as for any revival. With a trigger of the user's
    /// that changes rows as they go in, every row is stamped as it ended up.
    @Test func importedRowsTheCaptureMustSeeGoThroughIt() async throws {
        try await withReplica(role: "manager") { replica, folder, _ in
            let deleted = "6f1c2a1e-0000-4000-8000-00000000000b"
            var page = PageBuilder(cursor: 3)
            page.tombstone(customer, deleted, vector: VersionVector([ReplicaID(9): 2]))
            try await replica.apply(page.page)
            #expect(try await replica.import(customer, text: Self.mixedRows, format: .csv) == 3)
            let writes = try pendingWrites(folder.file("replica.db"))
            let revived = try #require(writes.first { $0.contains(deleted) })
            #expect(revived.contains(#"{"9":2}"#))
            #expect(revived.contains(#""notes":null"#))
            let fresh = try #require(writes.first { $0.contains("00000000000a") })
            #expect(fresh.contains("| {} |") && !fresh.contains("null"))
        }
        try await withReplica(role: "manager") { replica, folder, _ in
            let raw = try rawConnection(folder.file("replica.db"))
            try raw.execute(
                "CREATE TRIGGER shout AFTER INSERT ON customers BEGIN UPDATE customers SET name = upper(new.name) WHERE id = new.id; END"
            )
            try raw.close()
            #expect(try await replica.import(customer, text: Self.mixedRows, format: .csv) == 3)
            let writes = try pendingWrites(folder.file("replica.db"))
            #expect(writes.count == 3)
            #expect(writes.contains { $0.contains(#""name":{"t":"MARTIN"}"#) })
            #expect(!writes.contains { $0.contains(#""name":{"t":"Martin"}"#) })
        }
    }

    @Test func badRowsAreReportedWithLineNumbersAndNothingIsImported() async throws {
        try await withReplica { replica, _, _ in
            let existing = try await replica.add(customer, acme("Existing"))
            let jsonl = """
                {"name": "Good", "territory": "north"}
                {"name": "NoTerritory"}
                not json

                {"name": "BadStatus", "territory": "north", "status": "sleeping"}
                {"name": "Colour", "territory": "north", "colour": "red"}
                {"id": "\(existing)", "name": "Again", "territory": "north"}
                """
            do {
                try await replica.import(customer, text: jsonl, format: .jsonl)
                Issue.record("the import should have been refused")
            } catch let error as ReplicaError {
                #expect(error.code == .importFailed)
                #expect(error.problems.map(\.line) == [2, 3, 5, 6, 7])
                #expect(error.problems[0].message.contains("territory"))
                #expect(error.problems[3].message.contains("colour"))
            }
            #expect(try await replica.list(customer).map(\.id) == [existing])
            #expect(try await replica.pendingCount() == 1)
        }
    }
}
