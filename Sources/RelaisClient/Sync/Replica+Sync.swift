public import Foundation
public import Logging
public import RelaisCore
public import RelaisProtocol
import RelaisSQLite

/// The counts of one sync (`relais sync --json`).
public struct SyncResult: Sendable, Hashable {
    /// Writes the hub acknowledged (applied, with or without conflict).
    public var pushed = 0
    /// Records the pull changed on this replica (its own writes are not echoed back).
    public var pulled = 0
    /// Conflict reports the hub raised on this replica's writes.
    public var conflicts = 0
    /// Writes the hub refused, and pending writes on records that left this user's visibility.
    public var rejected = 0
    /// What the check of the replica against the hub's view found (``VerificationMode``); `nil` when
    /// none ran.
    public var verification: VerificationResult?

    /// Zero counts.
    public init() {}
}

/// Where a running sync is, for a progress display.
public struct SyncProgress: Sendable, Hashable {
    /// `push`, `pull`, `bootstrap` or `renew`.
    public var phase: String
    /// Writes acknowledged so far.
    public var pushed: Int
    /// Writes that were pending when the session started, plus those stamped since.
    public var pushTotal: Int
    /// Pages received so far (a sync applies consecutive pages together: docs/SYNC.md).
    public var pages: Int
    /// Record versions and revocations received so far.
    public var received: Int
    /// Records the applied pages changed so far.
    public var pulled: Int
    /// The cursor reached: the last received page's (stored once its pages are applied).
    public var cursor: UInt64
    /// The hub's highest sequence at the last page (0 before the first): with ``cursor``, how far to go.
    public var head: UInt64
}

/// How a sync session runs.
public struct SyncOptions: Sendable {
    /// Writes per push batch (the hub accepts at most 1,000).
    public var batchSize = 500
    /// Records per pull page asked for (0: the hub's default).
    public var pageSize: UInt32 = 1000
    /// During a whole pull (from cursor 0), records received after which the pages held are applied,
    /// in one transaction with the last page's cursor, while the next page is fetched. Other pulls
    /// apply each page while the next is fetched. A page holding a tombstone or a revocation, and the
    /// last page, are applied at once (before any other request) whatever the count. 1 applies every
    /// page in its own transaction.
    public var applyBatchRecords = 25_000
    /// Retries of transient failures.
    public var retry = RetryStateMachine.Configuration()
    /// Called after every push batch and every applied batch of pull pages.
    public var progress: (@Sendable (SyncProgress) -> Void)?
    /// How to wait between retries (injectable for tests).
    public var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    /// A random number in `0..<1` for the jitter.
    public var random: @Sendable () -> Double = { Double.random(in: 0..<1) }
    /// Whether a bootstrap first asks the hub for a snapshot of the user's view (docs/SYNC.md
    /// "Snapshot bootstrap"); false bootstraps by pages only.
    public var snapshots = true
    /// When the sync checks the replica against the hub's view (Protocol/README.md section 14).
    public var verification = VerificationMode.everySync

    /// The defaults: 500 writes per push, 1,000 records per page, five attempts.
    public init() {}
}

