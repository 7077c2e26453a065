import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

/// Every store implementation.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, empty store of this kind, then closes and deletes it.
    func with<T>(_ body: (any HubStore) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            let folder = try HubTemporaryFolder(prefix: "store")
            defer { folder.remove() }
            let store = try SQLiteHubStore(folder: folder.path, create: true)
            do {
                let result = try await body(store)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        }
    }
}

/// The store contract (``HubStore``), written once and run against every implementation.
struct HubStoreTests {
    struct Boom: Error {}

    static func record(_ id: String, seq: UInt64, scope: String?, deleted: Bool = false) -> StoredRecord {
        var state = RecordState(collection: "customers", id: id, vector: VersionVector([ReplicaID(1): seq]))
        state.fields["name"] = FieldState(
            siblings: [Sibling(value: .text("n\(seq)"), dot: Dot(replica: ReplicaID(1), counter: seq), hlc: HLC(rawValue: seq), author: "a")])
        if deleted { state.tombstone = Tombstone(dot: Dot(replica: ReplicaID(1), counter: seq), hlc: HLC(rawValue: seq), author: "a") }
        return StoredRecord(
            state: state, seq: seq, wholeSince: seq, scope: scope, parentID: nil, deletedAt: deleted ? 5 : nil,
            fields: ["name": FieldMeta(seq: seq, clamped: seq % 2 == 0)])
    }

