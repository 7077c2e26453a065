import Foundation
public import Logging
import NIOCore
import PostgresNIO
import RelaisSQLite

/// `relais-hub migrate --from DIR --to URL`: copies a SQLite hub into an empty PostgreSQL database,
/// every row as it is — history, reports, audit, devices with their tokens' hashes, counters and
/// cursors, sequences, the hub's own clock, the data schemas applied — so that laptops carry on with the same tokens and
/// cursors, without a new bootstrap (Deploy/README.md).
///
/// The source is read in one snapshot (after its own migrations are applied); the target is written
/// in one transaction, so a failed copy leaves an empty schema behind, never half a hub. The hub on
/// the source must be stopped first: writes it took during the copy would not be copied.
public enum HubStoreMigration {
    /// What was copied: rows per table, in copy order.
    public struct Report: Sendable, Hashable {
        public var tables: [Table]

        public struct Table: Sendable, Hashable {
            public var name: String
            public var rows: Int
        }
    }

    /// A column's type on PostgreSQL, for binding SQLite's values.
    enum ColumnType {
        case bigint
        case text
        case bytea
        /// An SQLite integer 0/1.
        case boolean
    }

    /// One table: its columns in SQLite and their names on PostgreSQL.
    struct TableCopy {
        var table: String
        var columns: [(sqlite: String, postgres: String, type: ColumnType)]
        /// Extra SQL after the target's column list (`OVERRIDING SYSTEM VALUE` for identities).
        var overriding = false
    }

    static let tables: [TableCopy] = [
        TableCopy(
            table: "users",
            columns: [
                ("name", "name", .text), ("role", "role", .text), ("territories", "territories", .text),
                ("scope_version", "scope_version", .bigint), ("created_at", "created_at", .bigint),
                ("disabled_at", "disabled_at", .bigint),
            ]),
        TableCopy(
            table: "api_tokens",
            columns: [
                ("token_hash", "token_hash", .text), ("user", "user_name", .text),
                ("created_at", "created_at", .bigint),
                ("revoked_at", "revoked_at", .bigint),
            ]),
        TableCopy(
            table: "enrollments",
            columns: [
                ("code_hash", "code_hash", .text), ("user", "user_name", .text), ("created_at", "created_at", .bigint),
                ("expires_at", "expires_at", .bigint), ("used_at", "used_at", .bigint), ("replica", "replica", .bigint),
                ("attempt_hash", "attempt_hash", .text), ("sealed_token", "sealed_token", .text),
            ]),
        TableCopy(
            table: "devices",
            columns: [
                ("replica", "replica", .bigint), ("user", "user_name", .text), ("token_hash", "token_hash", .text),
                ("name", "name", .text), ("epoch", "epoch", .bigint), ("lineage", "lineage", .bigint),
                ("created_at", "created_at", .bigint), ("revoked_at", "revoked_at", .bigint),
                ("renewed_to", "renewed_to", .bigint), ("highest_counter", "highest_counter", .bigint),
                ("ack_cursor", "ack_cursor", .bigint), ("scope_version", "scope_version", .bigint),
                ("last_seen_at", "last_seen_at", .bigint), ("clamped_writes", "clamped_writes", .bigint),
                ("token_expires_at", "token_expires_at", .bigint),
                ("previous_token_hash", "previous_token_hash", .text),
                ("previous_token_until", "previous_token_until", .bigint),
                ("wipe_requested_at", "wipe_requested_at", .bigint), ("wiped_at", "wiped_at", .bigint),
                ("wipe_saved_writes", "wipe_saved_writes", .bigint),
                ("wipe_unsaved_writes", "wipe_unsaved_writes", .bigint),
            ]),
        TableCopy(
            table: "records",
            columns: [
                ("collection", "collection", .text), ("id", "id", .text), ("seq", "seq", .bigint),
                ("whole_since", "whole_since", .bigint), ("scope", "scope", .text), ("parent_id", "parent_id", .text),
                ("deleted_at", "deleted_at", .bigint), ("state", "state", .bytea),
            ]),
        TableCopy(
            table: "moves",
            columns: [
                ("seq", "seq", .bigint), ("collection", "collection", .text), ("record_id", "record_id", .text),
                ("from_scope", "from_scope", .text), ("to_scope", "to_scope", .text),
            ]),
        TableCopy(
            table: "write_results",
            columns: [
                ("replica", "replica", .bigint), ("counter", "counter", .bigint), ("digest", "digest", .bytea),
                ("status", "status", .text), ("conflict_ids", "conflict_ids", .text), ("code", "code", .text),
                ("reason", "reason", .text),
            ]),
        TableCopy(
            table: "conflicts",
            columns: [
                ("id", "id", .text), ("created_at", "created_at", .bigint), ("seq", "seq", .bigint),
                ("collection", "collection", .text), ("record_id", "record_id", .text), ("field", "field", .text),
                ("rule", "rule", .text), ("base", "base", .text), ("chosen", "chosen", .text),
                ("competitors", "competitors", .text), ("status", "status", .text), ("scope", "scope", .text),
                ("resolution", "resolution", .text),
            ]),
        TableCopy(
            table: "events",
            columns: [
                ("id", "id", .bigint), ("at", "at", .bigint), ("kind", "kind", .text), ("replica", "replica", .bigint),
                ("user", "user_name", .text), ("detail", "detail", .text),
            ], overriding: true),
        TableCopy(
            table: "write_history",
            columns: [
                ("collection", "collection", .text), ("record_id", "record_id", .text), ("seq", "seq", .bigint),
                ("replica", "replica", .bigint), ("counter", "counter", .bigint), ("hlc", "hlc", .bigint),
                ("user", "user_name", .text), ("at", "at", .bigint), ("fields", "fields", .text),
                ("deleted", "deleted", .boolean),
            ]),
        TableCopy(
            table: "data_schemas",
            columns: [
                ("version", "version", .bigint), ("definition", "definition", .text),
                ("applied_at", "applied_at", .bigint),
            ]),
        TableCopy(
            table: "admin_sessions",
            columns: [
                ("id", "id", .text), ("user", "user_name", .text), ("csrf", "csrf", .text),
                ("expires_at", "expires_at", .bigint),
            ]),
    ]

