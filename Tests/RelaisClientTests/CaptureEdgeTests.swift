import Foundation
import RelaisCore
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// Plain SQL an embedding program or the `sqlite3` shell may run on a customer that exists: an
/// insert that does nothing, and a `REPLACE` that saves the whole row. Each syncs as the same change
/// made through the API would.
struct CaptureEdgeTests {
    let id = "00000000-0000-4000-8000-0000000000aa"
    let other = "00000000-0000-4000-8000-0000000000bb"

    /// SQLite fires an insert's BEFORE trigger before it finds the conflict, so `INSERT OR IGNORE`
    /// and `ON CONFLICT DO NOTHING` of an existing row kept a confirmed state of the record with no
    /// write to clear it. A pull then changed the row, and a later refused edit re-derived the row
    /// from that older state: the pulled phone vanished from the laptop (docs/RELIABILITY.md, bug 36).
    @Test func anInsertThatChangesNothingLeavesNoStaleConfirmedState() async throws {
        try await withReplica { replica, _, _ in
            var first = PageBuilder(cursor: 1)
            first.record(customer, id, acme("Acme"), dot: Dot(replica: .hub, counter: 1))
            try await replica.apply(first.page)
            let raw = try rawConnection(replica.path)
            try raw.execute(
                "INSERT OR IGNORE INTO customers(id, name, territory) VALUES (?, 'Other', 'north')", [.text(id)])
            try raw.execute(
                "INSERT INTO customers(id, name, territory) VALUES (?, 'Other', 'north') ON CONFLICT(id) DO NOTHING",
                [.text(id)])
            _ = try await replica.add(customer, id: other, acme("Stamps what was captured"))
            #expect(try await replica.pendingCount() == 1)

            var second = PageBuilder(cursor: 2)
            second.record(customer, id, ["phone": .text("0102")], dot: Dot(replica: .hub, counter: 2))
            try await replica.apply(second.page)
            #expect(try await replica.get(customer, id: id)?["phone"] == .text("0102"))

            // A rep's edit of an office field is refused on the laptop; the row is derived again.
            try raw.execute("UPDATE customers SET segment = 'B' WHERE id = ?", [.text(id)])
            try raw.close()
            _ = try await replica.add(customer, acme("Stamps the edit"))
            #expect(try await replica.rejected().map(\.code) == ["hub_only_field"])
            let row = try #require(try await replica.get(customer, id: id))
            #expect(row["phone"] == .text("0102"))
            #expect(row["name"] == .text("Acme") && row["segment"] == .null)
        }
    }

    /// A statement's own conflict policy reaches the statements of the triggers it fires: before
    /// bug 37's fix, `UPDATE OR FAIL` of a record already edited failed on the snapshot its first edit
    /// kept, and `UPDATE OR REPLACE` replaced that snapshot with the row as edited.
    @Test func aStatementsOwnConflictPolicyNeitherFailsNorRewritesTheConfirmedState() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 1)
            page.record(customer, id, acme("Acme"), dot: Dot(replica: .hub, counter: 1))
            try await replica.apply(page.page)
            let raw = try rawConnection(replica.path)
            try raw.execute("UPDATE OR FAIL customers SET city = 'Lyon' WHERE id = ?", [.text(id)])
            try raw.execute("UPDATE OR FAIL customers SET phone = '0102' WHERE id = ?", [.text(id)])
            try raw.execute("UPDATE OR REPLACE customers SET segment = 'B' WHERE id = ?", [.text(id)])
            try raw.close()
            _ = try await replica.add(customer, id: other, acme("Stamps what was captured"))
            // The office field is refused; the row keeps the two edits over the confirmed state.
            #expect(try await replica.rejected().map(\.code) == ["hub_only_field"])
            let row = try #require(try await replica.get(customer, id: id))
            #expect(row["city"] == .text("Lyon") && row["phone"] == .text("0102"))
            #expect(row["segment"] == .null)
            let writes = try await replica.withStore { try $0.loadPending(RecordKey(collection: customer, id: id)) }
            #expect(writes.map(\.fields) == [["city": .text("Lyon"), "phone": .text("0102")]])
        }
    }

    /// `UPDATE OR REPLACE … SET id` onto a customer that exists removes that customer's row without
    /// firing the delete triggers: its confirmed state is snapshotted before, so when the moved row is
    /// refused (it carries the other customer's office fields), the customer it replaced comes back.
    @Test func anIdMovedOntoAnotherCustomerKeepsThatCustomersConfirmedState() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 1)
            page.record(
                customer, id, acme("Kept").merging(["segment": .text("A")]) { $1 }, dot: Dot(replica: .hub, counter: 1))
            page.record(
                customer, other, acme("Moved").merging(["segment": .text("B")]) { $1 },
                dot: Dot(replica: .hub, counter: 2))
            try await replica.apply(page.page)
            let raw = try rawConnection(replica.path)
            try raw.execute("UPDATE OR REPLACE customers SET id = ? WHERE id = ?", [.text(id), .text(other)])
            try raw.close()
            _ = try await replica.add(customer, acme("Stamps what was captured"))
            #expect(try await replica.rejected().map(\.code).contains("hub_only_field"))
            #expect(try await replica.get(customer, id: id)?["name"] == .text("Kept"))
        }
    }

    /// A rep's `REPLACE` writes the whole row, the office's fields with their values unchanged: those
    /// are left out of the write (the hub refuses a rep's write naming one), not a reason to refuse
    /// the edit. An office field the `REPLACE` changes is refused as before.
    @Test func aRepsReplaceOfTheWholeRowKeepsTheOfficeFieldsItDidNotChange() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 1)
            page.record(
                customer, id, acme("Acme").merging(["segment": .text("A"), "lifetime_value": .number(1200)]) { $1 },
                dot: Dot(replica: .hub, counter: 1))
            try await replica.apply(page.page)
            let raw = try rawConnection(replica.path)
            try raw.execute(
                """
                REPLACE INTO customers(id, name, territory, segment, lifetime_value, city)
                VALUES (?, 'Acme', 'north', 'A', 1200, 'Lyon')
                """, [.text(id)])
            _ = try await replica.add(customer, id: other, acme("Stamps what was captured"))
            let refused = try await replica.rejected()
            #expect(refused.isEmpty, "\(refused)")
            let writes = try await replica.withStore { try $0.loadPending(RecordKey(collection: customer, id: id)) }
            #expect(writes.count == 1)
            #expect(writes.first?.fields["city"] == .text("Lyon"))
            #expect(writes.first?.fields["segment"] == nil && writes.first?.fields["lifetime_value"] == nil)
            #expect(try await replica.get(customer, id: id)?["city"] == .text("Lyon"))

            try raw.execute(
                """
                REPLACE INTO customers(id, name, territory, segment, lifetime_value, city)
                VALUES (?, 'Acme', 'north', 'B', 1200, 'Lyon')
                """, [.text(id)])
            try raw.close()
            _ = try await replica.add(customer, acme("Stamps the next"))
            #expect(try await replica.rejected().map(\.code) == ["hub_only_field"])
            let row = try #require(try await replica.get(customer, id: id))
            #expect(row["segment"] == .text("A") && row["city"] == .text("Lyon"))
        }
    }
}
