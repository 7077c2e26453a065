import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Synchronization
import Testing

@testable import RelaisClient

/// Several pull pages applied in one transaction (docs/SYNC.md, "Applying a page on the replica"):
/// the same state as one page per transaction, pages never split, and a page holding a tombstone or a
/// revocation stored before the next request acknowledges it. Also the two things that make a batch
/// cheap: the capture triggers switched off for the engine's writes, and the shared form of the
/// per-field dots.
struct BatchedApplyTests {
    let hubDot = Dot(replica: .hub, counter: 1)

    func id(_ i: Int) -> String { String(format: "00000000-0000-4000-8000-%012x", i) }

    // MARK: - PullBatch

    func livePage(cursor: UInt64, records: Int, more: Bool = true) -> Relais_V1_PullResponse {
        var page = PageBuilder(cursor: cursor, more: more)
        for i in 0..<records {
            page.record(customer, id(Int(cursor) * 1000 + i), acme("C\(i)"), dot: Dot(replica: .hub, counter: cursor))
        }
        return page.page
    }

    @Test func aBatchHoldsLivePagesUntilItIsFullOrThePullEnds() {
        var batch = PullBatch(recordLimit: 5)
        #expect(batch.cursor == nil)
        let afterFirst = batch.add(livePage(cursor: 1, records: 2))
        let afterSecond = batch.add(livePage(cursor: 2, records: 2))
        #expect(!afterFirst && !afterSecond)
        #expect(batch.cursor == 2)
        #expect(batch.canApplyDuringNextRequest && !batch.isFull)
        let full = batch.add(livePage(cursor: 3, records: 1))  // 5 records
        #expect(full && batch.isFull)
        // Live pages of a pull that goes on: stored while the next page is fetched.
        #expect(batch.canApplyDuringNextRequest)
        let taken = batch.take()
        #expect(taken.map(\.nextCursor) == [1, 2, 3])
        #expect(batch.isEmpty && batch.cursor == nil)
        let last = batch.add(livePage(cursor: 4, records: 1, more: false))
        #expect(last && !batch.canApplyDuringNextRequest)
    }

    @Test func aPageWithATombstoneOrARevocationEndsTheBatch() {
        var batch = PullBatch(recordLimit: 1_000)
        let live = batch.add(livePage(cursor: 1, records: 2))
        #expect(!live)
        var tombstone = PageBuilder(cursor: 2, more: true)
        tombstone.tombstone(customer, id(1), vector: VersionVector([.hub: 2]))
        let afterTombstone = batch.add(tombstone.page)
        #expect(afterTombstone && !batch.canApplyDuringNextRequest)
        _ = batch.take()
        var revocation = PageBuilder(cursor: 3, more: true)
        revocation.revoke(customer, id(2))
        let afterRevocation = batch.add(revocation.page)
        #expect(afterRevocation)
    }

    // MARK: - Applying a batch

    @Test func aBatchLeavesTheSameStateAsOnePagePerTransaction() async throws {
        let pages = BootstrapPages.pages(count: 3_000, pageSize: 250)
        let batched = try await withReplica { replica, _, _ in
            #expect(try await replica._applyPullPages(pages, batchRecords: 1_000) == 3_000)
            #expect(try await replica.status().cursor == 3_000)
            #expect(try await replica.pendingCount() == 0)
            return try await replica.export()
        }
        let single = try await withReplica { replica, _, _ in
            #expect(try await replica._applyPullPages(pages, batchRecords: 1) == 3_000)
            return try await replica.export()
        }
        #expect(batched == single)
        let cityThree = try await withReplica { replica, _, _ in
            try await replica._applyPullPages(pages)
            return try await replica.list(customer, where: ["city": .text("City 3")]).count
        }
        #expect(cityThree == (0..<3_000).count { $0 % 97 == 3 })
    }

