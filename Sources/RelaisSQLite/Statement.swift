internal import CRelaisSQLite

/// A prepared SQL statement: bind arguments, step through rows, read columns.
///
/// Get one from ``Connection/prepare(_:)`` (yours to keep) or ``Connection/cachedStatement(_:)``
/// (owned by the connection's cache). Bind parameters are numbered from **1**, as in SQLite;
/// columns are numbered from **0**.
///
/// ```swift
/// let insert = try connection.cachedStatement("INSERT INTO customer(id, name) VALUES (?, ?)")
/// for customer in customers {
///     try insert.bind(int64: customer.id, at: 1)
///     try insert.bind(text: customer.name, at: 2)
///     try insert.execute()
/// }
///
/// let select = try connection.prepare("SELECT id, name FROM customer WHERE name LIKE ?")
/// try select.bind(["Café%"])
/// while try select.step() {
///     print(select.int64(at: 0), select.text(at: 1) ?? "—")
/// }
/// ```
///
/// ## Lifetime and isolation
///
/// A statement belongs to its ``Connection`` and shares its isolation rule: use it only where the
/// connection is used, never from two threads at once. A statement from ``Connection/prepare(_:)``
/// keeps its connection alive; a cached one does not, and is finalized when the connection closes.
/// After that, stepping or binding throws an ``SQLiteError/Code/misuse`` error and column readers
/// read `NULL`; nothing is undefined.
///
/// ## Binding
///
/// SQLite accepts bindings only while the statement is reset. ``bind(_:)`` and
/// ``execute(_:)`` reset it first; the typed binds (``bind(int64:at:)`` and friends) don't, so call
/// ``reset()`` before them if the statement was stepped and not run to the end. Bindings persist
/// across ``reset()`` until replaced or cleared with ``clearBindings()``. Text and blobs are copied
/// by SQLite when bound, so the Swift value may go away at once.
public final class Statement {
    /// The `sqlite3_stmt` pointer; `nil` once finalized. Every method checks it before calling
    /// SQLite, which doesn't accept `NULL` everywhere.
    internal private(set) var handle: OpaquePointer?

    /// The connection, held strongly for statements from ``Connection/prepare(_:)`` so it outlives
    /// them; `nil` for cached statements, which the connection itself owns (no reference cycle).
    private let owner: Connection?

    /// The SQL this statement was prepared from, as given (without bound values).
    public let sql: String

    internal init(handle: OpaquePointer, sql: String, owner: Connection?) {
        self.handle = handle
        self.sql = sql
        self.owner = owner
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Finalizes the statement now; later use throws a misuse error. Called by the connection's cache.
    internal func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// Builds the error for a failed call, with this statement's SQL and, for debugging, its values.
    private func error(_ code: Int32) -> SQLiteError {
        guard let handle else {
            return .misuse("statement used after its connection was closed", sql: sql)
        }
        return SQLiteError(code: code, db: sqlite3_db_handle(handle), sql: sql, statement: handle)
    }

    @inline(__always)
    private func check(_ code: Int32) throws(SQLiteError) {
        if code != SQLITE_OK {
            throw error(code)
        }
    }

    /// The live handle, or a misuse error once the statement is finalized.
    @inline(__always)
    private func liveHandle() throws(SQLiteError) -> OpaquePointer {
        guard let handle else {
            throw error(SQLITE_MISUSE)
        }
        return handle
    }

    // MARK: - Parameters

    /// The number of bind parameters (the largest index, for numbered parameters like `?3`).
    public var parameterCount: Int32 {
        guard let handle else { return 0 }
        return sqlite3_bind_parameter_count(handle)
    }

    /// The index of a named parameter, including its prefix (`":name"`, `"@name"`, `"$name"`),
    /// or `nil` when the statement has no such parameter.
    public func parameterIndex(named name: String) -> Int32? {
        guard let handle else { return nil }
        let index = sqlite3_bind_parameter_index(handle, name)
        return index == 0 ? nil : index
    }

    /// `true` when the statement doesn't write to the database (a `SELECT`, most `PRAGMA`s).
    ///
    /// `BEGIN`, `COMMIT` and the like count as read-only, as SQLite reports them.
    public var isReadOnly: Bool {
        guard let handle else { return true }
        return sqlite3_stmt_readonly(handle) != 0
    }

    // MARK: - Binding

    /// Resets the statement, then binds all its parameters from `arguments`, in order.
    ///
    /// - Throws: ``SQLiteError`` with code ``SQLiteError/Code/misuse`` when `arguments.count`
    ///   differs from ``parameterCount``, or SQLite's error when a bind fails.
    public func bind(_ arguments: [SQLiteValue]) throws(SQLiteError) {
        sqlite3_reset(try liveHandle())
        try bindAll(arguments)
    }

    private func bindAll(_ arguments: [SQLiteValue]) throws(SQLiteError) {
        let expected = Int(parameterCount)
        guard arguments.count == expected else {
            throw .misuse("expected \(expected) arguments, got \(arguments.count)", sql: sql)
        }
        var index: Int32 = 1
        for argument in arguments {
            try bind(argument, at: index)
            index += 1
        }
    }

    /// Binds one value at a 1-based parameter index.
    public func bind(_ value: SQLiteValue, at index: Int32) throws(SQLiteError) {
        switch value {
        case .null:
            try bindNull(at: index)
        case .integer(let integer):
            try bind(int64: integer, at: index)
        case .real(let double):
            try bind(double: double, at: index)
        case .text(let text):
            try bind(text: text, at: index)
        case .blob(let bytes):
            try bind(blob: bytes, at: index)
        }
    }

    /// Binds an integer at a 1-based parameter index.
    public func bind(int64 value: Int64, at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_int64(try liveHandle(), index, value))
    }

