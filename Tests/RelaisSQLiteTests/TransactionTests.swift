import RelaisSQLite
import Testing

struct TransactionTests {
    struct Failure: Error, Equatable {}

    private func makeConnection() throws -> Connection {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE t(x INTEGER UNIQUE)")
        return connection
    }

    private func values(_ connection: Connection) throws -> [Int64] {
        var values: [Int64] = []
        try connection.query("SELECT x FROM t ORDER BY x") { values.append($0.int64(at: 0)) }
        return values
    }

    @Test(arguments: [Connection.TransactionKind.deferred, .immediate, .exclusive])
    func commitsWhenTheBodyReturns(kind: Connection.TransactionKind) throws {
        let connection = try makeConnection()
        let result = try connection.transaction(kind) {
            #expect(connection.isInTransaction)
            try connection.execute("INSERT INTO t VALUES (1)")
            return "done"
        }
        #expect(result == "done")
        #expect(!connection.isInTransaction)
        #expect(try values(connection) == [1])
    }

    @Test func rollsBackWhenTheBodyThrows() throws {
        let connection = try makeConnection()
        #expect(throws: Failure.self) {
            try connection.transaction {
                try connection.execute("INSERT INTO t VALUES (1)")
                throw Failure()
            }
        }
        #expect(!connection.isInTransaction)
        #expect(try values(connection) == [])
    }

    @Test func rollsBackOnAnSQLiteErrorAndRethrowsIt() throws {
        let connection = try makeConnection()
        let error = #expect(throws: SQLiteError.self) {
            try connection.transaction {
                try connection.execute("INSERT INTO t VALUES (1)")
                try connection.execute("INSERT INTO t VALUES (1)")
            }
        }
        #expect(error?.isConstraintViolation == true)
        #expect(try values(connection) == [])
    }

    @Test func nestedTransactionsUseSavepoints() throws {
        let connection = try makeConnection()
        try connection.transaction {
            try connection.execute("INSERT INTO t VALUES (1)")
            // A failing inner level rolls back only its own work. (do/catch rather than
            // `#expect(throws:)` inside a closure: see TemporaryDatabase.swift.)
            do {
                try connection.transaction {
                    try connection.execute("INSERT INTO t VALUES (2)")
                    try connection.transaction {
                        try connection.execute("INSERT INTO t VALUES (3)")
                    }
                    throw Failure()
                }
                Issue.record("the inner transaction should have thrown")
            } catch is Failure {}
            #expect(connection.isInTransaction)
            // A succeeding inner level is kept.
            try connection.transaction(.exclusive) {
                try connection.execute("INSERT INTO t VALUES (4)")
            }
            #expect(try values(connection) == [1, 4])
        }
        #expect(try values(connection) == [1, 4])
    }

    @Test func innerErrorNotCaughtRollsBackEverything() throws {
        let connection = try makeConnection()
        #expect(throws: Failure.self) {
            try connection.transaction {
                try connection.execute("INSERT INTO t VALUES (1)")
                try connection.transaction {
                    try connection.execute("INSERT INTO t VALUES (2)")
                    throw Failure()
                }
            }
        }
        #expect(!connection.isInTransaction)
        #expect(try values(connection) == [])
    }

    @Test func transactionInsidePlainBeginUsesASavepoint() throws {
        let connection = try makeConnection()
        try connection.execute("BEGIN")
        try? connection.transaction {
            try connection.execute("INSERT INTO t VALUES (1)")
            throw Failure()
        }
        try connection.transaction { try connection.execute("INSERT INTO t VALUES (2)") }
        #expect(connection.isInTransaction, "the outer BEGIN is the caller's to end")
        try connection.execute("COMMIT")
        #expect(try values(connection) == [2])
    }

    @Test func diskFullRollsBackAndIsReported() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute("CREATE TABLE big(data BLOB)")
        let pageCount = try count(connection, "PRAGMA page_count")
        _ = try connection.scalar("PRAGMA max_page_count = \(pageCount + 4)")
        let error = #expect(throws: SQLiteError.self) {
            try connection.transaction {
                try connection.execute("INSERT INTO big VALUES (?)", [.blob([UInt8](repeating: 7, count: 100_000))])
            }
        }
        #expect(error?.isFull == true)
        #expect(!connection.isInTransaction)
        #expect(try count(connection, "SELECT count(*) FROM big") == 0)
        // Still usable afterwards.
        try connection.transaction { try connection.execute("INSERT INTO big VALUES (x'00')") }
        #expect(try count(connection, "SELECT count(*) FROM big") == 1)
    }

    @Test func hundredThousandRowsInOneTransaction() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute(
            "CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, tag BLOB)"
        )
        let tag: [UInt8] = [1, 2, 3, 4]
        try connection.transaction {
            let insert = try connection.cachedStatement(
                "INSERT INTO customer(id, name, score, tag) VALUES (?, ?, ?, ?)"
            )
            for id in 1...100_000 {
                try insert.bind(int64: Int64(id), at: 1)
                try insert.bind(text: "Customer \(id)", at: 2)
                try insert.bind(double: Double(id) / 2, at: 3)
                try insert.bind(blob: tag, at: 4)
                try insert.execute()
            }
        }
        #expect(try count(connection, "SELECT count(*) FROM customer") == 100_000)
        #expect(try connection.scalar("SELECT name FROM customer WHERE id = ?", [99_999]) == "Customer 99999")
        #expect(try connection.integrityCheck() == "ok")
    }
}
