import Foundation
import RelaisCore
import RelaisHub
import RelaisTesting
import Synchronization
import Testing

/// What only the PostgreSQL store does: migrations, URLs and reachability, retried bodies, and
/// sequences with several writers. The shared contract runs against both stores elsewhere.
///
/// Skipped, with the reason, when `RELAIS_TEST_POSTGRES_URL` is unset (no server); failed instead
/// when `RELAIS_REQUIRE_POSTGRES=1` (CI), so that CI never passes them by skipping.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, Comment(rawValue: PostgresTestDatabase.skipReason)))
struct PostgresStoreTests {
    /// A small configuration: tests open many stores. The connect timeout is long: on a loaded 2-core
    /// machine the whole test run can keep this test's tasks waiting for a thread for tens of seconds.
    static var configuration: PostgresHubStore.Configuration { PostgresTestDatabase.storeConfiguration }

    /// Runs `body` with a new store in a fresh database.
    static func withStore<T: Sendable>(_ body: (PostgresHubStore) async throws -> T) async throws -> T {
        try await PostgresTestDatabase.with { database in
            try await PostgresHubStore.withStore(url: database.url, create: true, configuration: configuration, body)
        }
    }

    static func record(_ id: String, seq: UInt64, scope: String?, name: String = "n") -> StoredRecord {
        var state = RecordState(collection: "customers", id: id, vector: VersionVector([ReplicaID(1): seq]))
        state.fields["name"] = FieldState(siblings: [
            Sibling(
                value: .text(name), dot: Dot(replica: ReplicaID(1), counter: seq), hlc: HLC(rawValue: seq), author: "a")
        ])
        return StoredRecord(
            state: state, seq: seq, wholeSince: 0, scope: scope, parentID: nil, deletedAt: nil,
            fields: ["name": FieldMeta(seq: seq)])
    }

    // MARK: - Migrations