    /// Binds a double at a 1-based parameter index. SQLite binds NaN as `NULL`.
    public func bind(double value: Double, at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_double(try liveHandle(), index, value))
    }

    /// Binds UTF-8 text at a 1-based parameter index. SQLite copies it; an empty string is `''`, not `NULL`.
    ///
    /// Embedded NUL characters are kept.
    public func bind(text value: String, at index: Int32) throws(SQLiteError) {
        let handle = try liveHandle()
        var value = value
        let code = value.withUTF8 { utf8 -> Int32 in
            guard let base = utf8.baseAddress, !utf8.isEmpty else {
                // A NULL pointer would bind SQL NULL; bind a real empty string instead.
                return sqlite3_bind_text(handle, index, "", 0, crelais_sqlite_transient())
            }
            return sqlite3_bind_text64(
                handle,
                index,
                UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self),
                UInt64(utf8.count),
                crelais_sqlite_transient(),
                UInt8(SQLITE_UTF8)
            )
        }
        try check(code)
    }

    /// Binds UTF-8 bytes as text at a 1-based parameter index, for text built as bytes on a hot path.
    /// SQLite copies them and does not check them: `bytes` must be valid UTF-8. An empty array is `''`.
    public func bind(utf8 bytes: [UInt8], at index: Int32) throws(SQLiteError) {
        let handle = try liveHandle()
        let code = bytes.withUnsafeBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress, !buffer.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, crelais_sqlite_transient())
            }
            return sqlite3_bind_text64(
                handle, index, base.assumingMemoryBound(to: CChar.self), UInt64(buffer.count),
                crelais_sqlite_transient(), UInt8(SQLITE_UTF8))
        }
        try check(code)
    }

    /// Binds bytes as a blob at a 1-based parameter index. SQLite copies them; an empty array is a
    /// zero-length blob, not `NULL`.
    public func bind(blob bytes: [UInt8], at index: Int32) throws(SQLiteError) {
        let handle = try liveHandle()
        let code = bytes.withUnsafeBytes { Self.bindBlob($0, to: handle, at: index) }
        try check(code)
    }

    /// Binds any byte collection as a blob at a 1-based parameter index, without copying it first
    /// when its storage is contiguous (`ArraySlice`, `Data`, `UnsafeBufferPointer`…).
    public func bind(blob bytes: some Collection<UInt8>, at index: Int32) throws(SQLiteError) {
        let handle = try liveHandle()
        let code = bytes.withContiguousStorageIfAvailable {
            Self.bindBlob(UnsafeRawBufferPointer($0), to: handle, at: index)
        }
        if let code {
            try check(code)
        } else {
            try bind(blob: Array(bytes), at: index)
        }
    }

    private static func bindBlob(_ bytes: UnsafeRawBufferPointer, to handle: OpaquePointer, at index: Int32) -> Int32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            // A NULL pointer would bind SQL NULL; bind a real zero-length blob instead.
            return sqlite3_bind_zeroblob(handle, index, 0)
        }
        return sqlite3_bind_blob64(handle, index, base, UInt64(bytes.count), crelais_sqlite_transient())
    }

    /// Binds `NULL` at a 1-based parameter index.
    public func bindNull(at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_null(try liveHandle(), index))
    }

    /// Sets every parameter back to `NULL`. Doesn't reset the statement.
    public func clearBindings() {
        guard let handle else { return }
        sqlite3_clear_bindings(handle)
    }

    // MARK: - Running

    /// Rewinds the statement so it can run again, keeping its bindings.
    ///
    /// Also releases the read lock a half-read `SELECT` holds. Never fails: an error of the last
    /// step was already thrown by ``step()``.
    public func reset() {
        sqlite3_reset(handle)
    }

    /// Runs the statement to its next row.
    ///
    /// - Returns: `true` when a row is available for the column readers; `false` when the
    ///   statement is done (stepping again then starts it over).
    /// - Throws: ``SQLiteError`` with this statement's SQL. The statement is reset after an error,
    ///   so it can be used again.
    @discardableResult
    public func step() throws(SQLiteError) -> Bool {
        let handle = try liveHandle()
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW {
            return true
        }
        if code == SQLITE_DONE {
            return false
        }
        let error = self.error(code)
        sqlite3_reset(handle)
        throw error
    }

    /// Resets the statement, binds `arguments` (when any are given; otherwise keeps the current
    /// bindings), steps until done, ignoring rows, and resets it again.
    ///
    /// ```swift
    /// try statement.execute([42, "Café Müller"])
    /// ```
    public func execute(_ arguments: [SQLiteValue] = []) throws(SQLiteError) {
        let handle = try liveHandle()
        sqlite3_reset(handle)
        if !arguments.isEmpty {
            try bindAll(arguments)
        }
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    /// Resets the statement, binds `arguments` (when any are given; otherwise keeps the current
    /// bindings), calls `body` for each row, and resets it again.
    ///
    /// The ``Row`` is a view of the current row: read it inside `body`, don't keep it.
    /// An error thrown by `body` stops the iteration and is rethrown.
    public func forEachRow(_ arguments: [SQLiteValue] = [], _ body: (Row) throws -> Void) throws {
        let handle = try liveHandle()
        sqlite3_reset(handle)
        if !arguments.isEmpty {
            try bindAll(arguments)
        }
        defer { sqlite3_reset(handle) }
        let row = Row(statement: self)
        while try step() {
            try body(row)
        }
    }

    // MARK: - Columns of the current row

    /// The number of columns in the statement's result (0 for statements that return no data).
    public var columnCount: Int32 {
        guard let handle else { return 0 }
        return sqlite3_column_count(handle)
    }

    /// The name of a 0-based result column (its `AS` alias if any), or `nil` when out of range.
    public func columnName(at index: Int32) -> String? {
        guard let handle else { return nil }
        return sqlite3_column_name(handle, index).map { String(cString: $0) }
    }

    /// `true` when the column of the current row is `NULL`.
    public func isNull(at index: Int32) -> Bool {
        guard let handle else { return true }
        return sqlite3_column_type(handle, index) == SQLITE_NULL
    }

    /// The column of the current row as an integer. `NULL` reads as 0; other types are converted
    /// by SQLite's rules (`'12abc'` reads as 12). Check ``isNull(at:)`` when `NULL` matters.
    public func int64(at index: Int32) -> Int64 {
        guard let handle else { return 0 }
        return sqlite3_column_int64(handle, index)
    }

    /// The column of the current row as a double. `NULL` reads as 0.0; other types are converted
    /// by SQLite's rules. Check ``isNull(at:)`` when `NULL` matters.
    public func double(at index: Int32) -> Double {
        guard let handle else { return 0 }
        return sqlite3_column_double(handle, index)
    }

    /// The column of the current row as text, or `nil` when it is `NULL`.
    ///
    /// Numbers are rendered by SQLite; invalid UTF-8 is repaired with U+FFFD.
    public func text(at index: Int32) -> String? {
        guard let handle, sqlite3_column_type(handle, index) != SQLITE_NULL,
            let text = sqlite3_column_text(handle, index)
        else {
            return nil
        }
        let count = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The column of the current row as bytes, or `nil` when it is `NULL`. A zero-length blob is `[]`.
    ///
    /// To read without copying, use ``withUnsafeBytes(at:_:)``.
    public func blob(at index: Int32) -> [UInt8]? {
        guard let handle, sqlite3_column_type(handle, index) != SQLITE_NULL else {
            return nil
        }
        let bytes = sqlite3_column_blob(handle, index)
        let count = Int(sqlite3_column_bytes(handle, index))
        return [UInt8](UnsafeRawBufferPointer(start: count == 0 ? nil : bytes, count: count))
    }

    /// Calls `body` with the bytes of a blob or text column of the current row, without copying
    /// them. `NULL` gives an empty buffer.
    ///
    /// The buffer is valid only during `body`: don't let it escape.
    public func withUnsafeBytes<Result>(
        at index: Int32,
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        guard let handle else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let bytes = sqlite3_column_blob(handle, index)
        let count = Int(sqlite3_column_bytes(handle, index))
        return try body(UnsafeRawBufferPointer(start: count == 0 ? nil : bytes, count: count))
    }

    /// The stored type of a column of the current row.
    public func kind(at index: Int32) -> SQLiteValue.Kind {
        guard let handle else { return .null }
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER: return .integer
        case SQLITE_FLOAT: return .real
        case SQLITE_TEXT: return .text
        case SQLITE_BLOB: return .blob
        default: return .null
        }
    }

    /// The column of the current row in its stored type.
    public func value(at index: Int32) -> SQLiteValue {
        guard let handle else { return .null }
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:
            return text(at: index).map(SQLiteValue.text) ?? .null
        case SQLITE_BLOB:
            return blob(at: index).map(SQLiteValue.blob) ?? .null
        default:
            return .null
        }
    }
}
