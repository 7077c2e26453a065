import Foundation
import RelaisCore
import RelaisSQLite

extension ReplicaStore {
    /// What a snapshot file says about itself.
    struct SnapshotInfo: Sendable, Equatable {
        /// The cursor the snapshot stands at: the hub's state after every change up to it.
        var cursor: UInt64
        /// The schema version it was built with.
        var schemaVersion: Int
        /// Visible records it brought (rows copied in, and records with pending writes it updated).
        var changed = 0
        /// Whether the snapshot's file replaced this one whole (a fresh laptop), rather than its
        /// records being copied in.
        var tookFileWhole = false
    }

    /// Applies a snapshot file (docs/SYNC.md "Snapshot bootstrap") as the first part of a bootstrap,
    /// in one transaction: the result is the state a bootstrap by pages stopped at the snapshot's
    /// cursor would have left.
    ///
    /// - A new generation starts; every record of the snapshot is copied in with it (visible row and
    ///   bookkeeping, in bulk), except records with pending writes, whose confirmed state takes the
    ///   snapshot's and whose visible row is derived again as confirmed + pending, and records the
    ///   laptop holds in a state the snapshot has not seen, which stay as they are for the pull to
    ///   bring (``markRecordsTheSnapshotLeaves()``).
    /// - The stored cursor and pull start become the snapshot's cursor, and the pull that follows
    ///   asks for this replica's own writes too (`echo_own_writes`): the snapshot may predate some of
    ///   them. That pull's last page sweeps, as a bootstrap's does, what neither brought again.
    /// - Only records are taken from the file: the replica's identity, counter, pending writes,
    ///   rejected list and conflict reports are its own.
    ///
    /// - Throws: ``ReplicaError/Code/storage`` when the file is not a snapshot of this schema at
    ///   `expectedCursor`; nothing is changed then.
    func applySnapshot(at path: String, expectedCursor: UInt64) throws -> SnapshotInfo {
        try db.execute("ATTACH DATABASE ? AS snapshot", [.text(path)])
        defer { try? db.execute("DETACH DATABASE snapshot", []) }
        var info = try snapshotInfo()
        guard info.cursor == expectedCursor else {
            throw ReplicaError(
                .storage, "the snapshot's file stands at cursor \(info.cursor), its answer said \(expectedCursor)")
        }
        guard info.schemaVersion == schema.version else {
            throw ReplicaError(
                .storage,
                "the snapshot was built for schema version \(info.schemaVersion), this replica runs \(schema.version)")
        }
        for collection in schema.collections {
            var columns = Set<String>()
            try db.query("SELECT name FROM pragma_table_info(?, 'snapshot')", [.text(collection.name)]) {
                columns.insert($0.text(at: 0) ?? "")
            }
            let wanted = Set(["id"] + collection.fields.map(\.name))
            guard wanted.isSubset(of: columns) else {
                throw ReplicaError(.storage, "the snapshot's table \(collection.name) lacks columns of this schema")
            }
        }
        if try snapshotCanReplaceTheFile(), let whole = try replaceTheFile(withSnapshotAt: path, info: info) {
            return whole
        }
        let replica = try self.replica
        info.changed = try syncWrite(durable: true) {
            // Every record of the snapshot is copied in, in bulk.
            try engine(rows: .max) {
                var changed = 0
                try beginBootstrap()
                let generation = Int64(try stateInt("generation") ?? 0)
                try markRecordsTheSnapshotLeaves()
                try rememberRecordsToRefetch()
                let notKept = { (table: String) in
                    "NOT EXISTS (SELECT 1 FROM temp._relais_snapshot_kept AS k WHERE k.collection = \(table).collection AND k.record_id = \(table).record_id)"
                }
                for collection in schema.collections {
                    let table = ReplicaSQL.quote(collection.name)
                    let columns = (["id"] + collection.fields.map(\.name)).map(ReplicaSQL.quote).joined(separator: ", ")
                    let name = ReplicaSQL.literal(collection.name)
                    let keptIDs = "SELECT record_id FROM temp._relais_snapshot_kept WHERE collection = \(name)"
                    // What changes visibly, as a pull counts it: rows added, removed or different.
                    let same = (["id"] + collection.fields.map(\.name)).map {
                        "m.\(ReplicaSQL.quote($0)) IS s.\(ReplicaSQL.quote($0))"
                    }.joined(separator: " AND ")
                    let join =
                        "FROM snapshot.\(table) AS s JOIN main.\(table) AS m ON m.id = s.id WHERE s.id NOT IN (\(keptIDs))"
                    let both = Int(try db.scalar("SELECT count(*) \(join)")?.int64Value ?? 0)
                    let identical = Int(try db.scalar("SELECT count(*) \(join) AND \(same)")?.int64Value ?? 0)
                    // A record the snapshot holds replaces the row here (a tombstone removes it).
                    try db.execute(
                        """
                        DELETE FROM main.\(table) WHERE id IN (
                            SELECT record_id FROM snapshot._relais_records WHERE collection = \(name)
                        ) AND id NOT IN (\(keptIDs))
                        """)
                    let removed = db.changes
                    try db.execute(
                        """
                        INSERT INTO main.\(table)(\(columns))
                        SELECT \(columns) FROM snapshot.\(table) WHERE id NOT IN (\(keptIDs))
                        """)
                    // removed = identical + different + gone; inserted = identical + different + new.
                    changed += removed + db.changes - identical - both
                }
                try db.execute(
                    """
                    INSERT INTO main._relais_records(collection, record_id, vector, fields, deleted, stash, generation)
                    SELECT collection, record_id, vector, fields, deleted, stash, \(generation)
                    FROM snapshot._relais_records AS s WHERE \(notKept("s"))
                    ON CONFLICT(collection, record_id) DO UPDATE SET
                        vector = \(Self.vectorJoin(replica)), fields = excluded.fields, deleted = excluded.deleted,
                        stash = excluded.stash, generation = excluded.generation
                    """)
                try db.execute(
                    """
                    DELETE FROM main._relais_overlay WHERE NOT EXISTS (
                        SELECT 1 FROM main._relais_pending AS p
                        WHERE p.collection = main._relais_overlay.collection AND p.record_id = main._relais_overlay.record_id)
                    """)
                changed += try applySnapshotToPending(generation: generation, replica: replica)
                try continueBootstrap(fromSnapshotAt: info.cursor, snapshotHLC: try snapshotHLC(), in: .main)
                return changed
            }
        }
        return info
    }

