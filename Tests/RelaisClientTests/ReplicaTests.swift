import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// The Swift API: edits, reads, validation, and the capture of every edit as a pending write.
struct ReplicaTests {
    @Test func createsPlainTablesInWALWithFullSync() async throws {
        try await withReplica { replica, folder, _ in
            let raw = try rawConnection(folder.file("replica.db"))
            #expect(try raw.journalMode() == .wal)
            var columns: [String] = []
            try raw.query("SELECT name, type FROM pragma_table_info('customers')") { row in
                columns.append("\(row.text(at: 0)!) \(row.text(at: 1)!)")
            }
            #expect(columns.first == "id TEXT")
            #expect(columns.contains("lifetime_value REAL"))
            #expect(columns.contains("tags TEXT"))
            let sync = try await replica.withStore { try $0.db.synchronous() }
            #expect(sync == .full)
        }
    }

    /// On a lost laptop only the owner's account reads the customers: the file, its write-ahead
    /// log and the folders made for it are owner-only whatever the umask, and a file that others
    /// could read is narrowed when opened.
    @Test func theReplicaFileItsLogAndItsFolderAreTheOwnersAlone() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path + "/laptop/relais/customers.relais"
        let previous = umask(0o022)
        defer { umask(previous) }
        func mode(_ file: String) throws -> Int {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            return try #require(attributes[.posixPermissions] as? Int) & 0o777
        }
        do {
            let replica = try Replica.open(path: path)
            _ = try await replica.add(customer, acme())
            #expect(try mode(folder.path + "/laptop") == 0o700)
            #expect(try mode(folder.path + "/laptop/relais") == 0o700)
            for file in [path, path + "-wal", path + "-shm"] {
                #expect(try mode(file) == 0o600, "\(file)")
            }
        }
        #expect(chmod(path, 0o644) == 0)
        _ = try Replica.open(path: path, create: false)
        #expect(try mode(path) == 0o600)
    }

    @Test func addSetDeleteAreCapturedAndCoalesced() async throws {
        try await withReplica { replica, _, _ in
            let id = try await replica.add(customer, acme())
            #expect(try await replica.pendingCount() == 1)
            try await replica.set(customer, id: id, ["phone": .text("0102"), "tags": .set(["b", "a", "b"])])
            let writes = try await replica.pendingWrites()
            #expect(writes.count == 1)
            #expect(writes[0].fields["phone"] == .text("0102"))
            #expect(writes[0].fields["name"] == .text("Acme"))
            #expect(writes[0].fields["tags"] == .set(["a", "b"]))
            #expect(writes[0].context == .empty)
            let record = try #require(try await replica.get(customer, id: id))
            #expect(record["tags"] == .set(["a", "b"]))
            // Deleted after its creation was stamped: the creation may already be on the hub (sent by
            // the copy a backup was taken from), so the delete is a write of its own, after it.
            try await replica.delete(customer, id: id)
            let afterDelete = try await replica.pendingWrites()
            #expect(afterDelete.count == 2)
            #expect(afterDelete.last?.isDelete == true)
            #expect(try await replica.get(customer, id: id) == nil)
        }
    }

    @Test func refusesInvalidValuesBeforeWriting() async throws {
        try await withReplica { replica, _, _ in
            await #expect(throws: ReplicaError.self) {
                try await replica.add(
                    customer, ["name": .text("X"), "territory": .text("north"), "status": .text("gone")])
            }
            await #expect(throws: ReplicaError.self) { try await replica.add(customer, ["name": .text("X")]) }
            await #expect(throws: ReplicaError.self) {
                try await replica.add(customer, acme().merging(["segment": .text("A")]) { $1 })
            }
            await #expect(throws: ReplicaError.self) {
                try await replica.set(customer, id: UUID().uuidString, ["phone": .text("1")])
            }
            let pending = try await replica.pendingCount()
            let records = try await replica.list(customer)
            #expect(pending == 0)
            #expect(records.isEmpty)
        }
    }

    @Test func listFiltersAndSortsByID() async throws {
        try await withReplica { replica, _, _ in
            let a = try await replica.add(customer, acme("A"))
            let b = try await replica.add(customer, acme("B", territory: "south"))
            let c = try await replica.add(customer, acme("C"))
            #expect(try await replica.list(customer).map(\.id) == [a, b, c].sorted())
            #expect(
                try await replica.list(customer, where: ["territory": .text("north")]).map(\.id) == [a, c].sorted())
        }
    }

    @Test func rawSQLInsertUpdateOfSeveralRowsAndDeleteAreCaptured() async throws {
        try await withReplica { replica, folder, _ in
            let a = try await replica.add(customer, acme("A"))
            let b = try await replica.add(customer, acme("B"))
            // The hub acknowledges both: they are confirmed, nothing pending.
            try await replica.answer(try await replica.batch(), .applied)
            #expect(try await replica.pendingCount() == 0)

            let raw = try rawConnection(folder.file("replica.db"))
            try raw.execute("UPDATE customers SET city = 'Lyon', phone = '9' WHERE territory = 'north'")
            try raw.execute("DELETE FROM customers WHERE id = '\(b)'")
            let c = "00000000-0000-4000-8000-0000000000cc"
            try raw.execute("INSERT INTO customers(id, name, territory) VALUES ('\(c)', 'C', 'north')")

            let writes = try await replica.pendingWrites()
            #expect(writes.count == 3)
            let byID = Dictionary(uniqueKeysWithValues: writes.map { ($0.recordID, $0) })
            #expect(byID[a]?.fields == ["city": .text("Lyon"), "phone": .text("9")])
            #expect(byID[a]?.context == VersionVector([ReplicaID(7): 1]))
            #expect(byID[b]?.isDelete == true)
            #expect(byID[c]?.fields == ["name": .text("C"), "territory": .text("north")])
            // Counters follow first capture; every write has its own dot.
            #expect(Set(writes.map(\.counter)).count == 3)
        }
    }

    @Test func rawSQLInvalidEditIsRejectedVisiblyAndUndone() async throws {
        try await withReplica { replica, folder, _ in
            let a = try await replica.add(customer, acme("A"))
            try await replica.answer(try await replica.batch(), .applied)
            let raw = try rawConnection(folder.file("replica.db"))
            try raw.execute("UPDATE customers SET status = 'sleeping' WHERE id = '\(a)'")
            try raw.execute(
                "INSERT INTO customers(id, name) VALUES ('00000000-0000-4000-8000-0000000000dd', 'NoTerritory')")
            try raw.execute(
                "INSERT INTO customers(id, name, territory) VALUES ('00000000-0000-4000-8000-0000000000EE', 'Upper', 'north')"
            )
            #expect(try await replica.pendingCount() == 0)
            let rejected = try await replica.rejected()
            #expect(rejected.map(\.code) == ["invalid_value", "required_missing", "invalid_id"])
            #expect(rejected[0].values["status"] == "sleeping")
            #expect(rejected.allSatisfy { $0.source == "local" })
            // The visible state is back to the confirmed one.
            #expect(try await replica.get(customer, id: a)?["status"] == .text("prospect"))
            #expect(try await replica.list(customer).count == 1)
            // The queue is not blocked: a later valid edit goes through.
            try raw.execute("UPDATE customers SET city = 'Nice' WHERE id = '\(a)'")
            #expect(try await replica.pendingCount() == 1)
        }
    }

    @Test func engineWritesAreNotCaptured() async throws {
        try await withReplica { replica, _, _ in
            var page = PageBuilder(cursor: 10)
            page.record(
                customer, "00000000-0000-4000-8000-0000000000aa", acme("Hub"), dot: Dot(replica: .hub, counter: 3))
            try await replica.apply(page.page)
            #expect(try await replica.pendingCount() == 0)
            #expect(try await replica.list(customer).count == 1)
            let captured = try await replica.withStore {
                try $0.db.scalar("SELECT count(*) FROM _relais_capture")?.int64Value
            }
            #expect(captured == 0)
        }
    }

    /// The sync engine's small sections (an edit's stamp, marking a batch in flight, a push answer,
    /// a refused write put back) keep the connection's triggers on, so the statements they run stay
    /// prepared; a page of many records switches them off for its section, and pays one preparation
    /// per statement. Either way the engine's writes are not captured.
    @Test func smallEngineSectionsKeepTheirStatementsPrepared() async throws {
        try await withReplica { replica, _, _ in
            func reprepares() async throws -> Int { try await replica.withStore { $0.db.cachedStatementReprepares } }
            func captured() async throws -> Int64? {
                try await replica.withStore { try $0.db.scalar("SELECT count(*) FROM _relais_capture")?.int64Value }
            }
            func editAndAnswer(_ name: String, _ status: Relais_V1_WriteResult.Status) async throws {
                let id = try await replica.add(customer, acme(name))
                try await replica.set(customer, id: id, ["city": .text("Paris")])
                try await replica.answer(try await replica.batch(), status, code: "not_allowed", reason: "refused")
            }
            // Every statement of an edit, a batch and its answers prepared once.
            for round in 0..<2 {
                try await editAndAnswer("Taken \(round)", .applied)
                try await editAndAnswer("Refused \(round)", .rejected)
            }
            let prepared = try await reprepares()
            try await editAndAnswer("Taken", .applied)
            try await editAndAnswer("Refused", .rejected)
            #expect(try await reprepares() == prepared)
            // The refused writes were taken back with the triggers on, and not captured.
            #expect(try await replica.pendingCount() == 0)
            #expect(try await captured() == 0)
            let names = try await replica.list(customer).map { $0["name"] }
            #expect(Set(names) == [.text("Taken 0"), .text("Taken 1"), .text("Taken")])

            var page = PageBuilder(cursor: 10)
            for n in 0..<ReplicaStore.triggersOffRows {
                page.record(
                    customer, String(format: "00000000-0000-4000-8000-%012x", n), acme("Hub \(n)"),
                    dot: Dot(replica: .hub, counter: UInt64(n + 1)))
            }
            try await replica.apply(page.page)
            #expect(try await reprepares() > prepared)
            #expect(try await replica.pendingCount() == 0)
            #expect(try await captured() == 0)
        }
    }

    @Test func stampsAreStableAcrossRetries() async throws {
        try await withReplica { replica, _, clock in
            let id = try await replica.add(customer, acme())
            let first = try await replica.batch()
            clock.advance(byMillis: 5_000)
            // The push failed; the user edits again: a new write, the in-flight one is untouched.
            try await replica.set(customer, id: id, ["city": .text("Paris")])
            let again = try await replica.batch()
            #expect(again.first == first.first)
            #expect(again.count == 2)
            #expect(again[1].counter > again[0].counter)
            #expect(again[1].fields == ["city": .text("Paris")])
            let request = try await replica.withStore { try $0.pushRequest(again) }
            let replay = try await replica.withStore { try $0.pushRequest(try $0.nextBatch(limit: 500)) }
            #expect(request == replay)
        }
    }

    @Test func coalescingKeepsFirstContextAndDot() async throws {
        try await withReplica { replica, _, clock in
            let id = "00000000-0000-4000-8000-0000000000aa"
            var page = PageBuilder(cursor: 1)
            page.record(customer, id, acme("Hub"), dot: Dot(replica: .hub, counter: 3))
            try await replica.apply(page.page)
            try await replica.set(customer, id: id, ["city": .text("Lyon")])
            let first = try #require(try await replica.pendingWrites().first)
            #expect(first.context == VersionVector([ReplicaID.hub: 3]))
            // A pull lands between two edits and moves the record's vector on.
            var next = PageBuilder(cursor: 2)
            next.record(
                customer, id, ["phone": .text("1")], dot: Dot(replica: ReplicaID(9), counter: 1),
                vector: VersionVector([ReplicaID.hub: 3, ReplicaID(9): 1]))
            try await replica.apply(next.page)
            clock.advance(byMillis: 1_000)
            try await replica.set(customer, id: id, ["city": .text("Nice")])
            let writes = try await replica.pendingWrites()
            #expect(writes.count == 1)
            #expect(writes[0].context == VersionVector([ReplicaID.hub: 3]))
            #expect(writes[0].counter == first.counter)
            #expect(writes[0].hlc > first.hlc)
            #expect(writes[0].fields == ["city": .text("Nice")])
        }
    }

    @Test func exportIsCanonical() async throws {
        try await withReplica { replica, _, _ in
            let id = try await replica.add(
                customer, acme().merging(["tags": .set(["z", "a"]), "lifetime_value": .null]) { $1 })
            let json = try #require(String(data: try await replica.export(pretty: false), encoding: .utf8))
            #expect(
                json.contains(
                    #""customers":[{"id":"\#(id)","name":"Acme","status":"prospect","tags":["a","z"],"territory":"north"}]"#
                ))
            #expect(json.contains(#""contacts":[]"#))
        }
    }
}

