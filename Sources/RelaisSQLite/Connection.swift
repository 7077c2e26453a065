internal import CRelaisSQLite

/// One connection to an SQLite database file.
///
/// ```swift
/// let connection = try Connection(path: dataFolder + "/hub.sqlite")
/// try connection.configureForDurability()
/// try connection.transaction {
///     try connection.execute("CREATE TABLE IF NOT EXISTS customer(id INTEGER PRIMARY KEY, name TEXT)")
///     try connection.cachedStatement("INSERT INTO customer(name) VALUES (?)").execute(["Café Müller"])
/// }
/// let count = try connection.scalar("SELECT count(*) FROM customer")
/// ```
///
/// ## Isolation
///
/// A `Connection` is **not** `Sendable`: use it from one isolation domain, never from two threads at
/// once. It is opened with `SQLITE_OPEN_NOMUTEX` (SQLite's "multi-thread" mode), so SQLite takes no
/// lock per call and the connection may move between threads, as it does inside an actor:
///
/// ```swift
/// actor HubDatabase {
///     private let writer: Connection
///     init(path: String) throws {
///         writer = try Connection(path: path)
///         try writer.configureForDurability()
///     }
/// }
/// ```
///
/// For concurrent reads, open more connections, for example with ``Mode/readOnly``: in WAL mode
/// readers don't block the writer, nor it them. The wrapper keeps no global state.
/// ``interruptHandle`` is the one part that may be used from anywhere.
///
/// ## Lifetime
///
/// The connection closes in `deinit`, or earlier with ``close()``. Statements from ``prepare(_:)``
/// keep it alive; cached statements are finalized when it closes.
public final class Connection {
    /// How a connection opens its file.
    public enum Mode: Sendable, Hashable {
        /// Read and write; the file is created if missing and `create` is `true`.
        case readWrite
        /// Read only: every write fails with ``SQLiteError/isReadOnly``. The file must exist.
        case readOnly
    }

    /// The `sqlite3` pointer; `nil` once closed.
    internal private(set) var handle: OpaquePointer?

    /// The path the connection was opened with (`":memory:"` for an in-memory database).
    public let path: String

    /// The mode the connection was opened with.
    public let mode: Mode

    /// Statements of ``cachedStatement(_:)``, keyed by SQL text.
    private var statementCache: [String: Statement] = [:]

    /// How many ``transaction(_:_:)`` calls are running, outermost included; names their savepoints.
    internal var transactionDepth = 0

    /// A handle that interrupts this connection's running statement from any thread.
    public let interruptHandle: InterruptHandle

    /// Where the write-ahead log hook of ``countLogFramesInsteadOfCheckpointing()`` stores the log's
    /// frame count; `nil` while automatic checkpoints are on.
    internal var logFrames: UnsafeMutablePointer<Int32>?

