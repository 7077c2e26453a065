import Foundation
import RelaisCore
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// Crash safety: the `relais-fault` child imports or applies pages in a loop and is killed with
/// SIGKILL at seeded random points; after each kill the file must be sound and all-or-nothing.
struct ClientCrashTests {
    /// The child program, built next to the test bundle.
    static var childPath: String { BuiltExecutable.path("relais-fault") }

    /// Runs the child in `mode` and kills it `kills` times, checking the file after each kill.
    func killRepeatedly(mode: String, rows: Int, kills: Int, seed: UInt64, check: (Connection) throws -> Int) throws
        -> Int
    {
        let child = Self.childPath
        try #require(FileManager.default.isExecutableFile(atPath: child), "build relais-fault first: \(child)")
        let folder = try TemporaryFolder(prefix: "crash")
        defer { folder.remove() }
        let path = folder.file("replica.db")
        var random = SeededRandom(seed: seed)  // seeded, so a failing schedule can be replayed
        var progress = 0
        for _ in 0..<kills {
            let process = try SpawnedProcess(child, [mode, path, String(rows)], stderr: .inherit)
            usleep(UInt32((40 + random.next() % 221) * 1000))  // 40 to 260 ms
            process.signal(SIGKILL)
            #expect(process.wait().signalled, "the child ended before it was killed")
            let connection = try Connection(path: path)
            #expect(try connection.integrityCheck() == "ok")
            // Killed before the file's creation committed (one transaction): no table at all.
            let tables = try connection.scalar(
                "SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_relais\\_%' ESCAPE '\\'")
            if tables?.int64Value == 0 {
                #expect(try connection.scalar("SELECT count(*) FROM sqlite_master")?.int64Value == 0)
                try connection.close()
                continue
            }
            progress = try check(connection)
            try connection.close()
        }
        return progress
    }

    @Test func killedImportsAreAllOrNothing() throws {
        let rows = 40
        let batches = try killRepeatedly(mode: "import", rows: rows, kills: 30, seed: 0xC0FFEE) { db in
            var counts: [String: Int64] = [:]
            try db.query("SELECT city, count(*) FROM customers GROUP BY city") { row in
                counts[row.text(at: 0) ?? ""] = row.int64(at: 1)
            }
            for (city, count) in counts {
                #expect(count == Int64(rows), "batch \(city) is partly imported")
            }
            // Every imported row has its pending write, stamped in the same transaction.
            let pending = try db.scalar("SELECT count(*) FROM _relais_pending")?.int64Value ?? -1
            let customers = try db.scalar("SELECT count(*) FROM customers")?.int64Value ?? -2
            #expect(pending == customers)
            #expect(try db.scalar("SELECT count(*) FROM _relais_capture")?.int64Value == 0)
            #expect(try db.scalar("SELECT count(*) FROM _relais_engine")?.int64Value == 0)
            return counts.count
        }
        #expect(batches > 0)
    }

    @Test func killedPageAppliesMatchTheCursor() throws {
        let rows = 60
        let pages = try killRepeatedly(mode: "apply", rows: rows, kills: 30, seed: 0xBADC0DE) { db in
            let cursor = try db.scalar("SELECT value FROM _relais_state WHERE key = 'cursor'")?.int64Value ?? 0
            let customers = try db.scalar("SELECT count(*) FROM customers")?.int64Value ?? -1
            let records = try db.scalar("SELECT count(*) FROM _relais_records")?.int64Value ?? -1
            #expect(customers == cursor * Int64(rows))
            #expect(records == customers)
            // Three pages per transaction: a kill inside one leaves none of them.
            #expect(cursor % 3 == 0, "the cursor \(cursor) is inside a batch of three pages")
            let highest = try db.scalar("SELECT max(city) FROM customers WHERE city LIKE 'page-%'")
            if cursor > 0 { #expect(try db.scalar("SELECT count(DISTINCT city) FROM customers")?.int64Value == cursor) }
            _ = highest
            #expect(try db.scalar("SELECT count(*) FROM _relais_pending")?.int64Value == 0)
            return Int(cursor)
        }
        #expect(pages > 0)
    }
}