    @Test(arguments: StoreKind.allCases) func rowsRoundTrip(kind: StoreKind) async throws {
        try await kind.with { store in
            let user = HubUser(name: "claire", role: .manager, territories: ["south", "north", "north"], createdAt: 7)
            #expect(user.territories == ["north", "south"])
            let device = Device(
                replica: ReplicaID(3), user: "claire", tokenHash: "h", name: "laptop", lineage: ReplicaID(3), createdAt: 8,
                highestCounter: 12, acknowledgedCursor: 40, scopeVersion: 1, lastSeenAt: 9, clampedWrites: 2)
            let record = Self.record(Wire.uuid(), seq: 1, scope: "north")
            let conflict = ConflictReport(
                id: "c1", createdAt: 10, seq: 1,
                conflict: Conflict(
                    collection: "customers", recordID: record.id, field: "phone", rule: "lww", base: .null,
                    values: [Competitor(value: .text("1"), dot: Dot(replica: ReplicaID(1), counter: 1), hlc: HLC(rawValue: 1), author: "a"),
                             Competitor(value: nil, deleted: true, dot: Dot(replica: ReplicaID(2), counter: 1), hlc: HLC(rawValue: 2), author: "b")],
                    chosen: .text("1"), status: .open),
                scope: "north")
            let result = StoredWriteResult(
                dot: Dot(replica: ReplicaID(3), counter: 5), digest: [1, 2, 3], status: .conflict, conflictIDs: ["c1"])
            try await store.write { tx throws in
                try tx.insertUser(user)
                try tx.insertDevice(device)
                try tx.putRecord(record)
                try tx.insertConflict(conflict)
                try tx.insertWriteResult(result)
                try tx.insertEvent(HubEvent(at: 11, kind: .deviceEnrolled, replica: ReplicaID(3), user: "claire", detail: "d"))
            }
            try await store.read { tx throws in
                #expect(try tx.user(named: "claire") == user)
                #expect(try tx.device(replica: ReplicaID(3)) == device)
                #expect(try tx.device(tokenHash: "h") == device)
                #expect(try tx.record(collection: "customers", id: record.id) == record)
                #expect(try tx.conflict(id: "c1") == conflict)
                #expect(try tx.writeResult(replica: ReplicaID(3), counter: 5) == result)
                #expect(try tx.writeResult(replica: ReplicaID(3), counter: 6) == nil)
                #expect(try tx.events(limit: 10).map(\.kind) == [.deviceEnrolled])
                #expect(try tx.conflictCount(status: .open) == 1)
                #expect(try tx.conflictCount(status: .resolved) == 0)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func aFailedWriteLeavesNothing(kind: StoreKind) async throws {
        try await kind.with { store in
            await #expect(throws: Boom.self) {
                try await store.write { tx throws in
                    _ = try tx.nextSequence()
                    try tx.insertUser(HubUser(name: "x", role: .rep, territories: [], createdAt: 1))
                    throw Boom()
                }
            }
            try await store.read { tx throws in
                #expect(try tx.meta().head == 0)
                #expect(try tx.users().isEmpty)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func concurrentWritesShareCommitsAndStayIsolated(kind: StoreKind) async throws {
        try await kind.with { store in
            let sequences = try await withThrowingTaskGroup(of: UInt64?.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        do {
                            return try await store.write { tx throws in
                                let seq = try tx.nextSequence()
                                try tx.putRecord(Self.record(Wire.uuid(), seq: seq, scope: "t\(index % 3)"))
                                if index % 10 == 0 { throw Boom() }
                                return seq
                            }
                        } catch is Boom {
                            return nil
                        }
                    }
                }
                var all: [UInt64] = []
                for try await seq in group { if let seq { all.append(seq) } }
                return all
            }
            #expect(sequences.count == 180)
            #expect(Set(sequences).count == 180)
            try await store.read { tx throws in
                // The failed writes took no sequence and left no record: sequences stay gap-free.
                #expect(try tx.meta().head == 180)
                #expect(try tx.records(after: 0, scopes: nil, limit: 1000).map(\.seq) == Array(1...180))
            }
            let statistics = store.statistics()
            #expect(statistics.transactions >= 200)
            #expect(statistics.commits < statistics.transactions)
            print("store \(kind.rawValue): \(statistics.transactions) transactions in \(statistics.commits) commits, largest group \(statistics.largestGroup)")
        }
    }

    @Test(arguments: StoreKind.allCases) func recordQueriesFollowScopesAndMoves(kind: StoreKind) async throws {
        try await kind.with { store in
            let a = Wire.uuid(), b = Wire.uuid(), c = Wire.uuid()
            try await store.write { tx throws in
                for _ in 0..<4 { _ = try tx.nextSequence() }
                try tx.putRecord(Self.record(a, seq: 1, scope: "north"))
                try tx.putRecord(Self.record(b, seq: 2, scope: "south"))
                try tx.putRecord(Self.record(c, seq: 4, scope: "south", deleted: true))
                try tx.insertMove(ScopeMove(seq: 4, collection: "customers", recordID: c, fromScope: "north", toScope: "south"))
            }
            try await store.read { tx throws in
                #expect(try tx.records(after: 0, scopes: ["north"], limit: 10).map(\.id) == [a])
                #expect(try tx.records(after: 1, scopes: ["north", "south"], limit: 10).map(\.id) == [b, c])
                #expect(try tx.records(after: 0, scopes: nil, limit: 2).map(\.id) == [a, b])
                #expect(try tx.records(after: 0, scopes: [], limit: 10).isEmpty)
                #expect(try tx.movedAway(after: 0, scopes: ["north"], limit: 10).map(\.id) == [c])
                #expect(try tx.movedAway(after: 4, scopes: ["north"], limit: 10).isEmpty)
                #expect(try tx.firstMove(collection: "customers", id: c, after: 3)?.fromScope == "north")
                #expect(try tx.tombstones(after: 0, limit: 10).map(\.id) == [c])
                var live: [String] = []
                try tx.forEachLiveRecord { live.append($0.id) }
                #expect(Set(live) == [a, b])
            }
            try await store.write { tx throws in
                try tx.deleteMoves(upTo: 4)
                try tx.deleteRecord(collection: "customers", id: c)
            }
            try await store.read { tx throws in
                #expect(try tx.firstMove(collection: "customers", id: c, after: 0) == nil)
                #expect(try tx.record(collection: "customers", id: c) == nil)
            }
        }
    }

    static func report(_ id: String, _ at: UInt64, _ status: ConflictStatus, record: String) -> ConflictReport {
        ConflictReport(
            id: id, createdAt: at, seq: at,
            conflict: Conflict(collection: "customers", recordID: record, field: "phone", rule: "lww", base: nil,
                               values: [], chosen: nil, status: status), scope: nil)
    }

    @Test(arguments: StoreKind.allCases) func conflictFiltersAndOrder(kind: StoreKind) async throws {
        try await kind.with { store in
            try await store.write { tx throws in
                try tx.insertConflict(Self.report("a", 1, .open, record: "r1"))
                try tx.insertConflict(Self.report("b", 2, .autoResolved, record: "r2"))
                try tx.insertConflict(Self.report("c", 3, .open, record: "r2"))
            }
            try await store.read { tx throws in
                #expect(try tx.conflicts(ConflictFilter()).map(\.id) == ["c", "b", "a"])
                #expect(try tx.conflicts(ConflictFilter(status: .open)).map(\.id) == ["c", "a"])
                #expect(try tx.conflicts(ConflictFilter(recordID: "r2")).map(\.id) == ["c", "b"])
                #expect(try tx.conflicts(ConflictFilter(limit: 1, offset: 1)).map(\.id) == ["b"])
            }
        }
    }
}

/// What only the SQLite store does: files, migrations, another process writing.
struct SQLiteHubStoreTests {
    @Test func createRefusesAnExistingStoreAndOpenNeedsOne() async throws {
        let folder = try HubTemporaryFolder(prefix: "sqlite")
        defer { folder.remove() }
        #expect(throws: HubError.storeMissing) { _ = try SQLiteHubStore(folder: folder.path + "/x", create: false) }
        let store = try SQLiteHubStore(folder: folder.path + "/x", create: true)
        try await store.write { tx in _ = try tx.nextSequence() }
        await store.close()
        #expect(throws: HubError.storeExists) { _ = try SQLiteHubStore(folder: folder.path + "/x", create: true) }
        let reopened = try SQLiteHubStore(folder: folder.path + "/x", create: false)
        #expect(try await reopened.read { try $0.meta().head } == 1)
        await reopened.close()
        // The file is WAL with synchronous=FULL on the writer, and records its migrations.
        let connection = try Connection(path: folder.path + "/x/hub.sqlite")
        #expect(try connection.journalMode() == .wal)
        #expect(try connection.scalar("SELECT count(*) FROM migrations")?.int64Value == 2)
        #expect(try connection.userVersion() == 2)
    }