    /// Opens (and by default creates) a database.
    ///
    /// The connection uses SQLite's multi-thread mode (`SQLITE_OPEN_NOMUTEX`), extended result
    /// codes, and no shared cache. It applies no PRAGMA: call ``configureForDurability(journalMode:synchronous:foreignKeys:busyTimeout:)``
    /// for the settings Relais relies on.
    ///
    /// - Parameters:
    ///   - path: A file path, or `":memory:"` for a private in-memory database (gone when closed).
    ///   - mode: ``Mode/readWrite`` (the default) or ``Mode/readOnly``.
    ///   - create: With ``Mode/readWrite``, create the file if it doesn't exist (the default).
    ///     Ignored with ``Mode/readOnly``, which never creates.
    /// - Throws: ``SQLiteError`` (often ``SQLiteError/Code/cantOpen``) naming the path.
    public init(path: String, mode: Mode = .readWrite, create: Bool = true) throws(SQLiteError) {
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE | SQLITE_OPEN_EXRESCODE
        switch mode {
        case .readOnly:
            flags |= SQLITE_OPEN_READONLY
        case .readWrite:
            flags |= SQLITE_OPEN_READWRITE
            if create {
                flags |= SQLITE_OPEN_CREATE
            }
        }
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            // SQLite allocates a handle even when opening fails, to carry the message.
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? SQLiteError.Code(rawValue: code).description
            let extended = db.map { sqlite3_extended_errcode($0) } ?? code
            sqlite3_close_v2(db)
            throw SQLiteError(code: .init(rawValue: extended), message: "\(message): \(path)")
        }
        sqlite3_extended_result_codes(db, 1)
        self.handle = db
        self.path = path
        self.mode = mode
        self.interruptHandle = InterruptHandle(db)
    }

    deinit {
        // Statements from prepare(_:) hold `self`, so only cached ones can be left.
        for statement in statementCache.values {
            statement.finalize()
        }
        interruptHandle.invalidate()
        if let logFrames {
            if let handle { crelais_sqlite_count_wal_frames(handle, nil) }
            logFrames.deallocate()
        }
        sqlite3_close_v2(handle)
    }

    /// `true` until ``close()`` succeeds.
    public var isOpen: Bool {
        handle != nil
    }

    /// The live handle, or a misuse error once closed.
    internal func liveHandle(sql: String? = nil) throws(SQLiteError) -> OpaquePointer {
        guard let handle else {
            throw .misuse("connection is closed", sql: sql)
        }
        return handle
    }

    /// Closes the connection now: finalizes the cached statements, then closes the file.
    ///
    /// An open transaction is rolled back. Closing twice does nothing.
    ///
    /// - Throws: ``SQLiteError`` with code ``SQLiteError/Code/busy`` when statements from
    ///   ``prepare(_:)`` are still alive; the connection then stays open (and its cache empty).
    public func close() throws(SQLiteError) {
        guard let db = handle else {
            return
        }
        for statement in statementCache.values {
            statement.finalize()
        }
        statementCache.removeAll()
        interruptHandle.invalidate()
        let code = sqlite3_close(db)
        guard code == SQLITE_OK else {
            interruptHandle.restore(db)
            throw SQLiteError(
                code: .init(rawValue: code),
                message: "cannot close: statements from prepare(_:) are still alive"
            )
        }
        handle = nil
        logFrames?.deallocate()
        logFrames = nil
    }

    // MARK: - Statements

    /// Prepares one SQL statement, which the caller owns; it is finalized when released.
    ///
    /// Prefer ``cachedStatement(_:)`` for SQL that runs often.
    ///
    /// - Throws: ``SQLiteError`` with the SQL on a syntax or schema error, or with code
    ///   ``SQLiteError/Code/misuse`` when `sql` holds no statement or more than one.
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        let handle = try prepareHandle(sql, persistent: false)
        return Statement(handle: handle, sql: sql, owner: self)
    }

    /// Returns the connection's prepared statement for `sql`, preparing and caching it on first use.
    ///
    /// The statement comes back reset and with its bindings cleared, ready to bind and run. It stays
    /// cached until the connection closes (or ``clearStatementCache()``), so use it for SQL text
    /// that is fixed, not built from values.
    ///
    /// Re-entrancy: asking for the same SQL again resets the statement, so don't do that while
    /// stepping through its rows (use ``prepare(_:)`` for the inner query). ``query(_:_:_:)`` and
    /// ``scalar(_:_:)`` take care of this themselves.
    public func cachedStatement(_ sql: String) throws(SQLiteError) -> Statement {
        if let statement = statementCache[sql] {
            statement.reset()
            statement.clearBindings()
            return statement
        }
        let statement = Statement(handle: try prepareHandle(sql, persistent: true), sql: sql, owner: nil)
        statementCache[sql] = statement
        return statement
    }

    /// How many times SQLite has prepared the cached statements again since they were first
    /// prepared (`SQLITE_STMTSTATUS_REPREPARE`): a schema change, or switching this connection's
    /// triggers (``triggersEnabled``), makes each prepare again at its next use.
    public var cachedStatementReprepares: Int {
        statementCache.values.reduce(0) { total, statement in
            guard let handle = statement.handle else { return total }
            return total + Int(sqlite3_stmt_status(handle, SQLITE_STMTSTATUS_REPREPARE, 0))
        }
    }

    /// Finalizes every cached statement. Statements already handed out stop working.
    public func clearStatementCache() {
        for statement in statementCache.values {
            statement.finalize()
        }
        statementCache.removeAll()
    }

    /// A cached statement that is not in the middle of its rows, or a fresh one if it is.
    private func idleStatement(_ sql: String) throws(SQLiteError) -> Statement {
        if let statement = statementCache[sql], let handle = statement.handle, sqlite3_stmt_busy(handle) != 0 {
            return try prepare(sql)
        }
        return try cachedStatement(sql)
    }

    /// Prepares exactly one statement from `sql`.
    private func prepareHandle(_ sql: String, persistent: Bool) throws(SQLiteError) -> OpaquePointer {
        let db = try liveHandle(sql: sql)
        let flags = UInt32(persistent ? SQLITE_PREPARE_PERSISTENT : 0)
        let result: Result<OpaquePointer, SQLiteError> = sql.withCString { text in
            var statement: OpaquePointer?
            var tail: UnsafePointer<CChar>?
            let code = sqlite3_prepare_v3(db, text, -1, flags, &statement, &tail)
            guard code == SQLITE_OK else {
                return .failure(SQLiteError(code: code, db: db, sql: sql))
            }
            guard let statement else {
                return .failure(.misuse("no SQL statement to prepare", sql: sql))
            }
            if let tail, Self.holdsStatement(tail, db: db) {
                sqlite3_finalize(statement)
                return .failure(.misuse("prepare takes one statement; use execute(_:) for several", sql: sql))
            }
            return .success(statement)
        }
        return try result.get()
    }

    /// `true` when `text` holds something besides whitespace and comments.
    private static func holdsStatement(_ text: UnsafePointer<CChar>, db: OpaquePointer) -> Bool {
        var cursor = text
        while cursor.pointee != 0, UInt8(bitPattern: cursor.pointee) <= 0x20 {
            cursor += 1
        }
        if cursor.pointee == 0 {
            return false
        }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(db, cursor, -1, &statement, nil)
        sqlite3_finalize(statement)
        return code != SQLITE_OK || statement != nil
    }

    // MARK: - Running SQL

    /// Runs one or more SQL statements separated by semicolons, ignoring any rows they return.
    ///
    /// Each statement is prepared and run in turn; the first error stops the rest (statements
    /// already run stay run, unless inside a transaction that is rolled back).
    ///
    /// ```swift
    /// try connection.execute("""
    ///     CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    ///     CREATE INDEX customer_name ON customer(name);
    ///     """)
    /// ```
    ///
    /// - Throws: ``SQLiteError`` whose ``SQLiteError/sql`` is the statement that failed.
    public func execute(_ sql: String) throws(SQLiteError) {
        let db = try liveHandle(sql: sql)
        let failure: SQLiteError? = sql.withCString { text in
            var cursor: UnsafePointer<CChar>? = text
            while let current = cursor, current.pointee != 0 {
                var statement: OpaquePointer?
                let code = sqlite3_prepare_v2(db, current, -1, &statement, &cursor)
                guard code == SQLITE_OK else {
                    return SQLiteError(code: code, db: db, sql: sql)
                }
                guard let statement else {
                    continue  // Whitespace or a comment.
                }
                defer { sqlite3_finalize(statement) }
                var stepCode: Int32
                repeat {
                    stepCode = sqlite3_step(statement)
                } while stepCode == SQLITE_ROW
                guard stepCode == SQLITE_DONE else {
                    let statementSQL = sqlite3_sql(statement).map { Self.trimmed(String(cString: $0)) } ?? sql
                    return SQLiteError(code: stepCode, db: db, sql: statementSQL, statement: statement)
                }
            }
            return nil
        }
        if let failure {
            throw failure
        }
    }

    /// One statement's text from a script, without surrounding whitespace and its final semicolon.
    private static func trimmed(_ text: String) -> String {
        var text = Substring(text)
        while let first = text.first, first.isWhitespace {
            text.removeFirst()
        }
        while let last = text.last, last.isWhitespace || last == ";" {
            text.removeLast()
        }
        return String(text)
    }

    /// Runs one statement with arguments through the statement cache, ignoring any rows.
    ///
    /// ```swift
    /// try connection.execute("UPDATE customer SET name = ? WHERE id = ?", ["Café Müller", 42])
    /// ```
    public func execute(_ sql: String, _ arguments: [SQLiteValue]) throws(SQLiteError) {
        try idleStatement(sql).execute(arguments)
    }

    /// Returns the first column of the first row, or `nil` when there is no row.
    ///
    /// A row whose first column is `NULL` gives ``SQLiteValue/null``, not `nil`.
    ///
    /// ```swift
    /// let count = try connection.scalar("SELECT count(*) FROM customer")?.int64Value ?? 0
    /// ```
    public func scalar(_ sql: String, _ arguments: [SQLiteValue] = []) throws(SQLiteError) -> SQLiteValue? {
        let statement = try idleStatement(sql)
        if !arguments.isEmpty {
            try statement.bind(arguments)
        }
        defer { statement.reset() }
        guard try statement.step() else {
            return nil
        }
        return statement.value(at: 0)
    }

    /// Runs a query through the statement cache and calls `body` for each row.
    ///
    /// The ``Row`` is a view of the current row: read it inside `body`, don't keep it. `body` may run
    /// other queries on this connection, even the same SQL. An error thrown by `body` stops the
    /// query and is rethrown.
    ///
    /// ```swift
    /// var names: [String] = []
    /// try connection.query("SELECT name FROM customer WHERE territory = ?", ["north"]) { row in
    ///     names.append(row.text(at: 0) ?? "")
    /// }
    /// ```
    public func query(_ sql: String, _ arguments: [SQLiteValue] = [], _ body: (Row) throws -> Void) throws {
        try idleStatement(sql).forEachRow(arguments, body)
    }

    // MARK: - State

    /// Rows changed by the most recent `INSERT`, `UPDATE` or `DELETE` on this connection
    /// (not counting triggers' changes).
    public var changes: Int {
        guard let handle else { return 0 }
        return Int(sqlite3_changes64(handle))
    }

    /// Rows changed by `INSERT`, `UPDATE` and `DELETE` since the connection opened, triggers included.
    public var totalChanges: Int {
        guard let handle else { return 0 }
        return Int(sqlite3_total_changes64(handle))
    }

    /// The rowid of the most recent successful `INSERT` into a rowid table on this connection
    /// (0 if none). Inserts made by triggers don't count once the statement ends.
    public var lastInsertRowID: Int64 {
        guard let handle else { return 0 }
        return sqlite3_last_insert_rowid(handle)
    }

    /// `true` while a transaction is open (whether begun by ``transaction(_:_:)`` or with plain SQL).
    public var isInTransaction: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    /// `true` when the main database can't be written: opened ``Mode/readOnly``, or a read-only file.
    public var isReadOnly: Bool {
        guard let handle else { return true }
        return sqlite3_db_readonly(handle, "main") == 1
    }

    /// How long a statement waits for another connection's lock before failing with
    /// ``SQLiteError/isBusy``. Zero (the default) fails at once. Resolution is one millisecond.
    public var busyTimeout: Duration = .zero {
        didSet {
            guard let handle else { return }
            let (seconds, attoseconds) = busyTimeout.components
            let milliseconds = max(0, seconds) * 1000 + max(0, attoseconds) / 1_000_000_000_000_000
            sqlite3_busy_timeout(handle, Int32(clamping: milliseconds))
        }
    }

    /// Whether triggers of the main schema run for this connection's statements (`true` when opened).
    ///
    /// Off, this connection's writes run no trigger of the file (TEMP triggers still run); other
    /// connections keep theirs. Changing it makes prepared statements re-prepare on their next run,
    /// since SQLite codes a table's triggers into each statement that writes it.
    public var triggersEnabled: Bool {
        get {
            guard let handle else { return true }
            return crelais_sqlite_enable_triggers(handle, -1) == 1
        }
        set {
            guard let handle else { return }
            let now = crelais_sqlite_enable_triggers(handle, newValue ? 1 : 0)
            // SQLite answers this option for any open connection; not taking effect would silently
            // stop (or start) running triggers, which no caller could recover from.
            precondition(now == (newValue ? 1 : 0), "SQLITE_DBCONFIG_ENABLE_TRIGGER did not take effect")
        }
    }

    /// Stops the statement this connection is running, which then throws ``SQLiteError/isInterrupted``.
    ///
    /// A `Connection` is used from one isolation domain, so this call only makes sense from inside
    /// a callback; to interrupt from another task or thread, use ``interruptHandle``.
    public func interrupt() {
        interruptHandle.interrupt()
    }

    /// Runs `body` with the raw `sqlite3` pointer, for C APIs this wrapper doesn't cover
    /// (custom functions, the session extension…). Not API: may change without notice.
    ///
    /// Don't close the pointer or let it escape `body`.
    ///
    /// - Throws: A misuse error if the connection is closed, or what `body` throws.
    public func _withUnsafeHandle<Result>(_ body: (OpaquePointer) throws -> Result) throws -> Result {
        try body(try liveHandle())
    }
}
