import Foundation
import Logging
import RelaisSQLite

extension SQLiteHubStore {
    /// A backup file, as written or restored.
    public struct BackupFile: Sendable, Hashable {
        /// Its path.
        public var path: String
        /// Its size in bytes.
        public var bytes: Int64
        /// The hub's head (highest sequence) it holds.
        public var head: UInt64
    }

    /// Copies the store in the data folder `folder` into the new file `file`, while a hub may serve
    /// it (`relais-hub backup`).
    ///
    /// The copy is the store as of one commit (SQLite's backup API in one step, under one read
    /// transaction, which in WAL mode blocks no push): everything acknowledged before the copy began
    /// is in it, and no transaction is in it by half. It is written to `file.partial`, checked with
    /// `PRAGMA integrity_check`, then renamed to `file`, so that `file` is only ever a whole backup.
    ///
    /// - Throws: ``HubStoreError/missing`` (no store in `folder`), ``HubStoreError/exists`` (`file`
    ///   exists), ``HubStoreError/failed`` (SQLite failed, or the copy is not intact).
    public static func backup(folder: String, to file: String) throws -> BackupFile {
        let source = (folder as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: source) else {
            throw HubStoreError.missing.with("No hub store in \(folder).", ["path": source])
        }
        guard !FileManager.default.fileExists(atPath: file) else {
            throw HubStoreError.exists.with("\(file) already exists; back up to a new file.", ["path": file])
        }
        let partial = file + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        do {
            // Opened for writing though it only reads: after a crash of the hub, the first reader must
            // rebuild the WAL index (`hub.sqlite-shm`), which a read-only connection refuses.
            let from = try Connection(path: source, create: false)
            from.busyTimeout = .seconds(10)
            let to = try copy(from, into: partial)
            let head = try checked(to, path: partial)
            try to.close()
            try from.close()
            try FileManager.default.moveItem(atPath: partial, toPath: file)
            return BackupFile(path: file, bytes: size(of: file), head: head)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw storeFailure(error, "backing up \(source)")
        }
    }

    /// Puts the backup `file` in place as the store of the data folder `folder`
    /// (`relais-hub restore`); the hub must not be serving it. The backup is checked first; a store
    /// already in `folder` is replaced only when `replace` is true. The restored store is opened
    /// once, which brings an older schema up to date (and refuses a newer one), and takes a new hub
    /// epoch with its next replica number moved `replicaGap` ahead (``HubService/renewHubEpoch(replicaGap:)``):
    /// laptops notice the restore at their next sync (docs/SYNC.md "A restored hub").
    ///
    /// - Throws: ``HubStoreError/exists`` (a store in `folder` and `replace` false),
    ///   ``HubStoreError/missing`` (no `file`), ``HubStoreError/failed`` (`file` is not an intact hub
    ///   store), ``HubStoreError/tooNew``.
    public static func restore(
        from file: String, folder: String, replace: Bool, replicaGap: UInt32 = HubService.defaultReplicaGap
    ) async throws -> BackupFile {
        guard FileManager.default.fileExists(atPath: file) else {
            throw HubStoreError.missing.with("No backup at \(file).", ["path": file])
        }
        let target = (folder as NSString).appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: target), !replace {
            throw HubStoreError.exists.with(
                "\(folder) already holds a hub store; stop the hub, then restore with --replace.", ["path": target])
        }
        let incoming = target + ".restoring"
        try? FileManager.default.removeItem(atPath: incoming)
        let head: UInt64
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // The copy is the backup page for page: checking it checks the backup.
            let from = try Connection(path: file, mode: .readOnly)
            let to = try copy(from, into: incoming)
            head = try checked(to, path: file)
            try to.close()
            try from.close()
            // The replaced store's log and index belong to it, not to the restored file.
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target + suffix) }
            if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
            try FileManager.default.moveItem(atPath: incoming, toPath: target)
        } catch {
            try? FileManager.default.removeItem(atPath: incoming)
            throw storeFailure(error, "restoring \(file)")
        }
        let store = try SQLiteHubStore(folder: folder, create: false)
        do {
            try await HubService(store: store, logger: Logger(label: "relais.hub.restore"))
                .renewHubEpoch(replicaGap: replicaGap)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        return BackupFile(path: target, bytes: size(of: target), head: head)
    }

    /// Copies `source` into a new file at `path` with SQLite's backup API, made a file that stands
    /// alone (`journal_mode = DELETE`: no `-wal` or `-shm` beside it), and returns it open.
    static func copy(_ source: Connection, into path: String) throws -> Connection {
        let copy = try Connection(path: path)
        try source.backup(into: copy)
        try copy.execute("PRAGMA journal_mode = DELETE")
        return copy
    }

    /// The head of the store `connection` holds, once `PRAGMA integrity_check` said `ok`.
    private static func checked(_ connection: Connection, path: String) throws -> UInt64 {
        let verdict = try connection.scalar("PRAGMA integrity_check")?.textValue
        guard verdict == "ok" else {
            throw HubStoreError.failed.with("\(path) is damaged: \(verdict ?? "no answer").", ["path": path])
        }
        guard let head = try connection.scalar("SELECT head FROM meta WHERE id = 1")?.int64Value else {
            throw HubStoreError.failed.with("\(path) is not a hub store (no meta row).", ["path": path])
        }
        return UInt64(bitPattern: head)
    }

    /// The size of the file at `path` in bytes; 0 when there is none.
    static func size(of path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    private static func storeFailure(_ error: any Error, _ doing: String) -> any Error {
        if error is HubStoreError || error is HubError { return error }
        return HubStoreError.failed.with("The store failed while \(doing): \(error)")
    }
}
