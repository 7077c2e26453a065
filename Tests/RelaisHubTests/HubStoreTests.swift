import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Synchronization
import Testing

/// The order in which concurrent transactions did something.
private final class Order: Sendable {
    let names = Mutex<[String]>([])
}

/// Every store implementation.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    /// On the server of `RELAIS_TEST_POSTGRES_URL`; skipped (with the reason) without one, failed in
    /// CI (`RELAIS_REQUIRE_POSTGRES=1`).
    case postgres

    /// The kinds that run here.
    static var available: [StoreKind] { PostgresTestDatabase.isEnabled ? [.sqlite, .postgres] : [.sqlite] }

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
        case .postgres:
            return try await PostgresTestDatabase.with { database in
                try await PostgresHubStore.withStore(
                    url: database.url, create: true, configuration: PostgresTestDatabase.storeConfiguration
                ) { store in try await body(store) }
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
            siblings: [
                Sibling(
                    value: .text("n\(seq)"), dot: Dot(replica: ReplicaID(1), counter: seq), hlc: HLC(rawValue: seq),
                    author: "a")
            ])
        if deleted {
            state.tombstone = Tombstone(
                dot: Dot(replica: ReplicaID(1), counter: seq), hlc: HLC(rawValue: seq), author: "a")
        }
        return StoredRecord(
            state: state, seq: seq, wholeSince: seq, scope: scope, parentID: nil, deletedAt: deleted ? 5 : nil,
            fields: ["name": FieldMeta(seq: seq, clamped: seq % 2 == 0)])
    }

    @Test(arguments: StoreKind.available) func rowsRoundTrip(kind: StoreKind) async throws {
        try await kind.with { store in
            let user = HubUser(name: "claire", role: .manager, territories: ["south", "north", "north"], createdAt: 7)
            #expect(user.territories == ["north", "south"])
            let device = Device(
                replica: ReplicaID(3), user: "claire", tokenHash: "h", name: "laptop", lineage: ReplicaID(3),
                createdAt: 8,
                highestCounter: 12, acknowledgedCursor: 40, scopeVersion: 1, lastSeenAt: 9, clampedWrites: 2)
            let record = Self.record(Wire.uuid(), seq: 1, scope: "north")
            let conflict = ConflictReport(
                id: "c1", createdAt: 10, seq: 1,
                conflict: Conflict(
                    collection: "customers", recordID: record.id, field: "phone", rule: "lww", base: .null,
                    values: [
                        Competitor(
                            value: .text("1"), dot: Dot(replica: ReplicaID(1), counter: 1), hlc: HLC(rawValue: 1),
                            author: "a"),
                        Competitor(
                            value: nil, deleted: true, dot: Dot(replica: ReplicaID(2), counter: 1),
                            hlc: HLC(rawValue: 2), author: "b"),
                    ],
                    chosen: .text("1"), status: .open),
                scope: "north")
            let result = StoredWriteResult(
                dot: Dot(replica: ReplicaID(3), counter: 5), digest: [1, 2, 3], status: .conflict, conflictIDs: ["c1"])
            try await store.write { tx throws in
                try await tx.insertUser(user)
                try await tx.insertDevice(device)
                try await tx.insertRecord(record)
                try await tx.insertConflict(conflict)
                try await tx.insertWriteResult(result)
                try await tx.insertEvent(
                    HubEvent(at: 11, kind: .deviceEnrolled, replica: ReplicaID(3), user: "claire", detail: "d"))
            }
            try await store.read { tx throws in
                #expect(try await tx.user(named: "claire") == user)
                #expect(try await tx.device(replica: ReplicaID(3)) == device)
                #expect(try await tx.device(tokenHash: "h") == device)
                #expect(try await tx.record(collection: "customers", id: record.id) == record)
                #expect(try await tx.conflict(id: "c1") == conflict)
                #expect(try await tx.writeResult(replica: ReplicaID(3), counter: 5) == result)
                #expect(try await tx.writeResult(replica: ReplicaID(3), counter: 6) == nil)
                #expect(try await tx.events(kinds: nil, limit: 10).map(\.kind) == [.deviceEnrolled])
                #expect(try await tx.conflictCount(ConflictFilter(status: .open)) == 1)
                #expect(try await tx.conflictCount(ConflictFilter(status: .resolved)) == 0)
            }
        }
    }

    @Test(arguments: StoreKind.available) func aFailedWriteLeavesNothing(kind: StoreKind) async throws {
        try await kind.with { store in
            await #expect(throws: Boom.self) {
                try await store.write { tx throws in
                    _ = try await tx.nextSequence()
                    try await tx.insertUser(HubUser(name: "x", role: .rep, territories: [], createdAt: 1))
                    throw Boom()
                }
            }
            try await store.read { tx throws in
                #expect(try await tx.meta().head == 0)
                #expect(try await tx.users().isEmpty)
            }
        }
    }

    @Test(arguments: StoreKind.available) func concurrentWritesShareCommitsAndStayIsolated(kind: StoreKind) async throws
    {
        try await kind.with { store in
            let sequences = try await withThrowingTaskGroup(of: UInt64?.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        do {
                            return try await store.write { tx throws in
                                let seq = try await tx.nextSequence()
                                try await tx.insertRecord(Self.record(Wire.uuid(), seq: seq, scope: "t\(index % 3)"))
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
                #expect(try await tx.meta().head == 180)
                #expect(try await tx.records(after: 0, scopes: nil, limit: 1000).map(\.seq) == Array(1...180))
            }
            let statistics = store.statistics()
            #expect(statistics.transactions >= 200)
            #expect(statistics.commits < statistics.transactions)
            print(
                "store \(kind.rawValue): \(statistics.transactions) transactions in \(statistics.commits) commits, largest group \(statistics.largestGroup)"
            )
        }
    }

    @Test(arguments: StoreKind.available) func recordQueriesFollowScopesAndMoves(kind: StoreKind) async throws {
        try await kind.with { store in
            let a = Wire.uuid()
            let b = Wire.uuid()
            let c = Wire.uuid()
            try await store.write { tx throws in
                for _ in 0..<4 { _ = try await tx.nextSequence() }
                try await tx.insertRecord(Self.record(a, seq: 1, scope: "north"))
                try await tx.insertRecord(Self.record(b, seq: 2, scope: "south"))
                try await tx.insertRecord(Self.record(c, seq: 4, scope: "south", deleted: true))
                try await tx.insertMove(
                    ScopeMove(seq: 4, collection: "customers", recordID: c, fromScope: "north", toScope: "south"))
            }
            try await store.read { tx throws in
                #expect(try await tx.records(after: 0, scopes: ["north"], limit: 10).map(\.id) == [a])
                #expect(try await tx.records(after: 1, scopes: ["north", "south"], limit: 10).map(\.id) == [b, c])
                #expect(try await tx.records(after: 0, scopes: nil, limit: 2).map(\.id) == [a, b])
                #expect(try await tx.records(after: 0, scopes: [], limit: 10).isEmpty)
                #expect(try await tx.movedAway(after: 0, scopes: ["north"], limit: 10).map(\.id) == [c])
                #expect(try await tx.movedAway(after: 4, scopes: ["north"], limit: 10).isEmpty)
                #expect(try await tx.firstMove(collection: "customers", id: c, after: 3)?.fromScope == "north")
                #expect(try await tx.tombstones(after: 0, limit: 10).map(\.id) == [c])
                var live: [String] = []
                try await tx.forEachLiveRecord { live.append($0.id) }
                #expect(Set(live) == [a, b])
            }
            try await store.write { tx throws in
                // The highest move forgotten (the purge raises its horizon to it); none below 4.
                #expect(try await tx.deleteMoves(upTo: 3) == nil)
                #expect(try await tx.deleteMoves(upTo: 4) == 4)
                #expect(try await tx.deleteMoves(upTo: 4) == nil)
                // Only the tombstone as it was read: not at another sequence, not a live record.
                #expect(try await tx.deleteTombstone(collection: "customers", id: c, seq: 3) == false)
                #expect(try await tx.deleteTombstone(collection: "customers", id: a, seq: 1) == false)
                #expect(try await tx.deleteTombstone(collection: "customers", id: c, seq: 4))
            }
            try await store.read { tx throws in
                #expect(try await tx.firstMove(collection: "customers", id: c, after: 0) == nil)
                #expect(try await tx.record(collection: "customers", id: c) == nil)
            }
        }
    }

    /// The purge reads a tombstone, then deletes it; a push reviving the record in between (on
    /// PostgreSQL it commits while the purge's delete waits for the row) keeps the revived record.
    @Test(arguments: StoreKind.available) func aTombstoneRevivedWhileThePurgeDeletesItStays(kind: StoreKind)
        async throws
    {
        try await kind.with { store in
            let id = Wire.uuid()
            try await store.write { tx throws in
                for _ in 0..<2 { _ = try await tx.nextSequence() }
                try await tx.insertRecord(Self.record(id, seq: 2, scope: "north", deleted: true))
            }
            let (locked, lockedNow) = AsyncStream<Void>.makeStream()
            let (release, releaseNow) = AsyncStream<Void>.makeStream()
            // The push: it reads (and on PostgreSQL locks) the record, revives it, and commits only
            // once the purge's delete has been sent.
            async let revived: Void = store.write { tx throws in
                _ = try await tx.record(collection: "customers", id: id)
                let seq = try await tx.nextSequence()
                try await tx.updateRecord(Self.record(id, seq: seq, scope: "north"))
                lockedNow.yield()
                for await _ in release { break }
            }
            for await _ in locked { break }
            async let purged = store.write { tx throws in
                try await tx.deleteTombstone(collection: "customers", id: id, seq: 2)
            }
            try await Task.sleep(for: .milliseconds(200))
            releaseNow.yield()
            try await revived
            #expect(try await purged == false)
            let stored = try await store.read { tx in try await tx.record(collection: "customers", id: id) }
            #expect(stored?.seq == 3 && stored?.deletedAt == nil && stored?.state.isDeleted == false)
        }
    }

    /// `lockRecords([])` holds off every other write that takes a sequence until the transaction ends
    /// (a bulk resolve counts reports under it, and no push adds one meanwhile).
    @Test(arguments: StoreKind.available) func lockingNoRecordsHoldsTheHead(kind: StoreKind) async throws {
        try await kind.with { store in
            let (locked, lockedNow) = AsyncStream<Void>.makeStream()
            let (release, releaseNow) = AsyncStream<Void>.makeStream()
            let order = Order()
            async let holder: Void = store.write { tx throws in
                try await tx.lockRecords([])
                lockedNow.yield()
                for await _ in release { break }
                order.names.withLock { $0.append("holder") }
            }
            for await _ in locked { break }
            async let writer: UInt64 = store.write { tx throws in
                let seq = try await tx.nextSequence()
                order.names.withLock { $0.append("writer") }
                return seq
            }
            try await Task.sleep(for: .milliseconds(200))
            releaseNow.yield()
            try await holder
            #expect(try await writer == 1)
            #expect(order.names.withLock { $0 } == ["holder", "writer"])
        }
    }

    /// View digests (Protocol/README.md section 14): stored with each live record, streamed by scope,
    /// left out for tombstones; a record written without one is listed for the backfill, which stores
    /// one unless the record changed since; devices' reports are kept, the last one each.
    @Test(arguments: StoreKind.available) func digestsAndVerificationReports(kind: StoreKind) async throws {
        try await kind.with { store in
            let (a, b, c, d) = (Wire.uuid(), Wire.uuid(), Wire.uuid(), Wire.uuid())
            @Sendable func digest(_ n: UInt8) -> RecordDigest {
                RecordDigest(stored: [UInt8](repeating: n, count: 24))!
            }
            try await store.write { tx throws in
                for _ in 0..<4 { _ = try await tx.nextSequence() }
                var first = Self.record(a, seq: 1, scope: "north")
                first.digest = digest(1)
                try await tx.insertRecord(first)
                var second = Self.record(b, seq: 2, scope: "south")
                second.digest = digest(2)
                try await tx.insertRecord(second)
                try await tx.insertRecord(Self.record(c, seq: 3, scope: "north"))  // written before digests
                try await tx.insertRecord(Self.record(d, seq: 4, scope: "north", deleted: true))
            }
            try await store.read { tx throws in
                var north: [String: [UInt8]?] = [:]
                try await tx.forEachDigestRow(scopes: ["north"], keys: true, stored: true) {
                    north[$0.id] = .some($0.digest)
                }
                #expect(north.count == 2 && north[a] == .some(digest(1).stored) && north[c] == .some(nil))
                var all = 0
                try await tx.forEachDigestRow(scopes: nil, keys: false, stored: true) { _ in all += 1 }
                #expect(all == 3)
                // Stored digests not trusted: every row with its key and state, no digest.
                var states = 0
                try await tx.forEachDigestRow(scopes: nil, keys: false, stored: false) { row in
                    if row.digest == nil, row.state != nil, !row.id.isEmpty { states += 1 }
                }
                #expect(states == 3)
                #expect(try await tx.digestSchema() == nil)
                // A view's sum of stored digests, and the records without one, with their states.
                var undigested: [String] = []
                let northSum = try await tx.sumStoredDigests(scopes: ["north"]) { row in
                    if row.state != nil { undigested.append(row.id) }
                }
                #expect(
                    northSum.count == 1 && northSum.high == 0x0101_0101_0101_0101
                        && northSum.low == 0x0101_0101_0101_0101)
                #expect(undigested == [c])
                let everything = try await tx.sumStoredDigests(scopes: nil) { _ in }
                #expect(everything.count == 2 && everything.high == 0x0303_0303_0303_0303)
                #expect(try await tx.undigestedRecords(after: nil, limit: 10).map(\.id) == [c])
                #expect(
                    try await tx.undigestedRecords(after: RecordKey(collection: "customers", id: c), limit: 10).isEmpty)
            }
            try await store.write { tx throws in
                try await tx.setDigest(collection: "customers", id: c, seq: 2, digest: digest(9).stored)  // stale
                #expect(try await tx.undigestedRecords(after: nil, limit: 10).map(\.id) == [c])
                try await tx.setDigest(collection: "customers", id: c, seq: 3, digest: digest(3).stored)
                try await tx.recordVerification(
                    DeviceVerification(
                        replica: ReplicaID(7), at: 10, outcome: .repaired, records: 5, differing: 2, repaired: 2,
                        full: false))
                try await tx.recordVerification(
                    DeviceVerification(
                        replica: ReplicaID(7), at: 20, outcome: .unrepaired, records: 5, differing: 1, repaired: 0,
                        full: true))
            }
            try await store.read { tx throws in
                #expect(try await tx.undigestedRecords(after: nil, limit: 10).isEmpty)
                var found: [UInt8]?
                try await tx.forEachDigestRow(scopes: ["north"], keys: true, stored: true) {
                    if $0.id == c { found = $0.digest }
                }
                #expect(found == digest(3).stored)
                #expect(
                    try await tx.verifications() == [
                        DeviceVerification(
                            replica: ReplicaID(7), at: 20, outcome: .unrepaired, records: 5, differing: 1, repaired: 0,
                            full: true)
                    ])
            }
            // Digests computed under another schema are forgotten, and the schema recorded.
            try await store.write { tx throws in try await tx.resetDigests(schema: "fingerprint-2") }
            try await store.read { tx throws in
                #expect(try await tx.digestSchema() == "fingerprint-2")
                #expect(Set(try await tx.undigestedRecords(after: nil, limit: 10).map(\.id)) == [a, b, c])
            }
        }
    }

    /// docs/SYNC.md "Sequences with several writers": a write that took a sequence and has not
    /// committed holds the head below it for every reader, later writes cannot commit past it, and
    /// once it commits a pull from the old cursor gets everything, in order, none skipped.
    @Test(arguments: StoreKind.available) func aLateCommitIsNeverSkipped(kind: StoreKind) async throws {
        try await kind.with { store in
            let (taken, tookSequence) = AsyncStream.makeStream(of: UInt64.self)
            let (gate, release) = AsyncStream.makeStream(of: Void.self)
            let held = Task {
                try await store.write { tx throws in
                    let seq = try await tx.nextSequence()
                    try await tx.insertRecord(Self.record(Wire.uuid(), seq: seq, scope: "north"))
                    tookSequence.yield(seq)
                    for await _ in gate {}
                    return seq
                }
            }
            var sequences = taken.makeAsyncIterator()
            let heldSeq = try #require(await sequences.next())
            let later = Task {
                try await withThrowingTaskGroup(of: UInt64.self) { group in
                    // Two: with the held one and the read, they fit the test pool's four connections.
                    for _ in 0..<2 {
                        group.addTask {
                            try await store.write { tx throws in
                                let seq = try await tx.nextSequence()
                                try await tx.insertRecord(Self.record(Wire.uuid(), seq: seq, scope: "north"))
                                return seq
                            }
                        }
                    }
                    var all: [UInt64] = []
                    for try await seq in group { all.append(seq) }
                    return all
                }
            }
            // Give the later writes every chance to commit first.
            try await Task.sleep(for: .milliseconds(300))
            let (head, served) = try await store.read { tx throws in
                (try await tx.meta().head, try await tx.records(after: 0, scopes: ["north"], limit: 100).map(\.seq))
            }
            #expect(head < heldSeq)
            #expect(served.allSatisfy { $0 < heldSeq })
            release.finish()
            #expect(try await held.value == heldSeq)
            let laterSequences = try await later.value
            #expect(laterSequences.allSatisfy { $0 > heldSeq })
            let (finalHead, all) = try await store.read { tx throws in
                (try await tx.meta().head, try await tx.records(after: head, scopes: ["north"], limit: 100).map(\.seq))
            }
            #expect(finalHead == 3)
            #expect(all == [1, 2, 3])
        }
    }

    static func report(_ id: String, _ at: UInt64, _ status: ConflictStatus, record: String) -> ConflictReport {
        ConflictReport(
            id: id, createdAt: at, seq: at,
            conflict: Conflict(
                collection: "customers", recordID: record, field: "phone", rule: "lww", base: nil,
                values: [], chosen: nil, status: status), scope: nil)
    }

    @Test(arguments: StoreKind.available) func conflictFiltersAndOrder(kind: StoreKind) async throws {
        try await kind.with { store in
            try await store.write { tx throws in
                try await tx.insertConflict(Self.report("a", 1, .open, record: "r1"))
                try await tx.insertConflict(Self.report("b", 2, .autoResolved, record: "r2"))
                try await tx.insertConflict(Self.report("c", 3, .open, record: "r2"))
            }
            try await store.read { tx throws in
                #expect(try await tx.conflicts(ConflictFilter()).map(\.id) == ["c", "b", "a"])
                #expect(try await tx.conflicts(ConflictFilter(status: .open)).map(\.id) == ["c", "a"])
                #expect(try await tx.conflicts(ConflictFilter(recordID: "r2")).map(\.id) == ["c", "b"])
                #expect(try await tx.conflicts(ConflictFilter(limit: 1, offset: 1)).map(\.id) == ["b"])
            }
        }
    }
}

