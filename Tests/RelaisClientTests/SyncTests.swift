import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Synchronization
import Testing

@testable import RelaisClient

/// The sync session and retry state machines (no I/O), and the sync engine against a scripted hub.
struct SyncTests {
    @Test func backOffGrowsIsCappedJitteredAndGivesUp() {
        var retry = RetryStateMachine(
            configuration: .init(maxAttempts: 6, baseDelay: .seconds(1), maxDelay: .seconds(4), jitter: 0.5))
        #expect(retry.failed(random: 0) == .retry(after: .milliseconds(500)))
        #expect(retry.failed(random: 1) == .retry(after: .seconds(2)))
        #expect(retry.failed(random: 0.5) == .retry(after: .seconds(3)))
        #expect(retry.failed(random: 1) == .retry(after: .seconds(4)))  // capped
        #expect(retry.failed(random: 1) == .retry(after: .seconds(4)))
        #expect(retry.failed(random: 1) == .giveUp)
        retry.succeeded()
        #expect(retry.failed(random: 1) == .retry(after: .seconds(1)))
    }

    /// A hub's `Retry-After` is the least wait; one longer than `maxRetryAfter` gives up at once.
    @Test func retryAfterIsTheLeastWaitAndTooLongGivesUp() {
        var retry = RetryStateMachine(
            configuration: .init(
                maxAttempts: 5, baseDelay: .seconds(1), maxDelay: .seconds(4), jitter: 0,
                maxRetryAfter: .seconds(60)))
        #expect(retry.failed(random: 0, retryAfter: .seconds(30)) == .retry(after: .seconds(30)))
        #expect(retry.failed(random: 0, retryAfter: .zero) == .retry(after: .seconds(2)))  // the back-off is longer
        #expect(retry.failed(random: 0, retryAfter: .seconds(61)) == .giveUp)
    }

    @Test func sessionPushesThenPulls() {
        var machine = SyncStateMachine()
        #expect(machine.start() == .push)
        #expect(machine.pushed(morePending: true) == .push)
        #expect(machine.pushed(morePending: false) == .pull)
        #expect(machine.pulled(more: true) == .pull)
        #expect(machine.pulled(more: false) == .finish)
        #expect(machine.isDone)
    }

    @Test func sessionBootstrapsOnceAndFailsIfAskedAgain() {
        var machine = SyncStateMachine()
        _ = machine.start()
        _ = machine.pushed(morePending: false)
        #expect(machine.pulled(more: false, bootstrapRequired: true) == .beginBootstrap)
        #expect(machine.bootstrapStarted() == .pull)
        #expect(machine.pulled(more: true) == .pull)
        #expect(machine.pulled(more: false, bootstrapRequired: true) == .fail(.bootstrapNeeded))
    }

    @Test func sessionRenewsOnForkThenPullsEverythingThenPushes() {
        var machine = SyncStateMachine()
        #expect(machine.start() == .push)
        #expect(machine.forked() == .renew)
        #expect(machine.renewed() == .pull)
        #expect(machine.pulled(more: false) == .push)
        #expect(machine.pushed(morePending: false) == .pull)
        #expect(machine.pulled(more: false) == .finish)
        var again = SyncStateMachine()
        _ = again.start()
        _ = again.forked()
        _ = again.renewed()
        #expect(again.forked() == .fail(.replicaForked))
    }

