import Foundation
import RelaisSQLite
import Testing

struct StatementTests {
    static let schema = "CREATE TABLE item(id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB)"

    @Test func bindsEveryTypeAndReadsItBack() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute(Self.schema)
        let insert = try connection.prepare("INSERT INTO item(id, i, r, t, b) VALUES (?, ?, ?, ?, ?)")
        try insert.execute([1, .integer(Int64.max), 3.25, "hello", .blob([0, 1, 2, 255])])
        try insert.execute([2, .integer(Int64.min), -0.5, "", .blob([])])
        try insert.execute([3, nil, nil, nil, nil])

        let select = try connection.prepare("SELECT id, i, r, t, b FROM item ORDER BY id")
        #expect(select.columnCount == 5)
        #expect(select.columnName(at: 3) == "t")
        #expect(select.columnName(at: 9) == nil)

        #expect(try select.step())
        #expect(select.int64(at: 1) == Int64.max)
        #expect(select.double(at: 2) == 3.25)
        #expect(select.text(at: 3) == "hello")
        #expect(select.blob(at: 4) == [0, 1, 2, 255])
        #expect(select.value(at: 1) == .integer(Int64.max))
        #expect(select.value(at: 2) == .real(3.25))
        #expect(select.value(at: 3) == .text("hello"))
        #expect(select.value(at: 4) == .blob([0, 1, 2, 255]))

        #expect(try select.step())
        #expect(select.int64(at: 1) == Int64.min)
        #expect(select.double(at: 2) == -0.5)
        #expect(select.text(at: 3) == "", "an empty string is not NULL")
        #expect(!select.isNull(at: 3))
        #expect(select.blob(at: 4) == [], "an empty blob is not NULL")
        #expect(!select.isNull(at: 4))
        #expect(select.value(at: 4) == .blob([]))

        #expect(try select.step())
        for column in Int32(1)...4 {
            #expect(select.isNull(at: column))
            #expect(select.value(at: column) == .null)
        }
        #expect(select.text(at: 3) == nil)
        #expect(select.blob(at: 4) == nil)
        #expect(select.int64(at: 1) == 0)
        #expect(select.double(at: 2) == 0)