    @Test func aFailingPageUndoesItsWholeBatch() async throws {
        try await withReplica { replica, folder, _ in
            try await replica.apply(livePage(cursor: 1, records: 3))
            var broken = PageBuilder(cursor: 3, more: false)
            broken.record(customer, id(9_001), acme("Fine"), dot: Dot(replica: .hub, counter: 3))
            var bad = Relais_V1_RecordVersion()
            bad.collection = customer
            bad.recordID = id(9_002)
            var field = Relais_V1_FieldVersion()
            field.field = "name"  // no value: not a valid field version
            bad.fields = [field]
            broken.page.records.append(bad)
            do {
                try await replica._applyPullPages([livePage(cursor: 2, records: 2), broken.page])
                Issue.record("a page with an invalid value must not be applied")
            } catch {}
            // Neither the good page nor the good record of the bad one: the cursor did not move.
            #expect(try await replica.status().cursor == 1)
            let raw = try rawConnection(folder.file("replica.db"))
            defer { try? raw.close() }
            #expect(try raw.scalar("SELECT count(*) FROM customers")?.int64Value == 3)
            #expect(try raw.scalar("SELECT count(*) FROM _relais_records")?.int64Value == 3)
        }
    }

    // MARK: - The sync loop

    /// Serves scripted pages and, at every pull request, reads the replica file through its own
    /// connection: the cursor stored there, and the request's cursor.
    final class WatchingHub: ForwardingTransport {
        let scripted = ScriptedHub()
        var inner: any SyncTransport { scripted }
        let path: String
        /// (request cursor, cursor stored in the file when the request was answered)
        let seen = Mutex<[(request: UInt64, stored: UInt64)]>([])
        /// Whether an answer waits (up to 5 s) until the file stands at the request's cursor: the page
        /// before it stored while the request is in flight.
        let waitsForThePageBefore = Mutex(false)
        /// A request cursor answered once with the hub unreachable (after any wait).
        let failsOnceAt = Mutex<UInt64?>(nil)
        init(path: String) { self.path = path }

        private func storedCursor() throws -> UInt64 {
            let raw = try rawConnection(path)
            defer { try? raw.close() }
            return UInt64(try raw.scalar("SELECT value FROM _relais_state WHERE key = 'cursor'")?.int64Value ?? 0)
        }