/// The narrow operations of the contract: what each one means, on every store.
struct HubStoreOperationTests {
    @Test(arguments: StoreKind.available) func countersAreTakenNeverWrittenBack(kind: StoreKind) async throws {
        try await kind.with { store in
            let (first, second, dot1, dot2) = try await store.write { tx throws in
                (
                    try await tx.takeReplicaNumber(), try await tx.takeReplicaNumber(),
                    try await tx.takeHubDot(physicalMillis: 1_000), try await tx.takeHubDot(physicalMillis: 500)
                )
            }
            #expect(first == ReplicaID(1) && second == ReplicaID(2))
            #expect(dot1.counter == 1 && dot2.counter == 2)
            // The hub's clock never runs backwards, even when the wall clock does.
            #expect(dot2.hlc > dot1.hlc && dot1.hlc.physicalMillis == 1_000)
            try await store.write { tx throws in
                try await tx.raisePurgeHorizon(to: 7)
                try await tx.raisePurgeHorizon(to: 3)
            }
            let meta = try await store.read { tx throws in try await tx.meta() }
            #expect(meta.purgeHorizon == 7 && meta.hubCounter == 2 && meta.nextReplica == 3 && meta.head == 0)
            // What any purge removed: at least the horizon, raised alone, never lowered.
            #expect(meta.purgedUpTo == 7)
            try await store.write { tx throws in
                try await tx.raisePurgedUpTo(12)
                try await tx.raisePurgedUpTo(9)
                try await tx.raisePurgeHorizon(to: 8)
            }
            let later = try await store.read { tx throws in try await tx.meta() }
            #expect(later.purgeHorizon == 8 && later.purgedUpTo == 12)
        }
    }

