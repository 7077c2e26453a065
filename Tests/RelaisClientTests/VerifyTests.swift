import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Synchronization
import Testing

@testable import RelaisClient
@testable import RelaisHub

/// A laptop checked against the hub's view (Protocol/README.md section 14): a file changed behind
/// the sync engine's back is found at the next sync and repaired, pending writes kept, and the hub
/// keeps what each device reported.
struct VerifyTests {
    /// The ways a user with the `sqlite3` shell (capture switched off) or a disk could change a file.
    enum Corruption: String, CaseIterable, Sendable {
        case fieldChanged, rowDeleted, rowAdded, vectorAltered, bookkeepingDeleted
    }

    @Test(arguments: Corruption.allCases)
    func aCorruptedFileIsFoundAndRepairedAtTheNextSync(_ corruption: Corruption) async throws {
        try await HubFixture.with { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let marcCode = try await hub.addUser("marc", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: claireCode, path: folder.file("claire.db"))
                let marcPath = folder.file("marc.db")
                let marc = try await Replica.enroll(hub: url, code: marcCode, path: marcPath)
                var ids: [String] = []
                for n in 0..<40 {
                    let id = try await claire.add(customer, acme("Customer \(n)"))
                    try await claire.add("contacts", ["customer_id": .text(id), "name": .text("Contact \(n)")])
                    ids.append(id)
                }
                _ = try await claire.sync()
                let first = try await marc.sync()
                #expect(first.verification?.outcome == .equal)
                #expect(first.verification?.records == 80)
                #expect(first.verification?.requests == 0, "a matching digest costs no request")

                let ghost = UUID().uuidString.lowercased()
                let raw = try rawConnection(marcPath)
                try raw.execute("INSERT INTO _relais_engine(writing) VALUES (1)")  // capture off
                switch corruption {
                case .fieldChanged:
                    try raw.execute("UPDATE customers SET city = 'Nowhere' WHERE id = '\(ids[3])'")
                case .rowDeleted:
                    try raw.execute("DELETE FROM customers WHERE id = '\(ids[3])'")
                case .rowAdded:
                    try raw.execute(
                        "INSERT INTO customers(id, name, territory, status) VALUES ('\(ghost)', 'Ghost', 'north', 'active')"
                    )
                case .vectorAltered:
                    try raw.execute(
                        "UPDATE _relais_records SET vector = '{\"99\":7}' WHERE collection = 'customers' AND record_id = '\(ids[3])'"
                    )
                case .bookkeepingDeleted:
                    try raw.execute(
                        "DELETE FROM _relais_records WHERE collection = 'customers' AND record_id = '\(ids[3])'")
                }
                try raw.execute("DELETE FROM _relais_engine")
                try raw.close()
                #expect(try await marc.pendingCount() == 0, "nothing was captured")

                let repaired = try #require(try await marc.sync().verification)
                let expected: VerificationResult.Difference
                switch corruption {
                case .rowAdded: expected = .init(collection: customer, id: ghost, kind: .extra)
                case .rowDeleted: expected = .init(collection: customer, id: ids[3], kind: .missing)
                default: expected = .init(collection: customer, id: ids[3], kind: .changed)
                }
                #expect(repaired.differences == [expected])
                #expect(repaired.outcome == .repaired)
                #expect(repaired.repaired == 1)
                #expect(repaired.remaining.isEmpty)
                #expect(repaired.bytes < 4_000)
                #expect(try await marc.export() == Data(try await hub.service.exportJSON(user: "marc")))
                if corruption == .fieldChanged {
                    #expect(try await marc.get(customer, id: ids[3])?["city"] == .null)
                }
                #expect(try await marc.sync().verification?.outcome == .equal)
                // A check that found the copy equal is reported with the next pull, at no extra request.
                _ = try await marc.sync()

                // The hub keeps each device's last report.
                let reports = try await hub.store.read { try await $0.verifications() }
                let marcReplica = try #require(try await marc.identity()?.replica)
                let report = try #require(reports.first { $0.replica.rawValue == marcReplica })
                #expect(report.outcome == .equal)
                #expect(report.records == 80)
                let metrics = String(decoding: try await hub.service.metricsExposition(), as: UTF8.self)
                #expect(metrics.contains("relais_verifications_total{outcome=\"repaired\"} 1"))
                #expect(metrics.contains("relais_verifications_total{outcome=\"equal\"} 2"))
                #expect(metrics.contains("relais_records_repaired_total 1"))
                #expect(metrics.contains("relais_devices_diverged 0.0"))
            }
        }
    }

    /// A repair of more records than the hub's page byte budget holds takes several answers: the hub
    /// leaves the keys past its budget unanswered, and the laptop asks for them again.
    @Test func aRepairPastTheHubsPageBudgetAsksAgainForTheRest() async throws {
        var configuration = HubService.Configuration()
        configuration.limits.maxPageBytes = 1_500
        try await HubFixture.with(configuration: configuration) { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let marcCode = try await hub.addUser("marc", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: claireCode, path: folder.file("claire.db"))
                let marcPath = folder.file("marc.db")
                let marc = try await Replica.enroll(hub: url, code: marcCode, path: marcPath)
                var ids: [String] = []
                for n in 0..<30 { ids.append(try await claire.add(customer, acme("Customer \(n)"))) }
                _ = try await claire.sync()
                #expect(try await marc.sync().verification?.outcome == .equal)

                let raw = try rawConnection(marcPath)
                try raw.execute("INSERT INTO _relais_engine(writing) VALUES (1)")  // capture off
                try raw.execute("UPDATE customers SET city = 'Nowhere'")
                try raw.execute("DELETE FROM _relais_engine")
                try raw.close()

                let repaired = try #require(try await marc.sync().verification)
                #expect(repaired.outcome == .repaired)
                #expect(repaired.repaired == 30)
                #expect(repaired.remaining.isEmpty)
                #expect(try await marc.export() == Data(try await hub.service.exportJSON(user: "marc")))
                #expect(try await marc.sync().verification?.outcome == .equal)
            }
        }
    }

    /// A record with pending writes whose hub-confirmed state differs: the repair puts the hub's
    /// state under the pending writes, which stay pending and then land.
    @Test func pendingWritesOnADifferingRecordAreKept() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let path = folder.file("claire.db")
                let claire = try await Replica.enroll(hub: url, code: code, path: path)
                let id = try await claire.add(customer, acme().merging(["city": .text("Lille")]) { $1 })
                let gone = try await claire.add(customer, acme("Gone"))
                _ = try await claire.sync()
                try await claire.set(customer, id: id, ["phone": .text("555")])
                try await claire.set(customer, id: gone, ["phone": .text("556")])
                // The confirmed state under the pending writes is changed by hand; a record the hub
                // never held appears in it too.
                let raw = try rawConnection(path)
                try raw.execute(
                    "UPDATE _relais_overlay SET confirmed = json_set(confirmed, '$.city', 'Nowhere') WHERE record_id = '\(id)'"
                )
                try raw.execute(
                    "UPDATE _relais_records SET vector = '{\"99\":7}' WHERE record_id = '\(gone)'")
                try raw.close()
                let identity = try #require(try await claire.identity())
                let transport = HTTPSyncTransport(hub: url)
                let result = try await claire.verifyView(
                    transport: transport, token: identity.token, hubDigest: nil, full: true)
                #expect(Set(result.differences.map(\.id)) == [id, gone])
                #expect(result.outcome == .repaired)
                #expect(try await claire.pendingCount() == 2)
                let row = try #require(try await claire.get(customer, id: id))
                #expect(row["phone"] == .text("555"))
                #expect(row["city"] == .text("Lille"))
                _ = try await claire.sync()
                #expect(try await claire.pendingCount() == 0)
                #expect(try await claire.export() == Data(try await hub.service.exportJSON(user: "claire")))
            }
        }
    }

    /// The laptop's digest is read in shares of the records (so that it holds a bounded number of
    /// vectors) and, for a large collection, by worker threads on their own connections: every way of
    /// reading it gives the hub's digest of the view, with pending writes of every kind lying over it.
    @Test func everyWayOfReadingTheDigestGivesTheHubsDigest() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: code, path: folder.file("claire.db"))
                var ids: [String] = []
                for n in 0..<30 {
                    let id = try await claire.add(customer, acme("Customer \(n)"))
                    try await claire.add("contacts", ["customer_id": .text(id), "name": .text("Contact \(n)")])
                    ids.append(id)
                }
                let synced = try await claire.sync()
                let hubDigest = try await claire.viewDigest()
                #expect(synced.verification?.outcome == .equal)
                #expect(hubDigest.count == 60)
                // Pending writes of every kind: an edit, a delete, an insert the hub never saw.
                try await claire.set(customer, id: ids[1], ["phone": .text("555")])
                try await claire.delete(customer, id: ids[2])
                _ = try await claire.add(customer, acme("New"))
                #expect(try await claire.pendingCount() == 3)
                for (perShare, parallel) in [(1_000, 1_000), (7, 1_000), (1_000, 1), (3, 1), (1, 1)] {
                    let ways = try await claire.viewDigestWays(entriesPerShare: perShare, parallelRecords: parallel)
                    #expect(ways.shared == hubDigest, "\(perShare) per share, parallel from \(parallel)")
                    #expect(ways.index == hubDigest)
                }
                // And once the writes land, the digest moves with the hub's.
                let landed = try await claire.sync()
                #expect(landed.verification?.outcome == .equal)
                let after = try await claire.viewDigestWays(entriesPerShare: 5, parallelRecords: 1)
                #expect(after.shared == after.index)
                #expect(after.shared.count == 60)
                #expect(after.shared != hubDigest)
            }
        }
    }

    /// The hub reads a view's digest once per head: a pull at the same head gets it from memory, and
    /// any write moves the head and reads it again.
    @Test func theHubReadsAViewsDigestOncePerHead() async throws {
        try await HubFixture.with { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let marcCode = try await hub.addUser("marc", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: claireCode, path: folder.file("claire.db"))
                let marc = try await Replica.enroll(hub: url, code: marcCode, path: folder.file("marc.db"))
                for n in 0..<5 { _ = try await claire.add(customer, acme("Customer \(n)")) }
                _ = try await claire.sync()
                #expect(try await marc.sync().verification?.requests == 0)
                let head = try await hub.store.read { try await $0.meta().head }
                let key = ViewDigestCache.Key(
                    scopes: ["north"], head: head, epoch: try await hub.service.hubEpoch(),
                    schema: hub.service.schema.version)
                let cached = try #require(hub.service.viewDigests[key])
                #expect(cached == (try await hub.service.viewDigest(user: "marc")))
                // What the cache holds is what a pull at that head serves: a wrong entry is noticed
                // by the laptop's check, and the ranges (read from the store) find nothing to repair.
                hub.service.viewDigests[key] = DigestSum(count: 5, hash: RecordHash(high: 1, low: 2))
                let served = try #require(try await marc.sync().verification)
                #expect(served.outcome == .equal)
                #expect(served.requests > 0)
                // A write moves the head: the digest is read again.
                _ = try await claire.add(customer, acme("Customer 5"))
                _ = try await claire.sync()
                let after = try #require(try await marc.sync().verification)
                #expect(after.outcome == .equal)
                #expect(after.requests == 0)
                #expect(after.records == 6)
            }
        }
    }

    /// A number that needs 17 digits keeps every one of them in the confirmed state an edit
    /// snapshots (`json_object` writes 15): the laptop's digest under a pending edit stays the hub's,
    /// and a file whose capture triggers predate this has them replaced when it opens.
    @Test func aPendingEditKeepsEveryDigitOfANumber() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("anne", role: .manager, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let path = folder.file("anne.db")
                var anne = try await Replica.enroll(hub: url, code: code, path: path)
                let value = 1234.5678901234567
                let id = try await anne.add(customer, acme().merging(["lifetime_value": .number(value)]) { $1 })
                #expect(try await anne.sync().verification?.outcome == .equal)
                let hubDigest = try await hub.service.viewDigest(user: "anne")

                // The triggers of an older file: the snapshot as json_object writes it.
                let raw = try rawConnection(path)
                try raw.execute("DELETE FROM _relais_state WHERE key = 'capture_triggers'")
                try raw.execute("DROP TRIGGER _relais_customers_before_update_changed")
                try raw.execute(
                    """
                    CREATE TRIGGER _relais_customers_before_update_changed BEFORE UPDATE ON customers
                    WHEN NOT EXISTS (SELECT 1 FROM _relais_engine) BEGIN
                        INSERT OR IGNORE INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed)
                            VALUES ('customers', old.id, 1, json_object('lifetime_value', old.lifetime_value));
                    END
                    """)
                try raw.close()
                anne = try Replica.open(path: path)
                try await anne.set(customer, id: id, ["phone": .text("555")])
                #expect(try await anne.pendingCount() == 1)
                let check = try rawConnection(path)
                let confirmed = try check.scalar(
                    "SELECT confirmed FROM _relais_overlay WHERE record_id = ?", [.text(id)])
                try check.close()
                #expect(
                    confirmed?.textValue?.contains("1234.5678901234567") == true, "\(String(describing: confirmed))")
                #expect(try await anne.viewDigest() == hubDigest, "the confirmed state under the edit is the hub's")
                let synced = try await anne.sync()
                #expect(synced.verification?.outcome == .equal)
                #expect(try await anne.get(customer, id: id)?["lifetime_value"] == .number(value))
            }
        }
    }

    /// Stored digests computed under another schema (a hub upgraded to a schema with another rule)
    /// are never used: a hub that finds them digests views from the records' states, and its backfill
    /// forgets and stores them all again.
    @Test func digestsStoredUnderAnotherSchemaAreComputedAgain() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("marc", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let marc = try await Replica.enroll(hub: url, code: code, path: folder.file("marc.db"))
                for n in 0..<5 { _ = try await marc.add(customer, acme("Customer \(n)")) }
                #expect(try await marc.sync().verification?.outcome == .equal)
                let laptop = try await marc.viewDigest()
                // As another schema would have left them: other digests, another fingerprint.
                try await hub.store.write { tx in
                    try await tx.resetDigests(schema: "another schema")
                    for row in try await tx.undigestedRecords(after: nil, limit: 100) {
                        try await tx.setDigest(
                            collection: row.collection, id: row.id, seq: row.seq,
                            digest: [UInt8](repeating: 7, count: 24))
                    }
                }
                let restarted = HubService(store: hub.store, logger: HubLogging.standardError(label: "relais.hub.test"))
                #expect(try await restarted.viewDigest(user: "marc") == laptop, "digested from the states")
                #expect(try await restarted.backfillDigests() == 5)
                #expect(try await hub.store.read { try await $0.digestSchema() } == restarted.digestSchema)
                let stored = try await hub.store.read { tx in
                    var stored = 0
                    try await tx.forEachDigestRow(scopes: nil, keys: true, stored: true) { row in
                        if let digest = row.digest, digest != [UInt8](repeating: 7, count: 24) { stored += 1 }
                    }
                    return stored
                }
                #expect(stored == 5)
                #expect(try await restarted.viewDigest(user: "marc") == laptop, "from the digests stored again")
            }
        }
    }

    /// A report kept for the next pull survives a pull answered `bootstrap_required` (which records
    /// nothing): it reaches the hub with the pull after the download.
    @Test func aKeptReportOutlivesABootstrap() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("marc", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let marc = try await Replica.enroll(hub: url, code: code, path: folder.file("marc.db"))
                _ = try await marc.add(customer, acme())
                #expect(try await marc.sync().verification?.outcome == .equal)
                #expect(try await hub.store.read { try await $0.verifications() }.isEmpty, "kept for the next pull")
                _ = try await hub.service.updateUser("marc", territories: ["north", "south"])
                // The first pull of this sync is answered `bootstrap_required` (a new territory).
                _ = try await marc.sync()
                let replica = try #require(try await marc.identity()?.replica)
                let reports = try await hub.store.read { try await $0.verifications() }
                #expect(reports.map(\.replica.rawValue) == [replica])
            }
        }
    }

    /// The ranges a laptop narrows a difference with are the hub's as it stands, not as of the
    /// laptop's cursor: a record another laptop changed in between is repaired too (harmless: the hub's
    /// state), but it is newer, not different, and is not counted.
    @Test func aRecordChangedOnTheHubDuringTheCheckIsNotADifference() async throws {
        try await HubFixture.with { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let marcCode = try await hub.addUser("marc", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: claireCode, path: folder.file("claire.db"))
                let marcPath = folder.file("marc.db")
                let marc = try await Replica.enroll(hub: url, code: marcCode, path: marcPath)
                let corrupted = try await claire.add(customer, acme("Corrupted"))
                let moving = try await claire.add(customer, acme("Moving"))
                _ = try await claire.sync()
                #expect(try await marc.sync().verification?.outcome == .equal)
                let raw = try rawConnection(marcPath)
                try raw.execute(
                    """
                    INSERT INTO _relais_engine(writing) VALUES (1);
                    UPDATE customers SET city = 'Nowhere' WHERE id = '\(corrupted)';
                    DELETE FROM _relais_engine;
                    """)
                try raw.close()
                // Claire changes the other record once Marc's pull is over, before his first digest request.
                let transport = HookedTransport(inner: HTTPSyncTransport(hub: url)) {
                    try await claire.set(customer, id: moving, ["phone": .text("555")])
                    _ = try await claire.sync()
                }
                let result = try #require(try await marc.sync(transport: transport).verification)
                #expect(result.differences == [.init(collection: customer, id: corrupted, kind: .changed)])
                #expect(result.outcome == .repaired)
                #expect(result.repaired == 1)
                #expect(try await marc.get(customer, id: moving)?["phone"] == .text("555"), "repaired to the hub's")
                #expect(try await marc.export() == Data(try await hub.service.exportJSON(user: "marc")))
            }
        }
    }

    /// Records written before digests (an upgraded store: no stored digest) are digested from their
    /// state when read, the same as the stored digests of records written since.
    @Test func recordsWithoutAStoredDigestAreDigestedWhenRead() async throws {
        try await HubFixture.with(store: .sqlite) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: code, path: folder.file("claire.db"))
                for n in 0..<10 { try await claire.add(customer, acme("Customer \(n)")) }
                _ = try await claire.sync()
                let token = try #require(try await claire.identity()).token
                let principal = try await hub.service.authenticate(token: token)
                var request = Relais_V1_DigestRequest()
                request.ranges = [DigestRange.root.wire]
                let stored = try await hub.service.digest(request, from: principal)
                let raw = try rawConnection(hub.dataFolder + "/" + SQLiteHubStore.fileName)
                try raw.execute("UPDATE records SET digest = NULL")
                try raw.close()
                let computed = try await hub.service.digest(request, from: principal)
                #expect(computed.ranges == stored.ranges)
                #expect(computed.ranges.first?.digest.count == 10)
                #expect(try await claire.sync().verification?.outcome == .equal)
                // The background work stores them again, the same.
                #expect(try await hub.service.backfillDigests(batch: 3) == 10)
                #expect(try await hub.service.backfillDigests() == 0)
                #expect(try await hub.service.digest(request, from: principal).ranges == stored.ranges)
            }
        }
    }

    /// Digests and records answer only what the user sees; bad requests are refused.
    @Test func digestsAndRecordsStayWithinTheUsersView() async throws {
        try await HubFixture.with { hub in
            let northCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let southCode = try await hub.addUser("marc", role: .rep, territories: ["south"])
            let folder = try TemporaryFolder(prefix: "verify")
            defer { folder.remove() }
            try await hub.live { url in
                let claire = try await Replica.enroll(hub: url, code: northCode, path: folder.file("claire.db"))
                let marc = try await Replica.enroll(hub: url, code: southCode, path: folder.file("marc.db"))
                let north = try await claire.add(customer, acme("North"))
                let south = try await marc.add(customer, acme("South", territory: "south"))
                _ = try await claire.sync()
                _ = try await marc.sync()
                let token = try #require(try await claire.identity()).token
                let principal = try await hub.service.authenticate(token: token)

                var request = Relais_V1_DigestRequest()
                request.ranges = [DigestRange.root.wire]
                let root = try await hub.service.digest(request, from: principal)
                #expect(root.ranges.first?.digest.count == 1)
                #expect(root.ranges.first?.entries.map(\.recordID) == [north])

                var records = Relais_V1_RecordsRequest()
                records.keys = [north, south, "00000000-0000-4000-8000-000000000000"].map {
                    var key = Relais_V1_RecordKey()
                    key.collection = customer
                    key.recordID = $0
                    return key
                }
                let answer = try await hub.service.records(records, from: principal)
                #expect(answer.records.map(\.recordID) == [north])
                #expect(answer.absent.map(\.recordID) == [south, "00000000-0000-4000-8000-000000000000"])
                #expect(answer.records.first?.fields.isEmpty == false, "own writes are sent too")

                var outOfBounds = Relais_V1_DigestRange()
                outOfBounds.level = 2
                outOfBounds.prefix = 256
                request.ranges = [outOfBounds]
                await #expect(throws: HubError.badRequest) { try await hub.service.digest(request, from: principal) }
                request.ranges = Array(repeating: DigestRange.root.wire, count: 257)
                await #expect(throws: HubError.badRequest) { try await hub.service.digest(request, from: principal) }
                var report = Relais_V1_VerificationReport()
                report.outcome = .repaired
                report.differing = 1
                report.repaired = 2
                await #expect(throws: HubError.badRequest) {
                    try await hub.service.reportVerification(report, from: principal)
                }
                // Counts past what any view holds are refused, never a crash of the hub's counters;
                // such a report carried on a pull is dropped and the pull served.
                report.differing = UInt64(1) << 63
                report.repaired = UInt64(1) << 63
                await #expect(throws: HubError.badRequest) {
                    try await hub.service.reportVerification(report, from: principal)
                }
                var pull = Relais_V1_PullRequest()
                pull.counter = 100
                pull.verification = report
                #expect(try await hub.service.pull(pull, from: principal).records.isEmpty == false)
            }
        }
    }
}

/// A transport that runs `beforeFirstDigest` once, before its first `POST /v1/digest`.
private final class HookedTransport: ForwardingTransport {
    let inner: any SyncTransport
    private let hook: Mutex<(@Sendable () async throws -> Void)?>

    init(inner: HTTPSyncTransport, beforeFirstDigest: @escaping @Sendable () async throws -> Void) {
        self.inner = inner
        hook = Mutex(beforeFirstDigest)
    }

    func digest(_ request: Relais_V1_DigestRequest, token: String) async throws -> Relais_V1_DigestResponse {
        if let hook = hook.withLock({ hook in
            defer { hook = nil }
            return hook
        }) {
            try await hook()
        }
        return try await inner.digest(request, token: token)
    }
}
