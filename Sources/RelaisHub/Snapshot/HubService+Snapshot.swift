import Crypto
import Foundation
import RelaisClient
import RelaisCore
import RelaisProtocol
import SwiftProtobuf

extension HubService {
    /// The snapshot to serve to `principal`'s device (docs/SYNC.md "Snapshot bootstrap"), built if
    /// none of its view is usable.
    ///
    /// Serving it records, as a pull from cursor 0 would, the scope version the device bootstraps
    /// under and the snapshot's cursor as its acknowledged cursor: the pull that follows starts
    /// there.
    ///
    /// - Throws: ``HubError/snapshotUnavailable`` when this hub keeps no snapshots, the view holds
    ///   no record (its pages cost nothing, and a snapshot of nothing would be served to the view's
    ///   next laptops until it went stale), or the file is missing twice in a row; the errors of a
    ///   pull (revoked device, renewed replica, schema, restored hub) otherwise.
    ///
    /// `unsentFrom`, the lowest counter among the device's pending writes: when the hub holds a write
    /// of this replica at or above it (a copy of the laptop's file pushed it), the snapshot would hold
    /// what the laptop then replays, and folding the replay's answers would lay it over later changes;
    /// the hub answers ``HubError/snapshotUnavailable`` and the laptop pushes first. Checked again when
    /// the snapshot is served, after it was built.
    public func snapshot(
        for principal: Principal, schemaVersion: UInt32, hubEpoch: String, unsentFrom: UInt64? = nil
    ) async throws -> HubSnapshot {
        guard let cache = snapshots else { throw HubError.snapshotUnavailable }
        guard let replica = principal.replica else {
            throw HubError.forbidden.with("An admin API token cannot take a snapshot; enroll a device.")
        }
        if principal.renewed { throw HubError.replicaForked }
        // A device marked for wipe is served nothing more; it pushes, reports and erases.
        if principal.wipeRequested { throw HubError.wipeRequested }
        try await checkSchemaVersion(schemaVersion)
        _ = try await checkHubEpoch(hubEpoch, replica: replica)
        let (user, meta) = try await store.read { tx -> (HubUser, HubMeta) in
            guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
            guard device.revokedAt == nil else { throw HubError.deviceRevoked }
            guard device.renewedTo == nil else { throw HubError.replicaForked }
            try Self.checkUnsent(unsentFrom, device: device)
            guard let user = try await tx.user(named: device.user) else { throw HubError.unauthorized }
            return (user, try await tx.meta())
        }
        let view = SnapshotView(
            access: Access(role: user.role, territories: Set(user.territories)), schemaVersion: schema.version)
        // The file may be missing from the folder (something cleaned it; a replaced file stays a
        // minute): the cache forgets it and picks, or builds, once more. Looked for before the
        // device is acknowledged and the metric counts it, so that only a snapshot served counts.
        var snapshot: HubSnapshot
        var attempts = 0
        while true {
            attempts += 1
            snapshot = try await cache.snapshot(for: view, head: meta.head, horizon: meta.purgedUpTo) {
                [self] view in try await self.buildSnapshot(view, folder: cache.folder)
            }
            guard snapshot.records > 0 else {
                throw HubError.snapshotUnavailable.with("This view holds no record yet; pull pages from cursor 0.")
            }
            if FileManager.default.fileExists(atPath: snapshot.path) { break }
            await cache.forget(snapshot)
            guard attempts < 2 else {
                throw HubError.snapshotUnavailable.with(
                    "The snapshot file is missing from the hub's folder; ask again, or pull pages from cursor 0.")
            }
        }
        try await acknowledgeSnapshot(
            snapshot, replica: replica, scopeVersion: user.scopeVersion, unsentFrom: unsentFrom)
        metrics.recordSnapshotServed()
        return snapshot
    }

    /// Records that `replica` takes `snapshot`, in the transaction that decides it is served: the
    /// device is checked again there, as a pull checks it in the transaction that reads its page. A
    /// build takes seconds on a large view, and a device revoked, marked for wipe or renewed (or a
    /// user disabled) meanwhile is served nothing; nor is a device a copy of whose file pushed
    /// meanwhile.
    func acknowledgeSnapshot(_ snapshot: HubSnapshot, replica: ReplicaID, scopeVersion: Int64, unsentFrom: UInt64?)
        async throws
    {
        let now = self.now()
        try await store.write { tx in
            guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
            _ = try await self.deviceUser(device, tx)
            guard device.renewedTo == nil else { throw HubError.replicaForked }
            guard device.wipeRequestedAt == nil else { throw HubError.wipeRequested }
            try Self.checkUnsent(unsentFrom, device: device)
            try await tx.acknowledgePull(
                replica: replica, cursor: snapshot.cursor, scopeVersion: scopeVersion, seenAt: now)
        }
    }

