internal import CRelaisSQLite

/// An error reported by SQLite, or by this wrapper when it is misused.
///
/// The error carries the result code, the extended result code, SQLite's message and the SQL
/// that failed. ``description`` never includes bound values, which may be customer data or
/// secrets; ``debugDescription`` adds the SQL with its bound values expanded, for local debugging.
///
/// ```swift
/// do {
///     try connection.execute("INSERT INTO customer(id) VALUES (1)")
/// } catch let error as SQLiteError where error.isConstraintViolation {
///     // The row already exists.
/// }
/// ```
public struct SQLiteError: Error, CustomStringConvertible, CustomDebugStringConvertible {
    /// An SQLite result code, primary (`SQLITE_BUSY`) or extended (`SQLITE_CONSTRAINT_UNIQUE`).
    ///
    /// Codes are compared by value, so a code that has no named constant here still works:
    /// `SQLiteError.Code(rawValue: 2067)`.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The numeric value of the code, as in `<sqlite3.h>`.
        public let rawValue: Int32

        /// Creates a code from its numeric value.
        public init(rawValue: Int32) {
            self.rawValue = rawValue
        }

        /// The primary code of an extended code: its low eight bits. A primary code is its own primary.
        public var primary: Code {
            Code(rawValue: rawValue & 0xFF)
        }

        /// SQLite's English name for the code, such as `"constraint failed"`.
        public var description: String {
            String(cString: sqlite3_errstr(rawValue))
        }

        /// `SQLITE_ERROR`: a generic error, such as an SQL syntax error or a missing table.
        public static let error = Code(rawValue: SQLITE_ERROR)
        /// `SQLITE_PERM`: access permission denied.
        public static let permission = Code(rawValue: SQLITE_PERM)
        /// `SQLITE_ABORT`: an operation was aborted, for example by a rollback.
        public static let abort = Code(rawValue: SQLITE_ABORT)
        /// `SQLITE_BUSY`: the database file is locked by another connection.
        public static let busy = Code(rawValue: SQLITE_BUSY)
        /// `SQLITE_LOCKED`: a table is locked by this connection or a shared-cache peer.
        public static let locked = Code(rawValue: SQLITE_LOCKED)
        /// `SQLITE_NOMEM`: a memory allocation failed.
        public static let noMemory = Code(rawValue: SQLITE_NOMEM)
        /// `SQLITE_READONLY`: an attempt to write to a read-only database.
        public static let readOnly = Code(rawValue: SQLITE_READONLY)
        /// `SQLITE_INTERRUPT`: the operation was interrupted by ``Connection/interrupt()``.
        public static let interrupt = Code(rawValue: SQLITE_INTERRUPT)
        /// `SQLITE_IOERR`: the operating system reported an I/O error.
        public static let ioError = Code(rawValue: SQLITE_IOERR)
        /// `SQLITE_CORRUPT`: the database file is malformed.
        public static let corrupt = Code(rawValue: SQLITE_CORRUPT)
        /// `SQLITE_FULL`: the disk is full, or the database reached `max_page_count`.
        public static let full = Code(rawValue: SQLITE_FULL)
        /// `SQLITE_CANTOPEN`: the database file could not be opened.
        public static let cantOpen = Code(rawValue: SQLITE_CANTOPEN)
        /// `SQLITE_SCHEMA`: the schema changed under a statement.
        public static let schema = Code(rawValue: SQLITE_SCHEMA)
        /// `SQLITE_TOOBIG`: a string or blob exceeds SQLite's size limit.
        public static let tooBig = Code(rawValue: SQLITE_TOOBIG)
        /// `SQLITE_CONSTRAINT`: a constraint (UNIQUE, NOT NULL, CHECK, FOREIGN KEY…) was violated.
        public static let constraint = Code(rawValue: SQLITE_CONSTRAINT)
        /// `SQLITE_MISMATCH`: a data type mismatch, such as a non-integer rowid.
        public static let mismatch = Code(rawValue: SQLITE_MISMATCH)
        /// `SQLITE_MISUSE`: the API was used incorrectly (also used by this wrapper for its own misuse errors).
        public static let misuse = Code(rawValue: SQLITE_MISUSE)
        /// `SQLITE_RANGE`: a bind parameter index is out of range.
        public static let range = Code(rawValue: SQLITE_RANGE)
        /// `SQLITE_NOTADB`: the file is not an SQLite database.
        public static let notADatabase = Code(rawValue: SQLITE_NOTADB)

