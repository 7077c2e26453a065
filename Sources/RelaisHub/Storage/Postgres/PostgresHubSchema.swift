import Logging
import PostgresNIO

/// The versioned migrations of a PostgreSQL hub store. Each runs once, in its own transaction, under
/// an advisory lock (so that hubs starting together never both migrate), and is recorded in the
/// `relais_migrations` table. Never edit a shipped migration: add one.
///
/// The tables mirror `hub.sqlite` (``SQLiteHubSchema``), so that both stores answer alike:
/// - every `u64` is a `BIGINT` holding its bit pattern (as SQLite's `INTEGER` does), so comparisons
///   and orders are the same signed ones;
/// - blobs are `BYTEA`; JSON columns are `TEXT` holding the same JSON as in SQLite (conflicts'
///   competitors, the history's fields), so that both stores read and write them with the same code;
/// - text that lists are ordered by is `COLLATE "C"`: byte order, as SQLite's `BINARY`, whatever the
///   database's locale;
/// - `user` is a reserved word here: those columns are `user_name`;
/// - `head` sits alone in its own one-row table, so that taking a sequence locks that row only
///   (``PostgresHubTransaction/nextSequence()``).
enum PostgresHubSchema {
    struct Migration: Sendable {
        var version: Int64
        var name: String
        /// One statement each: the extended query protocol takes one at a time.
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "initial",
            statements: [
                """
                CREATE TABLE head (
                    id SMALLINT PRIMARY KEY CHECK (id = 1),
                    head BIGINT NOT NULL
                )
                """,
                "INSERT INTO head (id, head) VALUES (1, 0)",
                """
                CREATE TABLE meta (
                    id SMALLINT PRIMARY KEY CHECK (id = 1),
                    purge_horizon BIGINT NOT NULL,
                    hub_counter BIGINT NOT NULL,
                    hub_clock BIGINT NOT NULL,
                    next_replica BIGINT NOT NULL
                )
                """,
                "INSERT INTO meta (id, purge_horizon, hub_counter, hub_clock, next_replica) VALUES (1, 0, 0, 0, 1)",
                """
                CREATE TABLE users (
                    name TEXT COLLATE "C" PRIMARY KEY,
                    role TEXT NOT NULL,
                    territories TEXT NOT NULL,
                    scope_version BIGINT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE api_tokens (
                    token_hash TEXT PRIMARY KEY,
                    user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name),
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                """
                CREATE TABLE enrollments (
                    code_hash TEXT PRIMARY KEY,
                    user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name),
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT,
                    replica BIGINT
                )
                """,
                """
                CREATE TABLE devices (
                    replica BIGINT PRIMARY KEY,
                    user_name TEXT COLLATE "C" NOT NULL REFERENCES users (name),
                    token_hash TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    epoch BIGINT NOT NULL,
                    lineage BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT,
                    renewed_to BIGINT,
                    highest_counter BIGINT NOT NULL,
                    ack_cursor BIGINT NOT NULL,
                    scope_version BIGINT NOT NULL,
                    last_seen_at BIGINT,
                    clamped_writes BIGINT NOT NULL
                )
                """,
                "CREATE INDEX devices_lineage ON devices (lineage)",
                """
                CREATE TABLE records (
                    collection TEXT COLLATE "C" NOT NULL,
                    id TEXT COLLATE "C" NOT NULL,
                    seq BIGINT NOT NULL UNIQUE,
                    whole_since BIGINT NOT NULL,
                    scope TEXT COLLATE "C",
                    parent_id TEXT COLLATE "C",
                    deleted_at BIGINT,
                    state BYTEA NOT NULL,
                    PRIMARY KEY (collection, id)
                )
                """,
                "CREATE INDEX records_scope_seq ON records (scope, seq)",
                "CREATE INDEX records_parent ON records (parent_id, seq) WHERE parent_id IS NOT NULL",
                "CREATE INDEX records_tombstones ON records (seq) WHERE deleted_at IS NOT NULL",
                """
                CREATE TABLE moves (
                    seq BIGINT PRIMARY KEY,
                    collection TEXT COLLATE "C" NOT NULL,
                    record_id TEXT COLLATE "C" NOT NULL,
                    from_scope TEXT,
                    to_scope TEXT
                )
                """,
                "CREATE INDEX moves_record ON moves (collection, record_id, seq)",
                """
                CREATE TABLE write_results (
                    replica BIGINT NOT NULL,
                    counter BIGINT NOT NULL,
                    digest BYTEA NOT NULL,
                    status TEXT NOT NULL,
                    conflict_ids TEXT NOT NULL, -- report ids separated by commas
                    code TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    PRIMARY KEY (replica, counter)
                )
                """,
                """
                CREATE TABLE conflicts (
                    id TEXT COLLATE "C" PRIMARY KEY,
                    created_at BIGINT NOT NULL,
                    seq BIGINT NOT NULL,
                    collection TEXT COLLATE "C" NOT NULL,
                    record_id TEXT COLLATE "C" NOT NULL,
                    field TEXT,
                    rule TEXT NOT NULL,
                    base TEXT,
                    chosen TEXT,
                    competitors TEXT NOT NULL, -- JSON, as in hub.sqlite
                    status TEXT NOT NULL,
                    scope TEXT,
                    resolution TEXT
                )
                """,
                // Reports are listed newest first by (created_at, seq, id).
                "CREATE INDEX conflicts_status ON conflicts (status, created_at, seq, id)",
                "CREATE INDEX conflicts_created ON conflicts (created_at, seq, id)",
                "CREATE INDEX conflicts_record ON conflicts (collection, record_id)",
                """
                CREATE TABLE events (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    at BIGINT NOT NULL,
                    kind TEXT NOT NULL,
                    replica BIGINT,
                    user_name TEXT,
                    detail TEXT NOT NULL
                )
                """,
                // One row per accepted write; `fields` is the JSON text `HistoryJSON` writes.
                """
                CREATE TABLE write_history (
                    collection TEXT COLLATE "C" NOT NULL,
                    record_id TEXT COLLATE "C" NOT NULL,
                    seq BIGINT NOT NULL,
                    replica BIGINT NOT NULL,
                    counter BIGINT NOT NULL,
                    hlc BIGINT NOT NULL,
                    user_name TEXT NOT NULL,
                    at BIGINT NOT NULL,
                    fields TEXT NOT NULL,
                    deleted BOOLEAN NOT NULL,
                    PRIMARY KEY (collection, record_id, seq)
                )
                """,
                // The admin pages' sessions, in the store so that any hub serves any page.
                """
                CREATE TABLE admin_sessions (
                    id TEXT PRIMARY KEY,
                    user_name TEXT NOT NULL,
                    csrf TEXT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at)",
            ]),
        Migration(
            version: 2, name: "hub epoch",
            statements: [
                // The hub epoch: new when the store is made and at every restore (docs/SYNC.md).
                """
                CREATE TABLE hub_identity (
                    id SMALLINT PRIMARY KEY CHECK (id = 1),
                    hub_epoch TEXT NOT NULL
                )
                """,
                "INSERT INTO hub_identity (id, hub_epoch) VALUES (1, replace(gen_random_uuid()::text, '-', ''))",
            ]),
        Migration(
            version: 3, name: "disabled users",
            statements: [
                // When an admin disabled the user (`relais-hub user disable`); NULL while enabled.
                "ALTER TABLE users ADD COLUMN disabled_at BIGINT"
            ]),
        Migration(
            version: 4, name: "device token lifetime and wipe",
            statements: [
                // When the device token expires (NULL: issued before tokens expired); the token the
                // last rotation replaced and the end of its grace window (docs/SECURITY.md).
                """
                ALTER TABLE devices ADD COLUMN token_expires_at BIGINT,
                    ADD COLUMN previous_token_hash TEXT, ADD COLUMN previous_token_until BIGINT,
                    ADD COLUMN wipe_requested_at BIGINT, ADD COLUMN wiped_at BIGINT,
                    ADD COLUMN wipe_saved_writes BIGINT, ADD COLUMN wipe_unsaved_writes BIGINT
                """,
                """
                CREATE INDEX devices_previous_token ON devices (previous_token_hash)
                    WHERE previous_token_hash IS NOT NULL
                """,
            ]),
        Migration(
            version: 5, name: "view digests",
            statements: [
                // A live record's view digest (Protocol/README.md section 14): 24 bytes, position then
                // hash; NULL for a tombstone and for a row written before digests (computed when read).
                "ALTER TABLE records ADD COLUMN digest BYTEA",
                // Each device's last verification report (`POST /v1/verification`).
                """
                CREATE TABLE device_verifications (
                    replica BIGINT PRIMARY KEY,
                    at BIGINT NOT NULL,
                    outcome TEXT NOT NULL,
                    records BIGINT NOT NULL,
                    differing BIGINT NOT NULL,
                    repaired BIGINT NOT NULL,
                    full_check BOOLEAN NOT NULL
                )
                """,
            ]),
        Migration(
            version: 6, name: "digest schema",
            statements: [
                // The fingerprint of the schema the stored digests were computed under
                // (HubService.digestSchema): NULL or another one, and they are computed again.
                "ALTER TABLE hub_identity ADD COLUMN digest_schema TEXT"
            ]),
        Migration(
            version: 7, name: "data schemas",
            statements: [
                // Every data schema applied (`relais-hub schema apply`), its file's text as given; the
                // highest version is in force. A store from before has none: the hub records its
                // default at start.
                """
                CREATE TABLE data_schemas (
                    version BIGINT PRIMARY KEY,
                    definition TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """
            ]),
        Migration(
            version: 8, name: "purged up to",
            statements: [
                // The highest sequence of a tombstone or a move any purge removed, for age or once every
                // device acknowledged it (HubMeta.purgedUpTo); at least the purge horizon.
                "ALTER TABLE meta ADD COLUMN purged_up_to BIGINT NOT NULL DEFAULT 0",
                "UPDATE meta SET purged_up_to = purge_horizon",
            ]),
        Migration(
            version: 9, name: "enrollment attempts",
            statements: [
                // The SHA-256 of the attempt (and previous replica) an enrollment sent with the code it
                // used, and the token it was given, sealed with a key from the attempt: the same code
                // and attempt, its answer lost, get the same answer again (HubService.enroll).
                "ALTER TABLE enrollments ADD COLUMN attempt_hash TEXT",
                "ALTER TABLE enrollments ADD COLUMN sealed_token TEXT",
            ]),
    ]

    /// The version this build writes.
    static var currentVersion: Int64 { migrations.last!.version }

    /// The advisory lock every migration (and the first look at the database) holds: hubs that start
    /// together take turns, and the later ones find the work done.
    static let migrationLockKey = advisoryKey("migrations")

    /// A stable 64-bit advisory lock key for `name` (FNV-1a over its UTF-8 bytes, in the `relais.`
    /// namespace so that other applications' keys on the same database are unlikely to collide).
    static func advisoryKey(_ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "relais.\(name)".utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    /// Checks the database against `create`, then applies the migrations it lacks, each in its own
    /// transaction under ``migrationLockKey``.
    ///
    /// - Throws: ``HubStoreError/exists`` when `create` and the database already holds a store,
    ///   ``HubStoreError/missing`` when not `create` and it holds none, ``HubStoreError/tooNew`` when
    ///   its schema is newer than this build's.
    static func migrate(_ connection: PostgresConnection, create: Bool, now: UInt64, location: String, logger: Logger)
        async throws
    {
        try await inTransaction(connection, logger: logger) {
            try await connection.run("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
            let version = try await appliedVersion(connection, logger: logger)
            if create, let version {
                throw HubStoreError.exists.with(
                    "The database already holds a hub store (schema version \(version)).", ["database": location])
            }
            if !create, version == nil {
                throw HubStoreError.missing.with(
                    "The database holds no hub store; run `relais-hub init` with this database first.",
                    ["database": location])
            }
            if let version, version > currentVersion {
                throw HubStoreError.tooNew.with(
                    "The database has hub store schema version \(version); this relais-hub knows up to \(currentVersion). Upgrade relais-hub.",
                    ["database": location])
            }
            if version == nil {
                try await connection.run(
                    """
                    CREATE TABLE relais_migrations (
                        version BIGINT PRIMARY KEY,
                        name TEXT NOT NULL,
                        applied_at BIGINT NOT NULL
                    )
                    """, logger: logger
                )
            }
        }
        for migration in migrations {
            try await inTransaction(connection, logger: logger) {
                try await connection.run("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
                // Read again under the lock: another hub may have applied it meanwhile.
                guard (try await appliedVersion(connection, logger: logger) ?? 0) < migration.version else { return }
                for statement in migration.statements {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let appliedAt = Int64(bitPattern: now)
                try await connection.run(
                    """
                    INSERT INTO relais_migrations (version, name, applied_at)
                    VALUES (\(migration.version), \(migration.name), \(appliedAt))
                    """, logger: logger)
                logger.info(
                    "Applied hub store migration",
                    metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
    }

    /// The highest applied migration, or `nil` when the database holds no store.
    private static func appliedVersion(_ connection: PostgresConnection, logger: Logger) async throws -> Int64? {
        let rows = try await connection.rows(of: "SELECT to_regclass('relais_migrations') IS NOT NULL", logger: logger)
        guard let exists = try rows.first?.decode(Bool.self), exists else { return nil }
        let versions = try await connection.rows(
            of: "SELECT coalesce(max(version), 0) FROM relais_migrations", logger: logger)
        return try versions.first?.decode(Int64.self) ?? 0
    }

    private static func inTransaction(
        _ connection: PostgresConnection, logger: Logger, _ body: () async throws -> Void
    ) async throws {
        try await connection.run("BEGIN ISOLATION LEVEL READ COMMITTED", logger: logger)
        do {
            try await body()
            try await connection.run("COMMIT", logger: logger)
        } catch {
            await connection.rollBack(logger: logger)
            throw error
        }
    }
}