extension Replica {
    /// Enrolls a new device: exchanges the one-time `code` for a replica number and a token, then
    /// creates the replica file at `path` with that identity.
    ///
    /// `security` (the firm's CA, whether plain HTTP off loopback is accepted) is checked before the
    /// code is sent and kept in the file for every later sync.
    ///
    /// An answer lost on the way back (or a hub out of reach) is asked for again, a few times, with
    /// the same attempt (``sendEnrollment(_:transport:)``): the hub then answers the enrollment that
    /// used the code, instead of refusing a used code.
    ///
    /// - Throws: ``SyncError`` (`authenticationRefused` for a bad code, `hubUnreachable`,
    ///   `insecureHub`), or ``ReplicaError/Code/alreadyExists`` when `path` already holds an enrolled
    ///   replica.
    public static func enroll(
        hub: String, code: String, path: String, deviceName: String = ProcessInfo.processInfo.hostName,
        transport: (any SyncTransport)? = nil, security: HubSecurity = HubSecurity(), schema: Schema = .crm,
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "relais.replica")
    ) async throws -> Replica {
        if FileManager.default.fileExists(atPath: path) {
            let existing = try Replica.open(
                path: path, schema: schema, create: false, configuration: configuration, logger: logger)
            if try await existing.identity() != nil {
                throw ReplicaError(.alreadyExists, "\(path) already holds an enrolled replica")
            }
        }
        let transport = try transport ?? HTTPSyncTransport(hub: hub, security: security)
        var request = Relais_V1_EnrollRequest()
        request.code = code
        request.deviceName = deviceName
        request.schemaVersion = UInt32(schema.version)
        let response = try await sendEnrollment(request, transport: transport)
        let replica = try Replica.open(path: path, schema: schema, configuration: configuration, logger: logger)
        try await replica.setIdentity(
            Identity(
                hub: hub, replica: response.replica, epoch: response.epoch, token: response.token, user: response.user,
                role: response.role, territories: response.territories))
        try await replica.setHubSecurity(security)
        try await replica.rememberHubEpoch(response.hubEpoch)
        try await replica.withStore { store in
            try store.write {
                try store.setTokenTimes(expiresAt: response.tokenExpiresAt, rotateAt: response.tokenRotateAt)
            }
        }
        logger.debug(
            "enrolled", metadata: ["relais.replica": "\(response.replica)", "relais.user": "\(response.user)"])
        if Int(response.schemaVersion) > replica.schema.version {
            // The hub runs a newer schema: take it now. Should that fail, the first sync asks again.
            do {
                try await replica.migrateSchema(transport: transport, token: response.token)
            } catch {
                logger.notice(
                    "enrolled; the hub's schema is taken at the first sync", metadata: ["relais.error": "\(error)"])
            }
        }
        return replica
    }

    /// How an enrollment is asked for again after a transient failure: three tries in all, up to
    /// 0.5 s then up to 1 s apart (or the hub's `Retry-After`).
    static let enrollmentRetry = RetryStateMachine.Configuration(maxAttempts: 3)

    /// Sends `request` with a fresh `attempt` (32 random bytes, in hex), and sends it again with the
    /// same attempt after a transient failure (``SyncError/isTransient``): when the hub used the code
    /// and its answer was lost, the same code and attempt get the same answer again (Protocol/README.md
    /// section 8.1).
    static func sendEnrollment(_ request: Relais_V1_EnrollRequest, transport: any SyncTransport) async throws
        -> Relais_V1_EnrollResponse
    {
        var request = request
        let digits = Array("0123456789abcdef".utf8)
        var generator = SystemRandomNumberGenerator()
        var attempt: [UInt8] = []
        for _ in 0..<32 {
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            attempt += [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]]
        }
        request.attempt = String(decoding: attempt, as: UTF8.self)
        var retry = RetryStateMachine(configuration: enrollmentRetry)
        while true {
            do {
                return try await transport.enroll(request)
            } catch let error as SyncError where error.isTransient {
                switch retry.failed(random: Double.random(in: 0..<1), retryAfter: error.retryAfter) {
                case .retry(let delay): try await Task.sleep(for: delay)
                case .giveUp: throw error
                }
            }
        }
    }

    /// Syncs with the hub: pushes every pending write in batches, then pulls every page
    /// (docs/SYNC.md). Edits made while it runs are safe: they are stamped and pushed by this sync or
    /// the next.
    ///
    /// - Throws: ``SyncError``. On ``SyncError/Code/hubUnreachable`` the writes stay pending and
    ///   ``SyncError/pending`` says how many.
    public func sync(transport: (any SyncTransport)? = nil, options: SyncOptions = SyncOptions()) async throws
        -> SyncResult
    {
        guard let identity = try identity() else {
            throw SyncError(.notEnrolled, "this replica is not enrolled: run `relais enroll`")
        }
        guard !identity.token.isEmpty else {
            var error = SyncError(
                .authenticationRefused,
                "this replica file has no device token beside it (\(store.tokenFile.path) is missing: a copied or "
                    + "restored file?); its writes are kept. Ask the office for a new enrollment code and run "
                    + "`relais enroll --rejoin --code CODE --db \(path)`")
            error.pending = try pendingCount()
            throw error
        }
        let transport = try transport ?? HTTPSyncTransport(hub: identity.hub, security: try hubSecurity())
        var token = try await rotateTokenIfDue(transport: transport, token: identity.token)
        var machine = SyncStateMachine(retry: options.retry)
        var result = SyncResult()
        var progress = SyncProgress(
            phase: "push", pushed: 0, pushTotal: try pendingCount(), pages: 0, received: 0, pulled: 0,
            cursor: try store.cursor, head: 0)
        var action = machine.start(catchingUpWithRestore: try store.hubRestorePending)
        var batch: [PendingWrite] = []
        var received = PullBatch(recordLimit: options.applyBatchRecords)
        // A bootstrap asks for a snapshot first (``snapshotIfBootstrapping(_:pagesHeld:transport:token:)``).
        var trySnapshot = options.snapshots
        // The digest of the user's view on the last page of the last pull, while no push changed it.
        var hubDigest: DigestSum?
        // The hub's schema is fetched at most once per session (answered `schema_too_old`).
        var migratedSchema = false

        // A snapshot taken before the first push: the pull after the pushes is its bootstrap's.
        var bootstrapping = false

        /// Counts a snapshot taken as the start of the bootstrap.
        func tookSnapshot(_ info: ReplicaStore.SnapshotInfo?) {
            guard let info else { return }
            bootstrapping = true
            progress.phase = "bootstrap"
            result.pulled += info.changed
            progress.pulled += info.changed
            progress.cursor = info.cursor
            progress.head = max(progress.head, info.cursor)
            options.progress?(progress)
        }

        /// Applies the pages held, with the cursor of the last, in one transaction.
        func applyReceived() throws {
            let pages = received.take()
            guard !pages.isEmpty else { return }
            let outcome = try store.applyPages(pages)
            result.pulled += outcome.changed
            result.rejected += outcome.rejected
            progress.pulled += outcome.changed
            options.progress?(progress)
        }

        while true {
            do {
                switch action {
                case .push:
                    if batch.isEmpty {
                        // A laptop at cursor 0 takes the snapshot before its first push: one pushed
                        // first makes the view's snapshot stale, and the first laptop of a view would
                        // wait for the hub to build one holding the records it has just sent. Its
                        // writes come back in the pull after the snapshot. The request names the
                        // lowest pending counter: a hub holding a write at or above it (a copy of this
                        // file sent it) refuses, and pages follow the push (docs/SYNC.md "Snapshot
                        // bootstrap").
                        tookSnapshot(
                            try await snapshotIfBootstrapping(
                                &trySnapshot, pagesHeld: !received.isEmpty, transport: transport, token: token))
                        batch = try store.write {
                            // After a restored hub's bootstrap: contexts narrowed to what it holds.
                            try store.finishHubRestore()
                            guard try !store.hubRestorePending else { return [] }
                            return try store.nextBatch(limit: options.batchSize)
                        }
                    }
                    progress.phase = "push"
                    if batch.isEmpty {
                        action = machine.pushed(morePending: false)
                        continue
                    }
                    let request = try store.pushRequest(batch)
                    let response = try await transport.push(request, token: token)
                    let sent = batch
                    let outcome = try store.syncWrite { try store.applyPushResults(sent, response) }
                    batch = []
                    if outcome.acknowledged > 0 { hubDigest = nil }
                    guard outcome.acknowledged + outcome.rejected > 0 else {
                        throw SyncError(.protocolFailure, "the hub answered a push without a result for its writes")
                    }
                    result.pushed += outcome.acknowledged
                    result.rejected += outcome.rejected
                    result.conflicts += outcome.conflicts
                    progress.pushed += outcome.acknowledged + outcome.rejected
                    let remaining = try store.syncWrite {
                        Int(try store.db.scalar("SELECT count(*) FROM _relais_pending")?.int64Value ?? 0)
                    }
                    progress.pushTotal = max(progress.pushTotal, progress.pushed + remaining)
                    options.progress?(progress)
                    action = machine.pushed(morePending: remaining > 0)

                case .pull:
                    if progress.phase != "bootstrap" { progress.phase = bootstrapping ? "bootstrap" : "pull" }
                    tookSnapshot(
                        try await snapshotIfBootstrapping(
                            &trySnapshot, pagesHeld: !received.isEmpty, transport: transport, token: token))
                    var request = Relais_V1_PullRequest()
                    request.cursor = try received.cursor ?? store.cursor
                    // The stored start: pages held and not yet applied all have `more` set.
                    if let since = try store.pullSince { request.since = since }
                    request.pageSize = options.pageSize
                    request.counter = try store.storedCounter
                    request.schemaVersion = UInt32(schema.version)
                    request.hubEpoch = try store.hubEpoch
                    request.echoOwnWrites = try store.echoOwnWrites
                    // A write's dot and time once per record, not once per field it set.
                    request.compactDots = true
                    if let report = try pendingVerificationReport() { request.verification = report }
                    // The pages held are stored while the hub answers: during a whole pull (a bootstrap
                    // by pages) once the batch is full, during any other pull page by page.
                    let wholePull = !request.hasSince || request.since == 0
                    let page: Relais_V1_PullResponse
                    if received.canApplyDuringNextRequest, received.isFull || !wholePull {
                        let (sent, bearer) = (request, token)
                        async let next = transport.pull(sent, token: bearer)
                        try applyReceived()
                        page = try await next
                    } else {
                        page = try await transport.pull(request, token: token)
                    }
                    // A pull answered `bootstrap_required` records nothing: the report goes with the next.
                    if request.hasVerification, !page.bootstrapRequired { try reportDelivered() }
                    if try store.hubEpoch.isEmpty, !page.hubEpoch.isEmpty {
                        try store.syncWrite { try store.rememberHubEpoch(page.hubEpoch) }
                    }
                    if page.rotateToken, try !store.tokenRotationDue {
                        // Rotated once this sync is done (or at the start of the next one).
                        try store.syncWrite { try store.setTokenRotationDue(true) }
                    }
                    if page.bootstrapRequired {
                        try applyReceived()
                        action = machine.pulled(more: false, bootstrapRequired: true)
                        continue
                    }
                    hubDigest = !page.more && page.hasViewDigest ? DigestSum(page.viewDigest) : nil
                    progress.pages += 1
                    progress.received += page.records.count + page.revocations.count
                    progress.cursor = page.nextCursor
                    progress.head = max(page.head, page.nextCursor)
                    // Stored now only when it cannot wait for the next request: the pull is over, or a
                    // page must be in the file before the next request acknowledges it.
                    if received.add(page), !received.canApplyDuringNextRequest {
                        try applyReceived()
                    } else {
                        options.progress?(progress)
                    }
                    action = machine.pulled(more: page.more)

                case .beginBootstrap:
                    progress.phase = "bootstrap"
                    try applyReceived()
                    try store.syncWrite { try store.beginBootstrap() }
                    store.logger.debug("pull: the hub asked for a bootstrap; pulling everything again")
                    action = machine.bootstrapStarted()

                case .renew:
                    progress.phase = "renew"
                    // The renewed replica pulls everything again from cursor 0.
                    _ = received.take()
                    var request = Relais_V1_ReplicaRenewRequest()
                    request.reason = "replica_forked"
                    request.counter = try store.storedCounter
                    let response = try await transport.renew(request, token: token)
                    try store.write {
                        try store.renew(
                            replica: response.replica, epoch: response.epoch, token: response.token,
                            hubEpoch: response.hubEpoch)
                        try store.setTokenTimes(expiresAt: response.tokenExpiresAt, rotateAt: response.tokenRotateAt)
                    }
                    token = response.token
                    batch = []
                    store.logger.debug(
                        "sync: the hub found this replica forked; renewed it and re-stamped its pending writes",
                        metadata: ["relais.replica": "\(response.replica)"])
                    action = machine.renewed()

                case .wait(let delay):
                    try await options.sleep(delay)
                    action = machine.retryAction

                case .finish:
                    try applyReceived()
                    try await refetchRecordsKeptBySnapshot(transport: transport, token: token)
                    try store.syncWrite {
                        try store.setState("last_sync", .integer(Int64(store.wallMillis())))
                    }
                    token = try await rotateTokenIfDue(transport: transport, token: token)
                    result.verification = try await verifyAfterSync(
                        options.verification, hubDigest: hubDigest, transport: transport, token: token)
                    return result

                case .fail(let kind):
                    var error = SyncError(kind, "sync stopped: \(kind)")
                    error.pending = try pendingCount()
                    throw error
                }
            } catch let error as ReplicaError where error.code == .storageFull {
                // The pulled page (or the bookkeeping of a push) could not be saved: nothing of it was
                // written, the cursor did not move, and every pending write is still pending.
                var failure = SyncError(
                    .storageFull, "storage full: the changes from the hub could not be saved; pending writes are kept")
                failure.pending = try pendingCount()
                throw failure
            } catch let error as SyncError {
                if error.code == .wipeRequested {
                    // The office had this laptop wiped: push what it holds, report, erase.
                    try await wipe(transport: transport, token: token, pushed: result.pushed, rejected: result.rejected)
                }
                if error.code == .deviceWiped {
                    // The wipe was reported, and the erasing did not finish: finish it.
                    try eraseFiles()
                    throw error
                }
                if error.code == .hubRestored, !machine.isDone,
                    let hubEpoch = error.details["hub_epoch"], !hubEpoch.isEmpty,
                    let counter = error.details["counter"].flatMap(UInt64.init)
                {
                    // Pages received under the old epoch are pulled again by the bootstrap.
                    _ = received.take()
                    batch = []
                    let restored = try store.write { try store.beginHubRestore(hubEpoch: hubEpoch, counter: counter) }
                    store.logger.notice(
                        "sync: the hub was restored from a backup; pushing again what it lacks",
                        metadata: ["relais.restored_writes": "\(restored)", "relais.hub_counter": "\(counter)"])
                    progress.phase = "bootstrap"
                    action = machine.hubRestored()
                    if case .fail = action {
                        var failure = error
                        failure.pending = try pendingCount()
                        throw failure
                    }
                    continue
                }
                if error.code == .authenticationRefused, let theirs = error.details["hub_epoch"], !theirs.isEmpty,
                    let ours = try? store.hubEpoch, !ours.isEmpty, theirs != ours
                {
                    // A hub restored from a backup taken before this laptop enrolled (or renewed) does
                    // not know its token: say so, not only "refused".
                    var failure = SyncError(
                        .authenticationRefused,
                        "the hub was restored from a backup taken before this laptop enrolled, and no longer "
                            + "knows it; everything this laptop wrote is kept in its file. Ask the office for a "
                            + "new enrollment code and run `relais enroll --rejoin --code CODE --db FILE`, which "
                            + "sends those writes again (\(error.message))",
                        httpStatus: error.httpStatus, hubCode: error.hubCode, details: error.details)
                    failure.pending = try pendingCount()
                    throw failure
                }
                if error.code == .schemaTooOld, !migratedSchema {
                    // The office applied a newer schema: take it, and ask again (docs/CRM.md).
                    migratedSchema = true
                    do {
                        try await migrateSchema(transport: transport, token: token)
                    } catch let failure {
                        var refused = SyncError(
                            .schemaTooOld,
                            "\(error.message); the hub's schema could not be taken (writes stay pending): \(failure)",
                            httpStatus: error.httpStatus, hubCode: error.hubCode, details: error.details)
                        refused.pending = try pendingCount()
                        throw refused
                    }
                    trySnapshot = options.snapshots
                    continue
                }
                if error.code == .replicaForked, !machine.isDone {
                    let next = machine.forked()
                    if case .fail = next {
                        var failure = error
                        failure.pending = try pendingCount()
                        throw failure
                    }
                    action = next
                    continue
                }
                let next = machine.failed(error.code, random: options.random(), retryAfter: error.retryAfter)
                if case .fail = next {
                    var failure = error
                    failure.pending = try pendingCount()
                    throw failure
                }
                store.logger.debug("sync: transient failure, retrying", metadata: ["relais.error": "\(error.message)"])
                action = next
            }
        }
    }
}