        /// `SQLITE_CONSTRAINT_UNIQUE`: a UNIQUE constraint was violated.
        public static let constraintUnique = Code(rawValue: SQLITE_CONSTRAINT | (8 << 8))
        /// `SQLITE_CONSTRAINT_PRIMARYKEY`: a PRIMARY KEY constraint was violated.
        public static let constraintPrimaryKey = Code(rawValue: SQLITE_CONSTRAINT | (6 << 8))
        /// `SQLITE_CONSTRAINT_FOREIGNKEY`: a FOREIGN KEY constraint was violated.
        public static let constraintForeignKey = Code(rawValue: SQLITE_CONSTRAINT | (3 << 8))
        /// `SQLITE_CONSTRAINT_NOTNULL`: a NOT NULL constraint was violated.
        public static let constraintNotNull = Code(rawValue: SQLITE_CONSTRAINT | (5 << 8))
        /// `SQLITE_CONSTRAINT_CHECK`: a CHECK constraint was violated.
        public static let constraintCheck = Code(rawValue: SQLITE_CONSTRAINT | (1 << 8))
        /// `SQLITE_CONSTRAINT_TRIGGER`: a trigger raised an error with `RAISE(ABORT, …)` or similar.
        public static let constraintTrigger = Code(rawValue: SQLITE_CONSTRAINT | (7 << 8))
    }

    /// The primary result code, such as ``Code/constraint``.
    public var code: Code {
        extendedCode.primary
    }

    /// The extended result code, such as ``Code/constraintUnique``; equal to ``code`` when SQLite
    /// gave no detail.
    public let extendedCode: Code

    /// SQLite's message, such as `"UNIQUE constraint failed: customer.id"`.
    public let message: String

    /// The SQL that failed, without bound values; `nil` when no statement was involved (opening a file).
    public let sql: String?

    /// The SQL with its bound values expanded, kept out of ``description`` because values may be private.
    internal let expandedSQL: String?

    /// Creates an error. Used by the wrapper; public so that fakes and tests can build one.
    ///
    /// - Parameters:
    ///   - code: The primary or extended result code.
    ///   - message: A human-readable message; defaults to SQLite's text for the code.
    ///   - sql: The SQL that failed, if any.
    public init(code: Code, message: String? = nil, sql: String? = nil) {
        self.init(code: code, message: message, sql: sql, expandedSQL: nil)
    }

    internal init(code: Code, message: String?, sql: String?, expandedSQL: String?) {
        self.extendedCode = code
        self.message = message ?? code.description
        self.sql = sql
        self.expandedSQL = expandedSQL
    }

    /// Reads the current error of a connection handle; `code` is the value an API call returned.
    internal init(code: Int32, db: OpaquePointer?, sql: String?, statement: OpaquePointer? = nil) {
        var extended = code
        if let db {
            let connectionCode = sqlite3_extended_errcode(db)
            // Prefer the connection's extended code when it refines the returned primary code.
            if connectionCode & 0xFF == code & 0xFF {
                extended = connectionCode
            }
        }
        let message: String? = db.map { String(cString: sqlite3_errmsg($0)) }
        var expanded: String?
        if let statement, let cString = sqlite3_expanded_sql(statement) {
            expanded = Self.truncated(String(cString: cString))
            sqlite3_free(cString)
        }
        self.init(code: Code(rawValue: extended), message: message, sql: sql, expandedSQL: expanded)
    }

    /// The longest expanded SQL kept, in characters: a bound blob of megabytes would otherwise
    /// become megabytes of hex in every log line.
    internal static let expandedSQLLimit = 1_000

    private static func truncated(_ text: String) -> String {
        guard text.utf8.count > expandedSQLLimit else {
            return text
        }
        return text.prefix(expandedSQLLimit) + "… (\(text.utf8.count) bytes)"
    }

    /// An error for misuse of this wrapper (wrong argument count, closed connection, …).
    internal static func misuse(_ message: String, sql: String? = nil) -> SQLiteError {
        SQLiteError(code: .misuse, message: message, sql: sql, expandedSQL: nil)
    }

    /// `true` for any constraint violation: UNIQUE, PRIMARY KEY, NOT NULL, CHECK, FOREIGN KEY or trigger.
    public var isConstraintViolation: Bool {
        code == .constraint
    }

    /// `true` when another connection holds a conflicting lock (`SQLITE_BUSY`) and the busy timeout ran out.
    ///
    /// Retrying the whole transaction later is the usual response.
    public var isBusy: Bool {
        code == .busy
    }

    /// `true` when a table is locked within this process (`SQLITE_LOCKED`).
    public var isLocked: Bool {
        code == .locked
    }

    /// `true` when the disk is full, or the database reached its `max_page_count` (`SQLITE_FULL`).
    ///
    /// SQLite may have rolled back the whole transaction; ``Connection/transaction(_:_:)`` copes with that.
    public var isFull: Bool {
        code == .full
    }

    /// `true` when the operation was stopped by ``Connection/interrupt()`` (`SQLITE_INTERRUPT`).
    public var isInterrupted: Bool {
        code == .interrupt
    }

    /// `true` when a write was attempted on a read-only connection or file (`SQLITE_READONLY`).
    public var isReadOnly: Bool {
        code == .readOnly
    }

    /// `true` when the database file is malformed (`SQLITE_CORRUPT` or `SQLITE_NOTADB`).
    public var isCorrupt: Bool {
        code == .corrupt || code == .notADatabase
    }

    /// The code, message and SQL, without bound values: safe to log.
    public var description: String {
        var text = "SQLite error \(extendedCode.rawValue) (\(code)): \(message)"
        if let sql {
            text += " — while executing `\(sql)`"
        }
        return text
    }

    /// ``description`` plus the SQL with its bound values expanded (cut after 1,000 characters);
    /// may contain private data.
    public var debugDescription: String {
        var text = description
        if let expandedSQL, expandedSQL != sql {
            text += " — with values `\(expandedSQL)`"
        }
        return text
    }
}