    @Test func sessionCatchesUpWithARestoredHubByPullingBeforePushing() {
        var machine = SyncStateMachine()
        #expect(machine.start() == .push)
        // The hub answered `hub_restored`: a bootstrap first, then the writes put back in the queue.
        #expect(machine.hubRestored() == .pull)
        #expect(machine.pulled(more: true) == .pull)
        #expect(machine.pulled(more: false) == .push)
        #expect(machine.pushed(morePending: false) == .pull)
        #expect(machine.pulled(more: false) == .finish)
        // Restored again within the same session: stop, nothing is pushed on a guess.
        var again = SyncStateMachine()
        _ = again.start()
        _ = again.hubRestored()
        #expect(again.hubRestored() == .fail(.hubRestored))
        // A session started while a restore's bootstrap is not complete pulls first.
        var resumed = SyncStateMachine()
        #expect(resumed.start(catchingUpWithRestore: true) == .pull)
        #expect(resumed.pulled(more: false) == .push)
        #expect(resumed.pushed(morePending: false) == .pull)
        #expect(resumed.pulled(more: false) == .finish)
    }

    @Test func sessionRetriesTransientFailuresOnly() {
        var machine = SyncStateMachine(
            retry: .init(maxAttempts: 3, baseDelay: .seconds(1), maxDelay: .seconds(10), jitter: 0))
        _ = machine.start()
        #expect(machine.failed(.hubUnreachable, random: 0) == .wait(.seconds(1)))
        #expect(machine.retryAction == .push)
        #expect(machine.failed(.hubUnreachable, random: 0) == .wait(.seconds(2)))
        #expect(machine.failed(.hubUnreachable, random: 0) == .fail(.hubUnreachable))
        var other = SyncStateMachine()
        _ = other.start()
        #expect(other.failed(.deviceRevoked, random: 0) == .fail(.deviceRevoked))
    }

