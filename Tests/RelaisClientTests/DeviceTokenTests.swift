import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Synchronization
import Testing

@testable import RelaisClient

/// Device tokens that expire and rotate, `rejoin`, and remote wipe (docs/SECURITY.md "Device
/// tokens" and "Remote wipe"), against a live hub on loopback whose clock the laptops share. Runs on
/// the store CI names (`RELAIS_TEST_HUB_STORE`), SQLite by default.
struct DeviceTokenTests {
    static let day: UInt64 = 24 * 3600 * 1000

    /// A hub whose device tokens live 10 days (rotated after 5) and whose replaced tokens renew for 2.
    static var configuration: HubService.Configuration {
        var configuration = HubService.Configuration()
        configuration.deviceTokenLifetimeMillis = 10 * day
        configuration.replacedTokenGraceMillis = 2 * day
        return configuration
    }

    /// Runs `body` with a live hub, a user `claire` and her enrolled laptop, all on one test clock.
    static func withLaptop(
        _ body: @escaping @Sendable (HubFixture, Replica, TestClock, TemporaryFolder, String) async throws -> Void
    ) async throws {
        let clock = TestClock()
        try await HubFixture.with(configuration: configuration, clock: clock) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "tokens")
            defer { folder.remove() }
            try await hub.live { url in
                let laptop = try await Replica.enroll(
                    hub: url, code: code, path: folder.file("claire.relais"), deviceName: "claire",
                    configuration: .testing(clock: clock))
                try await body(hub, laptop, clock, folder, url)
            }
        }
    }

    /// A copy of the laptop's folder, as a backup holds it (the token file comes along), opened.
    static func copyOfFolder(_ laptop: Replica, in folder: TemporaryFolder, clock: TestClock) throws -> Replica {
        let copyPath = folder.file("copy.relais")
        let raw = try rawConnection(laptop.path)
        try raw.execute("VACUUM INTO '\(copyPath)'")
        try raw.close()
        try FileManager.default.copyItem(atPath: laptop.path + ".token", toPath: copyPath + ".token")
        return try Replica.open(path: copyPath, configuration: .testing(clock: clock))
    }

    static func token(_ laptop: Replica) async throws -> String {
        try #require(try await laptop.identity()).token
    }

    /// Whether the hub answers `token` with `code` (nil: it authenticates).
    static func refusal(_ hub: HubFixture, _ token: String) async -> HubError.Code? {
        do {
            _ = try await hub.service.authenticate(token: token)
            return nil
        } catch let error as HubError {
            return error.code
        } catch {
            return .internal
        }
    }

    /// Half-way through its life the token is replaced during a sync; the replaced one only renews,
    /// and only for the grace window; the new one works until it expires in turn, and a laptop that
    /// stayed away longer is told to rejoin, keeping its writes.
    @Test func theTokenIsRotatedDuringASyncAndTheReplacedOneOnlyRenewsForAWhile() async throws {
        try await Self.withLaptop { hub, laptop, clock, _, _ in
            try await laptop.add(customer, acme())
            _ = try await laptop.sync()
            let first = try await Self.token(laptop)
            let enrolled = try #require(try await hub.service.devices().first)
            #expect(enrolled.tokenExpiresAt == TestClock.defaultStart + 10 * Self.day)

            // Before half its life: no rotation.
            clock.advance(byMillis: 4 * Self.day)
            _ = try await laptop.sync()
            #expect(try await Self.token(laptop) == first)

            clock.advance(byMillis: 2 * Self.day)
            try await laptop.add(customer, acme("Bâtiments Roux"))
            #expect(try await laptop.sync().pushed == 1)
            let second = try await Self.token(laptop)
            #expect(second != first)
            let device = try #require(try await hub.service.devices().first)
            #expect(device.tokenExpiresAt == clock.now() + 10 * Self.day)
            // The laptop knows when its new token expires (`relais status`).
            #expect(try await laptop.status().tokenExpiresMillis == device.tokenExpiresAt)
            #expect(try await laptop.status().hasToken)
            #expect(device.renewedTo == nil)
            // The replaced token only renews: the principal is a renewed one, its pushes are forked.
            let replaced = try await hub.service.authenticate(token: first)
            #expect(replaced.renewed && replaced.replica == device.replica)
            await #expect(throws: HubError.replicaForked) {
                try await hub.service.pull(Relais_V1_PullRequest(), from: replaced)
            }
            #expect(await Self.refusal(hub, second) == nil)

            // Past the grace window the replaced token is refused outright.
            clock.advance(byMillis: 2 * Self.day + 1)
            #expect(await Self.refusal(hub, first) == .tokenExpired)

            // The laptop stays away past the new token's expiry: told to rejoin; nothing is lost.
            clock.advance(byMillis: 9 * Self.day)
            try await laptop.add(customer, acme("Fromagerie Vidal"))
            await #expect {
                _ = try await laptop.sync()
            } throws: { error in
                guard let error = error as? SyncError else { return false }
                return error.code == .tokenExpired && error.description.contains("relais enroll --rejoin")
                    && error.pending == 1
            }
            #expect(try await laptop.pendingCount() == 1)
        }
    }

    /// A laptop whose token expired enrolls the same file again with a new code: it keeps its
    /// records, its unsent writes reach the hub under the new replica number, and its old replica's
    /// token (or a copy's) only renews. A code of another user is refused and changes nothing.
    @Test func anExpiredLaptopRejoinsWithItsUnsentWrites() async throws {
        try await Self.withLaptop { hub, laptop, clock, _, _ in
            let kept = try await laptop.add(customer, acme())
            _ = try await laptop.sync()
            let old = try #require(try await laptop.identity())
            clock.advance(byMillis: 11 * Self.day)
            let offline = try await laptop.add(customer, acme("Bâtiments Roux"))
            try await laptop.set(customer, id: kept, ["phone": .text("04 78 00 00 00")])
            await #expect { _ = try await laptop.sync() } throws: { ($0 as? SyncError)?.code == .tokenExpired }

            let marcCode = try await hub.addUser("marc", role: .rep, territories: ["north"])
            await #expect {
                try await laptop.rejoin(code: marcCode, deviceName: "claire")
            } throws: { ($0 as? SyncError)?.code == .forbidden }
            #expect(try await laptop.identity() == old)

            let code = try await hub.service.issueEnrollmentCode(for: "claire")
            #expect(try await laptop.rejoin(code: code, deviceName: "claire") == 0)
            let rejoined = try #require(try await laptop.identity())
            #expect(rejoined.replica != old.replica && rejoined.token != old.token)
            #expect(try await laptop.pendingCount() == 2)
            let result = try await laptop.sync()
            #expect(result.pushed == 2 && result.rejected == 0)
            #expect(try await laptop.pendingCount() == 0)
            #expect(try await laptop.export() == Data(try await hub.service.exportJSON(user: "claire")))
            #expect(try await laptop.get(customer, id: offline) != nil)
            #expect(try await laptop.get(customer, id: kept)?["phone"] == .text("04 78 00 00 00"))
            let devices = try await hub.service.devices()
            #expect(devices.first { $0.replica.rawValue == old.replica }?.renewedTo?.rawValue == rejoined.replica)
            #expect(await Self.refusal(hub, old.token) == .tokenExpired)
        }
    }

    /// A copy of the laptop's file made before a rotation holds the replaced token: within the grace
    /// window it renews into its own replica, so the two files never write under one replica number,
    /// and the writes of both reach the hub.
    @Test func aCopyHoldingTheReplacedTokenRenewsAndBothKeepTheirWrites() async throws {
        try await Self.withLaptop { hub, laptop, clock, folder, _ in
            _ = try await laptop.sync()
            let copy = try Self.copyOfFolder(laptop, in: folder, clock: clock)

            clock.advance(byMillis: 6 * Self.day)
            let original = try await laptop.add(customer, acme("Original"))
            _ = try await laptop.sync()
            let copied = try await copy.add(customer, acme("Copied"))
            let result = try await copy.sync()
            #expect(result.pushed == 1)
            let replicas = Set([try await laptop.identity()?.replica, try await copy.identity()?.replica])
            #expect(replicas.count == 2)
            _ = try await laptop.sync()
            for replica in [laptop, copy] {
                #expect(try await replica.get(customer, id: original) != nil)
                #expect(try await replica.get(customer, id: copied) != nil)
            }
        }
    }

    /// A copy (a restored backup) edits a customer the laptop deleted meanwhile: the copy renews, and
    /// its bootstrap is not sent the deleted customer. The edit is still pushed, and the hub decides
    /// (an update beats a concurrent delete, with a report); the bootstrap's sweep does not reject it
    /// locally as if the customer had left the territory. An edit of a customer a manager moved to
    /// another territory meanwhile is pushed too: the hub refuses it, and the customer then leaves the
    /// copy.
    @Test func aRenewedCopyPushesItsEditOfACustomerDeletedMeanwhile() async throws {
        try await Self.withLaptop { hub, laptop, clock, folder, _ in
            let kept = try await laptop.add(customer, acme("Kept"))
            let gone = try await laptop.add(customer, acme("Gone for good"))
            let moved = try await laptop.add(customer, acme("Moved south"))
            _ = try await laptop.sync()
            let copy = try Self.copyOfFolder(laptop, in: folder, clock: clock)

            clock.advance(byMillis: 6 * Self.day)
            try await laptop.delete(customer, id: kept)
            try await laptop.delete(customer, id: gone)
            _ = try await laptop.sync()
            var manager = try await hub.enrollDevice("marc", role: .manager, territories: ["north", "south"])
            let vector = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: moved) }?.state.vector)
            let move = try await hub.push(
                manager,
                [
                    Wire.write(
                        id: moved, replica: manager.replica, counter: manager.nextCounter(),
                        fields: ["territory": .text("south")], context: vector)
                ])
            #expect(move.map(\.status) == [.applied])
            let phone = Value.text("04 78 11 11 11")
            try await copy.set(customer, id: kept, ["phone": phone])
            try await copy.set(customer, id: moved, ["phone": phone])
            let result = try await copy.sync()
            let renewed = try #require(try await copy.identity())
            #expect(renewed.replica != (try await laptop.identity())?.replica)
            #expect(result.pushed == 1 && result.rejected == 1 && result.conflicts == 1)
            let rejected = try await copy.rejected()
            #expect(rejected.map(\.recordID) == [moved], "\(rejected)")
            // The hub's own answer, not the sweep's "no longer sends this record".
            #expect(rejected.first?.code == "outside_territory" && rejected.first?.source == "hub")
            #expect(rejected.first?.reason.contains("outside your territories") == true, "\(rejected)")
            #expect(try await copy.get(customer, id: moved) == nil)
            #expect(try await copy.pendingCount() == 0)
            // The edit won over the delete on the hub, which keeps a report of it.
            #expect(try await copy.get(customer, id: kept)?["phone"] == phone)
            let stored = try await hub.store.read { try await $0.record(collection: "customers", id: kept) }
            #expect(stored?.state.isDeleted == false)
            let reports = try await hub.service.conflicts(ConflictFilter())
            #expect(reports.contains { $0.conflict.recordID == kept && $0.conflict.field == nil })
            // The customer deleted and edited by no one stays deleted, on the copy too.
            #expect(try await copy.get(customer, id: gone) == nil)
            _ = try await laptop.sync()
            #expect(try await laptop.get(customer, id: kept)?["phone"] == phone)
            #expect(try await copy.export() == (try await laptop.export()))
        }
    }

    /// The rotation's answer is lost on the way: the hub replaced the token, the laptop still holds
    /// the old one, which renews; every write reaches the hub.
    @Test func aLostRotationAnswerEndsInARenewalThatLosesNothing() async throws {
        try await Self.withLaptop { hub, laptop, clock, _, url in
            _ = try await laptop.sync()
            let before = try #require(try await laptop.identity())
            clock.advance(byMillis: 6 * Self.day)
            let id = try await laptop.add(customer, acme("Lost answer"))
            let transport = LosingRotation(base: HTTPSyncTransport(hub: url))
            // The sync's pull says the token is due; the rotation after it loses its answer.
            #expect(try await laptop.sync(transport: transport).pushed == 1)
            #expect(try await laptop.identity() == before)
            // The next sync: the old token only renews now; the laptop renews and loses nothing.
            let second = try await laptop.add(customer, acme("After the lost answer"))
            let result = try await laptop.sync(transport: transport)
            #expect(result.pushed == 1)
            #expect(try await laptop.get(customer, id: second) != nil)
            let after = try #require(try await laptop.identity())
            #expect(after.replica != before.replica)
            #expect(try await laptop.pendingCount() == 0)
            #expect(try await laptop.export() == Data(try await hub.service.exportJSON(user: "claire")))
            #expect(try await laptop.get(customer, id: id) != nil)
        }
    }

    /// A transport whose token rotation reaches the hub but whose answer never comes back.
    final class LosingRotation: ForwardingTransport {
        let base: HTTPSyncTransport
        var inner: any SyncTransport { base }
        init(base: HTTPSyncTransport) { self.base = base }

        func rotateToken(token: String) async throws -> Relais_V1_TokenRotateResponse {
            _ = try await base.rotateToken(token: token)
            throw SyncError(.hubUnreachable, "connection reset")
        }
    }

    /// The enrollment's answer is lost after the hub used the code: the laptop asks again with the
    /// same attempt and gets the device the hub made (one device, not two), with a token that syncs.
    /// A rejoin whose answer is lost does the same, and keeps the file's unsent write.
    @Test func aLostEnrollmentAnswerIsAskedForAgainAndGivesTheSameDevice() async throws {
        let clock = TestClock()
        try await HubFixture.with(configuration: Self.configuration, clock: clock) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "tokens")
            defer { folder.remove() }
            try await hub.live { url in
                let transport = LosingEnrollments(base: HTTPSyncTransport(hub: url))
                let laptop = try await Replica.enroll(
                    hub: url, code: code, path: folder.file("claire.relais"), deviceName: "claire",
                    transport: transport, configuration: .testing(clock: clock))
                #expect(transport.lost.withLock { $0 } == 1)
                let devices = try await hub.store.read { try await $0.devices() }
                let identity = try #require(try await laptop.identity())
                #expect(devices.map(\.replica.rawValue) == [identity.replica])
                let id = try await laptop.add(customer, acme("Enrolled through a lost answer"))
                #expect(try await laptop.sync().pushed == 1)

                // A rejoin (the token expired), its answer lost too, with a write not yet sent.
                clock.advance(byMillis: 11 * Self.day)
                let unsent = try await laptop.add(customer, acme("Typed while the token was expired"))
                await #expect(throws: SyncError.self) { _ = try await laptop.sync() }
                let rejoinCode = try await hub.service.issueEnrollmentCode(for: "claire")
                try await laptop.rejoin(code: rejoinCode, deviceName: "claire", transport: transport)
                #expect(transport.lost.withLock { $0 } == 2)
                let rejoined = try #require(try await laptop.identity())
                #expect(
                    try await hub.store.read { try await $0.devices() }.map(\.replica.rawValue) == [
                        identity.replica, rejoined.replica,
                    ])
                _ = try await laptop.sync()
                #expect(try await laptop.pendingCount() == 0)
                let held = try await hub.service.exportJSON(user: "claire")
                #expect(try await laptop.export() == Data(held))
                for kept in [id, unsent] { #expect(try await laptop.get(customer, id: kept) != nil) }
            }
        }
    }

    /// A transport whose first enrollment of each kind (new, rejoin) reaches the hub but whose answer
    /// never comes back.
    final class LosingEnrollments: ForwardingTransport {
        let base: HTTPSyncTransport
        var inner: any SyncTransport { base }
        let lost = Mutex(0)
        init(base: HTTPSyncTransport) { self.base = base }

        func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse {
            let answer = try await base.enroll(request)
            let lose = lost.withLock { lost in
                let kind = request.previousReplica == 0 ? 0 : 1
                guard lost == kind else { return false }
                lost += 1
                return true
            }
            if lose { throw SyncError(.hubUnreachable, "connection reset") }
            return answer
        }
    }

    /// An admin marks the laptop for wipe: at its next sync it pushes its unsent writes, reports,
    /// and its files are gone; the hub shows the device wiped with the writes saved, and its token
    /// no longer works. Until the report, the hub serves it nothing.
    @Test func aWipedLaptopPushesReportsAndErasesItsFiles() async throws {
        try await Self.withLaptop { hub, laptop, _, _, _ in
            _ = try await laptop.add(customer, acme())
            _ = try await laptop.sync()
            let identity = try #require(try await laptop.identity())
            let unsent = try await laptop.add(customer, acme("Unsent"))
            try await laptop.add("contacts", ["customer_id": .text(unsent), "name": .text("Zoé")])
            let marked = try await hub.service.requestWipe(ReplicaID(identity.replica), by: "admin")
            #expect(marked.wipeRequestedAt != nil && marked.revokedAt == nil)
            let principal = try await hub.service.authenticate(token: identity.token)
            #expect(principal.wipeRequested)
            await #expect(throws: HubError.wipeRequested) {
                try await hub.service.pull(Relais_V1_PullRequest(), from: principal)
            }

            await #expect {
                _ = try await laptop.sync()
            } throws: { error in
                guard let error = error as? SyncError else { return false }
                return error.code == .deviceWiped && error.description.contains("2 write(s) reached the hub")
            }
            for suffix in ["", "-wal", "-shm", ".sync-lock", ".token"] {
                #expect(!FileManager.default.fileExists(atPath: laptop.path + suffix), "\(suffix)")
            }
            #expect(!FileManager.default.fileExists(atPath: laptop.path + ".snapshot"))
            let device = try #require(try await hub.service.devices().first)
            #expect(device.wipedAt != nil && device.revokedAt != nil)
            #expect(device.wipeSavedWrites == 2 && device.wipeUnsavedWrites == 0)
            #expect(await Self.refusal(hub, identity.token) == .deviceWiped)
            // The unsent customer and contact reached the hub before the file went.
            let export = String(decoding: try await hub.service.exportJSON(user: "claire"), as: UTF8.self)
            #expect(export.contains(unsent) && export.contains("Zoé"))
            let events = try await hub.service.events(limit: 5).map(\.kind)
            #expect(events.contains(.deviceWiped) && events.contains(.deviceWipeRequested))
        }
    }

    /// A laptop that reported its wipe but stopped before erasing (a crash) erases at its next
    /// contact, when the hub answers `device_wiped`.
    @Test func aWipeCutAfterTheReportFinishesAtTheNextContact() async throws {
        try await Self.withLaptop { hub, laptop, _, _, _ in
            _ = try await laptop.sync()
            let identity = try #require(try await laptop.identity())
            try await hub.service.requestWipe(ReplicaID(identity.replica))
            var report = Relais_V1_WipeReport()
            report.savedWrites = 0
            _ = try await hub.service.reportWipe(
                report, from: try await hub.service.authenticate(token: identity.token))
            #expect(FileManager.default.fileExists(atPath: laptop.path))
            await #expect { _ = try await laptop.sync() } throws: { ($0 as? SyncError)?.code == .deviceWiped }
            #expect(!FileManager.default.fileExists(atPath: laptop.path))
        }
    }

    /// A revoked device cannot be wiped (it never syncs again); an unknown one is not found; a device
    /// not marked for wipe cannot report one.
    @Test func wipeNeedsALiveDeviceAndAReportNeedsAWipe() async throws {
        try await Self.withLaptop { hub, laptop, _, _, _ in
            let identity = try #require(try await laptop.identity())
            await #expect(throws: HubError.forbidden) {
                try await hub.service.reportWipe(
                    Relais_V1_WipeReport(), from: try await hub.service.authenticate(token: identity.token))
            }
            await #expect(throws: HubError.notFound) { try await hub.service.requestWipe(ReplicaID(999_999)) }
            try await hub.service.revokeDevice(ReplicaID(identity.replica))
            await #expect(throws: HubError.conflict) { try await hub.service.requestWipe(ReplicaID(identity.replica)) }
            #expect(FileManager.default.fileExists(atPath: laptop.path))
        }
    }

    /// The token is kept beside the replica file, owner-only, and not in it: a copy of the file
    /// alone cannot sync (it says why, and keeps its writes) until it rejoins with a new code.
    @Test func theTokenLivesBesideTheFileAndACopyOfTheFileAloneMustRejoin() async throws {
        try await Self.withLaptop { hub, laptop, clock, folder, _ in
            _ = try await laptop.sync()
            let token = try await Self.token(laptop)
            let raw = try rawConnection(laptop.path)
            #expect(try raw.scalar("SELECT count(*) FROM _relais_state WHERE key = 'token'")?.int64Value == 0)
            try raw.close()
            let file = try String(contentsOfFile: laptop.path + ".token", encoding: .utf8)
            #expect(file.contains(token))
            let mode = try FileManager.default.attributesOfItem(atPath: laptop.path + ".token")[.posixPermissions]
            #expect((mode as? NSNumber)?.intValue == 0o600)
            #expect(try Data(contentsOf: URL(fileURLWithPath: laptop.path)).range(of: Data(token.utf8)) == nil)

            let copyPath = folder.file("alone.relais")
            let copying = try rawConnection(laptop.path)
            try copying.execute("VACUUM INTO '\(copyPath)'")
            try copying.close()
            let copy = try Replica.open(path: copyPath, configuration: .testing(clock: clock))
            let id = try await copy.add(customer, acme("Copied alone"))
            #expect(try await copy.status().hasToken == false)
            await #expect {
                _ = try await copy.sync()
            } throws: { error in
                guard let error = error as? SyncError else { return false }
                return error.code == .authenticationRefused && error.description.contains("--rejoin")
                    && error.pending == 1
            }
            let code = try await hub.service.issueEnrollmentCode(for: "claire")
            try await copy.rejoin(code: code, deviceName: "copy")
            #expect(try await copy.sync().pushed == 1)
            _ = try await laptop.sync()
            #expect(try await laptop.get(customer, id: id) != nil)
        }
    }

    /// A file written by an older program keeps its token in `_relais_state`: opening it moves the
    /// token into the token file and erases it from the replica file, and the laptop still syncs.
    @Test func anOlderFilesTokenMovesOutOfIt() async throws {
        try await Self.withLaptop { hub, laptop, clock, _, _ in
            let token = try await Self.token(laptop)
            let path = laptop.path
            // As an older program left it: the token inside, no token file.
            let raw = try rawConnection(path)
            try raw.execute("INSERT INTO _relais_state(key, value) VALUES ('token', '\(token)')")
            try raw.close()
            try FileManager.default.removeItem(atPath: path + ".token")
            let reopened = try Replica.open(path: path, configuration: .testing(clock: clock))
            #expect(try await reopened.identity()?.token == token)
            let check = try rawConnection(path)
            #expect(try check.scalar("SELECT count(*) FROM _relais_state WHERE key = 'token'")?.int64Value == 0)
            try check.close()
            // Not left behind in a freed page or in the log either.
            for file in [path, path + "-wal"] where FileManager.default.fileExists(atPath: file) {
                #expect(try Data(contentsOf: URL(fileURLWithPath: file)).range(of: Data(token.utf8)) == nil, "\(file)")
            }
            try await reopened.add(customer, acme())
            #expect(try await reopened.sync().pushed == 1)
            #expect(try await hub.service.devices().count == 1)
        }
    }
}
