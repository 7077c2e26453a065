import Foundation
import RelaisCore

/// The SQL that lays out a replica file: bookkeeping tables, one plain table per collection, and the
/// change-capture triggers.
///
/// ## Layout
///
/// Every collection is a plain table named after it: `id TEXT PRIMARY KEY` and one column per field,
/// so `sqlite3 replica.db 'SELECT name, city FROM customers'` just works. Bookkeeping lives in
/// `_relais_*` tables:
///
/// | table | holds |
/// |---|---|
/// | `_relais_state` | key/value: replica, epoch, hub, token times (the token itself is in `FILE.token`: ``TokenFile``), the hub's CA file and plain-HTTP consent (`hub_ca_file`, `hub_insecure`), user, role, territories, counter, HLC, cursor, last sync, schema version, generation, the capture triggers' version, records to ask the hub for whole after a snapshot |
/// | `_relais_migrations` | the schema migrations applied to this file |
/// | `_relais_engine` | one row while the sync engine writes (captures nothing then; for a section writing many rows, its connection also switches its triggers off when the file has no trigger but ours) |
/// | `_relais_capture` | raw changes captured by the triggers, not yet stamped (a plain rowid, not `AUTOINCREMENT`: the log is emptied by every stamping, and `AUTOINCREMENT` would write `sqlite_sequence` on every edit) |
/// | `_relais_records` | per record: version vector, per-field dots and HLC times (`fields`: see ``FieldDotsText``), tombstone, generation |
/// | `_relais_overlay` | per record with pending writes: its hub-confirmed state |
/// | `_relais_pending` | pending writes: dot, HLC, context, fields or delete, in-flight marker |
/// | `_relais_acknowledged` | writes the hub acknowledged in the last 30 days, as they were pushed: what a restored hub may lack (docs/SYNC.md "A restored hub") |
/// | `_relais_rejected` | writes refused (by the hub or by local validation), with code and reason |
/// | `_relais_conflicts` | conflict reports the hub raised on this replica's writes |
enum ReplicaSQL {
    /// The bookkeeping tables (idempotent).
    static let bookkeeping = """
        CREATE TABLE IF NOT EXISTS _relais_state(
            key TEXT PRIMARY KEY,
            value
        );
        CREATE TABLE IF NOT EXISTS _relais_migrations(
            version INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS _relais_engine(
            writing INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS _relais_capture(
            seq INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
            fields TEXT
        );
        CREATE TABLE IF NOT EXISTS _relais_records(
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            vector TEXT NOT NULL DEFAULT '{}',
            fields TEXT NOT NULL DEFAULT '{}',
            deleted INTEGER NOT NULL DEFAULT 0,
            stash TEXT,
            generation INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (collection, record_id)
        );
        CREATE INDEX IF NOT EXISTS _relais_records_stash ON _relais_records(collection) WHERE stash IS NOT NULL;
        CREATE TABLE IF NOT EXISTS _relais_overlay(
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            confirmed_exists INTEGER NOT NULL,
            confirmed TEXT,
            PRIMARY KEY (collection, record_id)
        );
        CREATE TABLE IF NOT EXISTS _relais_pending(
            counter INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            context TEXT NOT NULL,
            hlc INTEGER NOT NULL,
            is_delete INTEGER NOT NULL,
            fields TEXT NOT NULL,
            in_flight INTEGER NOT NULL DEFAULT 0,
            stamped_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS _relais_pending_record ON _relais_pending(collection, record_id);
        -- The key's columns come first, in key order: SQLite 3.40's integrity_check misreads the
        -- other columns of a WITHOUT ROWID table as NULL otherwise.
        CREATE TABLE IF NOT EXISTS _relais_acknowledged(
            acknowledged_at INTEGER NOT NULL,
            replica INTEGER NOT NULL,
            counter INTEGER NOT NULL,
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            context TEXT NOT NULL,
            hlc INTEGER NOT NULL,
            is_delete INTEGER NOT NULL,
            fields TEXT NOT NULL,
            PRIMARY KEY (acknowledged_at, replica, counter)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS _relais_rejected(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            is_delete INTEGER NOT NULL,
            fields TEXT NOT NULL,
            dot_replica INTEGER,
            dot_counter INTEGER,
            hlc INTEGER,
            code TEXT NOT NULL,
            reason TEXT NOT NULL,
            source TEXT NOT NULL,
            rejected_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS _relais_conflicts(
            conflict_id TEXT PRIMARY KEY,
            collection TEXT NOT NULL,
            record_id TEXT NOT NULL,
            dot_replica INTEGER NOT NULL,
            dot_counter INTEGER NOT NULL,
            seen_at TEXT NOT NULL
        );
        """