    @Test(arguments: StoreKind.available) func usersEnrollmentsAndDevicesChangeOnlyWhatIsSaid(kind: StoreKind)
        async throws
    {
        try await kind.with { store in
            let device = Device(
                replica: ReplicaID(1), user: "claire", tokenHash: "h1", name: "laptop", lineage: ReplicaID(1),
                createdAt: 1,
                highestCounter: 10, acknowledgedCursor: 5, scopeVersion: 1)
            let renewed = Device(
                replica: ReplicaID(2), user: "claire", tokenHash: "h2", name: "laptop", epoch: 2, lineage: ReplicaID(1),
                createdAt: 2, scopeVersion: 1)
            try await store.write { tx throws in
                try await tx.insertUser(HubUser(name: "claire", role: .rep, territories: ["north"], createdAt: 1))
                try await tx.insertEnrollment(Enrollment(codeHash: "c", user: "claire", createdAt: 1, expiresAt: 9))
                try await tx.insertDevice(device)
                try await tx.insertDevice(renewed)
            }
            try await store.write { tx throws in
                let user = try await tx.setUserAccess(
                    name: "claire", role: .manager, territories: ["south", "north", "south"])
                #expect(user?.role == .manager && user?.territories == ["north", "south"] && user?.scopeVersion == 2)
                #expect(try await tx.setUserAccess(name: "nobody", role: .rep, territories: []) == nil)
                #expect(
                    try await tx.useEnrollment(
                        codeHash: "c", at: 3, replica: ReplicaID(1), attemptHash: "a1", sealedToken: "s1"))
                #expect(
                    try await tx.useEnrollment(
                        codeHash: "c", at: 4, replica: ReplicaID(9), attemptHash: "a9", sealedToken: "s9") == false)
                try await tx.recordPush(replica: ReplicaID(1), highestCounter: 8, clampedWrites: 2, seenAt: 20)
                try await tx.recordPush(replica: ReplicaID(1), highestCounter: 12, clampedWrites: 1, seenAt: 21)
                try await tx.acknowledgePull(replica: ReplicaID(1), cursor: 0, scopeVersion: 2, seenAt: 22)
                try await tx.acknowledgePull(replica: ReplicaID(1), cursor: 4, scopeVersion: nil, seenAt: 23)
                try await tx.setRenewed(replica: ReplicaID(1), to: ReplicaID(2))
            }
            try await store.read { tx throws in
                let enrollment = try await tx.enrollment(codeHash: "c")
                #expect(enrollment?.usedAt == 3 && enrollment?.replica == ReplicaID(1))
                #expect(enrollment?.attemptHash == "a1" && enrollment?.sealedToken == "s1")
                #expect(enrollment?.answersAgain(attemptHash: "a1", at: 8) == true)
                #expect(enrollment?.answersAgain(attemptHash: "a9", at: 8) == false)
                #expect(enrollment?.answersAgain(attemptHash: "a1", at: 9) == false, "expired")
                #expect(enrollment?.answersAgain(attemptHash: nil, at: 8) == false)
                let stored = try #require(try await tx.device(replica: ReplicaID(1)))
                // The counter only rises; clamped writes add up; the cursor is set, the scope version
                // only from cursor 0.
                #expect(stored.highestCounter == 12 && stored.clampedWrites == 3)
                #expect(stored.acknowledgedCursor == 4 && stored.scopeVersion == 2 && stored.lastSeenAt == 23)
                #expect(stored.renewedTo == ReplicaID(2) && stored.isActive == false)
            }
            let revoked = try await store.write { tx throws in
                (try await tx.revokeLineage(ReplicaID(1), at: 30), try await tx.revokeLineage(ReplicaID(1), at: 31))
            }
            #expect(revoked == (2, 0))
            let devices = try await store.read { tx throws in try await tx.devices() }
            #expect(
                devices.map(\.replica) == [ReplicaID(1), ReplicaID(2)] && devices.allSatisfy { $0.revokedAt == 30 })
        }
    }

    @Test(arguments: StoreKind.available) func insertRefusesAnExistingRecordAndUpdateNeedsOne(kind: StoreKind)
        async throws
    {
        try await kind.with { store in
            let id = Wire.uuid()
            try await store.write { tx throws in
                try await tx.insertRecord(HubStoreTests.record(id, seq: 1, scope: "north"))
            }
            await #expect(throws: (any Error).self) {
                try await store.write { tx throws in
                    try await tx.insertRecord(HubStoreTests.record(id, seq: 2, scope: "north"))
                }
            }
            let missing = Wire.uuid()
            try await store.write { tx throws in
                try await tx.updateRecord(HubStoreTests.record(id, seq: 3, scope: "south"))
                try await tx.updateRecord(HubStoreTests.record(missing, seq: 4, scope: "south"))
                #expect(try await tx.deleteTombstone(collection: "customers", id: missing, seq: 4) == false)
            }
            try await store.read { tx throws in
                #expect(
                    try await tx.record(collection: "customers", id: id)
                        == HubStoreTests.record(id, seq: 3, scope: "south"))
                #expect(try await tx.record(collection: "customers", id: missing) == nil)
            }
        }
    }

    /// A pull page's batched move lookup answers exactly what one lookup per record would: the first
    /// move after the cursor, per record, whatever the order, repetition or absence of the keys.
    @Test(arguments: StoreKind.available) func firstMovesAnswerAsOneLookupPerRecord(kind: StoreKind) async throws {
        try await kind.with { store in
            let ids = (0..<6).map { _ in Wire.uuid() }
            var random = SeededRandom(seed: 7)
            let movers = (1...40).map { _ in ids[random.int(0...3)] }  // ids[4] and ids[5] never move
            try await store.write { tx throws in
                for (index, id) in movers.enumerated() {
                    let seq = index + 1
                    try await tx.insertMove(
                        ScopeMove(
                            seq: UInt64(seq), collection: "customers", recordID: id, fromScope: "s\(seq)",
                            toScope: "s\(seq + 1)"))
                }
                try await tx.insertMove(
                    ScopeMove(seq: 41, collection: "contacts", recordID: ids[0], fromScope: "c", toScope: "d"))
            }
            let keys =
                ids.map { RecordKey(collection: "customers", id: $0) } + [
                    RecordKey(collection: "contacts", id: ids[0]), RecordKey(collection: "customers", id: ids[2]),
                ]
            for cursor: UInt64 in [0, 10, 25, 39, 41] {
                try await store.read { tx throws in
                    var expected: [RecordKey: ScopeMove] = [:]
                    for key in keys {
                        if let move = try await tx.firstMove(collection: key.collection, id: key.id, after: cursor) {
                            expected[key] = move
                        }
                    }
                    #expect(try await tx.firstMoves(of: keys.reversed(), after: cursor) == expected, "cursor \(cursor)")
                    #expect(try await tx.firstMoves(of: [], after: cursor).isEmpty)
                }
            }
            let some = try await store.read { tx in try await tx.firstMoves(of: keys, after: 0) }
            #expect(some.count == Set(movers).count + 1)
        }
    }

    /// The two long lists (every report of a filter, every live record) come whole and in order however
    /// many pages a store reads them in: here more than two of PostgreSQL's 1,000-row pages, with ties
    /// on the leading keys of the order so that a page boundary falls inside a tie.
    @Test(arguments: StoreKind.available) func longListsComeWholeAndInOrderAcrossPages(kind: StoreKind) async throws {
        try await kind.with { store in
            var random = SeededRandom(seed: 20_261_204)
            let reports = (0..<2345).map { n in
                var report = Self.report(String(format: "c%05d", (n * 7919) % 2345), at: UInt64(random.int(1...40)))
                report.seq = UInt64(random.int(1...3))
                if n % 3 == 0 { report.conflict.status = .autoResolved }
                return report
            }
            let records = (0..<2100).map { n in
                HubStoreTests.record(
                    String(format: "r%05d", (n * 7919) % 2100), seq: UInt64(n + 1), scope: "north", deleted: n % 10 == 0
                )
            }
            try await store.write { tx throws in
                for report in reports { try await tx.insertConflict(report) }
                for record in records { try await tx.insertRecord(record) }
            }
            for filter in [ConflictFilter(), ConflictFilter(status: .open)] {
                let expected = reports.filter(filter.matches)
                    .sorted { ($0.createdAt, $0.seq, $0.id) > ($1.createdAt, $1.seq, $1.id) }.map(\.id)
                let streamed = try await store.read { tx throws in
                    var ids: [String] = []
                    try await tx.forEachConflict(filter) { ids.append($0.id) }
                    return ids
                }
                #expect(streamed == expected, "\(filter)")
            }
            let live = try await store.read { tx throws in
                var ids: [String] = []
                try await tx.forEachLiveRecord { ids.append($0.id) }
                return ids
            }
            #expect(live == records.filter { $0.deletedAt == nil }.map(\.id).sorted())
            #expect(live.count == 1890)
        }
    }

    static func report(
        _ id: String, at: UInt64, status: ConflictStatus = .open, field: String = "phone", rule: String = "lww",
        authors: [String] = ["a", "b"], scope: String? = "north"
    ) -> ConflictReport {
        let values = authors.enumerated().map { index, author in
            Competitor(
                value: .text(author), dot: Dot(replica: ReplicaID(UInt32(index + 1)), counter: at),
                hlc: HLC(rawValue: at), author: author)
        }
        return ConflictReport(
            id: id, createdAt: at, seq: at,
            conflict: Conflict(
                collection: "customers", recordID: "r-\(id)", field: field, rule: rule, base: nil, values: values,
                chosen: values.first?.value, status: status),
            scope: scope)
    }

    @Test(arguments: StoreKind.available) func everyConflictFilterRunsInTheStore(kind: StoreKind) async throws {
        try await kind.with { store in
            let reports = [
                Self.report("a", at: 10),
                Self.report("b", at: 20, status: .autoResolved, field: "email", authors: ["c", "a"]),
                Self.report("c", at: 30, rule: "manual", authors: ["b", "d"], scope: "south"),
                Self.report("d", at: 30, field: "notes", rule: "append", authors: ["a", "d"]),
            ]
            try await store.write { tx throws in for report in reports { try await tx.insertConflict(report) } }
            let filters: [ConflictFilter] = [
                ConflictFilter(), ConflictFilter(status: .open), ConflictFilter(field: "phone"),
                ConflictFilter(rule: "manual"),
                ConflictFilter(user: "a"), ConflictFilter(user: "d"), ConflictFilter(territory: "south"),
                ConflictFilter(recordID: "r-b"), ConflictFilter(from: 20), ConflictFilter(to: 30),
                ConflictFilter(from: 20, to: 30), ConflictFilter(collection: "contacts"),
                ConflictFilter(user: "a", limit: 1, offset: 1),
            ]
            for filter in filters {
                // Newest first by (createdAt, seq, id), the page applied after the filters.
                let expected = reports.filter(filter.matches)
                    .sorted { ($0.createdAt, $0.seq, $0.id) > ($1.createdAt, $1.seq, $1.id) }
                let page = Array(expected.dropFirst(filter.offset).prefix(filter.limit))
                try await store.read { tx throws in
                    #expect(try await tx.conflicts(filter).map(\.id) == page.map(\.id), "\(filter)")
                    #expect(try await tx.conflictCount(filter) == expected.count, "\(filter)")
                    var streamed: [String] = []
                    try await tx.forEachConflict(filter) { streamed.append($0.id) }
                    #expect(streamed == expected.map(\.id), "\(filter)")
                }
            }
            let resolution = ConflictResolution(by: "admin", at: 40, reason: "checked", value: .text("b"))
            try await store.write { tx throws in try await tx.setResolution(conflictID: "a", resolution) }
            let resolved = try await store.read { tx throws in try await tx.conflict(id: "a") }
            #expect(resolved?.status == .resolved && resolved?.resolution == resolution)
        }
    }

    @Test(arguments: StoreKind.available) func eventsSessionsAndLocks(kind: StoreKind) async throws {
        try await kind.with { store in
            let ids = try await store.write { tx throws in
                [
                    try await tx.insertEvent(HubEvent(at: 1, kind: .deviceEnrolled, detail: "1")),
                    try await tx.insertEvent(HubEvent(at: 2, kind: .conflictResolved, user: "admin", detail: "2")),
                    try await tx.insertEvent(HubEvent(at: 3, kind: .deviceRevoked, detail: "3")),
                ]
            }
            #expect(ids == ids.sorted() && Set(ids).count == 3)
            try await store.read { tx throws in
                #expect(try await tx.events(kinds: nil, limit: 2).map(\.detail) == ["3", "2"])
                #expect(
                    try await tx.events(kinds: [.deviceEnrolled, .deviceRevoked], limit: 10).map(\.detail) == [
                        "3", "1",
                    ])
            }
            try await store.write { tx throws in
                try await tx.insertAdminSession(AdminSession(id: "s1", user: "admin", csrf: "x", expiresAt: 100))
                try await tx.insertAdminSession(AdminSession(id: "s2", user: "admin", csrf: "y", expiresAt: 50))
                try await tx.touchAdminSession(id: "s1", expiresAt: 200)
                try await tx.deleteExpiredAdminSessions(at: 50)
                #expect(try await tx.tryExclusive("tombstone-purge"))
            }
            try await store.read { tx throws in
                #expect(
                    try await tx.adminSession(id: "s1")
                        == AdminSession(id: "s1", user: "admin", csrf: "x", expiresAt: 200))
                #expect(try await tx.adminSession(id: "s2") == nil)
            }
            try await store.write { tx throws in try await tx.deleteAdminSession(id: "s1") }
            #expect(try await store.read { tx throws in try await tx.adminSession(id: "s1") } == nil)
        }
    }

    /// Taking a user's access away: each operation touches only that user's rows, only those still
    /// working, and says how many; tokens list oldest first; a user's disabled time round-trips.
    @Test(arguments: StoreKind.available) func aUsersAccessIsRevokedTogether(kind: StoreKind) async throws {
        try await kind.with { store in
            try await store.write { tx throws in
                for name in ["claire", "hugo"] {
                    try await tx.insertUser(HubUser(name: name, role: .admin, territories: [], createdAt: 1))
                    for (index, hash) in ["b", "a"].enumerated() {
                        try await tx.insertAPIToken(APIToken(tokenHash: name + hash, user: name, createdAt: 5))
                        try await tx.insertDevice(
                            Device(
                                replica: ReplicaID(UInt32(name.count * 10 + index)), user: name,
                                tokenHash: "d" + name + hash, name: "laptop",
                                lineage: ReplicaID(UInt32(name.count * 10 + index)), createdAt: 1, scopeVersion: 1))
                    }
                    try await tx.insertAdminSession(AdminSession(id: "s" + name, user: name, csrf: "x", expiresAt: 99))
                    // Unused, used, and already expired at 20: only the first is ended.
                    try await tx.insertEnrollment(
                        Enrollment(codeHash: name + "1", user: name, createdAt: 1, expiresAt: 50))
                    try await tx.insertEnrollment(
                        Enrollment(
                            codeHash: name + "2", user: name, createdAt: 1, expiresAt: 50, usedAt: 2,
                            replica: ReplicaID(1)))
                    try await tx.insertEnrollment(
                        Enrollment(codeHash: name + "3", user: name, createdAt: 1, expiresAt: 10))
                }
                try await tx.insertAPIToken(APIToken(tokenHash: "old", user: "hugo", createdAt: 2))
                _ = try await tx.revokeAPIToken(hash: "clairea", at: 15)
            }
            let tokens = try await store.read { tx throws in try await tx.apiTokens() }
            #expect(tokens.map(\.tokenHash) == ["old", "clairea", "claireb", "hugoa", "hugob"])
            let counts = try await store.write { tx throws in
                [
                    try await tx.revokeAPIToken(hash: "clairea", at: 20) ? 1 : 0,
                    try await tx.revokeAPITokens(user: "claire", at: 20),
                    try await tx.revokeDevices(user: "claire", at: 20),
                    try await tx.expireEnrollments(user: "claire", at: 20),
                    try await tx.deleteAdminSessions(user: "claire"),
                    try await tx.revokeDevices(user: "claire", at: 21),
                ]
            }
            #expect(counts == [0, 1, 2, 1, 1, 0])
            let disabled = try await store.write { tx throws in
                (
                    try await tx.setUserDisabled(name: "claire", at: 20),
                    try await tx.setUserDisabled(name: "nobody", at: 20)
                )
            }
            #expect(disabled.0?.disabledAt == 20 && disabled.0?.role == .admin && disabled.1 == nil)
            try await store.read { tx throws in
                #expect(try await tx.user(named: "claire")?.disabledAt == 20)
                #expect(try await tx.users().map(\.isDisabled) == [true, false])
                #expect(try await tx.apiToken(hash: "clairea")?.revokedAt == 15)
                #expect(try await tx.apiToken(hash: "claireb")?.revokedAt == 20)
                #expect(try await tx.apiToken(hash: "hugob")?.revokedAt == nil)
                let devices = try await tx.devices()
                #expect(devices.filter { $0.revokedAt == 20 }.map(\.user) == ["claire", "claire"])
                #expect(devices.filter { $0.user == "hugo" }.allSatisfy { $0.revokedAt == nil })
                #expect(try await tx.enrollment(codeHash: "claire1")?.expiresAt == 20)
                #expect(try await tx.enrollment(codeHash: "claire2")?.expiresAt == 50)
                #expect(try await tx.enrollment(codeHash: "claire3")?.expiresAt == 10)
                #expect(try await tx.enrollment(codeHash: "hugo1")?.expiresAt == 50)
                #expect(try await tx.adminSession(id: "sclaire") == nil)
                #expect(try await tx.adminSession(id: "shugo") != nil)
            }
            let enabled = try await store.write { tx throws in try await tx.setUserDisabled(name: "claire", at: nil) }
            #expect(enabled?.isDisabled == false)
        }
    }
}

