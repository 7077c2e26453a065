import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Synchronization
import Testing

@testable import RelaisClient

/// HTTP to a live hub on loopback that records the snapshots downloaded and the pull requests.
final class RecordingTransport: ForwardingTransport {
    let base: HTTPSyncTransport
    var inner: any SyncTransport { base }
    let pulls = Mutex<[Relais_V1_PullRequest]>([])
    let snapshots = Mutex<[SnapshotDownload]>([])
    /// The snapshot requests made, downloaded or not.
    let snapshotRequests = Mutex<[SnapshotRequest]>([])
    /// The requests in the order they were made: `push`, `pull`, `snapshot` (one downloaded) or
    /// `no snapshot`.
    let requests = Mutex<[String]>([])

    init(hub: String) { base = HTTPSyncTransport(hub: hub) }

    func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        requests.withLock { $0.append("push") }
        return try await base.push(request, token: token)
    }

    func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
        pulls.withLock { $0.append(request) }
        requests.withLock { $0.append("pull") }
        return try await base.pull(request, token: token)
    }

    func snapshot(_ request: SnapshotRequest, token: String, folder: String) async throws -> SnapshotDownload? {
        snapshotRequests.withLock { $0.append(request) }
        let download = try await base.snapshot(request, token: token, folder: folder)
        if let download { snapshots.withLock { $0.append(download) } }
        requests.withLock { $0.append(download == nil ? "no snapshot" : "snapshot") }
        return download
    }
}

