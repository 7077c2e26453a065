import RelaisSQLite

/// The versioned migrations of `hub.sqlite`. Each runs once, in its own transaction, and is recorded
/// in the `migrations` table (and in `PRAGMA user_version`). Never edit a shipped migration: add one.
enum SQLiteHubSchema {
    struct Migration {
        var version: Int32
        var name: String
        var sql: String
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "initial",
            sql: """
                CREATE TABLE meta (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    head INTEGER NOT NULL,
                    purge_horizon INTEGER NOT NULL,
                    hub_counter INTEGER NOT NULL,
                    hub_clock INTEGER NOT NULL,
                    next_replica INTEGER NOT NULL
                );
                INSERT INTO meta (id, head, purge_horizon, hub_counter, hub_clock, next_replica) VALUES (1, 0, 0, 0, 0, 1);
                CREATE TABLE users (
                    name TEXT PRIMARY KEY,
                    role TEXT NOT NULL,
                    territories TEXT NOT NULL,
                    scope_version INTEGER NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE api_tokens (
                    token_hash TEXT PRIMARY KEY,
                    user TEXT NOT NULL REFERENCES users(name),
                    created_at INTEGER NOT NULL,
                    revoked_at INTEGER
                );
                CREATE TABLE enrollments (
                    code_hash TEXT PRIMARY KEY,
                    user TEXT NOT NULL REFERENCES users(name),
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    used_at INTEGER,
                    replica INTEGER
                );
                CREATE TABLE devices (
                    replica INTEGER PRIMARY KEY,
                    user TEXT NOT NULL REFERENCES users(name),
                    token_hash TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    lineage INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    revoked_at INTEGER,
                    renewed_to INTEGER,
                    highest_counter INTEGER NOT NULL,
                    ack_cursor INTEGER NOT NULL,
                    scope_version INTEGER NOT NULL,
                    last_seen_at INTEGER,
                    clamped_writes INTEGER NOT NULL
                );
                CREATE TABLE records (
                    collection TEXT NOT NULL,
                    id TEXT NOT NULL,
                    seq INTEGER NOT NULL UNIQUE,
                    whole_since INTEGER NOT NULL,
                    scope TEXT,
                    parent_id TEXT,
                    deleted_at INTEGER,
                    state BLOB NOT NULL,
                    PRIMARY KEY (collection, id)
                );
                CREATE INDEX records_scope_seq ON records (scope, seq);
                CREATE INDEX records_parent ON records (parent_id) WHERE parent_id IS NOT NULL;
                CREATE INDEX records_deleted ON records (deleted_at) WHERE deleted_at IS NOT NULL;
                CREATE TABLE moves (
                    seq INTEGER PRIMARY KEY,
                    collection TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    from_scope TEXT,
                    to_scope TEXT
                );
                CREATE INDEX moves_record ON moves (collection, record_id, seq);
                CREATE TABLE write_results (
                    replica INTEGER NOT NULL,
                    counter INTEGER NOT NULL,
                    digest BLOB NOT NULL,
                    status TEXT NOT NULL,
                    conflict_ids TEXT NOT NULL, -- report ids separated by commas
                    code TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    PRIMARY KEY (replica, counter)
                ) WITHOUT ROWID;
                CREATE TABLE conflicts (
                    id TEXT PRIMARY KEY,
                    created_at INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    collection TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    field TEXT,
                    rule TEXT NOT NULL,
                    base TEXT,
                    chosen TEXT,
                    competitors TEXT NOT NULL,
                    status TEXT NOT NULL,
                    scope TEXT,
                    resolution TEXT
                );
                CREATE INDEX conflicts_status ON conflicts (status, created_at);
                CREATE INDEX conflicts_record ON conflicts (collection, record_id);
                CREATE TABLE events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    replica INTEGER,
                    user TEXT,
                    detail TEXT NOT NULL
                );
                """),
        Migration(
            version: 2, name: "write history",
            sql: """
                -- One row per accepted write (not per field): the field history of the admin review.
                -- `seq` is the hub sequence the write took; `fields` the values it carried, as a JSON
                -- object of tagged values ({"status":{"t":"lapsed"}}); a delete carries none.
                -- Clustered by record (WITHOUT ROWID): a record's history is read and purged by its
                -- key, and the push path then writes one b-tree per write, not a table and an index.
                CREATE TABLE write_history (
                    collection TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    replica INTEGER NOT NULL,
                    counter INTEGER NOT NULL,
                    hlc INTEGER NOT NULL,
                    user TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    fields TEXT NOT NULL,
                    deleted INTEGER NOT NULL,
                    PRIMARY KEY (collection, record_id, seq)
                ) WITHOUT ROWID;
                """),
        Migration(
            version: 3, name: "admin sessions and the conflict order",
            sql: """
                -- The admin pages' sessions, in the store so that any hub serves any page.
                CREATE TABLE admin_sessions (
                    id TEXT PRIMARY KEY,
                    user TEXT NOT NULL,
                    csrf TEXT NOT NULL,
                    expires_at INTEGER NOT NULL
                );
                -- Reports are listed newest first by (created_at, seq, id), never by row id.
                DROP INDEX conflicts_status;
                CREATE INDEX conflicts_status ON conflicts (status, created_at, seq, id);
                CREATE INDEX conflicts_created ON conflicts (created_at, seq, id);
                """),
        Migration(
            version: 4, name: "hub epoch",
            sql: """
                -- The hub epoch: new when the store is made and at every restore (docs/SYNC.md).
                CREATE TABLE hub_identity (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    hub_epoch TEXT NOT NULL
                );
                INSERT INTO hub_identity (id, hub_epoch) VALUES (1, lower(hex(randomblob(16))));
                """),
        Migration(
            version: 5, name: "disabled users",
            sql: """
                -- When an admin disabled the user (`relais-hub user disable`); NULL while enabled.
                ALTER TABLE users ADD COLUMN disabled_at INTEGER;
                """),
        Migration(
            version: 6, name: "device token lifetime and wipe",
            sql: """
                -- When the device token expires (NULL: issued before tokens expired); the token the
                -- last rotation replaced and the end of its grace window (docs/SECURITY.md).
                ALTER TABLE devices ADD COLUMN token_expires_at INTEGER;
                ALTER TABLE devices ADD COLUMN previous_token_hash TEXT;
                ALTER TABLE devices ADD COLUMN previous_token_until INTEGER;
                CREATE INDEX devices_previous_token ON devices (previous_token_hash)
                    WHERE previous_token_hash IS NOT NULL;
                -- Remote wipe (`relais-hub device wipe`): asked, done, and what the device reported.
                ALTER TABLE devices ADD COLUMN wipe_requested_at INTEGER;
                ALTER TABLE devices ADD COLUMN wiped_at INTEGER;
                ALTER TABLE devices ADD COLUMN wipe_saved_writes INTEGER;
                ALTER TABLE devices ADD COLUMN wipe_unsaved_writes INTEGER;
                """),
        Migration(
            version: 7, name: "view digests",
            sql: """
                -- A live record's view digest (Protocol/README.md section 14): 24 bytes, position then
                -- hash; NULL for a tombstone and for a row written before digests (computed when read).
                ALTER TABLE records ADD COLUMN digest BLOB;
                -- Each device's last verification report (`POST /v1/verification`).
                CREATE TABLE device_verifications (
                    replica INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    outcome TEXT NOT NULL,
                    records INTEGER NOT NULL,
                    differing INTEGER NOT NULL,
                    repaired INTEGER NOT NULL,
                    full INTEGER NOT NULL
                );
                """),
        Migration(
            version: 8, name: "digest schema",
            sql: """
                -- The fingerprint of the schema the stored digests were computed under
                -- (HubService.digestSchema): NULL or another one, and they are computed again.
                ALTER TABLE hub_identity ADD COLUMN digest_schema TEXT;
                """),
        Migration(
            version: 9, name: "view digests from the scope index",
            sql: """
                -- A view's digest is read from the index alone (9 ms for 100,000 records instead of 55):
                -- every record write changes its sequence, so this index's entry is written again at
                -- every write anyway; the two columns only make it longer.
                DROP INDEX records_scope_seq;
                CREATE INDEX records_scope_seq ON records (scope, seq, deleted_at, digest);
                """),
        Migration(
            version: 10, name: "data schemas",
            sql: """
                -- Every data schema applied (`relais-hub schema apply`), its file's text as given; the
                -- highest version is in force. A store from before has none: the hub records its
                -- default at start.
                CREATE TABLE data_schemas (
                    version INTEGER PRIMARY KEY,
                    definition TEXT NOT NULL,
                    applied_at INTEGER NOT NULL
                );
                """),
        Migration(
            version: 11, name: "purged up to",
            sql: """
                -- The highest sequence of a tombstone or a move any purge removed, for age or once every
                -- device acknowledged it (HubMeta.purgedUpTo); at least the purge horizon.
                ALTER TABLE meta ADD COLUMN purged_up_to INTEGER NOT NULL DEFAULT 0;
                UPDATE meta SET purged_up_to = purge_horizon;
                """),
        Migration(
            version: 12, name: "enrollment attempts",
            sql: """
                -- The SHA-256 of the attempt (and previous replica) an enrollment sent with the code it
                -- used, and the token it was given, sealed with a key from the attempt: the same code
                -- and attempt, its answer lost, get the same answer again (HubService.enroll).
                ALTER TABLE enrollments ADD COLUMN attempt_hash TEXT;
                ALTER TABLE enrollments ADD COLUMN sealed_token TEXT;
                """),
    ]

    /// The version this build writes.
    static var currentVersion: Int32 { migrations.last!.version }

    /// Applies the migrations the file lacks, each in its own immediate transaction.
    static func migrate(_ db: Connection, now: UInt64) throws {
        try db.execute(
            "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        for migration in migrations {
            try db.transaction(.immediate) {
                let applied = try db.scalar(
                    "SELECT count(*) FROM migrations WHERE version = ?", [.integer(Int64(migration.version))])
                guard applied?.int64Value == 0 else { return }
                try db.execute(migration.sql)
                try db.execute(
                    "INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    [.integer(Int64(migration.version)), .text(migration.name), .integer(Int64(now))])
                try db.setUserVersion(migration.version)
            }
        }
    }
}