/// What only the SQLite store does: files, migrations, another process writing.
struct SQLiteHubStoreTests {
    @Test func createRefusesAnExistingStoreAndOpenNeedsOne() async throws {
        let folder = try HubTemporaryFolder(prefix: "sqlite")
        defer { folder.remove() }
        #expect(throws: HubStoreError.missing) { _ = try SQLiteHubStore(folder: folder.path + "/x", create: false) }
        let store = try SQLiteHubStore(folder: folder.path + "/x", create: true)
        try await store.write { tx in _ = try await tx.nextSequence() }
        await store.close()
        #expect(throws: HubStoreError.exists) { _ = try SQLiteHubStore(folder: folder.path + "/x", create: true) }
        let reopened = try SQLiteHubStore(folder: folder.path + "/x", create: false)
        #expect(try await reopened.read { try await $0.meta().head } == 1)
        await reopened.close()
        // The file is WAL with synchronous=FULL on the writer, and records its migrations.
        let connection = try Connection(path: folder.path + "/x/hub.sqlite")
        #expect(try connection.journalMode() == .wal)
        #expect(try connection.scalar("SELECT count(*) FROM migrations")?.int64Value == 12)
        #expect(try connection.userVersion() == 12)
    }

    /// The size of the file at `path`, in bytes.
    static func fileSize(_ path: String) throws -> Int64 {
        ((try FileManager.default.attributesOfItem(atPath: path))[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// Fills a store with `batches` commits of 50 records, one after the other; returns the sizes of
    /// its file and of its log then.
    static func sizes(afterCommitting batches: Int, configuration: SQLiteHubStore.Configuration)
        async throws -> (file: Int64, log: Int64, statistics: HubStoreStatistics)
    {
        let folder = try HubTemporaryFolder(prefix: "sqlite")
        defer { folder.remove() }
        let store = try SQLiteHubStore(folder: folder.path, create: true, configuration: configuration)
        for batch in 0..<batches {
            try await store.write { tx in
                for index in 0..<50 {
                    let seq = UInt64(batch * 50 + index + 1)
                    try await tx.insertRecord(
                        HubStoreTests.record(UUID().uuidString.lowercased(), seq: seq, scope: "north"))
                }
            }
        }
        // The background copy, when one was asked for, runs on its own thread: wait for it.
        for _ in 0..<200 where configuration.checkpointFrames < .max && store.statistics().backgroundCheckpoints == 0 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let sizes = (
            file: try fileSize(store.path), log: try fileSize(store.path + "-wal"), statistics: store.statistics()
        )
        #expect(
            try await store.read { try await $0.records(after: 0, scopes: nil, limit: 10_000).count } == batches * 50)
        await store.close()
        return sizes
    }

    @Test func theLogIsCopiedIntoTheFileOffTheWriterAndStaysBounded() async throws {
        // No copy at all (the control): the log holds every commit, the file only its schema.
        var never = SQLiteHubStore.Configuration()
        never.checkpointFrames = .max
        never.maxLogFrames = .max
        let whole = try await Self.sizes(afterCommitting: 100, configuration: never)
        #expect(whole.statistics.backgroundCheckpoints == 0)
        #expect(whole.log > 1_000_000)
        // A background copy from 20 pages of log on: the records reach the file. (Commits that
        // never pause leave it no moment to start the log over: the writer's bound does that.)
        var background = never
        background.checkpointFrames = 20
        let copied = try await Self.sizes(afterCommitting: 100, configuration: background)
        #expect(copied.statistics.backgroundCheckpoints >= 1)
        #expect(copied.file > 4 * whole.file, "file \(copied.file) against \(whole.file)")
        // No background copy, and the writer copies the log itself from 40 pages on.
        var bounded = never
        bounded.maxLogFrames = 40
        let capped = try await Self.sizes(afterCommitting: 100, configuration: bounded)
        #expect(capped.statistics.backgroundCheckpoints == 0)
        #expect(capped.log < whole.log / 4)
        // Both, as a hub runs: copied in the background, the log bounded.
        var both = background
        both.maxLogFrames = 200
        let served = try await Self.sizes(afterCommitting: 100, configuration: both)
        #expect(served.statistics.backgroundCheckpoints >= 1)
        #expect(served.log < whole.log / 4)
    }

    @Test func theLogIsCopiedIntoTheFileWhenAsked() async throws {
        let folder = try HubTemporaryFolder(prefix: "sqlite")
        defer { folder.remove() }
        var configuration = SQLiteHubStore.Configuration()
        configuration.checkpointFrames = .max
        configuration.maxLogFrames = .max
        let store = try SQLiteHubStore(folder: folder.path, create: true, configuration: configuration)
        try await store.write { tx in
            for seq in UInt64(1)...500 {
                try await tx.insertRecord(
                    HubStoreTests.record(UUID().uuidString.lowercased(), seq: seq, scope: "north"))
            }
        }
        let before = try Self.fileSize(store.path)
        await store.copyLogIntoFile()
        #expect(store.statistics().backgroundCheckpoints == 1)
        #expect(try Self.fileSize(store.path) > before + 50_000)
        await store.close()
    }

    @Test func anotherConnectionWritesWhileTheStoreIsOpen() async throws {
        try await HubFixture.with(store: .sqlite) { hub in
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
        let values: [Value] = [
            .null, .text("Café ☕️ \u{0}"), .number(-12.5), .number(.greatestFiniteMagnitude), .bool(true),
            .bool(false), .date("2026-11-28"), .set([]), .set(["a", "é"]),
        ]
        for (index, value) in values.enumerated() {
            state.fields["f\(index)"] = FieldState(
                siblings: [
                    Sibling(
                        value: value, dot: Dot(replica: ReplicaID(7), counter: UInt64(index + 1)),
                        hlc: HLC(rawValue: UInt64.max - UInt64(index)), author: "claire")
                ],
                base: index % 2 == 0 ? value : nil)
        }
        state.fields["two"] = FieldState(siblings: [
            Sibling(value: .text("a"), dot: Dot(replica: ReplicaID(1), counter: 1), hlc: HLC(rawValue: 5), author: "x"),
            Sibling(value: .text("b"), dot: Dot(replica: ReplicaID(2), counter: 9), hlc: HLC(rawValue: 6), author: "y"),
        ])
        state.tombstone = Tombstone(
            dot: Dot(replica: ReplicaID(4), counter: 2), hlc: HLC(rawValue: 99), author: "bob",
            concurrent: [Tombstone(dot: Dot(replica: ReplicaID(3), counter: 8), hlc: HLC(rawValue: 98), author: "ann")])
        let meta = Dictionary(
            uniqueKeysWithValues: state.fields.keys.map { ($0, FieldMeta(seq: UInt64($0.count), clamped: $0 == "two")) }
        )
        let record = StoredRecord(
            state: state, seq: 1, wholeSince: 0, scope: nil, parentID: "p", deletedAt: 3, fields: meta)
        let id = state.id
        let folder = try HubTemporaryFolder(prefix: "codec")
        defer { folder.remove() }
        let store = try SQLiteHubStore(folder: folder.path, create: true)
        try await store.write { tx throws in try await tx.insertRecord(record) }
        #expect(try await store.read { try await $0.record(collection: "customers", id: id) } == record)
        // A damaged row is an error, never a misread record.
        let raw = try Connection(path: folder.path + "/hub.sqlite")
        try raw.configureForDurability()
        try raw.execute("UPDATE records SET state = substr(state, 1, length(state) - 1)")
        await #expect(throws: (any Error).self) {
            _ = try await store.read { try await $0.record(collection: "customers", id: id) }
        }
        try raw.close()
        await store.close()
    }
}
