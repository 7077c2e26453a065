import RelaisSQLite
import Testing

/// Checkpoints taken out of the committing connection (``Connection/countLogFramesInsteadOfCheckpointing()``).
struct CheckpointTests {
    /// Commits `rows` rows of 2 KiB in one transaction: at least `rows / 2` new pages of log.
    static func insert(_ connection: Connection, rows: Int, from first: Int) throws {
        try connection.transaction {
            for index in first..<first + rows {
                try connection.execute("INSERT INTO t(id, body) VALUES (?, zeroblob(2048))", [.integer(Int64(index))])
            }
        }
    }

    @Test func aConnectionCountingFramesLeavesTheLogToAnother() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let writer = try database.connect()
        try writer.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)")
        #expect(writer.logFramesAfterLastCommit == nil)
        try writer.countLogFramesInsteadOfCheckpointing()

        // 3,000 rows of 2 KiB: past SQLite's 1,000-page automatic checkpoint, which would have
        // copied the log and started it over. The count only grows.
        var counts: [Int] = []
        for batch in 0..<10 {
            try Self.insert(writer, rows: 300, from: batch * 300)
            counts.append(try #require(writer.logFramesAfterLastCommit))
        }
        #expect(counts == counts.sorted())
        #expect(counts.last! > 1_500)

        // Another connection copies the whole log; the writer's next commit starts it over.
        let other = try database.connect()
        let checkpoint = try other.checkpoint()
        #expect(checkpoint.logFrames == counts.last!)
        #expect(checkpoint.copiedFrames == checkpoint.logFrames)
        try Self.insert(writer, rows: 10, from: 10_000)
        #expect(try #require(writer.logFramesAfterLastCommit) < 50)
        #expect(try other.scalar("SELECT count(*) FROM t")?.int64Value == 3_010)
        try writer.close()
        try other.close()

        // Everything is in the file.
        let reopened = try database.connect()
        #expect(try reopened.scalar("SELECT count(*) FROM t")?.int64Value == 3_010)
        #expect(try reopened.scalar("PRAGMA integrity_check")?.textValue == "ok")
    }

    @Test func aCheckpointStopsAtWhatAReaderStillNeeds() throws {
        let database = try TemporaryDatabase()
        defer { database.remove() }
        let writer = try database.connect()
        try writer.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)")
        try writer.countLogFramesInsteadOfCheckpointing()
        try Self.insert(writer, rows: 100, from: 0)
        // A reader holds the snapshot of 100 rows while 100 more are committed.
        let reader = try database.connect()
        try reader.execute("BEGIN")
        #expect(try reader.scalar("SELECT count(*) FROM t")?.int64Value == 100)
        try Self.insert(writer, rows: 100, from: 100)
        let checkpoint = try database.connect().checkpoint()
        #expect(checkpoint.logFrames == writer.logFramesAfterLastCommit)
        #expect(checkpoint.copiedFrames < checkpoint.logFrames)
        #expect(try reader.scalar("SELECT count(*) FROM t")?.int64Value == 100)
        try reader.execute("COMMIT")
        let after = try database.connect().checkpoint()
        #expect(after.copiedFrames == after.logFrames)
    }
}