    /// Whether the attached snapshot may replace the whole file
    /// (``replaceTheFile(withSnapshotAt:info:)``): this replica holds no record, no pending write, no
    /// captured edit waiting to be stamped and no row in a collection table (a fresh laptop), and both
    /// files were laid out alike (the same tables, indexes and triggers, page size, user version and
    /// application id), so that the snapshot's file with this replica's own tables put in is the file
    /// the copy would have left.
    private func snapshotCanReplaceTheFile() throws -> Bool {
        for table in ["_relais_records", "_relais_pending", "_relais_overlay", "_relais_capture"]
            + schema.collections.map({ ReplicaSQL.quote($0.name) })
        {
            guard try db.scalar("SELECT EXISTS(SELECT 1 FROM main.\(table))")?.int64Value == 0 else { return false }
        }
        let layout = "SELECT type, name, tbl_name, sql FROM"
        for (one, other) in [("main", "snapshot"), ("snapshot", "main")] {
            let differs = try db.scalar(
                "SELECT EXISTS(\(layout) \(one).sqlite_schema EXCEPT \(layout) \(other).sqlite_schema)")
            guard differs?.int64Value == 0 else { return false }
        }
        for pragma in ["page_size", "user_version", "application_id"] {
            let mine = try db.scalar("PRAGMA main.\(pragma)")?.int64Value
            guard mine == (try db.scalar("PRAGMA snapshot.\(pragma)")?.int64Value) else { return false }
        }
        return true
    }