/// How many pages of the file a transaction writes: every written page is one frame in the
/// write-ahead log, so this is the edit's write amplification (issue 9).
struct WriteAmplificationTests {
    /// A replica holding `count` hub-confirmed customers, with automatic checkpoints off so that the
    /// log only grows.
    func confirmedReplica(_ replica: Replica, count: Int) async throws {
        var page = PageBuilder(cursor: UInt64(count))
        for i in 0..<count {
            page.record(
                customer, String(format: "00000000-0000-4000-8000-%012x", i * 7919 % 1_000_003),
                acme("Customer \(i)"), dot: Dot(replica: .hub, counter: UInt64(i + 1)))
        }
        try await replica.apply(page.page)
        try await replica.withStore { store in
            try store.db.execute("PRAGMA wal_autocheckpoint = 0")
            try store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    /// Pages in the log of `path` (checkpoints are off, so it holds every commit since the last one).
    func logPages(_ path: String) throws -> Int {
        let size = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.intValue ?? 0
        return size <= 32 ? 0 : (size - 32) / (4096 + 24)
    }

    @Test func aSingleFieldEditWritesFewPages() async throws {
        try await withReplica { replica, folder, _ in
            try await confirmedReplica(replica, count: 2_000)
            let path = folder.file("replica.db")
            let id = String(format: "00000000-0000-4000-8000-%012x", 700 * 7919 % 1_000_003)
            try await replica.set(customer, id: id, ["city": .text("Lyon")])
            let first = try logPages(path)
            // A second edit of the same record coalesces into its pending write.
            try await replica.set(customer, id: id, ["city": .text("Nantes")])
            let second = try logPages(path) - first
            // The push: the batch marked in flight, then the hub's answer folded in.
            let batch = try await replica.batch()
            let marked = try logPages(path) - first - second
            try await replica.answer(batch, .applied)
            let answered = try logPages(path) - first - second - marked
            print(
                "pages written: single-field edit \(first), the same record again \(second), "
                    + "push batch marked \(marked), answer applied \(answered)")
            #expect(try await replica.pendingCount() == 0)
            // customers, overlay and its key, capture log, engine switch, pending write and its
            // index, counter and HLC.
            #expect(first <= 8)
            #expect(second <= 6)
            #expect(marked <= 4)
            #expect(answered <= 8)
        }
    }
}