    @Test func unreachableHubKeepsWritesPending() async throws {
        try await withReplica { replica, _, _ in
            try await replica.add(customer, acme("A"))
            try await replica.add(customer, acme("B"))
            let hub = ScriptedHub()
            hub.failures.withLock { $0 = Array(repeating: SyncError(.hubUnreachable, "connection refused"), count: 10) }
            var options = SyncOptions()
            options.sleep = { _ in }
            await #expect {
                try await replica.sync(transport: hub, options: options)
            } throws: { error in
                guard let error = error as? SyncError else { return false }
                return error.code == .hubUnreachable && error.pending == 2
                    && error.description.hasPrefix("hub unreachable: 2 writes kept pending")
            }
            #expect(try await replica.pendingCount() == 2)
        }
    }

    @Test func transientFailureIsRetriedAndTheSyncCompletes() async throws {
        try await withReplica { replica, _, _ in
            try await replica.add(customer, acme("A"))
            let hub = ScriptedHub()
            hub.failures.withLock { $0 = [SyncError.fromHTTP(status: 503, code: "unavailable", message: "")] }
            var page = PageBuilder(cursor: 4)
            page.record(
                customer, "00000000-0000-4000-8000-0000000000aa", acme("Hub"), dot: Dot(replica: .hub, counter: 1))
            hub.pages.withLock { $0 = [page.page] }
            let slept = Mutex<[Duration]>([])
            var options = SyncOptions()
            options.sleep = { delay in slept.withLock { $0.append(delay) } }
            let result = try await replica.sync(transport: hub, options: options)
            #expect(result.pushed == 1)
            #expect(result.pulled == 1)
            #expect(slept.withLock { $0.count } == 1)
            #expect(try await replica.pendingCount() == 0)
            #expect(try await replica.status().cursor == 4)
            #expect(try await replica.status().lastSyncMillis != nil)
        }
    }

    @Test func revokedDeviceStopsWithATypedError() async throws {
        try await withReplica { replica, _, _ in
            try await replica.add(customer, acme("A"))
            let hub = ScriptedHub()
            hub.failures.withLock { $0 = [SyncError.fromHTTP(status: 401, code: "device_revoked", message: "revoked")] }
            await #expect {
                try await replica.sync(transport: hub)
            } throws: { ($0 as? SyncError)?.code == .deviceRevoked }
            #expect(try await replica.pendingCount() == 1)
        }
    }

    @Test func forkedReplicaRenewsRestampsAndPullsFromZero() async throws {
        try await withReplica { replica, _, _ in
            var first = PageBuilder(cursor: 9)
            first.record(
                customer, "00000000-0000-4000-8000-0000000000aa", acme("Old"), dot: Dot(replica: .hub, counter: 1))
            try await replica.apply(first.page)
            try await replica.add(customer, acme("A"))
            try await replica.add(customer, acme("B"))
            let hub = ScriptedHub()
            hub.failures.withLock { $0 = [SyncError.fromHTTP(status: 409, code: "replica_forked", message: "forked")] }
            var fresh = PageBuilder(cursor: 20)
            fresh.record(
                customer, "00000000-0000-4000-8000-0000000000bb", acme("New"), dot: Dot(replica: .hub, counter: 2))
            hub.pages.withLock { $0 = [fresh.page, PageBuilder(cursor: 21).page] }
            let result = try await replica.sync(transport: hub)
            #expect(result.pushed == 2)
            let status = try await replica.status()
            #expect(status.replica == 42)
            #expect(status.pending == 0)
            #expect(status.cursor == 21)
            // The full pull started from 0 and swept what the hub no longer sends.
            #expect(hub.pullCursors.withLock { $0 }.first == 0)
            let names = try await replica.list(customer).map { $0["name"] }
            #expect(Set(names) == [.text("New"), .text("A"), .text("B")])
            // The re-issued writes carry dots of the new replica, from counter 1, in order.
            let pushed = hub.pushed.withLock { $0 }
            #expect(pushed.last?.replica == 42)
            #expect(pushed.last?.writes.map(\.dot.counter) == [1, 2])
            #expect(pushed.last?.writes.map(\.dot.replica) == [42, 42])
        }
    }

    /// docs/SYNC.md "A restored hub": the writes the restored hub lacks go back in the queue with
    /// their dots, nothing is pushed before the bootstrap, and contexts are narrowed to what the
    /// restored hub holds.
    @Test func aRestoredHubGetsBackWhatItAcknowledgedAfterItsBackup() async throws {
        try await withReplica { replica, _, _ in
            let other = ReplicaID(9)
            let known = "00000000-0000-4000-8000-0000000000aa"
            var seen = PageBuilder(cursor: 9)
            seen.record(customer, known, acme("Known"), dot: Dot(replica: other, counter: 5))
            try await replica.apply(seen.page)
            let hub = ScriptedHub()
            hub.hubEpoch.withLock { $0 = "epoch-1" }
            let created = try await replica.add(customer, acme("Created"))  // counter 1
            try await replica.set(customer, id: known, ["phone": .text("01")])  // counter 2, context {9: 5}
            _ = try await replica.sync(transport: hub)
            #expect(hub.pushed.withLock { $0 }.last?.writes.map(\.dot.counter) == [1, 2])
            try await replica.set(customer, id: created, ["city": .text("Lyon")])  // counter 3, pending

            // The hub was restored from a backup holding counter 1 of this replica and counter 3 of
            // replica 9: it refuses the push, then serves its view.
            hub.failures.withLock {
                $0 = [
                    SyncError.fromHTTP(
                        status: 409, code: "hub_restored", message: "restored",
                        details: ["hub_epoch": "epoch-2", "counter": "1"])
                ]
            }
            var restored = PageBuilder(cursor: 30)
            restored.record(
                customer, known, acme("Known"), dot: Dot(replica: other, counter: 3),
                vector: VersionVector([other: 3]))
            restored.record(
                customer, created, acme("Created"), dot: Dot(replica: ReplicaID(7), counter: 1),
                vector: VersionVector([ReplicaID(7): 1]))
            hub.pages.withLock { $0 = [restored.page, PageBuilder(cursor: 31).page] }
            let pullsBefore = hub.pullCursors.withLock { $0.count }
            _ = try await replica.sync(transport: hub)

            #expect(hub.pullCursors.withLock { $0 }.dropFirst(pullsBefore).first == 0)
            let push = try #require(hub.pushed.withLock { $0 }.last)
            #expect(push.hubEpoch == "epoch-2")
            // Counter 2 again (acknowledged, lost by the restore), then the pending counter 3.
            #expect(push.writes.map(\.dot.counter) == [2, 3])
            // Its context no longer names replica 9's writes 4 and 5, which the restored hub lacks.
            #expect(try VersionVector(try #require(push.writes.first).context) == VersionVector([other: 3]))
            #expect(try await replica.pendingCount() == 0)
            #expect(try await replica.get(customer, id: known)?.values["phone"] == .text("01"))
            #expect(try await replica.get(customer, id: created)?.values["city"] == .text("Lyon"))
        }
    }

    /// A write put back for a restored hub, then re-stamped by a renewal before it was acknowledged
    /// again, leaves its old acknowledgement: it is kept once, under the new number, so that a later
    /// restore and rejoin do not send it twice.
    @Test func aPutBackWriteRenewedBeforeItsAnswerIsKeptOnceUnderTheNewNumber() async throws {
        try await withReplica { replica, folder, _ in
            let hub = ScriptedHub()
            hub.hubEpoch.withLock { $0 = "epoch-1" }
            _ = try await replica.add(customer, acme("Acknowledged"))  // counter 1
            _ = try await replica.sync(transport: hub)
            _ = try await replica.add(customer, acme("Pending"))  // counter 2
            hub.failures.withLock {
                $0 = [
                    SyncError.fromHTTP(
                        status: 409, code: "hub_restored", message: "restored",
                        details: ["hub_epoch": "epoch-2", "counter": "0"]),
                    SyncError.fromHTTP(status: 409, code: "replica_forked", message: "forked"),
                ]
            }
            hub.hubEpoch.withLock { $0 = "epoch-2" }
            _ = try await replica.sync(transport: hub)
            let push = try #require(hub.pushed.withLock { $0 }.last)
            #expect(push.replica == 42 && push.writes.map(\.dot.counter) == [1, 2])
            let raw = try rawConnection(folder.file("replica.db"))
            defer { try? raw.close() }
            var kept: [String] = []
            try raw.query("SELECT replica, counter FROM _relais_acknowledged ORDER BY replica, counter") {
                kept.append("\($0.int64(at: 0)):\($0.int64(at: 1))")
            }
            #expect(kept == ["42:1", "42:2"])
        }
    }
}

