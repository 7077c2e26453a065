import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

/// The full disk, simulated with SQLite's `max_page_count` (docs/RELIABILITY.md): the replica refuses an
/// edit with a clear error and saves nothing, a pulled page that cannot be saved stops the sync with
/// pending writes kept, and the hub answers a push with 507 `storage_full`, keeps serving reads and
/// accepts the push once space is back.
struct DiskFullTests {
    /// Rewrites the file packed, so that a ceiling at its current size bites at the next growth.
    static func compact(_ path: String) throws {
        let connection = try Connection(path: path)
        defer { try? connection.close() }
        try connection.execute("VACUUM")
    }

    static func integrity(_ path: String) throws -> String {
        let connection = try Connection(path: path, mode: .readOnly, create: false)
        defer { try? connection.close() }
        return try connection.integrityCheck()
    }

    static func quickSync() -> SyncOptions {
        var options = SyncOptions()
        options.sleep = { _ in }
        options.random = { 0.5 }
        return options
    }

    @Test func aReplicaAtItsCeilingRefusesAnEditAndSavesNothing() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("full.relais")
        let clock = TestClock()
        var replica: Replica? = try Replica.open(path: path, configuration: .testing(clock: clock))
        let kept = try await replica!.add("customers", ["name": .text("Kept"), "territory": .text("north")])
        replica = nil
        try Self.compact(path)

        var configuration = Replica.Configuration.testing(clock: clock, ids: ClientIDSequence(start: 1000))
        configuration.maxFileBytes = 1
        let full = try Replica.open(path: path, configuration: configuration)
        let pendingBefore = try await full.pendingCount()
        var refused: ReplicaError?
        var saved = 0
        let filler = String(repeating: "x", count: 3000)
        for index in 0..<50 {
            do {
                _ = try await full.add(
                    "customers",
                    ["name": .text("Refused \(index)"), "territory": .text("north"), "notes": .text(filler)])
                saved += 1
            } catch let error as ReplicaError {
                refused = error
                break
            }
        }
        let error = try #require(refused, "no edit was refused under a ceiling at the file's size")
        #expect(error.code == .storageFull)
        #expect(error.description.hasPrefix("storage full: your edit was not saved"))
        // Nothing of the refused edit was written: the edits before it are there, it is not.
        let names = try await full.list("customers").compactMap { $0["name"].stringValue }
        #expect(!names.contains("Refused \(saved)"))
        #expect(names.contains("Kept"))
        #expect(try await full.pendingCount() == pendingBefore + saved)
        #expect(try Self.integrity(path) == "ok")