    /// Quotes an identifier (schema names are already checked to be `[a-z_][a-z0-9_]*`).
    static func quote(_ name: String) -> String { "\"\(name)\"" }

    /// A string literal.
    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    /// `CREATE TABLE` for a collection.
    static func createTable(_ collection: CollectionSchema) -> String {
        var columns = ["id TEXT PRIMARY KEY NOT NULL"]
        for field in collection.fields {
            columns.append("\(quote(field.name)) \(ColumnCodec.sqlType(field.type))")
        }
        return "CREATE TABLE IF NOT EXISTS \(quote(collection.name))(\n    "
            + columns.joined(separator: ",\n    ") + "\n)"
    }

    /// `json_object('f1', <prefix>.f1, ...)`: a row in column form.
    ///
    /// A REAL goes in with 17 significant digits, which read back as the same double:
    /// `json_object` writes 15, so a snapshot of `1234.5678901234567` would come back as another
    /// number (and a rejected edit would put it back in place of the salesperson's). Infinities
    /// (which `printf` writes as `Inf`, not JSON) go in as `json_object` writes them.
    static func rowObject(_ collection: CollectionSchema, prefix: String) -> String {
        "json_object("
            + collection.fields.map { field in
                let column = "\(prefix).\(quote(field.name))"
                guard case .number = field.type else { return "\(literal(field.name)), \(column)" }
                return
                    "\(literal(field.name)), CASE WHEN typeof(\(column)) = 'real' AND abs(\(column)) <= 1.7976931348623157e308 "
                    + "THEN json(printf('%!.17g', \(column))) ELSE \(column) END"
            }
            .joined(separator: ", ") + ")"
    }

    /// The version of the capture triggers' text (`_relais_state.capture_triggers`): a file whose
    /// triggers are older has them dropped and created again when it opens. 2: REAL values
    /// snapshotted with 17 digits. 3: no `OR IGNORE` inside (a statement's own `OR REPLACE`, `OR
    /// ABORT`... overrides it: see ``triggers(_:)``).
    static let captureTriggersVersion = 3

    /// The condition under which triggers capture: no sync-engine write in progress.
    static let capturing = "NOT EXISTS (SELECT 1 FROM _relais_engine)"

    /// The names of a collection's triggers.
    static func triggerNames(_ collection: String) -> [String] {
        [
            "before_insert", "after_insert", "before_update_changed", "after_update", "after_update_id",
            "before_delete", "after_delete",
        ].map { "_relais_\(collection)_\($0)" }
    }

    /// Capture triggers that earlier versions created and this one replaces: dropped at every open.
    /// `before_update` snapshotted the confirmed row even for an UPDATE that changed nothing, which
    /// captures nothing and so leaves no pending write (docs/RELIABILITY.md, bug 9).
    static func legacyTriggerNames(_ collection: String) -> [String] {
        ["_relais_\(collection)_before_update"]
    }

    /// SQL true when `_relais_overlay` holds no confirmed state of record `id` of collection `name`.
    private static func overlayAbsent(_ name: String, _ id: String) -> String {
        "NOT EXISTS (SELECT 1 FROM _relais_overlay AS o WHERE o.collection = \(name) AND o.record_id = \(id))"
    }

