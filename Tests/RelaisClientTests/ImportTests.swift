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
