import Foundation
import RelaisSQLite
import Synchronization
import Testing

struct ConnectionTests {
    @Test func opensATemporaryFileAndCreatesIt() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let path = database.path
        let connection = try Connection(path: path)
        #expect(connection.isOpen)
        #expect(connection.path == path)
        #expect(!connection.isReadOnly)
        try connection.execute("CREATE TABLE t(x)")
        #expect(FileManager.default.fileExists(atPath: path))
        try connection.close()
        #expect(!connection.isOpen)
        try connection.close()  // Closing twice does nothing.
    }

    @Test func inMemoryDatabaseWorks() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);")
        #expect(try count(connection, "SELECT sum(x) FROM t") == 3)
    }

    @Test func missingFileWithoutCreateFails() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let path = database.path
        let error = #expect(throws: SQLiteError.self) { try Connection(path: path, create: false) }
        #expect(error?.code == .cantOpen)
        #expect(error?.description.contains(path) == true)
        #expect(throws: SQLiteError.self) { try Connection(path: path, mode: .readOnly) }
    }

    @Test func readOnlyConnectionRejectsWrites() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let writer = try database.connect()
        let path = database.path
        try writer.execute("CREATE TABLE t(x)")
        let reader = try Connection(path: path, mode: .readOnly)
        #expect(reader.isReadOnly)
        #expect(try reader.configureForDurability() == .wal, "reads the file's mode")
        let error = #expect(throws: SQLiteError.self) { try reader.execute("INSERT INTO t VALUES (1)") }
        #expect(error?.isReadOnly == true)
    }

    @Test func secondConnectionSeesCommittedData() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let writer = try database.connect()
        let path = database.path
        try writer.execute("CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT)")
        let reader = try Connection(path: path, mode: .readOnly)
        try reader.configureForDurability()
        #expect(try count(reader, "SELECT count(*) FROM customer") == 0)

        try writer.transaction {
            try writer.execute("INSERT INTO customer(name) VALUES (?)", ["Café Müller"])
            // Not committed yet: WAL readers see the last committed state.
            #expect(try count(reader, "SELECT count(*) FROM customer") == 0)
        }
        #expect(try count(reader, "SELECT count(*) FROM customer") == 1)
        #expect(try reader.scalar("SELECT name FROM customer") == "Café Müller")
    }

    @Test func executeRunsSeveralStatementsAndReportsTheFailingOne() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute(
            """
            -- a comment first
            CREATE TABLE a(x);
            CREATE TABLE b(y UNIQUE);
            INSERT INTO b VALUES (1);
            SELECT * FROM a;   -- rows are ignored
            """
        )
        let error = #expect(throws: SQLiteError.self) {
            try connection.execute("INSERT INTO a VALUES (1); INSERT INTO b VALUES (1); INSERT INTO a VALUES (2)")
        }
        #expect(error?.sql == "INSERT INTO b VALUES (1)")
        #expect(try count(connection, "SELECT count(*) FROM a") == 1, "statements before the failure ran")
        try connection.execute("")
        try connection.execute("  -- nothing  ")
    }

    @Test func prepareTakesExactlyOneStatement() throws {
        let connection = try Connection(path: ":memory:")
        _ = try connection.prepare("SELECT 1;  ")
        _ = try connection.prepare("SELECT 1; -- trailing comment")
        let several = #expect(throws: SQLiteError.self) { try connection.prepare("SELECT 1; SELECT 2") }
        #expect(several?.code == .misuse)
        let none = #expect(throws: SQLiteError.self) { try connection.prepare("  ") }
        #expect(none?.code == .misuse)
        let syntax = #expect(throws: SQLiteError.self) { try connection.prepare("SELEKT 1") }
        #expect(syntax?.code == .error)
        #expect(syntax?.sql == "SELEKT 1")
    }

    @Test func changesAndLastInsertRowID() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, x)")
        try connection.execute("INSERT INTO t(x) VALUES (?)", ["a"])
        #expect(connection.lastInsertRowID == 1)
        try connection.execute("INSERT INTO t(x) VALUES ('b'), ('c')")
        #expect(connection.lastInsertRowID == 3)
        #expect(connection.changes == 2)
        try connection.execute("UPDATE t SET x = 'z'")
        #expect(connection.changes == 3)
        #expect(connection.totalChanges == 6)
    }

    @Test func scalarAndQuery() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (NULL)")
        #expect(try connection.scalar("SELECT x FROM t WHERE x = ?", [2]) == 2)
        #expect(try connection.scalar("SELECT x FROM t WHERE x = ?", [9]) == nil, "no row is nil")
        #expect(try connection.scalar("SELECT x FROM t WHERE x IS NULL") == .null, "a NULL column is .null")
        var seen: [SQLiteValue] = []
        try connection.query("SELECT x FROM t ORDER BY x") { row in seen.append(row.value(at: 0)) }
        #expect(seen == [nil, 1, 2])
    }

    @Test func queryMayNestTheSameSQL() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)")
        let sql = "SELECT x FROM t WHERE x >= ? ORDER BY x"
        var pairs: [[Int64]] = []
        try connection.query(sql, [1]) { outer in
            let x = outer.int64(at: 0)
            try connection.query(sql, [.integer(x)]) { inner in pairs.append([x, inner.int64(at: 0)]) }
        }
        #expect(pairs == [[1, 1], [1, 2], [1, 3], [2, 2], [2, 3], [3, 3]])
    }

    @Test func closeRefusesWhilePreparedStatementsLive() throws {
        let connection = try Connection(path: ":memory:")
        let cached = try connection.cachedStatement("SELECT 1")
        var statement: Statement? = try connection.prepare("SELECT 2")
        #expect(statement != nil)
        let error = #expect(throws: SQLiteError.self) { try connection.close() }
        #expect(error?.isBusy == true)
        #expect(connection.isOpen)
        statement = nil
        try connection.close()
        #expect(!connection.isOpen)
        // A cached statement outliving its connection fails cleanly.
        let afterClose = #expect(throws: SQLiteError.self) { try cached.step() }
        #expect(afterClose?.code == .misuse)
        #expect(cached.isNull(at: 0))
        cached.clearBindings()
        #expect(throws: SQLiteError.self) { try connection.execute("SELECT 1") }
        #expect(throws: SQLiteError.self) { try connection.prepare("SELECT 1") }
        #expect(connection.changes == 0)
        #expect(!connection.isInTransaction)
    }

    @Test func preparedStatementKeepsItsConnectionAlive() throws {
        func makeStatement() throws -> Statement {
            let connection = try Connection(path: ":memory:")
            return try connection.prepare("SELECT 'still here'")
        }
        let statement = try makeStatement()
        #expect(try statement.step())
        #expect(statement.text(at: 0) == "still here")
    }

    @Test func busyTimeoutAndBusyError() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let first = try database.connect()
        let path = database.path
        try first.execute("CREATE TABLE t(x)")
        let second = try Connection(path: path)
        try second.configureForDurability(busyTimeout: .milliseconds(50))
        try first.execute("BEGIN IMMEDIATE")
        let error = #expect(throws: SQLiteError.self) {
            try second.transaction(.immediate) {}
        }
        #expect(error?.isBusy == true)
        #expect(!second.isInTransaction)
        try first.execute("COMMIT")
        try second.transaction { try second.execute("INSERT INTO t VALUES (1)") }
        #expect(try count(first, "SELECT count(*) FROM t") == 1)
    }

    /// A flag shared with the interrupting thread.
    final class Flag: Sendable {
        let isSet = Atomic<Bool>(false)
    }

    @Test func interruptHandleStopsALongQueryFromAnotherThread() throws {
        let connection = try Connection(path: ":memory:")
        let handle = connection.interruptHandle
        let done = Flag()
        let interrupter = Thread {
            // Keep interrupting until the query has stopped: an interrupt with no statement
            // running has no effect, and the thread may start first.
            while !done.isSet.load(ordering: .acquiring) {
                handle.interrupt()
                usleep(5_000)
            }
        }
        interrupter.start()
        defer { done.isSet.store(true, ordering: .releasing) }
        let error = #expect(throws: SQLiteError.self) {
            // Would run for a very long time if not interrupted.
            _ = try connection.scalar(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
            )
        }
        #expect(error?.isInterrupted == true)
        done.isSet.store(true, ordering: .releasing)
        // The connection works afterwards, and the handle is harmless after close.
        #expect(try count(connection, "SELECT 1") == 1)
        try connection.close()
        handle.interrupt()
    }

    @Test func connectionLivesInsideAnActor() async throws {
        actor Store {
            private let connection: Connection
            init(path: String) throws {
                connection = try Connection(path: path)
                try connection.configureForDurability()
                try connection.execute("CREATE TABLE IF NOT EXISTS t(x)")
            }
            func insert(_ x: Int64) throws {
                try connection.transaction { try connection.execute("INSERT INTO t VALUES (?)", [.integer(x)]) }
            }
            func total() throws -> Int64 {
                try count(connection, "SELECT coalesce(sum(x), 0) FROM t")
            }
        }
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("relais-sqlite-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("actor.sqlite").path

        let store = try Store(path: path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for x in 1...20 {
                group.addTask { try await store.insert(Int64(x)) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.total() == 210)

        // A read-only connection in another task reads concurrently.
        let readerTotal = try await Task.detached {
            let reader = try Connection(path: path, mode: .readOnly)
            return try count(reader, "SELECT sum(x) FROM t")
        }.value
        #expect(readerTotal == 210)
    }
}
