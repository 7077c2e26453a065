import CRelaisSQLite

extension Connection {
    /// Copies this connection's `main` database into `destination` with SQLite's online backup API.
    ///
    /// The copy is taken in one step, inside one read transaction of this connection: it is the
    /// database as of one commit, however many transactions other connections commit meanwhile. In
    /// WAL mode the copy blocks no writer, and no writer makes it start over (as a copy in several
    /// steps would). `destination` is replaced whole, and takes the source's journal mode (a WAL
    /// source makes a WAL copy): set its `journal_mode` afterwards for a file that stands alone.
    ///
    /// - Throws: ``SQLiteError`` from either database; a locked one is retried for 10 seconds.
    public func backup(into destination: Connection) throws(SQLiteError) {
        let source = try liveHandle()
        let target = try destination.liveHandle()
        guard let backup = sqlite3_backup_init(target, "main", source, "main") else {
            throw SQLiteError(code: sqlite3_errcode(target), db: target, sql: nil)
        }
        var code: Int32
        var waits = 0
        repeat {
            code = sqlite3_backup_step(backup, -1)
            if code == SQLITE_BUSY || code == SQLITE_LOCKED {
                waits += 1
                sqlite3_sleep(10)
            }
        } while (code == SQLITE_BUSY || code == SQLITE_LOCKED) && waits < 1000 || code == SQLITE_OK
        let finished = sqlite3_backup_finish(backup)
        guard code == SQLITE_DONE else { throw SQLiteError(code: code, db: target, sql: nil) }
        guard finished == SQLITE_OK else { throw SQLiteError(code: finished, db: target, sql: nil) }
    }
}
