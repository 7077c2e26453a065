import RelaisSQLite
import Testing

struct DurabilityTests {
    @Test func configureSetsWALFullAndForeignKeys() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let path = database.path
        let connection = try Connection(path: path)
        #expect(try connection.journalMode() == .delete)
        let mode = try connection.configureForDurability()
        #expect(mode == .wal)
        #expect(try connection.scalar("PRAGMA journal_mode") == "wal")
        #expect(try connection.journalMode() == .wal)
        #expect(try connection.synchronous() == .full)
        #expect(try count(connection, "PRAGMA synchronous") == 2)
        #expect(try count(connection, "PRAGMA foreign_keys") == 1)
        #expect(try count(connection, "PRAGMA busy_timeout") == 5000)
    }

    @Test func synchronousNormalCanBeChosen() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let path = database.path
        let connection = try Connection(path: path)
        try connection.configureForDurability(synchronous: .normal, foreignKeys: false, busyTimeout: .milliseconds(250))
        #expect(try connection.synchronous() == .normal)
        #expect(try count(connection, "PRAGMA foreign_keys") == 0)
        #expect(try count(connection, "PRAGMA busy_timeout") == 250)
    }

    @Test func walModePersistsInTheFile() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let path = database.path
        do {
            let connection = try Connection(path: path)
            try connection.configureForDurability()
            try connection.execute("CREATE TABLE t(x)")
        }
        let reopened = try Connection(path: path)
        #expect(try reopened.journalMode() == .wal)
    }

    @Test func inMemoryDatabaseReportsMemoryMode() throws {
        let connection = try Connection(path: ":memory:")
        #expect(try connection.configureForDurability() == .memory)
    }

    @Test func integrityCheckIsOK() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let connection = try database.connect()
        try connection.execute("CREATE TABLE t(x UNIQUE); INSERT INTO t VALUES (1), (2)")
        #expect(try connection.integrityCheck() == "ok")
    }

    @Test func userVersionRoundTrips() throws {
        let connection = try Connection(path: ":memory:")
        #expect(try connection.userVersion() == 0)
        try connection.transaction { try connection.setUserVersion(7) }
        #expect(try connection.userVersion() == 7)
    }
}