    /// The capture triggers of a collection.
    ///
    /// BEFORE triggers snapshot the hub-confirmed row into `_relais_overlay` the first time a record
    /// is edited (later edits keep the first snapshot); a BEFORE INSERT trigger sees the row an
    /// `INSERT OR REPLACE` is about to replace. "The first time" is an insert guarded by `NOT EXISTS`,
    /// never `INSERT OR IGNORE`: SQLite applies the conflict policy of the statement that fired the
    /// trigger (`REPLACE`, `INSERT OR ABORT`, `UPDATE OR FAIL`...) to the statements inside it, so under
    /// a `REPLACE` the AFTER INSERT trigger's "did not exist" replaced the BEFORE trigger's snapshot
    /// of the row (the record then counted as new, and a refused edit removed it from the laptop),
    /// and under `UPDATE OR FAIL` a record's second edit failed (docs/RELIABILITY.md, bug 37). An
    /// UPDATE that gives a row the id of another (`UPDATE OR REPLACE … SET id`) snapshots that other
    /// row too: SQLite removes it without firing the delete triggers. An UPDATE that changes nothing takes
    /// no snapshot: it captures nothing, so no pending write would ever clear it. AFTER triggers append to
    /// `_relais_capture`: they fire only for rows really written (not for an ignored `INSERT OR
    /// IGNORE`), and an UPDATE lists only the columns whose values changed (`IS NOT`). A statement that
    /// fails undoes its triggers' work with it.
    static func triggers(_ collection: CollectionSchema) -> [String] {
        let table = quote(collection.name)
        let name = literal(collection.name)
        let names = triggerNames(collection.name)
        let changed =
            "rtrim("
            + collection.fields.map {
                "CASE WHEN old.\(quote($0.name)) IS NOT new.\(quote($0.name)) THEN '\($0.name),' ELSE '' END"
            }.joined(separator: " || ") + ", ',')"
        return [
            """
            CREATE TRIGGER IF NOT EXISTS \(names[0]) BEFORE INSERT ON \(table) WHEN \(capturing) BEGIN
                INSERT INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed)
                    SELECT \(name), id, 1, \(rowObject(collection, prefix: "c")) FROM \(table) AS c
                    WHERE c.id = new.id AND \(overlayAbsent(name, "new.id"));
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS \(names[1]) AFTER INSERT ON \(table) WHEN \(capturing) BEGIN
                INSERT INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed)
                    SELECT \(name), new.id, 0, NULL WHERE \(overlayAbsent(name, "new.id"));
                INSERT INTO _relais_capture(collection, record_id, op, fields) VALUES (\(name), new.id, 'insert', NULL);
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS \(names[2]) BEFORE UPDATE ON \(table)
            WHEN \(capturing) AND (old.id IS NOT new.id OR \(changed) <> '') BEGIN
                INSERT INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed)
                    SELECT \(name), old.id, 1, \(rowObject(collection, prefix: "old")) WHERE \(overlayAbsent(name, "old.id"));
                INSERT INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed)
                    SELECT \(name), c.id, 1, \(rowObject(collection, prefix: "c")) FROM \(table) AS c
                    WHERE old.id IS NOT new.id AND c.id = new.id AND \(overlayAbsent(name, "new.id"));
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS \(names[3]) AFTER UPDATE ON \(table)
            WHEN \(capturing) AND old.id IS new.id BEGIN
                INSERT INTO _relais_capture(collection, record_id, op, fields)
                    SELECT \(name), new.id, 'update', f FROM (SELECT \(changed) AS f) WHERE f <> '';
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS \(names[4]) AFTER UPDATE ON \(table)
            WHEN \(capturing) AND old.id IS NOT new.id BEGIN
                INSERT INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed)
                    SELECT \(name), new.id, 0, NULL WHERE \(overlayAbsent(name, "new.id"));
                INSERT INTO _relais_capture(collection, record_id, op, fields) VALUES (\(name), old.id, 'delete', NULL);
                INSERT INTO _relais_capture(collection, record_id, op, fields) VALUES (\(name), new.id, 'insert', NULL);
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS \(names[5]) BEFORE DELETE ON \(table) WHEN \(capturing) BEGIN
                INSERT INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed)
                    SELECT \(name), old.id, 1, \(rowObject(collection, prefix: "old")) WHERE \(overlayAbsent(name, "old.id"));
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS \(names[6]) AFTER DELETE ON \(table) WHEN \(capturing) BEGIN
                INSERT INTO _relais_capture(collection, record_id, op, fields) VALUES (\(name), old.id, 'delete', NULL);
            END
            """,
        ]
    }
}
