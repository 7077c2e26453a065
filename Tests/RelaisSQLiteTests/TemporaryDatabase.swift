import Foundation
import RelaisSQLite

/// A database path in a fresh temporary folder. Call ``remove()`` in a `defer` to delete the
/// folder (database, `-wal` and `-shm` files included).
///
/// The tests use this instead of a `withTemporaryDatabase { path in … }` helper on purpose:
/// with Swift 6.3.1, a `#expect(throws:)` written inside a closure argument can make a later
/// closure in that same closure run the `#expect`'s body instead of its own (a miscompile of
/// macro-expanded closures). Test bodies therefore stay flat.
final class TemporaryDatabase {
    /// The folder holding the database.
    let folder: URL
    /// The database file's path.
    let path: String

    init() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("relais-sqlite-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("test.sqlite").path
    }

    /// Opens a read-write connection configured with ``Connection/configureForDurability(journalMode:synchronous:foreignKeys:busyTimeout:)``.
    func connect() throws -> Connection {
        let connection = try Connection(path: path)
        try connection.configureForDurability()
        return connection
    }

    /// Deletes the folder.
    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}

/// Reads a single integer, throwing when there is none.
func count(_ connection: Connection, _ sql: String, _ arguments: [SQLiteValue] = []) throws -> Int64 {
    guard let value = try connection.scalar(sql, arguments)?.int64Value else {
        throw SQLiteError(code: .mismatch, message: "no integer", sql: sql)
    }
    return value
}
