internal import CRelaisSQLite

extension Connection {
    /// How a top-level transaction takes its locks (`BEGIN DEFERRED | IMMEDIATE | EXCLUSIVE`).
    public enum TransactionKind: Sendable, Hashable {
        /// Takes no lock until the first read or write. A read transaction that later writes may
        /// fail with ``SQLiteError/isBusy`` without waiting for the busy timeout, so prefer
        /// ``immediate`` for transactions that write.
        case deferred
        /// Takes the write lock at once (waiting up to ``Connection/busyTimeout``), so the
        /// transaction can't fail later for lock contention. The default.
        case immediate
        /// Like ``immediate``; in WAL mode the two are the same. In rollback-journal mode, also
        /// keeps readers out.
        case exclusive

        fileprivate var beginSQL: String {
            switch self {
            case .deferred: "BEGIN DEFERRED"
            case .immediate: "BEGIN IMMEDIATE"
            case .exclusive: "BEGIN EXCLUSIVE"
            }
        }
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// ```swift
    /// let applied = try connection.transaction {
    ///     for write in batch { try apply(write) }
    ///     try connection.execute("UPDATE cursor SET value = ?", [.integer(newCursor)])
    ///     return batch.count
    /// }
    /// ```
    ///
    /// **Nesting.** Called while a transaction is open (by an outer `transaction` or by plain
    /// `BEGIN`), it runs `body` in a `SAVEPOINT` instead, and `kind` is ignored: a throw rolls back
    /// only the inner work, and the error goes on to the caller, which may catch it and let the
    /// outer transaction commit. Nothing is durable until the outermost transaction commits.
    ///
    /// **Errors.** If `body` throws, its error is rethrown after the rollback. Some errors
    /// (``SQLiteError/isFull``, I/O errors, ``SQLiteError/isInterrupted``) make SQLite roll back
    /// the whole transaction by itself; the rollback is then skipped, and outer levels see that no
    /// transaction is open and skip theirs too. If `COMMIT` fails, the transaction is rolled back and
    /// the commit error is thrown, so a returned value always means committed.
    ///
    /// - Parameters:
    ///   - kind: How the top-level transaction locks; ``TransactionKind/immediate`` by default.
    ///   - body: The work. Must not commit or roll back the transaction itself with plain SQL.
    /// - Returns: What `body` returns.
    public func transaction<Result>(
        _ kind: TransactionKind = .immediate,
        _ body: () throws -> Result
    ) throws -> Result {
        let level = try openLevel(kind)
        defer { transactionDepth -= 1 }
        let result: Result
        do {
            result = try body()
        } catch {
            abandon(level)
            throw error
        }
        try close(level)
        return result
    }

    /// ``transaction(_:_:)`` for an asynchronous body, run on the caller's executor: the body must
    /// not let another task use this connection while it is suspended (a store runs it on the
    /// connection's own serial executor, where nothing else does).
    nonisolated(nonsending) public func transaction<Result>(
        _ kind: TransactionKind = .immediate,
        _ body: nonisolated(nonsending) () async throws -> Result
    ) async throws -> Result {
        let level = try openLevel(kind)
        defer { transactionDepth -= 1 }
        let result: Result
        do {
            result = try await body()
        } catch {
            abandon(level)
            throw error
        }
        try close(level)
        return result
    }

    /// One level of ``transaction(_:_:)``: the top-level transaction, or a savepoint inside one.
    private enum Level {
        case top
        case savepoint(String)
    }

    /// Opens a transaction, or a savepoint named after the nesting depth when one is open.
    private func openLevel(_ kind: TransactionKind) throws -> Level {
        let db = try liveHandle()
        let level: Level
        if sqlite3_get_autocommit(db) == 0 {
            let name = "relais_savepoint_\(transactionDepth)"
            try runControl("SAVEPOINT \(name)")
            level = .savepoint(name)
        } else {
            try runControl(kind.beginSQL)
            level = .top
        }
        transactionDepth += 1
        return level
    }

    /// Commits the level (a failed `COMMIT` is rolled back and thrown, so a return means committed).
    private func close(_ level: Level) throws {
        switch level {
        case .top:
            do {
                try runControl("COMMIT")
            } catch {
                rollbackIfOpen("ROLLBACK")
                throw error
            }
        case .savepoint(let name):
            try runControl("RELEASE \(name)")
        }
    }

    /// Rolls the level back after its body threw.
    private func abandon(_ level: Level) {
        switch level {
        case .top:
            rollbackIfOpen("ROLLBACK")
        case .savepoint(let name):
            // ROLLBACK TO keeps the savepoint open; RELEASE then ends it. If SQLite already rolled
            // back the whole transaction, both are skipped.
            if rollbackIfOpen("ROLLBACK TO \(name)") {
                try? runControl("RELEASE \(name)")
            }
        }
    }

    /// Runs a transaction-control statement through the cache.
    private func runControl(_ sql: String) throws(SQLiteError) {
        try cachedStatement(sql).execute()
    }

    /// Runs a rollback statement if a transaction is still open, ignoring its error (the caller
    /// is already throwing a better one). Returns whether it ran.
    @discardableResult
    private func rollbackIfOpen(_ sql: String) -> Bool {
        guard isInTransaction else {
            return false
        }
        try? runControl(sql)
        return true
    }
}