extension Replica {
    /// Fetches the data schema the hub runs (`GET /v1/schema`) and migrates the file to it in place
    /// (``ReplicaStore/adopt(_:)``): new tables and columns, new capture triggers; pending writes stay.
    ///
    /// - Returns: the changes made.
    /// - Throws: ``SyncError`` when it cannot be fetched or read, ``ReplicaError/Code/invalid`` when it
    ///   cannot replace the file's schema in place.
    @discardableResult
    func migrateSchema(transport: any SyncTransport, token: String) async throws -> [SchemaChange] {
        let text = try await transport.schema(token: token)
        let definition: SchemaDefinition
        do {
            definition = try SchemaDefinition(text: text)
        } catch {
            throw SyncError(.protocolFailure, "the hub's schema is unreadable: \(error)")
        }
        return try adopt(definition)
    }
}

extension Replica {
    /// The check that ends a sync (``VerificationMode``): skipped while writes are in flight (the hub
    /// may hold them, unacknowledged) and, except for a full check, without the hub's digest or when
    /// the check itself fails.
    private func verifyAfterSync(
        _ mode: VerificationMode, hubDigest: DigestSum?, transport: any SyncTransport, token: String
    ) async throws -> VerificationResult? {
        switch mode {
        case .off: return nil
        case .full:
            return try await verifyView(transport: transport, token: token, hubDigest: hubDigest, full: true)
        case .everySync:
            guard let hubDigest, try !store.hasWritesInFlight else { return nil }
            do {
                return try await verifyView(transport: transport, token: token, hubDigest: hubDigest, full: false)
            } catch {
                store.logger.notice("verify: skipped, the check did not finish", metadata: ["relais.error": "\(error)"])
                return nil
            }
        }
    }

