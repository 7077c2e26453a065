import Foundation
import RelaisCore
import RelaisSQLite

/// Raw SQLite doing the same storage work with none of our code: the baselines.
enum RawSQLite {
    static let columns = ["id"] + Customers.fields

    static func open(_ path: String) throws -> Connection {
        let db = try Connection(path: path)
        try db.configureForDurability(journalMode: .wal, synchronous: .full)
        try db.execute(
            "CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, \(Customers.fields.map { "\($0) TEXT" }.joined(separator: ", ")))"
        )
        return db
    }

    static func bind(_ statement: Statement, id: String, index: Int, territory: String) throws {
        try statement.bind(text: id, at: 1)
        let values = Customers.values(index, territory: territory)
        for (offset, field) in Customers.fields.enumerated() {
            try statement.bind(text: values[field]?.text ?? "", at: Int32(offset + 2))
        }
    }

    static var upsertSQL: String {
        "INSERT INTO customers (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", "))) "
            + "ON CONFLICT(id) DO UPDATE SET \(Customers.fields.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))"
    }

    /// Inserts `count` customer rows into an empty table in one transaction; returns seconds.
    static func insertAll(path: String, count: Int) async throws -> Double {
        let db = try open(path)
        defer { try? db.close() }
        let (_, seconds) = try await timed {
            try db.transaction {
                let statement = try db.prepare(upsertSQL)
                for index in 0..<count {
                    statement.reset()
                    try bind(statement, id: Customers.id(index), index: index, territory: "north")
                    _ = try statement.step()
                }
            }
        }
        return seconds
    }

    /// `count` durable transactions of one upsert each (WAL, synchronous=FULL): the cost of the
    /// durable commits a sync cannot avoid, on the same disk. Returns seconds per commit (median).
    static func durableCommit(path: String, count: Int) async throws -> Double {
        let db = try open(path)
        defer { try? db.close() }
        let statement = try db.prepare(upsertSQL)
        var samples: [Double] = []
        for index in 0..<count {
            let (_, seconds) = try await timed {
                try db.transaction {
                    statement.reset()
                    try bind(
                        statement, id: String(format: "00000000-0000-4000-9100-%012x", index), index: index,
                        territory: "t")
                    _ = try statement.step()
                }
            }
            samples.append(seconds)
        }
        return Summary(samples: samples).median
    }

    /// Upserts `batches × perBatch` rows, one durable transaction per batch; returns seconds.
    static func upsertBatched(path: String, batches: Int, perBatch: Int, firstIndex: Int = 0) async throws -> Double {
        let db = try open(path)
        defer { try? db.close() }
        let (_, seconds) = try await timed {
            let statement = try db.prepare(upsertSQL)
            for batch in 0..<batches {
                try db.transaction {
                    for row in 0..<perBatch {
                        let index = firstIndex + batch * perBatch + row
                        statement.reset()
                        try bind(statement, id: Customers.id(index), index: index, territory: "t\(batch)")
                        _ = try statement.step()
                    }
                }
            }
        }
        return seconds
    }
}

extension Value {
    var text: String? {
        switch self {
        case .text(let s), .date(let s): s
        case .number(let n): String(n)
        case .bool(let b): String(b)
        case .set(let items): items.joined(separator: ",")
        case .null: nil
        }
    }
}