/// Snapshot bootstrap (docs/SYNC.md "Snapshot bootstrap"): a fresh laptop, or one told to bootstrap,
/// downloads a replica file of its user's view and pulls only what changed after it.
struct SnapshotBootstrapTests {
    /// The records of a replica file as stored: visible rows and the bookkeeping of live records
    /// (vector and the dot of each field), which a bootstrap by pages and one from a snapshot
    /// must leave equal. Field dots are compared field by field: the stored text may group them
    /// differently (a default dot for most fields, then the changed ones).
    private func holdings(_ path: String) throws -> [String] {
        let db = try rawConnection(path)
        var rows: [String] = []
        try db.query(
            "SELECT collection, record_id, vector, fields, deleted FROM _relais_records ORDER BY collection, record_id"
        ) { row in
            // A tombstone is kept by a laptop that held the record before its delete, not by one
            // that never saw it: both are right, so only live records are compared.
            guard row.int64(at: 4) == 0 else { return }
            var dots = ""
            if let text = row.text(at: 3),
                let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [Any]]
            {
                var byField: [String: String] = [:]
                if let all = object["*"], all.count >= 3 {
                    let dot = all.prefix(3).map { "\($0)" }.joined(separator: ":")
                    for name in all.dropFirst(3) { byField["\(name)"] = dot }
                }
                for (name, dot) in object where name != "*" {
                    byField[name] = dot.map { "\($0)" }.joined(separator: ":")
                }
                dots = byField.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            }
            rows.append(
                [row.text(at: 0) ?? "", row.text(at: 1) ?? "", row.text(at: 2) ?? "", dots].joined(separator: " "))
        }
        try db.query("SELECT id, name, city, phone, status FROM customers ORDER BY id") { row in
            rows.append((0..<5).map { row.text(at: Int32($0)) ?? "∅" }.joined(separator: " "))
        }
        try db.query("SELECT id, customer_id, name FROM contacts ORDER BY id") { row in
            rows.append((0..<3).map { row.text(at: Int32($0)) ?? "∅" }.joined(separator: " "))
        }
        return rows
    }

    /// The records a replica file keeps, tombstones included.
    private func recordCount(_ path: String) throws -> Int {
        Int(try rawConnection(path).scalar("SELECT count(*) FROM _relais_records")?.int64Value ?? -1)
    }

    /// A live hub with two reps of `north`: the writer's laptop (Claire's, `claire.db`) enrolled in a
    /// temporary folder named by `prefix`, and the reader's enrollment code (Rémi's), for the test to
    /// enroll `remi.db` when it wants.
    private func withWriter(
        _ prefix: String, snapshots: Bool = true,
        _ body:
            @escaping @Sendable (
                _ url: String, _ writer: Replica, _ readerCode: String, _ folder: TemporaryFolder, _ hub: HubFixture
            ) async throws -> Void
    ) async throws {
        try await HubFixture.with(snapshots: snapshots) { hub in
            let writerCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let readerCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: prefix)
            defer { folder.remove() }
            try await hub.live { url in
                let writer = try await Replica.enroll(hub: url, code: writerCode, path: folder.file("claire.db"))
                try await body(url, writer, readerCode, folder, hub)
            }
        }
    }

    /// The reader's laptop enrolled on `remi.db`, and a whole download of its view's snapshot into
    /// `whole/` (for a test to cut or spoil): the laptop, its token, the request, the download and
    /// its bytes.
    private func readerWithWholeSnapshot(_ url: String, _ readerCode: String, _ folder: TemporaryFolder) async throws
        -> (Replica, String, SnapshotRequest, SnapshotDownload, Data)
    {
        let reader = try await Replica.enroll(hub: url, code: readerCode, path: folder.file("remi.db"))
        let token = try #require(try await reader.identity()?.token)
        let request = SnapshotRequest(schemaVersion: UInt32(Schema.crm.version), hubEpoch: "")
        let whole = try #require(
            try await HTTPSyncTransport(hub: url).snapshot(request, token: token, folder: folder.file("whole")))
        return (reader, token, request, whole, try Data(contentsOf: URL(fileURLWithPath: whole.path)))
    }

    /// A writer in `north` that adds customers (some with a contact), edits and deletes some.
    private func fill(_ writer: Replica, count: Int, territory: String = "north", tag: String = "") async throws
        -> [String]
    {
        var ids: [String] = []
        for n in 0..<count {
            let id = try await writer.add(
                customer,
                [
                    "name": .text("Shop \(tag)\(n)"), "territory": .text(territory), "city": .text("Lyon"),
                    "phone": .text("0\(n)"), "status": .text("prospect"),
                ])
            ids.append(id)
            if n % 5 == 0 {
                _ = try await writer.add("contacts", ["customer_id": .text(id), "name": .text("Contact \(n)")])
            }
        }
        _ = try await writer.sync()
        for (n, id) in ids.enumerated() where n % 7 == 0 {
            try await writer.set(customer, id: id, ["city": .text("Nantes"), "status": .text("active")])
        }
        for (n, id) in ids.enumerated() where n % 11 == 3 {
            try await writer.delete(customer, id: id)
        }
        _ = try await writer.sync()
        return ids
    }

    @Test func aSnapshotBootstrapLeavesWhatABootstrapByPagesLeaves() async throws {
        try await HubFixture.with { hub in
            let writerCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let pagesCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
            let snapshotCode = try await hub.addUser("sasha", role: .rep, territories: ["north"])
            let laterCode = try await hub.addUser("lea", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "snapshot")
            defer { folder.remove() }
            try await hub.live { url in
                let writer = try await Replica.enroll(
                    hub: url, code: writerCode, path: folder.file("claire.db"), deviceName: "claire")
                let ids = try await fill(writer, count: 120)

                var byPages = SyncOptions()
                byPages.snapshots = false
                let pages = try await Replica.enroll(
                    hub: url, code: pagesCode, path: folder.file("remi.db"), deviceName: "remi")
                _ = try await pages.sync(options: byPages)

                let transport = RecordingTransport(hub: url)
                let fresh = try await Replica.enroll(
                    hub: url, code: snapshotCode, path: folder.file("sasha.db"), deviceName: "sasha")
                _ = try await fresh.sync(transport: transport)
                let snapshot = try #require(transport.snapshots.withLock { $0.first })
                // The pull after the snapshot starts at its cursor and asks for its own writes.
                let firstPull = try #require(transport.pulls.withLock { $0.first })
                #expect(firstPull.cursor == snapshot.cursor && firstPull.since == snapshot.cursor)
                #expect(firstPull.echoOwnWrites)
                #expect(try holdings(folder.file("sasha.db")) == holdings(folder.file("remi.db")))
                #expect(try await fresh.export() == pages.export())
                #expect(try await fresh.export() == writer.export())
                // Nothing of the download is left beside the replica file.
                #expect(!FileManager.default.fileExists(atPath: folder.file("sasha.db") + ".snapshot"))

                // Changes after the snapshot's cursor reach a later laptop through its pull.
                for (n, id) in ids.enumerated() where n < 30 && n % 11 != 3 {
                    try await writer.set(customer, id: id, ["phone": .text("99")])
                }
                try await writer.delete(customer, id: ids[40])
                _ = try await writer.sync()
                _ = try await pages.sync(options: byPages)
                let later = try await Replica.enroll(
                    hub: url, code: laterCode, path: folder.file("lea.db"), deviceName: "lea")
                let laterTransport = RecordingTransport(hub: url)
                _ = try await later.sync(transport: laterTransport)
                #expect(laterTransport.snapshots.withLock { $0.first?.digest } == snapshot.digest)
                #expect(try holdings(folder.file("lea.db")) == holdings(folder.file("remi.db")))
                #expect(try await later.export() == writer.export())
            }
        }
    }

    @Test func aSnapshotOfAnotherViewIsNeverServed() async throws {
        try await HubFixture.with { hub in
            let northCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let southCode = try await hub.addUser("remi", role: .rep, territories: ["south"])
            let northReader = try await hub.addUser("sasha", role: .manager, territories: ["north"])
            let southReader = try await hub.addUser("lea", role: .rep, territories: ["south"])
            let folder = try TemporaryFolder(prefix: "snapshot-views")
            defer { folder.remove() }
            try await hub.live { url in
                let north = try await Replica.enroll(hub: url, code: northCode, path: folder.file("n.db"))
                let south = try await Replica.enroll(hub: url, code: southCode, path: folder.file("s.db"))
                _ = try await fill(north, count: 30, territory: "north", tag: "N")
                _ = try await fill(south, count: 20, territory: "south", tag: "S")
                _ = try await north.sync()

                let northTransport = RecordingTransport(hub: url)
                let a = try await Replica.enroll(hub: url, code: northReader, path: folder.file("a.db"))
                _ = try await a.sync(transport: northTransport)
                let southTransport = RecordingTransport(hub: url)
                let b = try await Replica.enroll(hub: url, code: southReader, path: folder.file("b.db"))
                _ = try await b.sync(transport: southTransport)

                let northSnapshot = try #require(northTransport.snapshots.withLock { $0.first })
                let southSnapshot = try #require(southTransport.snapshots.withLock { $0.first })
                #expect(northSnapshot.digest != southSnapshot.digest)
                #expect(try await a.export() == north.export())
                #expect(try await b.export() == south.export())
                #expect(try await b.list(customer).allSatisfy { $0.values["territory"] == .text("south") })
                // A manager and a rep of the same territories share one view.
                let views = await hub.service.readySnapshots().map(\.view)
                #expect(Set(views).count == 2)
            }
        }
    }

    @Test func aCutDownloadContinuesWhereItStopped() async throws {
        try await withWriter("snapshot-resume") { url, writer, readerCode, folder, hub in
            _ = try await fill(writer, count: 200)
            // A whole download, to cut.
            let (reader, _, _, whole, bytes) = try await readerWithWholeSnapshot(url, readerCode, folder)
            #expect(bytes.count > 1000)

            // A part holding the first bytes, as a killed download leaves it, beside the replica.
            let cut = bytes.count / 3
            let parts = folder.file("remi.db") + ".snapshot"
            try FileManager.default.createDirectory(atPath: parts, withIntermediateDirectories: false)
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: parts + "/\(whole.digest).part"))
            let transport = RecordingTransport(hub: url)
            _ = try await reader.sync(transport: transport)
            let resumed = try #require(transport.snapshots.withLock { $0.first })
            #expect(resumed.digest == whole.digest)
            #expect(resumed.receivedBytes == Int64(bytes.count - cut))
            #expect(try await reader.export() == writer.export())
        }
    }

    @Test func aPartThatIsNotAPrefixOfTheSnapshotIsRefusedAndPagesTakeOver() async throws {
        try await withWriter("snapshot-corrupt") { url, writer, readerCode, folder, hub in
            _ = try await fill(writer, count: 60)
            var (reader, token, request, whole, bytes) = try await readerWithWholeSnapshot(url, readerCode, folder)
            // A disk fault in the part: the digest check refuses the result.
            bytes[10] ^= 0xFF
            let parts = folder.file("remi.db") + ".snapshot"
            try FileManager.default.createDirectory(atPath: parts, withIntermediateDirectories: false)
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: parts + "/\(whole.digest).part"))
            await #expect(throws: SyncError.self) {
                _ = try await HTTPSyncTransport(hub: url).snapshot(request, token: token, folder: parts)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: parts).isEmpty)

            // Through a sync: the bad part is dropped, and pages bootstrap the laptop.
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: parts + "/\(whole.digest).part"))
            let transport = RecordingTransport(hub: url)
            _ = try await reader.sync(transport: transport)
            #expect(transport.snapshots.withLock { $0.isEmpty })
            #expect(transport.pulls.withLock { $0.first?.cursor } == 0)
            #expect(try await reader.export() == writer.export())
        }
    }

    @Test func aHubWithoutSnapshotsIsBootstrappedByPages() async throws {
        try await withWriter("snapshot-none", snapshots: false) { url, writer, readerCode, folder, hub in
            _ = try await fill(writer, count: 20)
            let reader = try await Replica.enroll(hub: url, code: readerCode, path: folder.file("remi.db"))
            let transport = RecordingTransport(hub: url)
            _ = try await reader.sync(transport: transport)
            #expect(transport.snapshots.withLock { $0.isEmpty })
            #expect(transport.pulls.withLock { $0.first?.cursor } == 0)
            #expect(try await reader.export() == writer.export())
        }
    }

    /// A fresh laptop with writes typed before its first sync takes the view's snapshot before
    /// pushing them: the hub builds it without them (a snapshot built after the pushes would hold
    /// the records just sent, and the first laptop of a view would wait for that build), and the
    /// pull after it brings them back.
    @Test func aLaptopWithWritesTakesTheSnapshotBeforePushingThem() async throws {
        try await HubFixture.with { hub in
            let writerCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let newcomerCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
            let pagesCode = try await hub.addUser("sasha", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "snapshot-first")
            defer { folder.remove() }
            try await hub.live { url in
                let writer = try await Replica.enroll(hub: url, code: writerCode, path: folder.file("claire.db"))
                _ = try await fill(writer, count: 20)
                // The records a pull from cursor 0 brings now, tombstones included.
                var byPages = SyncOptions()
                byPages.snapshots = false
                let pages = try await Replica.enroll(hub: url, code: pagesCode, path: folder.file("sasha.db"))
                _ = try await pages.sync(options: byPages)
                let held = try recordCount(folder.file("sasha.db"))
                let newcomer = try await Replica.enroll(hub: url, code: newcomerCode, path: folder.file("remi.db"))
                var own: [String] = []
                for n in 0..<6 {
                    own.append(
                        try await newcomer.add(
                            customer, ["name": .text("Newcomer \(n)"), "territory": .text("north")]))
                }
                try await newcomer.set(customer, id: own[0], ["city": .text("Brest")])
                try await newcomer.delete(customer, id: own[5])
                let transport = RecordingTransport(hub: url)
                var options = SyncOptions()
                let reports = Mutex<[SyncProgress]>([])
                options.progress = { progress in reports.withLock { $0.append(progress) } }
                let outcome = try await newcomer.sync(transport: transport, options: options)
                // The snapshot is reported as the bootstrap's start, the pushes after it as pushes.
                var phases: [String] = []
                for report in reports.withLock({ $0 }) where phases.last != report.phase { phases.append(report.phase) }
                #expect(phases.prefix(3) == ["bootstrap", "push", "bootstrap"])

                #expect(transport.requests.withLock { Array($0.prefix(2)) } == ["snapshot", "push"])
                // It names its lowest pending counter: a hub holding a write from there on refuses.
                #expect(transport.snapshotRequests.withLock { $0.map(\.unsentFrom) } == [1])
                let snapshot = try #require(transport.snapshots.withLock { $0.first })
                // Built before the pushes: it holds the writer's records and none of the newcomer's.
                let built = try #require(await hub.service.readySnapshots().first)
                #expect(built.cursor == snapshot.cursor)
                #expect(built.records == held)
                let firstPull = try #require(transport.pulls.withLock { $0.first })
                #expect(firstPull.cursor == snapshot.cursor && firstPull.echoOwnWrites)
                #expect(outcome.pushed == 7)
                #expect(try await newcomer.pendingCount() == 0)
                _ = try await writer.sync()
                _ = try await pages.sync(options: byPages)
                #expect(try await newcomer.export() == writer.export())
                #expect(try holdings(folder.file("remi.db")) == holdings(folder.file("sasha.db")))
                #expect(try await newcomer.list(customer, where: ["name": .text("Newcomer 1")]).count == 1)
                #expect(try await newcomer.get(customer, id: own[0])?.values["city"] == .text("Brest"))
                #expect(try await newcomer.get(customer, id: own[5]) == nil)
            }
        }
    }

    /// A copy of a laptop's file made before its first sync, synced after the original: the hub holds
    /// the copy's pending writes, refuses it the snapshot, and the copy ends holding the hub's records
    /// with nothing for the check to repair (the simulation's regression scenario, run here too).
    @Test func aCopyMadeBeforeTheFirstSyncPushesBeforeItBootstraps() async throws {
        #expect(try await SimRegressions.run("a copy made before the first sync") == [])
    }

    /// A view that holds no record gets no snapshot: the hub answers `snapshot_unavailable` and keeps
    /// nothing, so the view's next laptop is not served a file of nothing.
    @Test func aViewWithNoRecordHasNoSnapshot() async throws {
        try await HubFixture.with { hub in
            let firstCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let laterCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "snapshot-empty")
            defer { folder.remove() }
            try await hub.live { url in
                let first = try await Replica.enroll(hub: url, code: firstCode, path: folder.file("claire.db"))
                let shop = try await first.add(customer, ["name": .text("Shop"), "territory": .text("north")])
                let transport = RecordingTransport(hub: url)
                _ = try await first.sync(transport: transport)
                #expect(transport.requests.withLock { Array($0.prefix(2)) } == ["no snapshot", "push"])
                #expect(transport.pulls.withLock { $0.first?.cursor } == 0)
                #expect(await hub.service.readySnapshots().isEmpty)
                #expect(try await first.get(customer, id: shop)?.values["name"] == .text("Shop"))

                let later = try await Replica.enroll(hub: url, code: laterCode, path: folder.file("remi.db"))
                let laterTransport = RecordingTransport(hub: url)
                _ = try await later.sync(transport: laterTransport)
                #expect(laterTransport.requests.withLock { $0.first } == "snapshot")
                #expect(laterTransport.snapshotRequests.withLock { $0.map(\.unsentFrom) } == [nil])
                #expect(await hub.service.readySnapshots().map(\.records) == [1])
                #expect(try await later.export() == first.export())
            }
        }
    }

    /// The snapshot predates the laptop's own last writes: the pull after it brings them back, and a
    /// re-bootstrap with pending writes keeps them.
    @Test func aReBootstrapFromAnOlderSnapshotKeepsOwnWritesAndPendingWrites() async throws {
        try await HubFixture.with { hub in
            let repCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let otherCode = try await hub.addUser("remi", role: .rep, territories: ["north", "south"])
            let folder = try TemporaryFolder(prefix: "snapshot-own")
            defer { folder.remove() }
            try await hub.live { url in
                let rep = try await Replica.enroll(hub: url, code: repCode, path: folder.file("claire.db"))
                let ids = try await fill(rep, count: 40)
                // A snapshot of north+south is built now (another laptop's bootstrap) ...
                let other = try await Replica.enroll(hub: url, code: otherCode, path: folder.file("remi.db"))
                let otherTransport = RecordingTransport(hub: url)
                _ = try await other.sync(transport: otherTransport)
                let built = try #require(otherTransport.snapshots.withLock { $0.first })
                // ... then claire writes, and the hub acknowledges it after the snapshot's cursor.
                try await rep.set(customer, id: ids[1], ["phone": .text("after the snapshot")])
                _ = try await rep.sync()
                // Pending writes when the bootstrap comes: an edit and a new customer.
                try await rep.set(customer, id: ids[2], ["phone": .text("pending edit")])
                let added = try await rep.add(customer, acme("Pending shop"))

                // Her territories change: her next pull must bootstrap, from the north+south snapshot.
                _ = try await hub.service.updateUser("claire", territories: ["north", "south"])
                // Her sync pushes the pending writes, then bootstraps (they are acknowledged after the
                // snapshot's cursor too).
                let transport = RecordingTransport(hub: url)
                _ = try await rep.sync(transport: transport)
                #expect(transport.snapshots.withLock { $0.first?.digest } == built.digest)
                #expect(try await rep.get(customer, id: ids[1])?.values["phone"] == .text("after the snapshot"))
                #expect(try await rep.get(customer, id: ids[2])?.values["phone"] == .text("pending edit"))
                #expect(try await rep.get(customer, id: added) != nil)
                _ = try await other.sync()
                // Contacts of customers she deleted before the snapshot stay: a bootstrap's sweep
                // removes the customer's tombstone alone, not the contacts the hub sent again.
                #expect(try await rep.export() == other.export())
            }
        }
    }

    /// A bootstrap (by pages or from a snapshot) does not resend the tombstone of a customer someone
    /// else deleted; sweeping that tombstone must not take the customer's surviving contacts along.
    @Test(arguments: [false, true]) func aBootstrapKeepsTheContactsOfACustomerDeletedElsewhere(snapshots: Bool)
        async throws
    {
        try await withWriter("snapshot-sweep") { url, writer, readerCode, folder, hub in
            let reader = try await Replica.enroll(hub: url, code: readerCode, path: folder.file("remi.db"))
            let shop = try await writer.add(customer, acme("Shop"))
            let contact = try await writer.add("contacts", ["customer_id": .text(shop), "name": .text("Zoé")])
            _ = try await writer.sync()
            _ = try await reader.sync()
            try await writer.delete(customer, id: shop)
            _ = try await writer.sync()
            _ = try await reader.sync()
            #expect(try await reader.get("contacts", id: contact) != nil)

            _ = try await hub.service.updateUser("remi", territories: ["north", "south"])
            var options = SyncOptions()
            options.snapshots = snapshots
            _ = try await reader.sync(options: options)
            #expect(try await reader.get("contacts", id: contact) != nil)
            #expect(try await reader.export() == writer.export())
        }
    }

    /// Store level: a snapshot applied under pending writes keeps them on top of its records, and a
    /// record the snapshot lacks but the laptop wrote stays until the pull's end judges it.
    @Test func aSnapshotAppliedUnderPendingWritesKeepsThem() async throws {
        try await withWriter("snapshot-pending") { url, writer, readerCode, folder, hub in
            let ids = try await fill(writer, count: 30)
            let reader = try await Replica.enroll(hub: url, code: readerCode, path: folder.file("remi.db"))
            _ = try await reader.sync()
            let token = try #require(try await reader.identity()?.token)
            // Offline edits on the reader.
            try await reader.set(customer, id: ids[0], ["phone": .text("typed offline")])
            let created = try await reader.add(customer, acme("Offline shop"))
            #expect(try await reader.pendingCount() == 2)

            // The writer changes the same record's other field (after the snapshot's cursor).
            try await writer.set(customer, id: ids[0], ["city": .text("Brest")])
            _ = try await writer.sync()
            let (file, cursor) = try await downloadSnapshot(hub: url, token: token, folder: folder)
            let info = try await reader.applySnapshotForTesting(file, cursor: cursor)
            #expect(!info.tookFileWhole)

            #expect(try await reader.pendingCount() == 2)
            let record = try #require(try await reader.get(customer, id: ids[0]))
            #expect(record.values["phone"] == .text("typed offline"))
            #expect(try await reader.get(customer, id: created) != nil)
            _ = try await reader.sync()
            #expect(try await reader.get(customer, id: ids[0])?.values["city"] == .text("Brest"))
            _ = try await writer.sync()
            #expect(try await reader.export() == writer.export())
            #expect(try await writer.get(customer, id: ids[0])?.values["phone"] == .text("typed offline"))
        }
    }

    /// Store level: a snapshot older than what the laptop already shows (its own acknowledged edit
    /// and delete, another laptop's edit it pulled) leaves those records as they are until the pull
    /// brings them: a sync cut after the snapshot must not show the salesperson older values, nor
    /// revive what they deleted, which they would then edit over without a conflict.
    @Test func aSnapshotOlderThanWhatTheLaptopShowsLeavesThoseRecordsAlone() async throws {
        try await withWriter("snapshot-older") { url, writer, readerCode, folder, hub in
            let ids = try await fill(writer, count: 30)
            let reader = try await Replica.enroll(hub: url, code: readerCode, path: folder.file("remi.db"))
            _ = try await reader.sync()
            let token = try #require(try await reader.identity()?.token)
            let contact = try #require(try await reader.list("contacts").first?.id)
            let (file, cursor) = try await downloadSnapshot(hub: url, token: token, folder: folder)

            // After the snapshot: the reader's own edit and delete, acknowledged; the writer's
            // edit, pulled by the reader.
            try await reader.set(customer, id: ids[0], ["phone": .text("typed by remi")])
            try await reader.delete("contacts", id: contact)
            _ = try await reader.sync()
            try await writer.set(customer, id: ids[1], ["city": .text("Brest")])
            _ = try await writer.sync()
            _ = try await reader.sync()
            let before = try await reader.export()

            _ = try await reader.applySnapshotForTesting(file, cursor: cursor)
            #expect(try await reader.get(customer, id: ids[0])?.values["phone"] == .text("typed by remi"))
            #expect(try await reader.get("contacts", id: contact) == nil)
            #expect(try await reader.get(customer, id: ids[1])?.values["city"] == .text("Brest"))
            #expect(try await reader.export() == before)

            // An edit made now, before the pull, builds on what the reader saw.
            try await reader.set(customer, id: ids[0], ["phone": .text("typed again")])
            _ = try await reader.sync()
            _ = try await writer.sync()
            #expect(try await writer.get(customer, id: ids[0])?.values["phone"] == .text("typed again"))
            #expect(try await writer.get("contacts", id: contact) == nil)
            #expect(try await reader.export() == writer.export())
        }
    }
}

