import Foundation
import Logging

/// The snapshots a hub serves (docs/SYNC.md "Snapshot bootstrap"), one per view, kept as files in
/// one folder and built on demand.
///
/// - A request for a view with no usable snapshot builds one and waits for it (requests for the
///   same view share the build): it costs the hub what one bootstrap by pages would, and every
///   later laptop of that view gets the file.
/// - A snapshot is usable while its cursor is at or after every tombstone and move purged
///   (``HubMeta/purgedUpTo``: a laptop pulls after it) and it was built for the hub's schema version
///   (part of its view).
/// - A usable snapshot more than ``staleAfterChanges`` behind the head is still served, and a new
///   one is built in the background to replace it.
/// - A snapshot of a view with no record is not kept (the request is answered `snapshot_unavailable`).
/// - A snapshot a purge passed is no longer served: its view's next laptop waits for a new one, as
///   for a view with none. (Not rebuilt in the background: ``HubMeta/purgedUpTo`` is one value for
///   the hub and rises at most purges, which would rebuild every view's snapshot, used or not.)
///
/// The folder is the hub's own: files left by an earlier run are removed at start.
actor SnapshotCache {
    /// Builds a snapshot of a view.
    typealias Builder = @Sendable (SnapshotView) async throws -> HubSnapshot

    let folder: String
    let staleAfterChanges: UInt64
    private let logger: Logger
    private var ready: [SnapshotView: HubSnapshot] = [:]
    private var building: [SnapshotView: Task<HubSnapshot, any Error>] = [:]

    init(folder: String, staleAfterChanges: UInt64, logger: Logger) throws {
        self.folder = folder
        self.staleAfterChanges = staleAfterChanges
        self.logger = logger
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in try FileManager.default.contentsOfDirectory(atPath: folder)
        where name.hasSuffix(".snapshot") || name.hasPrefix("building-") {
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }

    /// The snapshot to serve for `view` when the store's head is `head` and every tombstone and move
    /// up to `horizon` may be purged (``HubMeta/purgedUpTo``).
    func snapshot(for view: SnapshotView, head: UInt64, horizon: UInt64, build: @escaping Builder) async throws
        -> HubSnapshot
    {
        if let current = ready[view], current.cursor >= horizon {
            if head > current.cursor, head - current.cursor > staleAfterChanges, building[view] == nil {
                _ = start(view, build)
            }
            return current
        }
        let task = building[view] ?? start(view, build)
        return try await task.value
    }

    /// The snapshots ready now.
    var snapshots: [HubSnapshot] { Array(ready.values) }

    /// How long a replaced snapshot's file stays in the folder.
    static let replacedFileKept: Duration = .seconds(60)

    /// Removes a replaced snapshot's file, unless a snapshot served now has the same path (a view
    /// built again to the same cursor and content).
    private func removeUnlessServed(_ path: String) {
        guard !ready.values.contains(where: { $0.path == path }) else { return }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Forgets `snapshot`, whose file is missing from the folder: the next request for its view gets
    /// a newer one, or builds one.
    func forget(_ snapshot: HubSnapshot) {
        for (view, current) in ready where current.path == snapshot.path { ready[view] = nil }
    }

    private func start(_ view: SnapshotView, _ build: @escaping Builder) -> Task<HubSnapshot, any Error> {
        let task = Task { try await build(view) }
        building[view] = task
        Task { await self.settle(view, task) }
        return task
    }

    private func settle(_ view: SnapshotView, _ task: Task<HubSnapshot, any Error>) async {
        let result = await task.result
        building[view] = nil
        switch result {
        case .success(let snapshot) where snapshot.records == 0:
            // Not kept: a view with no record is bootstrapped by pages
            // (``HubService/snapshot(for:schemaVersion:hubEpoch:unsentFrom:)``).
            try? FileManager.default.removeItem(atPath: snapshot.path)
        case .success(let snapshot):
            // A download of the old file in progress keeps reading it (it stays open); its laptop
            // continues on the new one from the start. The file goes a minute later: a download that
            // has picked it but not yet opened it (its body opens the file once the headers are
            // out) still finds it.
            if let old = ready[view], old.path != snapshot.path {
                Task { [self] in
                    try? await Task.sleep(for: Self.replacedFileKept)
                    removeUnlessServed(old.path)
                }
            }
            ready[view] = snapshot
            logger.info(
                "snapshot built",
                metadata: [
                    "relais.view": "\(view.key)", "relais.cursor": "\(snapshot.cursor)",
                    "relais.records": "\(snapshot.records)", "relais.bytes": "\(snapshot.bytes)",
                ])
        case .failure(let error):
            logger.warning(
                "snapshot build failed", metadata: ["relais.view": "\(view.key)", "relais.error": "\(error)"])
        }
    }
}
