import Foundation
import RelaisClient
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import RelaisTesting

/// The replica's apply speed (issue 4): 100,000 customers applied from 100 pull pages with
/// `Replica._applyPullPages` (grouped into transactions as a sync receiving them would), against raw
/// SQLite inserting the same rows into an empty table of the same columns in one transaction. No hub,
/// no HTTP: the pages are built in memory before the clock starts.
enum ApplyBench {
    static let fields = BootstrapPages.fields
    /// The replica's page cache (`ReplicaStore.tuning`), for the second baseline.
    static let replicaCacheKiB = 32_768

    /// The replica's `customers` table: every field of the CRM schema as a column of its SQL type.
    static var createTable: String {
        let collection = Schema.crm.collection("customers")!
        var columns = ["id TEXT PRIMARY KEY NOT NULL"]
        for field in collection.fields {
            let type: String
            switch field.type {
            case .number: type = "REAL"
            case .bool: type = "INTEGER"
            default: type = "TEXT"
            }
            columns.append("\"\(field.name)\" \(type)")
        }
        return "CREATE TABLE customers(" + columns.joined(separator: ", ") + ")"
    }

    /// Applies `pages` to a fresh replica at `path`; returns seconds. Checks every record arrived.
    static func apply(_ pages: [Relais_V1_PullResponse], path: String, expected: Int) async throws -> Double {
        let replica = try Replica.open(path: path, logger: quietLogger)
        let (applied, seconds) = try await timed {
            let applied = try await replica._applyPullPages(pages)
            // The raw baseline's commit checkpoints its log into the file (SQLite's automatic
            // checkpoint); the replica's log is folded in too before the clock stops, so that neither
            // side leaves work behind.
            let db = try Connection(path: path)
            defer { try? db.close() }
            try db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return applied
        }
        let cursor = try await replica.status().cursor
        guard applied == expected, cursor == UInt64(expected) else {
            throw BenchError("apply: \(applied) records applied, expected \(expected)")
        }
        return seconds
    }

    /// Raw SQLite (durable, WAL, synchronous=FULL, as the replica) inserting the pages' rows into an
    /// empty table in one transaction; returns seconds. `cacheKiB`: a page cache of that many KiB
    /// instead of SQLite's default (2 MiB), for a baseline with the replica's own cache.
    static func raw(_ pages: [Relais_V1_PullResponse], path: String, cacheKiB: Int? = nil) async throws -> Double {
        let db = try Connection(path: path)
        defer { try? db.close() }
        try db.configureForDurability()
        if let cacheKiB { try db.execute("PRAGMA cache_size = -\(cacheKiB)") }
        try db.execute(createTable)
        let columns = fields.map { "\"\($0)\"" }.joined(separator: ", ")
        let (_, seconds) = try await timed {
            try db.transaction {
                let statement = try db.prepare(
                    "INSERT INTO customers(id, \(columns)) VALUES (?\(String(repeating: ", ?", count: fields.count)))")
                for page in pages {
                    for record in page.records {
                        statement.reset()
                        try statement.bind(text: record.recordID, at: 1)
                        for (k, field) in record.fields.enumerated() {
                            let value = try Value(field.value)
                            switch value {
                            case .set(let items):
                                let json = "[" + items.sorted().map { "\"\($0)\"" }.joined(separator: ",") + "]"
                                try statement.bind(text: json, at: Int32(k + 2))
                            default:
                                try statement.bind(text: value.text ?? "", at: Int32(k + 2))
                            }
                        }
                        _ = try statement.step()
                    }
                }
            }
        }
        return seconds
    }
}