    @Test func anotherConnectionWritesWhileTheStoreIsOpen() async throws {
        try await HubFixture.with { hub in
            // As `relais-hub user add` does from another process while `serve` runs.
            let other = try SQLiteHubStore(folder: hub.dataFolder, create: false)
            let otherHub = HubService(store: other, logger: HubLogging.standardError(label: "test"))
            let code = try await otherHub.addUser("claire", role: .rep, territories: ["north"])
            await other.close()
            let enrolled = try await hub.service.enroll(Wire.enroll(code))
            #expect(enrolled.user == "claire")
        }
    }
}

/// The SQLite store's binary record format, through the store.
struct RecordCodecTests {
    @Test func roundTripsEveryValueAndTombstoneShapeAndRefusesCorruptBytes() async throws {
        var state = RecordState(
            collection: "customers", id: Wire.uuid(), vector: VersionVector([ReplicaID(0): 3, ReplicaID(300): 1 << 40]))
        let values: [Value] = [.null, .text("Café ☕️ \u{0}"), .number(-12.5), .number(.greatestFiniteMagnitude), .bool(true),
                               .bool(false), .date("2026-11-28"), .set([]), .set(["a", "é"])]
        for (index, value) in values.enumerated() {
            state.fields["f\(index)"] = FieldState(
                siblings: [Sibling(value: value, dot: Dot(replica: ReplicaID(7), counter: UInt64(index + 1)),
                                   hlc: HLC(rawValue: UInt64.max - UInt64(index)), author: "claire")],
                base: index % 2 == 0 ? value : nil)
        }
        state.fields["two"] = FieldState(siblings: [
            Sibling(value: .text("a"), dot: Dot(replica: ReplicaID(1), counter: 1), hlc: HLC(rawValue: 5), author: "x"),
            Sibling(value: .text("b"), dot: Dot(replica: ReplicaID(2), counter: 9), hlc: HLC(rawValue: 6), author: "y"),
        ])
        state.tombstone = Tombstone(
            dot: Dot(replica: ReplicaID(4), counter: 2), hlc: HLC(rawValue: 99), author: "bob",
            concurrent: [Tombstone(dot: Dot(replica: ReplicaID(3), counter: 8), hlc: HLC(rawValue: 98), author: "ann")])
        let meta = Dictionary(uniqueKeysWithValues: state.fields.keys.map { ($0, FieldMeta(seq: UInt64($0.count), clamped: $0 == "two")) })
        let record = StoredRecord(
            state: state, seq: 1, wholeSince: 0, scope: nil, parentID: "p", deletedAt: 3, fields: meta)
        let id = state.id
        let folder = try HubTemporaryFolder(prefix: "codec")
        defer { folder.remove() }
        let store = try SQLiteHubStore(folder: folder.path, create: true)
        try await store.write { tx throws in try tx.putRecord(record) }
        #expect(try await store.read { try $0.record(collection: "customers", id: id) } == record)
        // A damaged row is an error, never a misread record.
        let raw = try Connection(path: folder.path + "/hub.sqlite")
        try raw.configureForDurability()
        try raw.execute("UPDATE records SET state = substr(state, 1, length(state) - 1)")
        await #expect(throws: (any Error).self) {
            _ = try await store.read { try $0.record(collection: "customers", id: id) }
        }
        try raw.close()
        await store.close()
    }
}
