/// The current row of a running ``Statement``, handed to the closures of
/// ``Connection/query(_:_:_:)`` and ``Statement/forEachRow(_:_:)``.
///
/// A `Row` is a view, not a copy: it reads whatever row the statement is on. Read it inside the
/// closure; after the closure returns, it shows the next row (or nothing). Copy values out with
/// the readers below. Creating a `Row` allocates nothing.
///
/// ```swift
/// try connection.query("SELECT id, name FROM customer WHERE territory = ?", [territory]) { row in
///     names[row.int64(at: 0)] = row.text(at: 1)
/// }
/// ```
public struct Row {
    /// The statement whose current row this is.
    public let statement: Statement

    internal init(statement: Statement) {
        self.statement = statement
    }

    /// The number of columns.
    public var columnCount: Int32 {
        statement.columnCount
    }

    /// The name of a 0-based column, or `nil` when out of range.
    public func columnName(at index: Int32) -> String? {
        statement.columnName(at: index)
    }

    /// `true` when the column is `NULL`.
    public func isNull(at index: Int32) -> Bool {
        statement.isNull(at: index)
    }

    /// The column as an integer; `NULL` reads as 0. See ``Statement/int64(at:)``.
    public func int64(at index: Int32) -> Int64 {
        statement.int64(at: index)
    }

    /// The column as a double; `NULL` reads as 0.0. See ``Statement/double(at:)``.
    public func double(at index: Int32) -> Double {
        statement.double(at: index)
    }

    /// The column as text, or `nil` when it is `NULL`.
    public func text(at index: Int32) -> String? {
        statement.text(at: index)
    }

    /// The column as bytes, or `nil` when it is `NULL`.
    public func blob(at index: Int32) -> [UInt8]? {
        statement.blob(at: index)
    }

    /// Calls `body` with the bytes of a blob or text column, without copying. See
    /// ``Statement/withUnsafeBytes(at:_:)``.
    public func withUnsafeBytes<Result>(
        at index: Int32,
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        try statement.withUnsafeBytes(at: index, body)
    }

    /// The column's stored type. See ``Statement/kind(at:)``.
    public func kind(at index: Int32) -> SQLiteValue.Kind {
        statement.kind(at: index)
    }

    /// The column in its stored type.
    public func value(at index: Int32) -> SQLiteValue {
        statement.value(at: index)
    }

    /// The column in its stored type; the same as ``value(at:)``.
    public subscript(index: Int32) -> SQLiteValue {
        statement.value(at: index)
    }
}
