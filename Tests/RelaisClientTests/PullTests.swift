import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// Applying pull pages: the overlay, idempotence, tombstones, revocations, push answers and bootstrap.
struct PullTests {
    let a = "00000000-0000-4000-8000-0000000000aa"
    let b = "00000000-0000-4000-8000-0000000000bb"
    let hubDot = Dot(replica: .hub, counter: 1)

    @Test func applyingTheSamePageTwiceChangesNothing() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 5)
            page.record(customer, a, acme("A"), dot: hubDot)
            page.record(customer, b, acme("B"), dot: Dot(replica: .hub, counter: 2))
            page.tombstone(customer, b, vector: VersionVector([.hub: 3]))
            try await replica.apply(page.page)
            let first = try await replica.export()
            let meta1 = try await replica.withStore {
                try $0.db.scalar("SELECT group_concat(vector || fields || deleted, ';') FROM _relais_records")
            }
            try await replica.apply(page.page)
            #expect(try await replica.export() == first)
            let meta2 = try await replica.withStore {
                try $0.db.scalar("SELECT group_concat(vector || fields || deleted, ';') FROM _relais_records")
            }
            #expect(meta1 == meta2)
            #expect(try await replica.status().cursor == 5)
            #expect(try await replica.list(customer).map(\.id) == [a])
        }
    }

    /// A record deleted elsewhere while the laptop holds a pending edit of it stays visible with its
    /// last values under the edit (the edit revives it at the hub whole), whether the delete arrives
    /// as a pull's tombstone or as a repair's "absent".
    @Test func aRecordGoneUnderAPendingEditKeepsItsValuesThroughPullAndRepair() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 5)
            page.record(customer, a, acme("A"), dot: hubDot)
            page.record(customer, b, acme("B"), dot: Dot(replica: .hub, counter: 2))
            try await replica.apply(page.page)
            try await replica.set(customer, id: a, ["phone": .text("+33 1 02")])
            try await replica.set(customer, id: b, ["phone": .text("+33 1 03")])

            var gone = PageBuilder(cursor: 6)
            gone.tombstone(customer, a, vector: VersionVector([.hub: 3]))
            try await replica.apply(gone.page)
            var key = Relais_V1_RecordKey()
            key.collection = customer
            key.recordID = b
            _ = try await replica.withStore { try $0.applyRepair(records: [], absent: [key]) }

            for (id, name, phone) in [(a, "A", "+33 1 02"), (b, "B", "+33 1 03")] {
                let row = try await replica.get(customer, id: id)
                #expect(row?["name"] == .text(name), "\(id)")
                #expect(row?["territory"] == .text("north") && row?["phone"] == .text(phone), "\(id)")
            }
        }
    }

    @Test func syncTransactionsCommitWithNormalAndEditsWithFull() async throws {
        try await withReplica { replica, folder, _ in
            // The engine's own transaction (nothing to stamp): NORMAL inside, FULL again afterwards.
            let inside = try await replica.withStore { store in try store.syncWrite { try store.db.synchronous() } }
            #expect(inside == .normal)
            #expect(try await replica.withStore { try $0.db.synchronous() } == .full)
            // An edit made with plain SQL is stamped by the next transaction, which then holds a
            // user's edit: FULL.
            let raw = try rawConnection(folder.file("replica.db"))
            try raw.execute(
                "INSERT INTO customers(id, name, territory, status) VALUES ('\(a)', 'Acme', 'north', 'active')")
            let stamping = try await replica.withStore { store in try store.syncWrite { try store.db.synchronous() } }
            #expect(stamping == .full)
            #expect(try await replica.pendingCount() == 1)
            // A page applied through the sync path leaves the connection at FULL for the next edit.
            var page = PageBuilder(cursor: 3)
            page.record(customer, b, acme("B"), dot: hubDot)
            try await replica.apply(page.page)
            #expect(try await replica.withStore { try $0.db.synchronous() } == .full)
            try await replica.set(customer, id: a, ["city": .text("Lyon")])
            #expect(try await replica.withStore { try $0.db.synchronous() } == .full)
            let durable = try await replica.withStore { store in
                try store.syncWrite(durable: true) { try store.db.synchronous() }
            }
            #expect(durable == .full)
        }
    }

    @Test func pagesWithTombstonesOrRevocationsNeedADurableCommit() {
        var live = PageBuilder(cursor: 3)
        live.record(customer, a, acme("A"), dot: hubDot)
        #expect(!ReplicaStore.pageNeedsDurableCommit(live.page))
        var tombstone = live
        tombstone.tombstone(customer, b, vector: VersionVector([.hub: 2]))
        #expect(ReplicaStore.pageNeedsDurableCommit(tombstone.page))
        var revocation = live
        revocation.revoke(customer, b)
        #expect(ReplicaStore.pageNeedsDurableCommit(revocation.page))
    }

    @Test func pullNeverHidesPendingFieldsAndKeepsConfirmedValues() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 1)
            page.record(customer, a, acme("A").merging(["city": .text("Lyon")]) { $1 }, dot: hubDot)
            try await replica.apply(page.page)
            try await replica.set(customer, id: a, ["city": .text("Paris")])
            // The hub sends a concurrent change of city and of phone.
            var next = PageBuilder(cursor: 2)
            next.record(
                customer, a, ["city": .text("Nice"), "phone": .text("42")], dot: Dot(replica: ReplicaID(9), counter: 1),
                vector: VersionVector([.hub: 1, ReplicaID(9): 1]))
            try await replica.apply(next.page)
            let record = try #require(try await replica.get(customer, id: a))
            #expect(record["city"] == .text("Paris"))  // what the user typed stays visible
            #expect(record["phone"] == .text("42"))  // the rest of the page is applied
            // The hub refuses the write: the confirmed value comes back, the write stays visible.
            let batch = try await replica.batch()
            try await replica.answer(batch, .rejected, code: "not_allowed", reason: "no")
            #expect(try await replica.get(customer, id: a)?["city"] == .text("Nice"))
            let rejected = try await replica.rejected()
            #expect(rejected.count == 1)
            #expect(rejected.first?.code == "not_allowed")
            #expect(rejected.first?.values["city"] == "Paris")
            #expect(try await replica.pendingCount() == 0)
        }
    }

    @Test func acknowledgedWriteBecomesConfirmedAndJoinsTheVector() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 1)
            page.record(customer, a, acme("A"), dot: hubDot)
            try await replica.apply(page.page)
            try await replica.set(customer, id: a, ["city": .text("Paris")])
            let batch = try await replica.batch()
            // An edit made while the push is in flight is a new write; it survives the answer.
            try await replica.set(customer, id: a, ["city": .text("Rome")])
            let outcome = try await replica.answer(batch, .conflict, conflictIDs: ["c-1"])
            #expect(outcome.acknowledged == 1)
            #expect(outcome.conflicts == 1)
            #expect(try await replica.get(customer, id: a)?["city"] == .text("Rome"))
            let writes = try await replica.pendingWrites()
            #expect(writes.count == 1)
            let vector = try await replica.withStore { try $0.loadMeta(RecordKey(collection: customer, id: a))?.vector }
            #expect(vector == VersionVector([.hub: 1, ReplicaID(7): batch[0].counter]))
            #expect(try await replica.conflicts().map(\.id) == ["c-1"])
            // The second write is refused: the first (acknowledged) value is what comes back.
            try await replica.answer(try await replica.batch(), .rejected, code: "invalid_value", reason: "x")
            #expect(try await replica.get(customer, id: a)?["city"] == .text("Paris"))
        }
    }

    @Test func tombstoneRemovesRowUnlessPendingWriteRevivesIt() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 1)
            page.record(customer, a, acme("A"), dot: hubDot)
            page.record(customer, b, acme("B"), dot: Dot(replica: .hub, counter: 2))
            try await replica.apply(page.page)
            try await replica.set(customer, id: b, ["phone": .text("1")])
            var next = PageBuilder(cursor: 2)
            next.tombstone(customer, a, vector: VersionVector([.hub: 3]))
            next.tombstone(customer, b, vector: VersionVector([.hub: 4]))
            try await replica.apply(next.page)
            #expect(try await replica.get(customer, id: a) == nil)
            let revived = try #require(try await replica.get(customer, id: b))
            #expect(revived["name"] == .text("B"))
            #expect(revived["phone"] == .text("1"))
            // The hub revives `a` with only the field the reviving write changed: the rest comes back.
            var third = PageBuilder(cursor: 3)
            third.record(
                customer, a, ["phone": .text("7")], dot: Dot(replica: ReplicaID(9), counter: 4),
                vector: VersionVector([.hub: 3, ReplicaID(9): 4]))
            try await replica.apply(third.page)
            let back = try #require(try await replica.get(customer, id: a))
            #expect(back["name"] == .text("A"))
            #expect(back["phone"] == .text("7"))
        }
    }

    @Test func revocationRemovesRecordChildrenAndMovesPendingToRejected() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 1)
            page.record(customer, a, acme("A"), dot: hubDot)
            try await replica.apply(page.page)
            try await replica.set(customer, id: a, ["city": .text("Paris")])
            let contact = try await replica.add("contacts", ["customer_id": .text(a), "name": .text("Zoé")])
            var next = PageBuilder(cursor: 2)
            next.revoke(customer, a)
            let outcome = try await replica.apply(next.page)
            #expect(outcome.removed == 2)
            #expect(outcome.rejected == 2)
            #expect(try await replica.get(customer, id: a) == nil)
            #expect(try await replica.get("contacts", id: contact) == nil)
            #expect(try await replica.pendingCount() == 0)
            let rejected = try await replica.rejected()
            #expect(rejected.map(\.code) == ["outside_territory", "outside_territory"])
            #expect(Set(rejected.map(\.recordID)) == [a, contact])
        }
    }

    /// The sweep removes what the bootstrap did not bring, but not a record with a write not yet
    /// answered (docs/SYNC.md "Bootstrap sweep"): that one is left to the hub, and swept at the end of
    /// a later pull once its write is answered, unless the hub took it.
    @Test func bootstrapSweepsWhatTheHubNoLongerSendsAndKeepsLocalCreations() async throws {
        try await withReplica { replica, _, _ in
            let c = "00000000-0000-4000-8000-0000000000cc"
            let d = "00000000-0000-4000-8000-0000000000dd"
            var page = PageBuilder(cursor: 3)
            page.record(customer, a, acme("A"), dot: hubDot)
            page.record(customer, b, acme("B"), dot: Dot(replica: .hub, counter: 2))
            page.record(customer, c, acme("C"), dot: Dot(replica: .hub, counter: 3))
            page.record(customer, d, acme("D"), dot: Dot(replica: .hub, counter: 4))
            try await replica.apply(page.page)
            try await replica.set(customer, id: b, ["city": .text("Lyon")])
            try await replica.set(customer, id: d, ["city": .text("Nice")])
            let local = try await replica.add(customer, acme("Local"))
            try await replica.withStore { store in try store.write { try store.beginBootstrap() } }
            var first = PageBuilder(cursor: 10, more: true)
            first.record(customer, a, acme("A2"), dot: Dot(replica: .hub, counter: 5))
            try await replica.apply(first.page)
            #expect(try await replica.get(customer, id: c) != nil)  // not swept before the last page
            #expect(try await replica.status().bootstrapping)
            let last = PageBuilder(cursor: 11, more: false)
            let outcome = try await replica.apply(last.page)
            #expect(outcome.removed == 1)
            #expect(try await replica.list(customer).map(\.id).sorted() == [a, b, d, local].sorted())
            #expect(try await replica.get(customer, id: a)?["name"] == .text("A2"))
            // The edits wait for the hub's answer, shown as typed.
            #expect(try await replica.get(customer, id: b)?["city"] == .text("Lyon"))
            #expect(try await replica.get(customer, id: d)?["city"] == .text("Nice"))
            #expect(try await replica.rejected().isEmpty)
            #expect(try await replica.pendingCount() == 3)
            #expect(try await replica.status().bootstrapping == false)

            // While they are unanswered, later pulls keep them.
            #expect(try await replica.apply(PageBuilder(cursor: 12, more: false).page).removed == 0)
            try await replica.withStore { store in
                try store.write {
                    // B's edit is taken by the hub: its record gets the current generation.
                    let batch = try store.loadPending(RecordKey(collection: customer, id: b))
                    var response = Relais_V1_PushResponse()
                    response.results = batch.map { write in
                        var result = Relais_V1_WriteResult()
                        result.dot = Relais_V1_Dot(Dot(replica: ReplicaID(7), counter: write.counter))
                        result.status = .applied
                        return result
                    }
                    #expect(try store.applyPushResults(batch, response).acknowledged == 1)
                    // D's is answered otherwise (here: gone from the queue, as a refusal leaves it).
                    try store.db.execute("DELETE FROM _relais_pending WHERE record_id = ?", [.text(d)])
                }
            }
            // The end of the next pull sweeps D, not B, even though the hub did not send B again;
            // nothing is held any more.
            #expect(try await replica.apply(PageBuilder(cursor: 13, more: false).page).removed == 1)
            #expect(try await replica.list(customer).map(\.id).sorted() == [a, b, local].sorted())
            #expect(try await replica.get(customer, id: b)?["city"] == .text("Lyon"))
            let held = try await replica.withStore { try $0.stateInt("sweep_before") }
            #expect(held == nil)
        }
    }

    @Test func batchesNeverSplitARecordsWrites() async throws {
        try await withReplica { replica, _, _ in
            let x = try await replica.add(customer, acme("X"))
            let y = try await replica.add(customer, acme("Y"))
            let first = try await replica.batch(limit: 1)
            #expect(first.map(\.recordID) == [x])
            try await replica.set(customer, id: x, ["city": .text("C")])  // a second write of x, later counter
            // y (counter 2) then x's second write (counter 3): a batch holding x's in-flight write
            // must hold x's later write too, and counters reach the hub in order, so y comes along.
            let retry = try await replica.batch(limit: 1)
            #expect(retry.map(\.recordID) == [x, y, x])
            #expect(retry.map(\.counter) == [1, 2, 3])
        }
    }
}