    /// At cursor 0, once per session (`trySnapshot`), takes the view's snapshot as the start of the
    /// bootstrap; a cut download leaves `trySnapshot` set, for the retry to continue it. Not with
    /// pages held, nor with a write sent and not answered (a cursor-0 page carries the tombstone of a
    /// record it wrote, bug 3; a snapshot does not), nor while catching up with a restored hub, which
    /// may lack dots this laptop holds (docs/SYNC.md "Snapshot bootstrap"). Any other failure leaves
    /// the bootstrap to pages.
    private func snapshotIfBootstrapping(
        _ trySnapshot: inout Bool, pagesHeld: Bool, transport: any SyncTransport, token: String
    ) async throws -> ReplicaStore.SnapshotInfo? {
        guard trySnapshot, !pagesHeld, try store.cursor == 0, try !store.hasWritesInFlight,
            try !store.hubRestorePending
        else { return nil }
        trySnapshot = false
        do {
            return try await takeSnapshot(transport: transport, token: token)
        } catch let error as SyncError where error.code == .hubUnreachable {
            // Cut: the retry continues the download where it stopped.
            trySnapshot = true
            throw error
        } catch {
            // Whatever else stops the snapshot, pages bring the same records (and a hub that refuses
            // this device says so to the pull as well).
            SnapshotFolder(replica: path).remove()
            store.logger.notice(
                "sync: no snapshot taken, bootstrapping by pages", metadata: ["relais.error": "\(error)"])
            return nil
        }
    }