/// A hub that answers pushes with APPLIED, serves scripted pages, and fails the first calls as told.
final class ScriptedHub: SyncTransport {
    let failures = Mutex<[SyncError]>([])
    let pages = Mutex<[Relais_V1_PullResponse]>([])
    let pushed = Mutex<[Relais_V1_PushRequest]>([])
    let pullCursors = Mutex<[UInt64]>([])
    /// The hub epoch its push answers name (empty: none).
    let hubEpoch = Mutex("")

    private func failIfScripted() throws {
        if let failure = failures.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { throw failure }
    }

    func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse {
        try failIfScripted()
        var response = Relais_V1_EnrollResponse()
        response.replica = 7
        response.token = "token-7"
        response.user = "claire"
        response.role = "rep"
        response.territories = ["north"]
        response.epoch = 1
        response.schemaVersion = 1
        return response
    }

    func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        try failIfScripted()
        pushed.withLock { $0.append(request) }
        var response = Relais_V1_PushResponse()
        response.hubEpoch = hubEpoch.withLock { $0 }
        response.results = request.writes.map { write in
            var result = Relais_V1_WriteResult()
            result.dot = write.dot
            result.status = .applied
            return result
        }
        return response
    }

    func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
        try failIfScripted()
        pullCursors.withLock { $0.append(request.cursor) }
        if let page = pages.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return page }
        var empty = Relais_V1_PullResponse()
        empty.nextCursor = request.cursor
        return empty
    }

    func renew(_ request: Relais_V1_ReplicaRenewRequest, token: String) async throws -> Relais_V1_ReplicaRenewResponse {
        try failIfScripted()
        var response = Relais_V1_ReplicaRenewResponse()
        response.replica = 42
        response.token = "token-42"
        response.epoch = 2
        return response
    }
}

