import CRelaisSQLite

extension Connection {
    /// What a checkpoint found and did.
    public struct Checkpoint: Sendable, Hashable {
        /// Frames in the write-ahead log.
        public var logFrames: Int
        /// Frames of it now copied into the database file (all of them when equal to ``logFrames``).
        public var copiedFrames: Int
    }

    /// Copies what it can of the write-ahead log into the database file (`SQLITE_CHECKPOINT_PASSIVE`):
    /// it waits for no reader and no writer, and stops at the frames a reader still needs. Once every
    /// frame is copied, the next write starts the log over from its beginning.
    ///
    /// - Throws: ``SQLiteError``, ``SQLiteError/Code/busy`` when another connection is checkpointing.
    @discardableResult
    public func checkpoint() throws(SQLiteError) -> Checkpoint {
        let db = try liveHandle()
        var log: Int32 = 0
        var copied: Int32 = 0
        let code = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied)
        guard code == SQLITE_OK else { throw SQLiteError(code: code, db: db, sql: nil) }
        return Checkpoint(logFrames: Int(log), copiedFrames: Int(copied))
    }

    /// Turns off the checkpoint SQLite runs at the end of a commit that leaves more than
    /// `wal_autocheckpoint` frames in the log (by default 1,000), in the committing thread: this
    /// connection's commits then only write and sync the log, and ``logFramesAfterLastCommit`` says
    /// how long it has grown, so that the caller can checkpoint elsewhere (``checkpoint()`` on another
    /// connection) and bound the log itself.
    public func countLogFramesInsteadOfCheckpointing() throws(SQLiteError) {
        let db = try liveHandle()
        if logFrames == nil {
            let counter = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
            counter.initialize(to: 0)
            logFrames = counter
        }
        crelais_sqlite_count_wal_frames(db, logFrames)
    }

    /// The frames in the write-ahead log after this connection's last commit (0 before its first);
    /// `nil` unless ``countLogFramesInsteadOfCheckpointing()`` was called.
    public var logFramesAfterLastCommit: Int? {
        logFrames.map { Int($0.pointee) }
    }
}