    /// Refuses a snapshot to a device whose writes from counter `unsentFrom` on already reached the hub.
    private static func checkUnsent(_ unsentFrom: UInt64?, device: Device) throws {
        guard let unsentFrom, device.highestCounter >= unsentFrom else { return }
        throw HubError.snapshotUnavailable.with(
            "This replica's writes from counter \(unsentFrom) on already reached the hub (from a copy of its "
                + "file?): push them, then pull pages from cursor 0.")
    }

    /// The snapshots ready to serve now.
    public func readySnapshots() async -> [HubSnapshot] {
        await snapshots?.snapshots ?? []
    }

    /// Builds a snapshot of `view` in `folder`: the pages a device of that view pulling from cursor
    /// 0 receives, applied by the laptop's own code into a new replica file, then compressed.
    ///
    /// A purge that removes, while it runs, a tombstone or a move newer than its first page (the
    /// delete or the move of a record it may hold, not read yet: ``HubMeta/purgedUpTo`` passes the
    /// head it started at) makes it start again from 0.
    func buildSnapshot(_ view: SnapshotView, folder: String) async throws -> HubSnapshot {
        while true {
            if let snapshot = try await buildSnapshotOnce(view, folder: folder) { return snapshot }
        }
    }

    /// ``buildSnapshot(_:folder:)`` once; `nil` when a purge overtook it.
    private func buildSnapshotOnce(_ view: SnapshotView, folder: String) async throws -> HubSnapshot? {
        let started = now()
        let building = folder + "/building-\(UUID().uuidString)"
        defer {
            for suffix in ["", "-journal", "-wal", "-shm", ".z"] {
                try? FileManager.default.removeItem(atPath: building + suffix)
            }
        }
        var cursor: UInt64 = 0
        var records = 0
        do {
            let writer = try SnapshotWriter(path: building, schema: schema, logger: logger)
            var more = true
            // The head when the first page was read: what changed after it may be in the next pages only.
            var startHead: UInt64?
            while more {
                guard let page = try await snapshotPage(after: cursor, view: view, startHead: startHead) else {
                    return nil
                }
                startHead = startHead ?? page.head
                try writer.add(page)
                cursor = page.nextCursor
                more = page.more
            }
            try writer.finish()
            records = writer.received
        }
        let inflated = (try FileManager.default.attributesOfItem(atPath: building)[.size] as? NSNumber)?.int64Value ?? 0
        let (digest, bytes) = try Self.deflate(building, to: building + ".z")
        let path = folder + "/\(view.key)-\(cursor)-\(digest.prefix(12)).snapshot"
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: building + ".z", toPath: path)
        metrics.recordSnapshotBuilt(seconds: Double(now() &- started) / 1000)
        return HubSnapshot(
            view: view, path: path, cursor: cursor, digest: digest, bytes: bytes, inflatedBytes: inflated,
            records: records, builtAt: now())
    }

    /// One page of a snapshot's pull: what a device of `view` pulling from cursor 0 receives; `nil`
    /// when a purge removed a tombstone or a move after `startHead`, the head at the first page.
    private func snapshotPage(after cursor: UInt64, view: SnapshotView, startHead: UInt64?) async throws
        -> Relais_V1_PullResponse?
    {
        let access = view.access
        let user = HubUser(
            name: "", role: access.role, territories: Array(access.territories), createdAt: 0)
        let size = configuration.limits.pageSize(requested: 0)
        let page = try await store.read { tx -> [UInt8]? in
            let meta = try await tx.meta()
            if let startHead, meta.purgedUpTo > startHead { return nil }
            // The hub's number, which no device has, and counter 0: nothing is anyone's own write.
            return try await self.page(
                after: cursor, since: 0, size: size, user: user, replica: .hub, counter: 0, head: meta.head,
                tx: tx
            ).bytes
        }
        return try page.map { try Relais_V1_PullResponse(serializedBytes: $0) }
    }

    /// Compresses `source` into `target` with zlib, returning the SHA-256 (hex) and size of the result.
    private static func deflate(_ source: String, to target: String) throws -> (digest: String, bytes: Int64) {
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw HubError.internal.with("Cannot read the snapshot being built.")
        }
        defer { try? input.close() }
        guard FileManager.default.createFile(atPath: target, contents: nil, attributes: [.posixPermissions: 0o600]),
            let output = FileHandle(forWritingAtPath: target)
        else { throw HubError.internal.with("Cannot write the snapshot being built.") }
        defer { try? output.close() }
        let deflater = try Deflater(encoding: .deflate)
        var hash = SHA256()
        var bytes: Int64 = 0
        func emit(_ chunk: [UInt8]) throws {
            guard !chunk.isEmpty else { return }
            hash.update(data: chunk)
            bytes += Int64(chunk.count)
            try output.write(contentsOf: chunk)
        }
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            try emit(try deflater.update(chunk))
        }
        try emit(try deflater.finish())
        return (hash.finalize().map { String(format: "%02x", $0) }.joined(), bytes)
    }
}