    /// Rows per `INSERT` statement.
    static let rowsPerStatement = 500

    /// Copies the SQLite hub in `folder` into the database at `url`, which must hold no hub store.
    ///
    /// - Throws: ``HubStoreError/missing`` (no SQLite store in `folder`), ``HubStoreError/exists`` (the
    ///   database already holds one), ``HubStoreError/badLocation`` / ``HubStoreError/unavailable`` for the URL.
    public static func copy(
        fromSQLite folder: String, toPostgres url: String, logger: Logger = Logger(label: "relais.hub.migrate")
    ) async throws -> Report {
        // The source's own migrations first, so that every table below exists.
        let source = try SQLiteHubStore(folder: folder, create: false, logger: logger)
        await source.close()
        let connection = try Connection(path: source.path, mode: .readOnly, create: false)
        defer { try? connection.close() }
        let target = try await PostgresHubStore.open(url: url, create: true, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await target.run() }
            defer { group.cancelAll() }
            do {
                let report = try await connection.transaction(.deferred) {
                    try await target.importTransaction { postgres in
                        try await copyRows(from: connection, to: postgres, logger: logger)
                    }
                }
                await target.close()
                return report
            } catch {
                await target.close()
                throw error
            }
        }
    }

    private static func copyRows(from sqlite: Connection, to postgres: PostgresConnection, logger: Logger) async throws
        -> Report
    {
        var report = Report(tables: [])
        // The singleton state: the head in its own table, the rest in meta.
        var meta: [SQLiteValue] = []
        try sqlite.query(
            "SELECT head, purge_horizon, hub_counter, hub_clock, next_replica, purged_up_to FROM meta WHERE id = 1"
        ) { row in
            meta = (0..<6).map { .integer(row.int64(at: Int32($0))) }
        }
        guard meta.count == 6 else { throw HubStoreError.missing.with("The SQLite store has no meta row.") }
        try await postgres.run(
            PostgresQuery(
                unsafeSQL: "UPDATE head SET head = $1 WHERE id = 1", binds: try bindings([meta[0]], [.bigint])),
            logger: logger)
        try await postgres.run(
            PostgresQuery(
                unsafeSQL:
                    """
                    UPDATE meta SET purge_horizon = $1, hub_counter = $2, hub_clock = $3, next_replica = $4,
                        purged_up_to = $5 WHERE id = 1
                    """,
                binds: try bindings(Array(meta[1...]), [.bigint, .bigint, .bigint, .bigint, .bigint])),
            logger: logger)
        report.tables.append(.init(name: "meta", rows: 1))
        // The same hub on another store: laptops keep the hub epoch they hold, and need no recovery.
        guard let epoch = try sqlite.scalar("SELECT hub_epoch FROM hub_identity WHERE id = 1")?.textValue else {
            throw HubStoreError.missing.with("The SQLite store has no hub identity row.")
        }
        try await postgres.run(
            PostgresQuery(
                unsafeSQL: "UPDATE hub_identity SET hub_epoch = $1 WHERE id = 1",
                binds: try bindings([.text(epoch)], [.text])),
            logger: logger)
        report.tables.append(.init(name: "hub_identity", rows: 1))
        for table in tables {
            let types = table.columns.map(\.type)
            var pending: [[SQLiteValue]] = []
            var count = 0
            func flush() async throws {
                guard !pending.isEmpty else { return }
                let width = table.columns.count
                let values = pending.indices.map { row in
                    "(" + (0..<width).map { "$\(row * width + $0 + 1)" }.joined(separator: ", ") + ")"
                }
                let sql =
                    "INSERT INTO \(table.table) (\(table.columns.map(\.postgres).joined(separator: ", ")))"
                    + (table.overriding ? " OVERRIDING SYSTEM VALUE" : "") + " VALUES " + values.joined(separator: ", ")
                var binds = PostgresBindings()
                for row in pending { try append(row, types, to: &binds) }
                try await postgres.run(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
                count += pending.count
                pending.removeAll(keepingCapacity: true)
            }
            // Read a page, write it, read the next (all in the source's one snapshot): memory stays
            // bounded by the page.
            let select =
                "SELECT \(table.columns.map { "\"\($0.sqlite)\"" }.joined(separator: ", ")) FROM \(table.table) "
                + "LIMIT \(rowsPerStatement) OFFSET ?"
            while true {
                try sqlite.query(select, [.integer(Int64(count + pending.count))]) { row in
                    pending.append((0..<table.columns.count).map { row.value(at: Int32($0)) })
                }
                let read = pending.count
                try await flush()
                if read < rowsPerStatement { break }
            }
            report.tables.append(.init(name: table.table, rows: count))
        }
        // The events' identity continues after the copied ids.
        try await postgres.run(
            "SELECT setval(pg_get_serial_sequence('events', 'id'), coalesce((SELECT max(id) FROM events), 0) + 1, false)",
            logger: logger)
        return report
    }

    private static func bindings(_ values: [SQLiteValue], _ types: [ColumnType]) throws -> PostgresBindings {
        var binds = PostgresBindings()
        try append(values, types, to: &binds)
        return binds
    }

    private static func append(_ values: [SQLiteValue], _ types: [ColumnType], to binds: inout PostgresBindings) throws
    {
        for (value, type) in zip(values, types) {
            switch (type, value) {
            case (.bigint, .integer(let number)): binds.append(number)
            case (.bigint, .null): binds.append(Int64?.none)
            case (.boolean, .integer(let number)): binds.append(number != 0)
            case (.text, .text(let text)): binds.append(text)
            case (.text, .null): binds.append(String?.none)
            case (.bytea, .blob(let bytes)): binds.append(ByteBuffer(bytes: bytes))
            default:
                throw HubStoreError.failed.with(
                    "A row of the SQLite store has a value of an unexpected type: \(value).")
            }
        }
    }
}
