extension Connection {
    /// SQLite's journal modes (`PRAGMA journal_mode`).
    public enum JournalMode: String, Sendable, Hashable, CaseIterable {
        /// Rollback journal, deleted after each transaction (SQLite's default for files).
        case delete
        /// Rollback journal, truncated after each transaction.
        case truncate
        /// Rollback journal, its header zeroed after each transaction.
        case persist
        /// Rollback journal in memory; a crash mid-transaction may corrupt the file.
        case memory
        /// Write-ahead log: readers and the writer don't block each other. What Relais uses.
        case wal
        /// No journal: no rollback, no crash safety.
        case off
    }

    /// How hard SQLite flushes to disk (`PRAGMA synchronous`).
    public enum Synchronous: String, Sendable, Hashable, CaseIterable {
        /// Never syncs: fast, and a power cut may corrupt the database.
        case off
        /// In WAL mode, syncs only at checkpoints: the database stays consistent after a power
        /// cut, but the last committed transactions may be lost.
        case normal
        /// In WAL mode, syncs the log at every commit: a committed transaction survives a power cut.
        case full
        /// Like ``full``, and also syncs the directory in rollback-journal modes.
        case extra

        /// The value `PRAGMA synchronous` reads back as.
        fileprivate var level: Int64 {
            switch self {
            case .off: 0
            case .normal: 1
            case .full: 2
            case .extra: 3
            }
        }
    }

    /// Applies the settings Relais stores rely on: the journal mode (WAL), the sync level (FULL),
    /// foreign keys and a busy timeout.
    ///
    /// ```swift
    /// let connection = try Connection(path: path)
    /// try connection.configureForDurability()
    /// ```
    ///
    /// **Why `synchronous=FULL`.** Relais promises that whatever it acknowledges, an edit saved for
    /// the user or a push answered by the hub, survives a power cut. In WAL mode, `NORMAL` syncs
    /// the log only at checkpoints: the file stays consistent, but the last commits can vanish
    /// after a crash of the machine, and an acknowledged write would be lost. `FULL` syncs the log
    /// at every commit, before `COMMIT` returns, at the cost of one `fsync` per transaction, which
    /// batching writes into one transaction keeps small. Use ``Synchronous/normal`` only for data
    /// that can be rebuilt, such as a cache.
    ///
    /// Call it right after opening, outside any transaction (SQLite can't change the journal mode
    /// inside one, and ignores `foreign_keys` there). The journal mode is a property of the file and
    /// persists; the other settings are per connection, so apply them on every connection. On a
    /// ``Mode/readOnly`` connection, the journal mode is read, not changed.
    ///
    /// - Parameters:
    ///   - journalMode: The journal mode to set; ``JournalMode/wal`` by default.
    ///   - synchronous: The sync level; ``Synchronous/full`` by default.
    ///   - foreignKeys: Whether to enforce `FOREIGN KEY` constraints (off in SQLite by default).
    ///   - busyTimeout: How long to wait for another connection's lock; see ``busyTimeout``.
    /// - Returns: The journal mode in force afterwards. It can differ from `journalMode`: an
    ///   in-memory database reports ``JournalMode/memory``, and a read-only connection reports the
    ///   file's mode.
    @discardableResult
    public func configureForDurability(
        journalMode: JournalMode = .wal,
        synchronous: Synchronous = .full,
        foreignKeys: Bool = true,
        busyTimeout: Duration = .seconds(5)
    ) throws(SQLiteError) -> JournalMode {
        self.busyTimeout = busyTimeout
        let modeSQL = isReadOnly ? "PRAGMA journal_mode" : "PRAGMA journal_mode = \(journalMode.rawValue)"
        let reported = try scalar(modeSQL)?.textValue?.lowercased() ?? ""
        guard let effectiveMode = JournalMode(rawValue: reported) else {
            throw SQLiteError(code: .error, message: "unexpected journal mode '\(reported)'", sql: modeSQL)
        }
        try execute("PRAGMA synchronous = \(synchronous.rawValue.uppercased())")
        try execute("PRAGMA foreign_keys = \(foreignKeys ? "ON" : "OFF")")
        return effectiveMode
    }

    /// The journal mode in force (`PRAGMA journal_mode`).
    public func journalMode() throws(SQLiteError) -> JournalMode {
        let reported = try scalar("PRAGMA journal_mode")?.textValue?.lowercased() ?? ""
        guard let mode = JournalMode(rawValue: reported) else {
            throw SQLiteError(
                code: .error,
                message: "unexpected journal mode '\(reported)'",
                sql: "PRAGMA journal_mode"
            )
        }
        return mode
    }

    /// The sync level in force (`PRAGMA synchronous`).
    public func synchronous() throws(SQLiteError) -> Synchronous {
        let level = try scalar("PRAGMA synchronous")?.int64Value ?? -1
        guard let value = Synchronous.allCases.first(where: { $0.level == level }) else {
            throw SQLiteError(code: .error, message: "unexpected synchronous level \(level)", sql: "PRAGMA synchronous")
        }
        return value
    }

    /// Runs `PRAGMA integrity_check` and returns `"ok"` when the database is sound, or SQLite's
    /// findings joined by newlines (at most 100 of them).
    ///
    /// It reads the whole file, so it takes time on a large database; run it at startup after a
    /// crash, or in maintenance, not per request.
    public func integrityCheck() throws(SQLiteError) -> String {
        var messages: [String] = []
        let statement = try prepare("PRAGMA integrity_check")
        while try statement.step() {
            messages.append(statement.text(at: 0) ?? "")
        }
        return messages.joined(separator: "\n")
    }

    /// The schema version number the application keeps in the file header (`PRAGMA user_version`);
    /// 0 in a new database. Migrations read it to know where to start.
    public func userVersion() throws(SQLiteError) -> Int32 {
        Int32(truncatingIfNeeded: try scalar("PRAGMA user_version")?.int64Value ?? 0)
    }

    /// Sets `PRAGMA user_version`. Transactional: call it in the migration's transaction.
    public func setUserVersion(_ version: Int32) throws(SQLiteError) {
        try execute("PRAGMA user_version = \(version)")
    }
}