    @Test func migratesAFreshDatabaseAndReopensIt() async throws {
        try await PostgresTestDatabase.with { database in
            try await PostgresHubStore.withStore(url: database.url, create: true, configuration: Self.configuration) {
                store in
                let meta = try await store.read { tx in try await tx.meta() }
                #expect(meta.head == 0)
                #expect(meta.nextReplica == 1)
                try await store.write { tx throws in
                    try await tx.insertUser(HubUser(name: "ana", role: .admin, territories: [], createdAt: 1))
                }
            }
            // Open again: nothing to migrate, the data is there.
            let users = try await PostgresHubStore.withStore(
                url: database.url, create: false, configuration: Self.configuration
            ) { store in
                try await store.read { tx in try await tx.users() }
            }
            #expect(users.map(\.name) == ["ana"])
            // `init` on a database that holds a store is refused.
            await #expect(throws: HubStoreError.exists) {
                try await PostgresHubStore.withStore(url: database.url, create: true, configuration: Self.configuration)
                {
                    _ in
                }
            }
        }
    }

    @Test func anEmptyDatabaseIsNotOpenedAsAStore() async throws {
        try await PostgresTestDatabase.with { database in
            let error = await #expect(throws: HubStoreError.missing) {
                try await PostgresHubStore.withStore(
                    url: database.url, create: false, configuration: Self.configuration
                ) {
                    _ in
                }
            }
            #expect(error?.message.contains("relais-hub init") == true)
        }
    }

    @Test func aNewerSchemaIsRefused() async throws {
        try await PostgresTestDatabase.with { database in
            try await PostgresHubStore.withStore(url: database.url, create: true, configuration: Self.configuration) {
                _ in
            }
            try await database.execute(
                "INSERT INTO relais_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)")
            // Refused when opened, before any pool runs.
            let error = await #expect(throws: HubStoreError.tooNew) {
                _ = try await PostgresHubStore.open(url: database.url, create: false, configuration: Self.configuration)
            }
            #expect(error?.message.contains("9999") == true)
        }
    }

    @Test func hubsInitializingAtOnceMigrateOnce() async throws {
        try await PostgresTestDatabase.with { database in
            let outcomes = await withTaskGroup(of: String.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        do {
                            try await PostgresHubStore.withStore(
                                url: database.url, create: true, configuration: Self.configuration
                            ) { _ in }
                            return "created"
                        } catch let error as HubStoreError {
                            return error.code.rawValue
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes.sorted() == ["created", "store_exists", "store_exists", "store_exists"])
        }
    }

    // MARK: - URLs and reachability

    @Test(arguments: [
        "", "not a url", "mysql://u@h/db", "postgres://h:5432/db", "postgres://u@:5432/db", "postgres://u@h:5432",
        "postgres://u@h:5432/", "postgres://u@h/db?sslmode=sometimes", "postgres://u@h/db?color=blue",
        "postgres://u@h:99999/db",
    ])
    func aMalformedURLIsABadRequest(url: String) throws {
        let error = #expect(throws: HubStoreError.badLocation) {
            _ = try PostgresHubStore(url: url)
        }
        #expect(error?.message.contains("\n") == false)
        #expect(error?.message.contains("PostgreSQL URL") == true)
    }

    @Test func theLocationHasNoPassword() throws {
        let store = try PostgresHubStore(url: "postgres://relais:s3cret@db.example:6543/hub?sslmode=disable")
        #expect(store.location == "postgres://relais@db.example:6543/hub?sslmode=disable")
        #expect(store.database == "hub")
    }

    @Test func anUnreachableServerIsUnavailable() async throws {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        // Told at once (a refused connection), not after the connect timeout: with a timeout of ten
        // minutes, waiting for it would show as a test that hangs.
        var configuration = Self.configuration
        configuration.connectTimeout = .seconds(600)
        let error = await #expect(throws: HubStoreError.unavailable) {
            try await PostgresHubStore.withStore(
                url: "postgres://relais@127.0.0.1:1/relais?sslmode=disable", create: false, configuration: configuration
            ) { _ in }
        }
        #expect(error.map { HubError(answering: $0).httpStatus } == 503)
        #expect(error?.message.contains("\n") == false)
        #expect(error?.message.contains("127.0.0.1:1") == true)
    }

    @Test func aMissingDatabaseOrRoleIsToldAtOnce() async throws {
        let server = try #require(PostgresTestDatabase.serverURL)
        var components = try #require(URLComponents(string: server))
        components.path = "/relais_no_such_database"
        let missingDatabase = await #expect(throws: HubStoreError.missing) {
            try await PostgresHubStore.withStore(
                url: components.string ?? "", create: false, configuration: Self.configuration
            ) { _ in }
        }
        #expect(missingDatabase?.message.contains("relais_no_such_database") == true)
        components = try #require(URLComponents(string: server))
        components.user = "relais_no_such_role"
        let missingRole = await #expect(throws: HubStoreError.unavailable) {
            try await PostgresHubStore.withStore(
                url: components.string ?? "", create: false, configuration: Self.configuration
            ) { _ in }
        }
        #expect(missingRole?.message.contains("\n") == false)
        #expect(missingRole?.message.contains("relais_no_such_role") == true)
    }

    // MARK: - Retries

    /// Two writes of one record that does not exist yet: the second one's read waits for the first
    /// to commit (a record is read under the head's lock), so it finds the record and merges into it;
    /// neither body runs twice.
    @Test func twoWritesOfOneNewRecordTakeTurns() async throws {
        try await Self.withStore { store in
            let id = UUID().uuidString.lowercased()
            let runs = Counter()
            let firstRead = Gate()
            @Sendable func body(_ name: String)
                -> nonisolated(nonsending) @Sendable (any HubTransaction) async throws -> String
            {
                { tx in
                    runs.increment()
                    if name == "b" { await firstRead.wait() }
                    let existing = try await tx.record(collection: "customers", id: id)
                    if name == "a" { firstRead.open() }
                    let seq = try await tx.nextSequence()
                    if var record = existing {
                        let names = record.state.fields["name"]?.siblings.first?.value
                        guard case .text(let before)? = names else { throw HubStoreError.failed }
                        record = Self.record(id, seq: seq, scope: "north", name: before + "+" + name)
                        try await tx.updateRecord(record)
                        return "updated"
                    }
                    try await tx.insertRecord(Self.record(id, seq: seq, scope: "north", name: name))
                    return "inserted"
                }
            }
            async let first = store.write(body("a"))
            async let second = store.write(body("b"))
            let outcomes = try await [first, second]
            #expect(outcomes == ["inserted", "updated"])
            #expect(runs.value == 2)
            let stored = try await store.read { tx in try await tx.record(collection: "customers", id: id) }
            #expect(stored?.state.fields["name"]?.siblings.first?.value == .text("a+b"))
            #expect(try await store.read { tx in try await tx.meta().head } == 2)
            #expect(store.statistics() == HubStoreStatistics(transactions: 2, commits: 2, largestGroup: 1))
        }
    }

    /// A record inserted by a body without reading it first (no head lock before the insert): when
    /// another write inserted it meanwhile, the insert is a unique violation and the body runs again.
    @Test func aBlindInsertOfAnExistingRecordReRunsTheBody() async throws {
        try await Self.withStore { store in
            let id = UUID().uuidString.lowercased()
            try await store.write { tx throws in
                try await tx.insertRecord(Self.record(id, seq: try await tx.nextSequence(), scope: "north", name: "a"))
            }
            let runs = Counter()
            let outcome = try await store.write { tx throws -> String in
                if runs.increment() == 1 {
                    try await tx.insertRecord(Self.record(id, seq: 7, scope: "north", name: "b"))
                    return "inserted"
                }
                return try await tx.record(collection: "customers", id: id) == nil ? "missing" : "found"
            }
            #expect(outcome == "found")
            #expect(runs.value == 2)
        }
    }

    /// A body written for SQLite's forgiving transactions catches a unique violation and goes on: on
    /// PostgreSQL the transaction is aborted by then, so the body runs again, and then finds the row.
    @Test func aCaughtUniqueViolationStillReRunsTheBody() async throws {
        try await Self.withStore { store in
            try await store.write { tx throws in
                try await tx.insertUser(HubUser(name: "ana", role: .admin, territories: [], createdAt: 1))
            }
            let runs = Counter()
            let outcome = try await store.write { tx throws -> String in
                if runs.increment() == 1 {
                    do {
                        try await tx.insertUser(HubUser(name: "ana", role: .rep, territories: [], createdAt: 2))
                    } catch {
                        // Going on in an aborted transaction fails; the store re-runs the whole body.
                        _ = try await tx.user(named: "ana")
                    }
                    return "first run"
                }
                return try await tx.user(named: "ana")?.role.rawValue ?? "none"
            }
            #expect(outcome == Role.admin.rawValue)
            #expect(runs.value == 2)
        }
    }

    /// Two writes that lock records in opposite orders never deadlock: each takes the head's lock
    /// before its first record, so the second waits for the first, and neither runs twice.
    @Test func writesLockingRecordsInOppositeOrdersTakeTurns() async throws {
        try await Self.withStore { store in
            let x = UUID().uuidString.lowercased()
            let y = UUID().uuidString.lowercased()
            try await store.write { tx throws in
                for id in [x, y] {
                    let seq = try await tx.nextSequence()
                    try await tx.insertRecord(Self.record(id, seq: seq, scope: "north"))
                }
            }
            let runs = Counter()
            let firstHoldsX = Gate()
            async let first: Void = store.write { tx throws in
                runs.increment()
                _ = try await tx.record(collection: "customers", id: x)
                firstHoldsX.open()
                let seq = try await tx.nextSequence()
                let record = try #require(try await tx.record(collection: "customers", id: y))
                try await tx.updateRecord(Self.record(record.id, seq: seq, scope: "north", name: "first"))
            }
            async let second: Void = store.write { tx throws in
                runs.increment()
                await firstHoldsX.wait()
                let record = try #require(try await tx.record(collection: "customers", id: y))
                let seq = try await tx.nextSequence()
                try await tx.updateRecord(Self.record(record.id, seq: seq, scope: "north", name: "second"))
                _ = try await tx.record(collection: "customers", id: x)
            }
            _ = try await (first, second)
            #expect(runs.value == 2)
            let (head, served, y3) = try await store.read { tx throws in
                (
                    try await tx.meta().head, try await tx.records(after: 0, scopes: nil, limit: 10).map(\.seq),
                    try await tx.record(collection: "customers", id: y)
                )
            }
            #expect(head == 4)
            // x kept 1; y was written at 3 by the first, then at 4 by the second.
            #expect(served == [1, 4])
            #expect(y3?.state.fields["name"]?.siblings.first?.value == .text("second"))
        }
    }

    /// Two writes that lock rows of one table in opposite orders (here users): PostgreSQL breaks the
    /// deadlock by failing one of them (after its `deadlock_timeout`, 1 s by default), which runs
    /// again and succeeds.
    @Test func aDeadlockIsBrokenAndTheLoserReRuns() async throws {
        try await Self.withStore { store in
            try await store.write { tx throws in
                for name in ["ana", "bo"] {
                    try await tx.insertUser(HubUser(name: name, role: .rep, territories: [], createdAt: 1))
                }
            }
            let runs = Counter()
            let firstHoldsAna = Gate()
            let secondHoldsBo = Gate()
            async let first: Void = store.write { tx throws in
                runs.increment()
                _ = try await tx.setUserAccess(name: "ana", role: .rep, territories: ["north"])
                firstHoldsAna.open()
                await secondHoldsBo.wait()
                _ = try await tx.setUserAccess(name: "bo", role: .rep, territories: ["north"])
            }
            async let second: Void = store.write { tx throws in
                runs.increment()
                await firstHoldsAna.wait()
                _ = try await tx.setUserAccess(name: "bo", role: .rep, territories: ["south"])
                secondHoldsBo.open()
                _ = try await tx.setUserAccess(name: "ana", role: .rep, territories: ["south"])
            }
            _ = try await (first, second)
            #expect(runs.value == 3)
            let users = try await store.read { tx throws in try await tx.users() }
            // Each user's access was set twice: once by each write, the loser's work done once, again.
            #expect(users.map(\.scopeVersion) == [3, 3])
        }
    }

    // MARK: - Sequences with several writers

    /// A write takes a sequence and stays open while others queue and commit: no read serves anything
    /// above the held sequence until it commits; then every record is served in sequence order.
    @Test func aLateCommitIsNeverSkipped() async throws {
        // Connections for the held write, the three queued behind it, the one that commits and a read.
        var configuration = Self.configuration
        configuration.maxConnections = 8
        try await PostgresTestDatabase.with { database in
            try await PostgresHubStore.withStore(url: database.url, create: true, configuration: configuration) {
                store in
                let held = Gate()
                let release = Gate()
                let heldID = UUID().uuidString.lowercased()
                async let heldWrite: UInt64 = store.write { tx throws in
                    let seq = try await tx.nextSequence()
                    try await tx.insertRecord(Self.record(heldID, seq: seq, scope: "north"))
                    held.open()
                    await release.wait()
                    return seq
                }
                await held.wait()

                // Others write meanwhile: those that take sequences queue behind the held one…
                let laterIDs = (0..<3).map { _ in UUID().uuidString.lowercased() }
                let committed = Counter()
                let later = Task {
                    try await withThrowingTaskGroup(of: UInt64.self) { group in
                        for id in laterIDs {
                            group.addTask {
                                let seq = try await store.write { tx throws in
                                    let seq = try await tx.nextSequence()
                                    try await tx.insertRecord(Self.record(id, seq: seq, scope: "north"))
                                    return seq
                                }
                                committed.increment()
                                return seq
                            }
                        }
                        return try await group.reduce(into: [UInt64]()) { $0.append($1) }.sorted()
                    }
                }
                // … and one that takes none commits at once.
                _ = try await store.write { tx throws in
                    try await tx.insertEvent(
                        HubEvent(at: 1, kind: .userChanged, detail: "committed while a sequence is held"))
                }
                try await Task.sleep(for: .milliseconds(300))

                let during = try await store.read { tx throws in
                    (
                        try await tx.meta().head, try await tx.records(after: 0, scopes: nil, limit: 100),
                        try await tx.records(after: 0, scopes: ["north"], limit: 100)
                    )
                }
                #expect(during.0 == 0)
                #expect(during.1.isEmpty)
                #expect(during.2.isEmpty)
                #expect(committed.value == 0)
                #expect(try await store.read { tx in try await tx.events(kinds: nil, limit: 10).count } == 1)

                release.open()
                let heldSeq = try await heldWrite
                let laterSeqs = try await later.value
                #expect(heldSeq == 1)
                #expect(laterSeqs == [2, 3, 4])

                let after = try await store.read { tx throws in
                    (try await tx.meta().head, try await tx.records(after: 0, scopes: nil, limit: 100))
                }
                #expect(after.0 == 4)
                #expect(after.1.map(\.seq) == [1, 2, 3, 4])
                #expect(after.1.first?.id == heldID)
                // A device that pulled at cursor 0 during the hold gets everything, nothing skipped.
                let scoped = try await store.read { tx in
                    try await tx.records(after: 0, scopes: ["north", "south"], limit: 2)
                }
                #expect(scoped.map(\.seq) == [1, 2])
            }
        }
    }

    /// The server ends a connection under a transaction (as a crash or restart of PostgreSQL does): the
    /// body's next statement must fail at once, not wait forever for an answer on a closed connection,
    /// and the body runs again on a fresh connection. Without the guard the statement waits for ever,
    /// and the write fails once its attempt is given up (`attemptTimeout`, 30 s here).
    @Test func aConnectionThatDiesUnderATransactionIsLeftAndTheBodyReRuns() async throws {
        var configuration = Self.configuration
        configuration.attemptTimeout = .seconds(30)
        try await PostgresTestDatabase.with { database in
            try await PostgresHubStore.withStore(url: database.url, create: true, configuration: configuration) {
                store in
                let held = Gate()
                let release = Gate()
                let runs = Counter()
                let id = UUID().uuidString.lowercased()
                async let write: UInt64 = store.write { tx throws in
                    let run = runs.increment()
                    let seq = try await tx.nextSequence()
                    try await tx.insertRecord(Self.record(id, seq: seq, scope: "north"))
                    if run == 1 {
                        held.open()
                        await release.wait()
                    }
                    try await tx.insertEvent(HubEvent(at: 1, kind: .userChanged, detail: "after the connection died"))
                    return seq
                }
                await held.wait()
                try await database.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                try await Task.sleep(for: .milliseconds(300))
                release.open()

                #expect(try await write == 1)
                #expect(runs.value == 2)
                let stored = try await store.read { tx throws in
                    (
                        try await tx.meta().head, try await tx.records(after: 0, scopes: nil, limit: 10).map(\.id),
                        try await tx.events(kinds: nil, limit: 10).count
                    )
                }
                #expect(stored.0 == 1)
                #expect(stored.1 == [id])
                #expect(stored.2 == 1)
            }
        }
    }

    /// Many writers at once, each reading what a reader may serve while the others commit: every
    /// read's head is a high-water mark (all records up to it, none above it).
    @Test func everyHeadIsAHighWaterMark() async throws {
        try await Self.withStore { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<24 {
                    group.addTask {
                        try await store.write { tx throws in
                            let seq = try await tx.nextSequence()
                            try await tx.insertRecord(
                                Self.record(UUID().uuidString.lowercased(), seq: seq, scope: "north"))
                        }
                    }
                }
                for _ in 0..<12 {
                    group.addTask {
                        let (head, records) = try await store.read { tx throws in
                            (try await tx.meta().head, try await tx.records(after: 0, scopes: nil, limit: 1000))
                        }
                        #expect(records.map(\.seq) == Array(stride(from: 1, through: head, by: 1)))
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.read { tx in try await tx.meta().head } == 24)
        }
    }

    // MARK: - Rows, streams, locks

    @Test func rowsRoundTrip() async throws {
        try await Self.withStore { store in
            let user = HubUser(name: "claire", role: .manager, territories: ["south", "north"], createdAt: 7)
            let device = Device(
                replica: ReplicaID(3), user: "claire", tokenHash: "h", name: "laptop", lineage: ReplicaID(3),
                createdAt: 8,
                highestCounter: 12, acknowledgedCursor: 40, scopeVersion: 1, lastSeenAt: 9, clampedWrites: 2)
            let record = Self.record(UUID().uuidString.lowercased(), seq: 1, scope: "north")
            let competitors = [
                Competitor(
                    value: .text("1"), dot: Dot(replica: ReplicaID(1), counter: 1), hlc: HLC(rawValue: 1), author: "a"),
                Competitor(
                    value: nil, deleted: true, dot: Dot(replica: ReplicaID(2), counter: 1), hlc: HLC(rawValue: 2),
                    author: "b"),
            ]
            let conflict = ConflictReport(
                id: "c1", createdAt: 10, seq: 1,
                conflict: Conflict(
                    collection: "customers", recordID: record.id, field: "phone", rule: "lww", base: .null,
                    values: competitors, chosen: .text("1"), status: .open),
                scope: "north")
            let result = StoredWriteResult(
                dot: Dot(replica: ReplicaID(3), counter: UInt64.max), digest: [0, 1, 2, 255], status: .conflict,
                conflictIDs: ["c1", "c2"])
            let entry = HistoryEntry(
                seq: 1, collection: "customers", recordID: record.id, dot: Dot(replica: ReplicaID(3), counter: 5),
                hlc: HLC(rawValue: 99), user: "claire", at: 12, fields: ["name": .text("x\u{0}y"), "phone": .null],
                deleted: false)
            let session = AdminSession(id: "s1", user: "claire", csrf: "t", expiresAt: 100)
            let eventID = try await store.write { tx throws in
                try await tx.insertUser(user)
                try await tx.insertDevice(device)
                _ = try await tx.nextSequence()
                try await tx.insertRecord(record)
                try await tx.insertConflict(conflict)
                try await tx.insertWriteResult(result)
                try await tx.insertHistory(entry)
                try await tx.insertAdminSession(session)
                try await tx.insertEnrollment(Enrollment(codeHash: "e", user: "claire", createdAt: 1, expiresAt: 2))
                try await tx.insertAPIToken(APIToken(tokenHash: "t", user: "claire", createdAt: 3))
                return try await tx.insertEvent(
                    HubEvent(at: 11, kind: .deviceEnrolled, replica: ReplicaID(3), user: "claire", detail: "d"))
            }
            try await store.read { tx throws in
                #expect(try await tx.user(named: "claire") == user)
                #expect(try await tx.device(replica: ReplicaID(3)) == device)
                #expect(try await tx.device(tokenHash: "h") == device)
                #expect(try await tx.record(collection: "customers", id: record.id) == record)
                #expect(try await tx.conflict(id: "c1") == conflict)
                #expect(try await tx.writeResult(replica: ReplicaID(3), counter: UInt64.max) == result)
                #expect(
                    try await tx.history(collection: "customers", recordID: record.id, field: nil, limit: 9) == [entry])
                #expect(
                    try await tx.history(collection: "customers", recordID: record.id, field: "phone", limit: 9) == [
                        entry
                    ])
                #expect(
                    try await tx.history(collection: "customers", recordID: record.id, field: "city", limit: 9).isEmpty)
                #expect(try await tx.adminSession(id: "s1") == session)
                #expect(try await tx.enrollment(codeHash: "e")?.usedAt == nil)
                #expect(try await tx.apiToken(hash: "t")?.user == "claire")
                #expect(try await tx.events(kinds: [.deviceEnrolled], limit: 5).map(\.id) == [eventID])
                #expect(try await tx.events(kinds: [.deviceRevoked], limit: 5).isEmpty)
                #expect(try await tx.conflictCount(ConflictFilter(user: "b")) == 1)
                #expect(try await tx.conflictCount(ConflictFilter(user: "z")) == 0)
                #expect(try await tx.conflicts(ConflictFilter(status: .open, territory: "north")).map(\.id) == ["c1"])
                #expect(try await tx.conflicts(ConflictFilter(from: 11)).isEmpty)
            }
            try await store.write { tx throws in
                #expect(
                    try await tx.useEnrollment(
                        codeHash: "e", at: 5, replica: ReplicaID(3), attemptHash: nil, sealedToken: nil))
                #expect(
                    try await tx.useEnrollment(
                        codeHash: "e", at: 6, replica: ReplicaID(4), attemptHash: "a", sealedToken: "s") == false)
                #expect(try await tx.enrollment(codeHash: "e")?.attemptHash == nil)
                #expect(try await tx.revokeLineage(ReplicaID(3), at: 7) == 1)
                #expect(try await tx.revokeLineage(ReplicaID(3), at: 8) == 0)
                try await tx.recordPush(replica: ReplicaID(3), highestCounter: 4, clampedWrites: 1, seenAt: 20)
                try await tx.acknowledgePull(replica: ReplicaID(3), cursor: 0, scopeVersion: nil, seenAt: 21)
                #expect(
                    try await tx.setUserAccess(name: "claire", role: .rep, territories: ["b", "a", "a"])?.scopeVersion
                        == 2)
                #expect(try await tx.setUserAccess(name: "nobody", role: .rep, territories: []) == nil)
                try await tx.setResolution(
                    conflictID: "c1", ConflictResolution(by: "ana", at: 30, reason: "r", value: .text("2")))
                let dot = try await tx.takeHubDot(physicalMillis: 1000)
                #expect(dot.counter == 1)
                #expect(try await tx.takeReplicaNumber() == ReplicaID(1))
                try await tx.raisePurgeHorizon(to: 9)
                try await tx.raisePurgeHorizon(to: 3)
            }
            try await store.read { tx throws in
                let device = try await tx.device(replica: ReplicaID(3))
                #expect(device?.highestCounter == 12)
                #expect(device?.clampedWrites == 3)
                #expect(device?.acknowledgedCursor == 0)
                #expect(device?.revokedAt == 7)
                #expect(try await tx.conflict(id: "c1")?.status == .resolved)
                let meta = try await tx.meta()
                #expect(meta.purgeHorizon == 9)
                #expect(meta.hubCounter == 1)
                #expect(meta.nextReplica == 2)
                #expect(try await tx.user(named: "claire")?.territories == ["a", "b"])
            }
        }
    }

    @Test func forEachStreamsAndAFailingBodyLeavesTheStoreUsable() async throws {
        try await Self.withStore { store in
            try await store.write { tx throws in
                for _ in 0..<500 {
                    let seq = try await tx.nextSequence()
                    try await tx.insertRecord(Self.record(UUID().uuidString.lowercased(), seq: seq, scope: "north"))
                }
            }
            struct Stop: Error {}
            let ids = try await store.read { tx throws in
                var ids: [String] = []
                try await tx.forEachLiveRecord { ids.append($0.id) }
                return ids
            }
            #expect(ids.count == 500)
            #expect(ids == ids.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            for _ in 0..<6 {
                await #expect(throws: Stop.self) {
                    try await store.read { tx throws in
                        var seen = 0
                        try await tx.forEachLiveRecord { _ in
                            seen += 1
                            if seen == 10 { throw Stop() }
                        }
                    }
                }
            }
            #expect(
                try await store.read { tx in try await tx.records(after: 0, scopes: nil, limit: 1000).count } == 500)
        }
    }

    @Test func oneTransactionAtATimeHoldsAnExclusiveLock() async throws {
        try await Self.withStore { store in
            let taken = Gate()
            let release = Gate()
            async let first: Bool = store.write { tx throws in
                let got = try await tx.tryExclusive("purge")
                taken.open()
                await release.wait()
                return got
            }
            await taken.wait()
            let whileHeld = try await store.write { tx throws in try await tx.tryExclusive("purge") }
            let another = try await store.write { tx throws in try await tx.tryExclusive("other") }
            release.open()
            let holder = try await first
            let afterwards = try await store.write { tx throws in try await tx.tryExclusive("purge") }
            #expect(holder)
            #expect(!whileHeld)
            #expect(another)
            #expect(afterwards)
        }
    }

    @Test func aClosedStoreRefusesWork() async throws {
        try await PostgresTestDatabase.with { database in
            let store = try await PostgresHubStore.withStore(
                url: database.url, create: true, configuration: Self.configuration
            ) { store in store }
            await #expect(throws: HubStoreError.unavailable) {
                try await store.read { tx in try await tx.meta() }
            }
        }
    }
}

/// Opens once; every waiter, earlier or later, then goes on.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }
}

/// A count shared by tasks.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)

    /// Adds one; returns the new count.
    @discardableResult
    func increment() -> Int { count.wrappingAdd(1, ordering: .relaxed).newValue }

    var value: Int { count.load(ordering: .relaxed) }
}

/// Lets `parties` tasks go on once all of them have arrived.
final class Barrier: Sendable {
    private let arrived = Atomic<Int>(0)
    private let gate = Gate()
    private let parties: Int

    init(parties: Int) { self.parties = parties }

    func arrive() async {
        if arrived.wrappingAdd(1, ordering: .relaxed).newValue >= parties { gate.open() }
        await gate.wait()
    }
}
