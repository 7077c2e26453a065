import RelaisSQLite
import Testing

struct CachedStatementTests {
    @Test func returnsTheSameStatementForTheSameSQL() throws {
        let connection = try Connection(path: ":memory:")
        let first = try connection.cachedStatement("SELECT 1")
        let second = try connection.cachedStatement("SELECT 1")
        let other = try connection.cachedStatement("SELECT 2")
        #expect(first === second)
        #expect(first !== other)
        #expect(try connection.prepare("SELECT 1") !== first, "prepare never caches")
    }

    @Test func comesBackResetWithBindingsCleared() throws {
        let connection = try Connection(path: ":memory:")
        let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) SELECT x, ? FROM c"
        let statement = try connection.cachedStatement(sql)
        try statement.bind(text: "bound", at: 1)
        #expect(try statement.step())
        #expect(try statement.step())
        #expect(statement.int64(at: 0) == 2)
        #expect(statement.text(at: 1) == "bound")

        let again = try connection.cachedStatement(sql)
        #expect(try again.step())
        #expect(again.int64(at: 0) == 1, "starts over")
        #expect(again.isNull(at: 1), "bindings cleared")
    }

    @Test func reusedAcrossManyExecutions() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t(x)")
        for x in 0..<100 {
            try connection.cachedStatement("INSERT INTO t VALUES (?)").execute([.integer(Int64(x))])
        }
        #expect(try count(connection, "SELECT count(*) FROM t") == 100)
        #expect(try count(connection, "SELECT sum(x) FROM t") == 4950)
    }

    @Test func clearingTheCacheFinalizesHandedOutStatements() throws {
        let connection = try Connection(path: ":memory:")
        let statement = try connection.cachedStatement("SELECT 1")
        connection.clearStatementCache()
        #expect(throws: SQLiteError.self) { try statement.step() }
        let fresh = try connection.cachedStatement("SELECT 1")
        #expect(fresh !== statement)
        #expect(try fresh.step())
    }

    @Test func survivesSchemaChanges() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        #expect(try count(connection, "SELECT count(*) FROM t") == 1)
        try connection.execute("ALTER TABLE t ADD COLUMN y; INSERT INTO t VALUES (2, 3)")
        #expect(try count(connection, "SELECT count(*) FROM t") == 2)
    }
}
