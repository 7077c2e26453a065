import RelaisSQLite
import Testing

struct SQLiteErrorTests {
    @Test func constraintViolationCarriesTheSQL() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE customer(id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL)")
        let sql = "INSERT INTO customer(email) VALUES (?)"
        try connection.execute(sql, ["ana@example.com"])
        let error = #expect(throws: SQLiteError.self) { try connection.execute(sql, ["ana@example.com"]) }
        let unique = try #require(error)
        #expect(unique.isConstraintViolation)
        #expect(unique.code == .constraint)
        #expect(unique.extendedCode == .constraintUnique)
        #expect(unique.sql == sql)
        #expect(unique.message.contains("UNIQUE constraint failed: customer.email"))
        #expect(unique.description.contains(sql))
        #expect(!unique.description.contains("ana@example.com"), "bound values stay out of description")
        #expect(unique.debugDescription.contains("ana@example.com"), "debugDescription expands them")
        #expect(!unique.isBusy && !unique.isFull)

        let notNull = #expect(throws: SQLiteError.self) { try connection.execute(sql, [nil]) }
        #expect(notNull?.extendedCode == .constraintNotNull)
        #expect(notNull?.isConstraintViolation == true)
    }

    @Test func debugDescriptionCutsLongValues() throws {
        let connection = try Connection(path: ":memory:")
        try connection.execute("CREATE TABLE file(id INTEGER PRIMARY KEY, data BLOB)")
        let sql = "INSERT INTO file(id, data) VALUES (?, ?)"
        try connection.execute(sql, [1, .blob([])])
        let error = #expect(throws: SQLiteError.self) {
            try connection.execute(sql, [1, .blob([UInt8](repeating: 0xAB, count: 50_000))])
        }
        let debug = try #require(error?.debugDescription)
        #expect(debug.lowercased().contains("x'abab"))
        #expect(debug.contains("bytes)"))
        #expect(debug.count < 1_500)
    }

    @Test func foreignKeysAreEnforcedAfterConfiguration() throws {
        let connection = try Connection(path: ":memory:")
        try connection.configureForDurability()
        try connection.execute(
            """
            CREATE TABLE customer(id INTEGER PRIMARY KEY);
            CREATE TABLE contact(id INTEGER PRIMARY KEY, customer INTEGER NOT NULL REFERENCES customer(id));
            """
        )
        let error = #expect(throws: SQLiteError.self) {
            try connection.execute("INSERT INTO contact(customer) VALUES (?)", [99])
        }
        #expect(error?.extendedCode == .constraintForeignKey)
    }

    @Test func syntaxErrorInExecute() throws {
        let connection = try Connection(path: ":memory:")
        let error = #expect(throws: SQLiteError.self) { try connection.execute("CREATE TABEL t(x)") }
        #expect(error?.code == .error)
        #expect(error?.sql == "CREATE TABEL t(x)")
        #expect(error?.message.contains("syntax error") == true)
    }

    @Test func codesCompareByValue() {
        #expect(SQLiteError.Code.constraintUnique.primary == .constraint)
        #expect(SQLiteError.Code(rawValue: 2067) == .constraintUnique)
        #expect(SQLiteError.Code.busy.description == "database is locked")
        let error = SQLiteError(code: .full, sql: "INSERT …")
        #expect(error.isFull)
        #expect(error.message == "database or disk is full")
    }
}