        func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
            var stored = try storedCursor()
            if waitsForThePageBefore.withLock({ $0 }) {
                _ = try await eventually(within: .seconds(5), every: .milliseconds(2)) {
                    stored = try storedCursor()
                    return stored >= request.cursor
                }
            }
            seen.withLock { $0.append((request.cursor, stored)) }
            let fails = failsOnceAt.withLock { cursor in
                defer { if cursor == request.cursor { cursor = nil } }
                return cursor == request.cursor
            }
            if fails { throw SyncError(.hubUnreachable, "cut while the page before was being stored") }
            return try await scripted.pull(request, token: token)
        }
    }

    /// Options that retry a cut request at once.
    var retryingAtOnce: SyncOptions {
        var options = SyncOptions()
        options.sleep = { _ in }
        return options
    }

    @Test func aSyncBatchesLivePagesAndStoresATombstoneBeforeAcknowledgingIt() async throws {
        try await withReplica { replica, folder, _ in
            let hub = WatchingHub(path: folder.file("replica.db"))
            var tombstone = PageBuilder(cursor: 30, more: true)
            tombstone.tombstone(customer, id(10_000), vector: VersionVector([.hub: 10, ReplicaID(9): 1]))
            hub.scripted.pages.withLock {
                $0 = [
                    livePage(cursor: 10, records: 2), livePage(cursor: 20, records: 2), tombstone.page,
                    livePage(cursor: 40, records: 2), livePage(cursor: 50, records: 1, more: false),
                ]
            }
            var options = SyncOptions()
            options.applyBatchRecords = 100
            let reports = Mutex<[SyncProgress]>([])
            options.progress = { progress in reports.withLock { $0.append(progress) } }
            let result = try await replica.sync(transport: hub, options: options)
            // Progress moves with every page received; records changed move when a batch is applied.
            let pulls = reports.withLock { $0 }.filter { $0.phase == "pull" }
            #expect(pulls.first(where: { $0.pages == 2 })?.received == 4)
            #expect(pulls.first(where: { $0.pages == 2 })?.pulled == 0)
            #expect(pulls.last?.pages == 5)
            #expect(pulls.last?.received == 8)
            #expect(pulls.last?.pulled == 8)
            #expect(pulls.last?.cursor == 50)
            #expect(result.pulled == 8)  // 7 records created, one of them deleted by the tombstone
            let seen = hub.seen.withLock { $0 }
            #expect(seen.map(\.request) == [0, 10, 20, 30, 40])
            // Live pages were held, not stored, while the next pages were asked for…
            #expect(seen.map(\.stored) == [0, 0, 0, 30, 30])
            // …and no request acknowledged the tombstone page before it was in the file.
            for request in seen where request.request >= 30 { #expect(request.stored >= 30) }
            #expect(try await replica.status().cursor == 50)
            #expect(try await replica.list(customer).count == 6)
            #expect(try await replica.get(customer, id: id(10_000)) == nil)
        }
    }

    /// A pull that is not a whole one (it starts where the last ended) stores each page of live
    /// records while the hub answers the next request: the hub here answers only once the page before
    /// is in the file. A request cut meanwhile leaves that page stored; the retry asks from it.
    @Test func anIncrementalPullStoresEachPageWhileTheNextIsFetched() async throws {
        try await withReplica { replica, folder, _ in
            let hub = WatchingHub(path: folder.file("replica.db"))
            hub.scripted.pages.withLock { $0 = [livePage(cursor: 5, records: 1, more: false)] }
            _ = try await replica.sync(transport: hub, options: retryingAtOnce)
            hub.seen.withLock { $0 = [] }
            hub.waitsForThePageBefore.withLock { $0 = true }
            hub.failsOnceAt.withLock { $0 = 20 }
            hub.scripted.pages.withLock {
                $0 = [
                    livePage(cursor: 10, records: 2), livePage(cursor: 20, records: 2),
                    livePage(cursor: 30, records: 2),
                    livePage(cursor: 40, records: 1, more: false),
                ]
            }
            let result = try await replica.sync(transport: hub, options: retryingAtOnce)
            #expect(result.pulled == 7)
            let seen = hub.seen.withLock { $0 }
            // The request for 20 was cut; the page ending at 20 was stored while it was in flight, so
            // the retry asks from 20, not from 10.
            #expect(seen.map(\.request) == [5, 10, 20, 20, 30])
            #expect(seen.map(\.stored) == [5, 10, 20, 20, 30])
            #expect(try await replica.status().cursor == 40)
            #expect(try await replica.list(customer).count == 8)
        }
    }

    /// A whole pull (from cursor 0) holds its pages until the batch is full, then stores the batch
    /// while the next page is fetched.
    @Test func aWholePullStoresAFullBatchWhileTheNextPageIsFetched() async throws {
        try await withReplica { replica, folder, _ in
            let hub = WatchingHub(path: folder.file("replica.db"))
            hub.scripted.pages.withLock {
                $0 = [
                    livePage(cursor: 10, records: 2), livePage(cursor: 20, records: 2),
                    livePage(cursor: 30, records: 2),
                    livePage(cursor: 40, records: 1, more: false),
                ]
            }
            var options = retryingAtOnce
            options.applyBatchRecords = 4
            _ = try await replica.sync(transport: hub, options: options)
            let seen = hub.seen.withLock { $0 }
            #expect(seen.map(\.request) == [0, 10, 20, 30])
            // Held at 10; full at 20 and stored while 20 is asked for (it may or may not be in the
            // file by the time the hub reads it); stored by 30.
            #expect(seen[1].stored == 0)
            #expect(seen[3].stored == 20)
            #expect(try await replica.status().cursor == 40)
            #expect(try await replica.list(customer).count == 7)
        }
    }

    // MARK: - Triggers and dots

    @Test func theEnginesWritesRunTheUsersOwnTriggersAndEditsAreCapturedAfterwards() async throws {
        try await withReplica { replica, folder, _ in
            try await replica.apply(livePage(cursor: 1, records: 2))
            #expect(try await replica.pendingCount() == 0)
            // A trigger of the user's own (an audit table kept with the sqlite3 shell).
            let raw = try rawConnection(folder.file("replica.db"))
            try raw.execute("CREATE TABLE audit(id TEXT)")
            try raw.execute(
                "CREATE TRIGGER audit_customers AFTER INSERT ON customers BEGIN INSERT INTO audit VALUES (new.id); END")
            try await replica.apply(livePage(cursor: 2, records: 3))
            #expect(try raw.scalar("SELECT count(*) FROM audit")?.int64Value == 3)
            #expect(try await replica.pendingCount() == 0)
            try raw.execute("DROP TRIGGER audit_customers")
            try raw.close()
            // Only the capture triggers are left: the engine switches them off for its writes, and
            // they run again for the next edit.
            try await replica.apply(livePage(cursor: 3, records: 2))
            #expect(try await replica.pendingCount() == 0)
            try await replica.set(customer, id: id(3_000), ["city": .text("Lille")])
            #expect(try await replica.pendingCount() == 1)
            let rawAgain = try rawConnection(folder.file("replica.db"))
            defer { try? rawAgain.close() }
            try rawAgain.execute("UPDATE customers SET status = 'active' WHERE id = '\(id(2_000))'")
            #expect(try await replica.pendingCount() == 2)
        }
    }

    @Test func textBufferWritesNumbersInDecimal() {
        var buffer = TextBuffer()
        for number: UInt64 in [0, 7, 10, 99, 100, 65_536, UInt64.max] {
            buffer.removeAll()
            buffer.append(number)
            #expect(buffer.string == String(number))
        }
    }

    @Test func fieldDotsShareTheFirstDotOnlyWhenTwoFieldsCarryIt() {
        var dots = FieldDotsText()
        dots.add("name", replica: 3, counter: 17, hlc: 100)
        dots.add("city", replica: 4, counter: 2, hlc: 101)
        dots.add("phone", replica: 3, counter: 17, hlc: 100)
        dots.finish()
        #expect(dots.explicit.string == #"{"name":[3,17,100],"city":[4,2,101],"phone":[3,17,100]}"#)
        #expect(
            String(decoding: dots.insertBytes, as: UTF8.self) == #"{"*":[3,17,100,"name","phone"],"city":[4,2,101]}"#)
        dots.removeAll()
        dots.add("name", replica: 3, counter: 17, hlc: 100)
        dots.add("city", replica: 4, counter: 2, hlc: 101)
        dots.finish()
        #expect(String(decoding: dots.insertBytes, as: UTF8.self) == dots.explicit.string)
        dots.removeAll()
        dots.finish()
        #expect(dots.explicit.string == "{}")
    }

    @Test func fieldsWrittenByOneWriteShareOneDotAndALaterWritePatchesThem() async throws {
        try await withReplica { replica, folder, _ in
            let record = id(1)
            var first = PageBuilder(cursor: 1)
            first.record(customer, record, acme("A"), dot: hubDot, hlc: 7 << 16)
            try await replica.apply(first.page)
            let raw = try rawConnection(folder.file("replica.db"))
            defer { try? raw.close() }
            let stored = "SELECT fields FROM _relais_records WHERE record_id = '\(record)'"
            // One dot for the three fields of the creating write.
            let shared = "{\"*\":[\(ReplicaID.hub.rawValue),1,\(7 << 16),\"name\",\"status\",\"territory\"]}"
            #expect(try raw.scalar(stored)?.textValue == shared)
            // Applying the same page again keeps the row as it is.
            try await replica.apply(first.page)
            #expect(try raw.scalar(stored)?.textValue == shared)
            // A later write of one field gets its own entry, which wins over "*".
            var second = PageBuilder(cursor: 2)
            second.record(
                customer, record, ["status": .text("active")], dot: Dot(replica: ReplicaID(9), counter: 4),
                hlc: 8 << 16,
                vector: VersionVector([.hub: 1, ReplicaID(9): 4]))
            try await replica.apply(second.page)
            #expect(
                try raw.scalar(
                    "SELECT json_extract(fields, '$.status') FROM _relais_records WHERE record_id = '\(record)'")?
                    .textValue == "[9,4,\(8 << 16)]")
            #expect(
                try raw.scalar(
                    "SELECT json_extract(fields, '$.\"*\"[0]') FROM _relais_records WHERE record_id = '\(record)'")?
                    .int64Value == Int64(ReplicaID.hub.rawValue))
            #expect(try await replica.get(customer, id: record)?["status"] == .text("active"))
        }
    }
}