        // Space freed: the same edit succeeds.
        let roomy = try Replica.open(
            path: path, configuration: .testing(clock: clock, ids: ClientIDSequence(start: 2000)))
        _ = try await roomy.add(
            "customers", ["name": .text("Refused \(saved)"), "territory": .text("north"), "notes": .text(filler)])
        #expect(try await roomy.get("customers", id: kept) != nil)
        #expect(try await roomy.pendingCount() == pendingBefore + saved + 1)
    }

    @Test func aPullPageThatCannotBeSavedStopsTheSyncAndKeepsPendingWrites() async throws {
        let clock = TestClock()
        try await HubFixture.with(store: .sqlite, clock: clock) { hub in
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let codeA = try await hub.addUser("anne", role: .rep, territories: ["north"])
            let codeB = try await hub.addUser("bruno", role: .rep, territories: ["north"])
            try await hub.live { url in
                let pathA = folder.file("a.relais")
                let laptopClock = TestClock()
                var a: Replica? = try await Replica.enroll(
                    hub: url, code: codeA, path: pathA, deviceName: "a", transport: HTTPSyncTransport(hub: url),
                    configuration: .testing(clock: laptopClock, ids: ClientIDSequence(start: 1 << 32)))
                let b = try await Replica.enroll(
                    hub: url, code: codeB, path: folder.file("b.relais"), deviceName: "b",
                    transport: HTTPSyncTransport(hub: url),
                    configuration: .testing(clock: laptopClock, ids: ClientIDSequence(start: 2 << 32)))
                _ = try await a!.sync(options: Self.quickSync())
                let filler = String(repeating: "y", count: 2000)
                for index in 0..<40 {
                    _ = try await b.add(
                        "customers",
                        ["name": .text("From B \(index)"), "territory": .text("north"), "notes": .text(filler)])
                }
                _ = try await b.sync(options: Self.quickSync())
                let mine = try await a!.add("customers", ["name": .text("Typed on A"), "territory": .text("north")])
                let cursorBefore = try await a!.status().cursor
                a = nil
                try Self.compact(pathA)

                var configuration = Replica.Configuration.testing(
                    clock: laptopClock, ids: ClientIDSequence(start: 3 << 32))
                configuration.maxFileBytes = 1
                let full = try Replica.open(path: pathA, configuration: configuration)
                do {
                    _ = try await full.sync(options: Self.quickSync())
                    Issue.record("the sync saved 40 large records into a file held at its size")
                } catch let error as SyncError {
                    #expect(error.code == .storageFull)
                    #expect(error.description.hasPrefix("storage full"))
                    #expect(error.pending == (try await full.pendingCount()))
                }
                // The page was not half-applied: the cursor did not move, the local edit is intact.
                #expect(try await full.status().cursor == cursorBefore)
                #expect(try await full.get("customers", id: mine) != nil)
                #expect(try Self.integrity(pathA) == "ok")

                // Space freed: the sync completes and the laptop converges with the hub.
                let roomy = try Replica.open(
                    path: pathA, configuration: .testing(clock: laptopClock, ids: ClientIDSequence(start: 4 << 32)))
                _ = try await roomy.sync(options: Self.quickSync())
                #expect(try await roomy.pendingCount() == 0)
                #expect(try await roomy.export() == Data(try await hub.service.exportJSON(user: "anne")))
            }
        }
    }

    @Test func aHubAtItsCeilingAnswers507KeepsReadingAndAcceptsThePushLater() async throws {
        let clock = TestClock()
        try await HubFixture.with(store: .sqlite, clock: clock) { hub in
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let code = try await hub.addUser("anne", role: .rep, territories: ["north"])
            let storePath = hub.dataFolder + "/" + SQLiteHubStore.fileName
            let (laptop, token) = try await hub.live { url in
                let laptop = try await Replica.enroll(
                    hub: url, code: code, path: folder.file("a.relais"), deviceName: "a",
                    transport: HTTPSyncTransport(hub: url),
                    configuration: .testing(clock: TestClock()))
                return (laptop, try await laptop.identity()!.token)
            }
            try Self.compact(storePath)

            // The same store opened with a ceiling at its size: an office whose disk is full.
            var configuration = SQLiteHubStore.Configuration()
            configuration.maxStoreBytes = 1
            let fullStore = try SQLiteHubStore(folder: hub.dataFolder, create: false, configuration: configuration)
            let fullHub = HubService(
                store: fullStore, clock: clock, logger: HubLogging.standardError(label: "relais.hub.test"))
            let filler = String(repeating: "z", count: 3000)
            var tokens: [String] = []
            for index in 0..<30 {
                tokens.append("Typed \(index)")
                _ = try await laptop.add(
                    "customers", ["name": .text("Typed \(index)"), "territory": .text("north"), "notes": .text(filler)])
            }
            let pending = try await laptop.pendingCount()
            let failure: SyncError? = try await HubServer.withRunningServer(
                service: fullHub, logger: HubLogging.standardError(label: "relais.hub.test")
            ) { url in
                var failure: SyncError?
                do {
                    var options = Self.quickSync()
                    options.batchSize = 30
                    _ = try await laptop.sync(transport: HTTPSyncTransport(hub: url), options: options)
                } catch let error as SyncError {
                    failure = error
                }
                // Reads keep working on the full hub.
                var request = Relais_V1_PullRequest()
                request.pageSize = 10
                request.counter = 1_000_000
                request.schemaVersion = UInt32(laptop.schema.version)
                _ = try await HTTPSyncTransport(hub: url).pull(request, token: token)
                return failure
            }
            await fullStore.close()
            let error = try #require(failure, "a 90 kB push was accepted by a store held at its size")
            #expect(error.httpStatus == 507)
            #expect(error.hubCode == "storage_full")
            #expect(error.code == .hubUnreachable)
            #expect(try await laptop.pendingCount() == pending)
            // Nothing half-written: none of the batch's writes is on the hub.
            let onHub = String(decoding: try await hub.service.exportJSON(user: "admin"), as: UTF8.self)
            #expect(!tokens.contains { onHub.contains("\"\($0)\"") })
            #expect(try Self.integrity(storePath) == "ok")

            // Space is back (the store without a ceiling): the same push succeeds.
            try await hub.live { url in
                _ = try await laptop.sync(transport: HTTPSyncTransport(hub: url), options: Self.quickSync())
            }
            #expect(try await laptop.pendingCount() == 0)
            let after = String(decoding: try await hub.service.exportJSON(user: "admin"), as: UTF8.self)
            #expect(tokens.allSatisfy { after.contains("\"\($0)\"") })
        }
    }
}