        #expect(try !select.step())
    }

    @Test func typedBindsMatchValueBinds() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute(Self.schema)
        let insert = try connection.prepare("INSERT INTO item(id, i, r, t, b) VALUES (?, ?, ?, ?, ?)")
        try insert.bind(int64: 1, at: 1)
        try insert.bind(int64: -7, at: 2)
        try insert.bind(double: 2.5, at: 3)
        try insert.bind(text: "typed", at: 4)
        try insert.bind(blob: [9, 8, 7], at: 5)
        try insert.execute()

        // Non-array collections: contiguous (Data, ArraySlice) and not (a reversed view).
        try insert.bind(int64: 2, at: 1)
        try insert.bindNull(at: 2)
        try insert.bindNull(at: 3)
        try insert.bind(text: "slice", at: 4)
        try insert.bind(blob: [0, 1, 2, 3, 4][1...3], at: 5)
        try insert.execute()
        try insert.bind(int64: 3, at: 1)
        try insert.bind(blob: Data([5, 6]), at: 5)
        try insert.execute()
        try insert.bind(int64: 4, at: 1)
        try insert.bind(blob: [1, 2, 3].reversed(), at: 5)
        try insert.execute()

        var rows: [[SQLiteValue]] = []
        try connection.query("SELECT i, r, t, b FROM item ORDER BY id") { row in
            rows.append((0..<row.columnCount).map { row[$0] })
        }
        #expect(
            rows == [
                [-7, 2.5, "typed", .blob([9, 8, 7])],
                [nil, nil, "slice", .blob([1, 2, 3])],
                [nil, nil, "slice", .blob([5, 6])],
                [nil, nil, "slice", .blob([3, 2, 1])],
            ]
        )
    }

    @Test func utf8BytesBindAsText() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute(Self.schema)
        let insert = try connection.prepare("INSERT INTO item(id, t) VALUES (?, ?)")
        try insert.bind(int64: 1, at: 1)
        try insert.bind(utf8: Array("Café {\"a\":1}".utf8), at: 2)
        try insert.execute()
        try insert.bind(int64: 2, at: 1)
        try insert.bind(utf8: [], at: 2)
        try insert.execute()
        #expect(try connection.scalar("SELECT t FROM item WHERE id = 1") == .text("Café {\"a\":1}"))
        #expect(try connection.scalar("SELECT typeof(t) || ':' || length(t) FROM item WHERE id = 2") == .text("text:0"))
    }

    @Test func triggersSwitchOffForOneConnectionOnly() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        let other = try database.connect()
        try connection.execute(Self.schema)
        try connection.execute("CREATE TABLE log(id INTEGER)")
        try connection.execute(
            "CREATE TRIGGER item_log AFTER INSERT ON item BEGIN INSERT INTO log VALUES (new.id); END")
        let insert = try connection.prepare("INSERT INTO item(id) VALUES (?)")
        #expect(connection.triggersEnabled)
        try insert.execute([1])
        connection.triggersEnabled = false
        #expect(!connection.triggersEnabled)
        // A statement prepared while triggers ran is prepared again without them.
        try insert.execute([2])
        try other.execute("INSERT INTO item(id) VALUES (3)")
        connection.triggersEnabled = true
        try insert.execute([4])
        var logged: [Int64] = []
        try connection.query("SELECT id FROM log ORDER BY id") { logged.append($0.int64(at: 0)) }
        #expect(logged == [1, 3, 4])
    }

    /// Switching a connection's triggers makes its cached statements prepare again, once each, at
    /// their next use; the counter tells (the replica keeps its small sections from paying that).
    @Test func switchingTriggersMakesCachedStatementsPrepareAgain() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute(Self.schema)
        let sql = "INSERT INTO item(id) VALUES (?)"
        try connection.cachedStatement(sql).execute([1])
        try connection.cachedStatement(sql).execute([2])
        #expect(connection.cachedStatementReprepares == 0)
        connection.triggersEnabled = false
        try connection.cachedStatement(sql).execute([3])
        try connection.cachedStatement(sql).execute([4])
        #expect(connection.cachedStatementReprepares == 1)
        connection.triggersEnabled = true
        try connection.cachedStatement(sql).execute([5])
        #expect(connection.cachedStatementReprepares == 2)
    }

    @Test func unicodeTextRoundTrips() throws {
        let samples = [
            "Café Müller", "Łódź", "日本語のテキスト", "emoji 👩‍💻🇫🇷", "RTL עברית", "e\u{301}", "a\u{0}b",
            String(repeating: "ü", count: 10_000),
        ]
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute("CREATE TABLE note(id INTEGER PRIMARY KEY, body TEXT)")
        let insert = try connection.prepare("INSERT INTO note(body) VALUES (?)")
        for sample in samples {
            try insert.bind(text: sample, at: 1)
            try insert.execute()
        }
        var read: [String] = []
        try connection.query("SELECT body FROM note ORDER BY id") { row in
            read.append(row.text(at: 0) ?? "<null>")
        }
        #expect(read == samples)
        #expect(read[6].utf8.count == 3, "an embedded NUL is kept")
        #expect(try count(connection, "SELECT length(body) FROM note WHERE id = 1") == 11)
        #expect(try connection.scalar("SELECT body FROM note WHERE body = ?", ["Łódź"]) == "Łódź")
    }

    @Test func blobRoundTripsAllByteValuesAndLargeSizes() throws {
        let everyByte = (0...255).map(UInt8.init)
        let large = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute("CREATE TABLE file(id INTEGER PRIMARY KEY, data BLOB)")
        try connection.execute("INSERT INTO file(id, data) VALUES (?, ?)", [1, .blob(everyByte)])
        try connection.execute("INSERT INTO file(id, data) VALUES (?, ?)", [2, .blob(large)])
        #expect(try connection.scalar("SELECT data FROM file WHERE id = 1") == .blob(everyByte))
        #expect(try connection.scalar("SELECT data FROM file WHERE id = 2")?.blobValue == large)
        #expect(try count(connection, "SELECT length(data) FROM file WHERE id = 2") == 1_000_000)

        let select = try connection.prepare("SELECT data FROM file WHERE id = 1")
        #expect(try select.step())
        let sum = select.withUnsafeBytes(at: 0) { bytes in bytes.reduce(0) { $0 + Int($1) } }
        #expect(sum == everyByte.reduce(0) { $0 + Int($1) })
    }

    @Test func bindArgumentCountMustMatch() throws {
        let connection = try Connection(path: ":memory:")
        let statement = try connection.prepare("SELECT ?, ?")
        #expect(statement.parameterCount == 2)
        let error = #expect(throws: SQLiteError.self) { try statement.bind([1]) }
        #expect(error?.code == .misuse)
        #expect(error?.sql == "SELECT ?, ?")
        #expect(throws: SQLiteError.self) { try statement.bind(int64: 1, at: 3) }
    }

    @Test func namedParameters() throws {
        let connection = try Connection(path: ":memory:")
        let statement = try connection.prepare("SELECT :name || '-' || :name, @n + 1")
        let name = try #require(statement.parameterIndex(named: ":name"))
        let number = try #require(statement.parameterIndex(named: "@n"))
        #expect(statement.parameterIndex(named: ":missing") == nil)
        #expect(statement.parameterCount == 2)
        try statement.bind(text: "x", at: name)
        try statement.bind(int64: 41, at: number)
        #expect(try statement.step())
        #expect(statement.text(at: 0) == "x-x")
        #expect(statement.int64(at: 1) == 42)
    }

    @Test func resetKeepsBindingsAndClearBindingsDropsThem() throws {
        let connection = try Connection(path: ":memory:")
        let statement = try connection.prepare("SELECT ?")
        try statement.bind(int64: 5, at: 1)
        #expect(try statement.step())
        #expect(statement.int64(at: 0) == 5)
        statement.reset()
        #expect(try statement.step())
        #expect(statement.int64(at: 0) == 5)
        statement.reset()
        statement.clearBindings()
        #expect(try statement.step())
        #expect(statement.isNull(at: 0))
    }

    @Test func stepErrorResetsSoTheStatementCanRunAgain() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE u(id INTEGER PRIMARY KEY)")
        let insert = try connection.prepare("INSERT INTO u(id) VALUES (?)")
        try insert.execute([1])
        #expect(throws: SQLiteError.self) { try insert.execute([1]) }
        try insert.execute([2])
        #expect(try count(connection, "SELECT count(*) FROM u") == 2)
    }

    @Test func forEachRowOnAPreparedStatement() throws {
        let connection = try Connection(path: ":memory:")
        let statement = try connection.prepare(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT x FROM c"
        )
        var total: Int64 = 0
        try statement.forEachRow([4]) { row in total += row.int64(at: 0) }
        #expect(total == 10)
        // Runs again from the start.
        total = 0
        try statement.forEachRow([3]) { row in total += row.int64(at: 0) }
        #expect(total == 6)
    }

    @Test func readOnlyFlag() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t(x)")
        #expect(try connection.prepare("SELECT x FROM t").isReadOnly)
        #expect(try !connection.prepare("INSERT INTO t VALUES (1)").isReadOnly)
    }
}