extension SnapshotBootstrapTests {
    /// The snapshot of the view of the laptop enrolled with `token`, downloaded and inflated into
    /// `folder`: its file and cursor.
    private func downloadSnapshot(hub url: String, token: String, folder: TemporaryFolder) async throws
        -> (file: String, cursor: UInt64)
    {
        let download = try #require(
            try await HTTPSyncTransport(hub: url).snapshot(
                SnapshotRequest(schemaVersion: UInt32(Schema.crm.version), hubEpoch: ""), token: token,
                folder: folder.file("parts")))
        let file = try SnapshotFolder(path: folder.file("parts")).inflate(
            download.path, digest: download.digest, maxBytes: download.inflatedBytes)
        return (file, download.cursor)
    }

    /// The replica's own state rows (identity, hub epoch, token times, ...), without those a
    /// bootstrap sets and the clocks (written with it).
    private func ownState(_ path: String) throws -> [String] {
        let bootstrap: Set = [
            "generation", "cursor", "pull_since", "bootstrapping", "echo_own_writes", "hlc", "counter", "last_sync",
        ]
        var rows: [String] = []
        try rawConnection(path).query("SELECT key, quote(value) FROM _relais_state ORDER BY key") { row in
            let key = row.text(at: 0) ?? ""
            if !bootstrap.contains(key) { rows.append("\(key)=\(row.text(at: 1) ?? "")") }
        }
        return rows
    }

    /// A fresh laptop takes the snapshot's file whole (SQLite's backup API over its own file): it
    /// keeps its identity and own tables, stays in WAL mode, holds what a bootstrap by pages holds,
    /// and goes on writing and syncing under its own replica number.
    @Test func aFreshLaptopTakesTheSnapshotFileWhole() async throws {
        try await HubFixture.with { hub in
            let writerCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let pagesCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
            let freshCode = try await hub.addUser("sasha", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "snapshot-whole")
            defer { folder.remove() }
            try await hub.live { url in
                let writer = try await Replica.enroll(hub: url, code: writerCode, path: folder.file("claire.db"))
                _ = try await fill(writer, count: 40)
                var byPages = SyncOptions()
                byPages.snapshots = false
                let pages = try await Replica.enroll(hub: url, code: pagesCode, path: folder.file("remi.db"))
                _ = try await pages.sync(options: byPages)

                let path = folder.file("sasha.db")
                let fresh = try await Replica.enroll(hub: url, code: freshCode, path: path)
                let identity = try #require(try await fresh.identity())
                let stateBefore = try ownState(path)
                let snapshot = try await downloadSnapshot(hub: url, token: identity.token, folder: folder)
                let rows = try rawConnection(snapshot.file).scalar(
                    "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM contacts)")
                let info = try await fresh.applySnapshotForTesting(snapshot.file, cursor: snapshot.cursor)
                #expect(info.tookFileWhole)
                #expect(info.changed == Int(try #require(rows?.int64Value)))

                #expect(try await fresh.identity() == identity)
                #expect(try ownState(path) == stateBefore)
                let db = try rawConnection(path)
                #expect(try db.scalar("PRAGMA journal_mode")?.textValue == "wal")
                #expect(try db.scalar("PRAGMA integrity_check")?.textValue == "ok")
                #expect(
                    try db.scalar("SELECT value FROM _relais_state WHERE key = 'cursor'")?.int64Value
                        == Int64(snapshot.cursor))
                // The pull after the snapshot (which may stand behind the hub) ends where pages end.
                var check = SyncOptions()
                check.verification = .full
                #expect(try await fresh.sync(options: check).verification?.outcome == .equal)
                #expect(try holdings(path) == holdings(folder.file("remi.db")))

                // It goes on as any laptop: its own writes under its own number, the check.
                let added = try await fresh.add(customer, acme("Shop typed after the snapshot"))
                let result = try await fresh.sync(options: check)
                #expect(result.pushed == 1)
                #expect(result.verification?.outcome == .equal)
                _ = try await writer.sync()
                #expect(
                    try await writer.get(customer, id: added)?.values["name"] == .text("Shop typed after the snapshot"))
                #expect(try await fresh.export() == writer.export())
            }
        }
    }

    /// A laptop whose file is not laid out as the snapshot's (here: an index its user made) has the
    /// snapshot's records copied in, and keeps what it made.
    @Test func aFileLaidOutOtherwiseHasTheRecordsCopiedIn() async throws {
        try await HubFixture.with { hub in
            let writerCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let freshCode = try await hub.addUser("sasha", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "snapshot-layout")
            defer { folder.remove() }
            try await hub.live { url in
                let writer = try await Replica.enroll(hub: url, code: writerCode, path: folder.file("claire.db"))
                _ = try await fill(writer, count: 20)
                let path = folder.file("sasha.db")
                let fresh = try await Replica.enroll(hub: url, code: freshCode, path: path)
                try rawConnection(path).execute("CREATE INDEX customers_by_city ON customers(city)")
                let token = try #require(try await fresh.identity()?.token)
                let snapshot = try await downloadSnapshot(hub: url, token: token, folder: folder)
                let info = try await fresh.applySnapshotForTesting(snapshot.file, cursor: snapshot.cursor)
                #expect(!info.tookFileWhole)
                #expect(info.changed > 0)
                let index = try rawConnection(path).scalar(
                    "SELECT count(*) FROM sqlite_schema WHERE name = 'customers_by_city'")
                #expect(index?.int64Value == 1)
                _ = try await fresh.sync()
                #expect(try await fresh.export() == writer.export())
            }
        }
    }
}