    /// Applies the attached snapshot to a fresh laptop by taking its file whole: the snapshot's
    /// file receives every table of this replica but its records (state, pending writes, rejected
    /// list, conflict reports, ...) and the state a bootstrap from the snapshot's cursor starts with,
    /// then SQLite's backup API copies it over this file's pages in one transaction, committed with
    /// `FULL`. The records come as the copy of ``applySnapshot(at:expectedCursor:)`` would have left
    /// them, without building two tables and their indexes row by row (docs/PERFORMANCE.md).
    ///
    /// No other connection may write between the check that the file is fresh and the copy over it:
    /// an edit typed meanwhile (`relais add` in another terminal, a hand edit) would be overwritten.
    /// So the connection takes the file in `EXCLUSIVE` locking mode from the transaction that checks
    /// and prepares until the copy is done (no other connection reads or writes it meanwhile), and
    /// gives it up at once when another connection has the file open: the records are then copied
    /// in (nil). A crash leaves either the file as it was (still enrolled, still fresh: the next sync
    /// takes a snapshot again) or the whole result.
    private func replaceTheFile(withSnapshotAt path: String, info: SnapshotInfo) throws -> SnapshotInfo? {
        var info = info
        let timeout = db.busyTimeout
        db.busyTimeout = .zero
        try db.execute("PRAGMA main.locking_mode = EXCLUSIVE")
        defer {
            db.busyTimeout = timeout
            // Back to normal locking: the lock goes at the next access of the file.
            try? db.execute("PRAGMA main.locking_mode = NORMAL")
            _ = try? db.scalar("SELECT count(*) FROM main.sqlite_schema")
        }
        let snapshotHLC = try snapshotHLC()
        var ownTables: [String] = []
        let collections = Set(schema.collections.map(\.name) + ["_relais_records"])
        try db.query("SELECT name FROM main.sqlite_schema WHERE type = 'table' ORDER BY name") { row in
            if let name = row.text(at: 0), !collections.contains(name) { ownTables.append(name) }
        }
        let prepared: Bool
        do {
            // `write` stamps edits captured so far first: one makes the file no longer fresh.
            prepared = try write {
                guard try snapshotCanReplaceTheFile() else { return false }
                for table in ownTables.map(ReplicaSQL.quote) {
                    try db.execute("DELETE FROM snapshot.\(table)")
                    try db.execute("INSERT INTO snapshot.\(table) SELECT * FROM main.\(table)")
                }
                // The snapshot's file now holds this file's state: the bootstrap goes on from there
                // as the copy's does.
                try beginBootstrap(in: .snapshot)
                try continueBootstrap(fromSnapshotAt: info.cursor, snapshotHLC: snapshotHLC, in: .snapshot)
                let generation = Int64(try stateInt("generation", in: .snapshot) ?? 0)
                // The hub's snapshots carry generation 1, a fresh laptop's first: no update then.
                try db.execute(
                    "UPDATE snapshot._relais_records SET generation = ? WHERE generation IS NOT ?",
                    [.integer(generation), .integer(generation)])
                info.changed = 0
                for collection in schema.collections {
                    let rows = try db.scalar("SELECT count(*) FROM snapshot.\(ReplicaSQL.quote(collection.name))")
                    info.changed += Int(rows?.int64Value ?? 0)
                }
                return true
            }
        } catch let error as SQLiteError where error.isBusy {
            // Another connection has the file open: no exclusive lock now.
            return nil
        }
        guard prepared else { return nil }
        try db.execute("DETACH DATABASE snapshot", [])
        let source = try Connection(path: path, mode: .readOnly, create: false)
        try replaceWhole(with: source)
        info.tookFileWhole = true
        return info
    }

    /// The HLC time stored in the attached snapshot's state: the latest its records carry.
    private func snapshotHLC() throws -> Int64? {
        try state("hlc", in: .snapshot)?.int64Value
    }