/// Edits that interleave with a running sync, and schema versions.
struct SyncInterleavingTests {
    /// A hub whose pull lets the user edit while the request is in the air.
    final class EditingHub: ForwardingTransport {
        let scripted = ScriptedHub()
        var inner: any SyncTransport { scripted }
        let onPull: @Sendable () async throws -> Void
        init(onPull: @escaping @Sendable () async throws -> Void) { self.onPull = onPull }
        func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
            try await onPull()
            return try await scripted.pull(request, token: token)
        }
    }

    @Test func anEditDuringThePullIsNotHiddenByIt() async throws {
        try await withReplica { replica, folder, _ in
            let id = "00000000-0000-4000-8000-0000000000aa"
            var seed = PageBuilder(cursor: 1)
            seed.record(customer, id, acme("A"), dot: Dot(replica: .hub, counter: 1))
            try await replica.apply(seed.page)
            let path = folder.file("replica.db")
            let hub = EditingHub {
                // The user types a phone number with the sqlite3 shell while the page is in the air.
                let raw = try rawConnection(path)
                try raw.execute("UPDATE customers SET phone = 'typed' WHERE id = '\(id)'")
                try raw.close()
            }
            var page = PageBuilder(cursor: 2)
            page.record(
                customer, id, ["phone": .text("from hub"), "city": .text("Lyon")],
                dot: Dot(replica: ReplicaID(9), counter: 1),
                vector: VersionVector([.hub: 1, ReplicaID(9): 1]))
            hub.scripted.pages.withLock { $0 = [page.page] }
            let result = try await replica.sync(transport: hub)
            #expect(result.pulled == 1)
            let record = try #require(try await replica.get(customer, id: id))
            #expect(record["phone"] == .text("typed"))
            #expect(record["city"] == .text("Lyon"))
            let writes = try await replica.pendingWrites()
            #expect(writes.map(\.fields) == [["phone": .text("typed")]])
            #expect(writes.first?.context == VersionVector([.hub: 1]))
        }
    }

    @Test func schemaTooOldKeepsWritesPending() async throws {
        try await withReplica { replica, _, _ in
            try await replica.add(customer, acme())
            let hub = ScriptedHub()
            hub.failures.withLock {
                $0 = [SyncError.fromHTTP(status: 409, code: "schema_too_old", message: "hub schema 2")]
            }
            await #expect { try await replica.sync(transport: hub) } throws: {
                ($0 as? SyncError)?.code == .schemaTooOld
            }
            #expect(try await replica.pendingCount() == 1)
        }
    }

    @Test func aFileOfAnOlderSchemaIsMigratedAndANewerOneRefused() async throws {
        try await TemporaryFolder.with { folder in
            let path = folder.file("replica.db")
            let old = try Replica.open(path: path)
            let id = try await old.add(customer, acme("Kept"))
            var collections = Schema.crm.collections
            var customers = collections[0]
            customers = CollectionSchema(
                name: customers.name,
                fields: customers.fields + [FieldSchema(name: "website", type: .text, rule: .lww)],
                visibility: customers.visibility)
            collections[0] = customers
            let newer = try Schema(version: Schema.crm.version + 1, collections: collections)
            let migrated = try Replica.open(path: path, schema: newer)
            #expect(try await migrated.get(customer, id: id)?["name"] == .text("Kept"))
            try await migrated.set(customer, id: id, ["website": .text("https://kept.example")])
            #expect(try await migrated.pendingCount() == 1)
            #expect(try await migrated.status().schemaVersion == Schema.crm.version + 1)
            #expect(throws: ReplicaError.self) { try Replica.open(path: path, schema: .crm) }
        }
    }
}