extension SnapshotBootstrapTests {
    /// A fresh laptop on which something was typed before its first sync (a customer through the
    /// API, one by hand in SQL), or whose file another connection holds open, has the snapshot's
    /// records copied in: nothing typed is overwritten, and everything reaches the hub.
    @Test(arguments: ["api", "sql", "open"]) func aFreshLaptopThatIsNotAloneWithItsFileKeepsWhatItHas(
        _ case: String
    ) async throws {
        try await HubFixture.with { hub in
            let writerCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let freshCode = try await hub.addUser("sasha", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "snapshot-typed")
            defer { folder.remove() }
            try await hub.live { url in
                let writer = try await Replica.enroll(hub: url, code: writerCode, path: folder.file("claire.db"))
                _ = try await fill(writer, count: 20)
                let path = folder.file("sasha.db")
                let fresh = try await Replica.enroll(hub: url, code: freshCode, path: path)
                let token = try #require(try await fresh.identity()?.token)
                let snapshot = try await downloadSnapshot(hub: url, token: token, folder: folder)
                var typed: String?
                var other: Connection?
                switch `case` {
                case "api":
                    typed = try await fresh.add(customer, acme("Typed before the first sync"))
                case "sql":
                    let id = UUID().uuidString.lowercased()
                    typed = id
                    try rawConnection(path).execute(
                        "INSERT INTO customers(id, name, territory, status) VALUES (?, 'Typed by hand', 'north', 'prospect')",
                        [.text(id)])
                default:
                    // Another program holding the file open (between two reads).
                    other = try rawConnection(path)
                    _ = try other?.scalar("SELECT count(*) FROM customers")
                }
                let info = try await fresh.applySnapshotForTesting(snapshot.file, cursor: snapshot.cursor)
                #expect(!info.tookFileWhole)
                if let other { try other.close() }
                if let typed { #expect(try await fresh.get(customer, id: typed) != nil) }
                _ = try await fresh.sync()
                _ = try await writer.sync()
                if let typed { #expect(try await writer.get(customer, id: typed) != nil) }
                #expect(try await fresh.export() == writer.export())
            }
        }
    }
}

extension Replica {
    /// Applies an inflated snapshot file as a sync would.
    func applySnapshotForTesting(_ path: String, cursor: UInt64) throws -> ReplicaStore.SnapshotInfo {
        try store.applySnapshot(at: path, expectedCursor: cursor)
    }
}