    /// Downloads the snapshot of this device's view (continuing a cut download), inflates it beside
    /// the replica file and applies it (docs/SYNC.md "Snapshot bootstrap"). Nil when the hub has none.
    private func takeSnapshot(transport: any SyncTransport, token: String) async throws
        -> ReplicaStore.SnapshotInfo?
    {
        let folder = SnapshotFolder(replica: path)
        let request = SnapshotRequest(
            schemaVersion: UInt32(schema.version), hubEpoch: try store.hubEpoch,
            unsentFrom: try store.lowestPendingCounter)
        guard let download = try await transport.snapshot(request, token: token, folder: folder.path) else {
            folder.remove()
            return nil
        }
        defer { folder.remove() }
        let ceiling = store.configuration.maxFileBytes ?? Int64.max
        guard download.inflatedBytes <= ceiling else {
            throw ReplicaError(
                .storageFull, "the snapshot (\(download.inflatedBytes) bytes) exceeds this replica's size ceiling")
        }
        let file = try folder.inflate(download.path, digest: download.digest, maxBytes: download.inflatedBytes)
        let info = try store.applySnapshot(at: file, expectedCursor: download.cursor)
        store.logger.debug(
            "sync: bootstrapped from a snapshot",
            metadata: ["relais.cursor": "\(info.cursor)", "relais.snapshot_bytes": "\(download.receivedBytes)"])
        return info
    }

    /// Applies one pull page and stores its cursor in one transaction, as ``sync(transport:options:)``
    /// does. Not API: for crash tests and tools that carry pages by other means.
    ///
    /// - Returns: the number of records and revocations applied.
    @discardableResult
    public func _applyPullPage(_ page: Relais_V1_PullResponse) throws -> Int {
        try store.applyPages([page]).changed
    }

    /// Applies pages as a sync receiving them in this order would: several consecutive pages per
    /// transaction, up to `batchRecords` records, a page with a tombstone or a revocation and the last
    /// page ending a transaction. Not API: for benchmarks and tools that carry pages by other means.
    ///
    /// - Returns: the number of records and revocations applied.
    @discardableResult
    public func _applyPullPages(_ pages: [Relais_V1_PullResponse], batchRecords: Int = SyncOptions().applyBatchRecords)
        throws -> Int
    {
        var batch = PullBatch(recordLimit: batchRecords)
        var changed = 0
        for (i, page) in pages.enumerated() where batch.add(page) || i == pages.count - 1 {
            changed += try store.applyPages(batch.take()).changed
        }
        return changed
    }
}