    /// Sets the state a bootstrap goes on from once a snapshot at `cursor` is in (after
    /// ``beginBootstrap(in:)``, in the same transaction): the pull that follows starts at the
    /// snapshot's cursor and asks for this replica's own writes too, and the clocks, stored with it,
    /// have seen the snapshot's latest time. `file` is where the state is written.
    private func continueBootstrap(fromSnapshotAt cursor: UInt64, snapshotHLC: Int64?, in file: StateFile) throws {
        try setState("cursor", .integer(Int64(cursor)), in: file)
        try setState("pull_since", .integer(Int64(cursor)), in: file)
        try setState("echo_own_writes", .integer(1), in: file)
        if let snapshotHLC { observe(HLC(rawValue: UInt64(bitPattern: snapshotHLC))) }
        try persistClocks(in: file)
    }

    /// Whether a pending write was sent and not answered. A bootstrap then pulls pages: they carry
    /// the tombstone of a record this replica wrote whatever its age (docs/RELIABILITY.md, bug 3),
    /// which a snapshot, built for no replica, leaves out.
    var hasWritesInFlight: Bool {
        get throws {
            try db.scalar("SELECT EXISTS(SELECT 1 FROM _relais_pending WHERE in_flight = 1)")?.int64Value == 1
        }
    }

    /// The lowest counter among the pending writes, nil when none is pending: a snapshot request
    /// names it (``SnapshotRequest/unsentFrom``).
    var lowestPendingCounter: UInt64? {
        get throws { try db.scalar("SELECT min(counter) FROM _relais_pending")?.int64Value.map { UInt64($0) } }
    }

    /// Whether the pull under way must ask for this replica's own writes (it follows a snapshot).
    var echoOwnWrites: Bool {
        get throws { try stateInt("echo_own_writes") == 1 }
    }

    /// The cursor and schema version stored in the attached snapshot.
    private func snapshotInfo() throws -> SnapshotInfo {
        func value(_ key: String) throws -> Int64? {
            try state(key, in: .snapshot)?.int64Value
        }
        guard let cursor = try value("cursor"), let version = try value("schema_version") else {
            throw ReplicaError(.storage, "the snapshot file holds no cursor or schema version")
        }
        return SnapshotInfo(cursor: UInt64(cursor), schemaVersion: Int(version))
    }

    /// Fills `temp._relais_snapshot_kept` with the records whose rows and bookkeeping the snapshot
    /// must not replace wholesale:
    ///
    /// - those with pending writes (`ahead` 0: ``applySnapshotToPending(generation:replica:)`` puts
    ///   the snapshot under them);
    /// - those the laptop already holds in a state the snapshot has not seen (`ahead` 1): some entry
    ///   of the stored vector is above the snapshot's. The hub changed them after the snapshot's
    ///   cursor, so the pull that follows brings them; until then the laptop goes on showing what it
    ///   showed. Replacing them would show older values for a while (or revive a record it deleted),
    ///   and an edit made then, whose context still names the laptop's own acknowledged write, would
    ///   overwrite that write without a conflict. They keep their generation: when the pull does not
    ///   bring them (they left the view), the sweep judges them as it judges any other.
    private func markRecordsTheSnapshotLeaves() throws {
        try db.execute(
            """
            CREATE TEMP TABLE IF NOT EXISTS _relais_snapshot_kept (
                collection TEXT NOT NULL, record_id TEXT NOT NULL, ahead INTEGER NOT NULL,
                PRIMARY KEY (collection, record_id)
            ) WITHOUT ROWID
            """)
        try db.execute("DELETE FROM temp._relais_snapshot_kept")
        try db.execute(
            """
            INSERT INTO temp._relais_snapshot_kept(collection, record_id, ahead)
            SELECT m.collection, m.record_id, 1
            FROM main._relais_records AS m
            JOIN snapshot._relais_records AS s ON s.collection = m.collection AND s.record_id = m.record_id
            WHERE EXISTS (
                SELECT 1 FROM json_each(m.vector) AS l
                WHERE l.value > coalesce(json_extract(s.vector, '$."' || l.key || '"'), 0)
            )
            """)
        try db.execute(
            """
            INSERT OR IGNORE INTO temp._relais_snapshot_kept(collection, record_id, ahead)
            SELECT DISTINCT collection, record_id, 0 FROM main._relais_pending
            """)
    }

    /// Keeps the records the snapshot left because the laptop holds them ahead of it (`ahead` 1),
    /// to be asked for whole once the pull that follows is done (``recordsToRefetch()``).
    ///
    /// The pull after a snapshot sends only the fields changed after the snapshot's cursor: the
    /// fields of such a record that the hub changed before it (another laptop's, in the snapshot)
    /// would never reach this one, which holds its own older state of them (docs/RELIABILITY.md,
    /// bug 10: a copied file and its original, both enrolled again).
    private func rememberRecordsToRefetch() throws {
        var keys = try recordsToRefetch().map { "\($0.collection)/\($0.id)" }
        try db.query("SELECT collection, record_id FROM temp._relais_snapshot_kept WHERE ahead = 1") { row in
            keys.append("\(row.text(at: 0) ?? "")/\(row.text(at: 1) ?? "")")
        }
        guard !keys.isEmpty else { return }
        try setState("refetch_after_snapshot", .text(ColumnCodec.jsonArray(Array(Set(keys)).sorted())))
    }

    /// The records to ask the hub for whole after a snapshot (``rememberRecordsToRefetch()``).
    func recordsToRefetch() throws -> [RecordKey] {
        guard let text = try stateText("refetch_after_snapshot"), let items = ColumnCodec.parseJSONArray(text)
        else { return [] }
        return items.compactMap { item in
            guard let slash = item.firstIndex(of: "/") else { return nil }
            return RecordKey(collection: String(item[..<slash]), id: String(item[item.index(after: slash)...]))
        }
    }

    /// Forgets the records to refetch, once they were applied.
    func forgetRecordsToRefetch() throws {
        try syncWrite { try setState("refetch_after_snapshot", .null) }
    }

    /// Records with pending writes that the snapshot is not behind: the snapshot's state becomes their confirmed state (as a page
    /// from cursor 0 carrying them whole would), and their visible row is settled again.
    private func applySnapshotToPending(generation: Int64, replica: ReplicaID) throws -> Int {
        var changed = 0
        var keys: [RecordKey] = []
        try db.query("SELECT collection, record_id FROM temp._relais_snapshot_kept WHERE ahead = 0") { row in
            keys.append(RecordKey(collection: row.text(at: 0) ?? "", id: row.text(at: 1) ?? ""))
        }
        for key in keys {
            guard let collection = schema.collection(key.collection) else { continue }
            var meta: (vector: String, fields: String, deleted: Bool)?
            try db.query(
                "SELECT vector, fields, deleted FROM snapshot._relais_records WHERE collection = ? AND record_id = ?",
                [.text(key.collection), .text(key.id)]
            ) { row in meta = (row.text(at: 0) ?? "{}", row.text(at: 1) ?? "{}", row.int64(at: 2) != 0) }
            // Not in the snapshot: left to the sweep at the end of the pull, as a bootstrap by pages would.
            guard let meta else { continue }
            var confirmed = try loadConfirmed(key, collection)
            if meta.deleted {
                confirmed.exists = false
            } else {
                confirmed.exists = true
                let columns = collection.fields.map { ReplicaSQL.quote($0.name) }.joined(separator: ", ")
                try db.query(
                    "SELECT \(columns) FROM snapshot.\(ReplicaSQL.quote(collection.name)) WHERE id = ?", [.text(key.id)]
                ) { row in
                    for (i, field) in collection.fields.enumerated() {
                        confirmed.values[field.name] =
                            (try? ColumnCodec.value(row.value(at: Int32(i)), field: field, collection: collection.name))
                            ?? .null
                    }
                }
            }
            try upsertMeta(
                key, dots: meta.fields, vector: meta.vector, deleted: meta.deleted, generation: generation,
                replica: replica)
            try settle(key, collection, confirmed: confirmed, pending: try loadPending(key))
            changed += 1
        }
        return changed
    }
}
