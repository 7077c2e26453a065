import Foundation
import Logging
import RelaisCore
import RelaisProtocol
import RelaisSQLite

extension ReplicaStore {
    /// What applying a pull page did.
    struct PageOutcome: Sendable, Equatable {
        /// Records whose visible row the page changed (created, updated, removed).
        var changed = 0
        /// Records removed because they left the user's visibility (revocations, bootstrap sweep).
        var removed = 0
        /// Pending writes moved to the rejected list because their record was removed.
        var rejected = 0
    }

    /// The stored pull cursor.
    var cursor: UInt64 {
        get throws { UInt64(try stateInt("cursor") ?? 0) }
    }

    /// The cursor at which the current pull started (docs/SYNC.md "Pull"): the replica holds every
    /// change up to it, and the hub sends only fields changed after it. Kept until a page with `more`
    /// false is applied. `nil` for a file written before it was kept, in the middle of a pull: that
    /// pull asks for whole records.
    var pullSince: UInt64? {
        get throws {
            if let since = try stateInt("pull_since") { return UInt64(since) }
            return try cursor == 0 ? 0 : nil
        }
    }

    /// Starts a bootstrap: a new generation and cursor 0. Records not received again by the end of
    /// the full pull are swept when its last page is applied. Caller's transaction; `file` is where
    /// the state is read and written (a snapshot's file about to replace this one holds a copy of
    /// this file's state by then).
    func beginBootstrap(in file: StateFile = .main) throws {
        try setState("generation", .integer(Int64((try stateInt("generation", in: file) ?? 0) + 1)), in: file)
        try setState("cursor", .integer(0), in: file)
        try setState("pull_since", .integer(0), in: file)
        try setState("bootstrapping", .integer(1), in: file)
        try setState("echo_own_writes", .integer(0), in: file)
    }

    /// Whether a page must be committed with `synchronous=FULL` before the next pull request.
    ///
    /// The next request's cursor acknowledges the page to the hub, which may then purge the page's
    /// tombstones (and the moves behind its revocations) once every device has acknowledged them. If
    /// a power cut then lost the page, re-pulling from the older durable cursor would no longer bring
    /// the delete, and the record would stay on the laptop for ever. A page of live records only is
    /// safe to lose: each record is still on the hub with a sequence after the durable cursor (a later
    /// delete takes a sequence after the acknowledged one), so the re-pull brings it again.
    static func pageNeedsDurableCommit(_ page: Relais_V1_PullResponse) -> Bool {
        !page.revocations.isEmpty || page.records.contains(where: \.deleted)
    }

    /// Applies consecutive pull pages, in order, in one transaction: the stored cursor becomes the last
    /// page's. The transaction commits with `FULL` when any page needs it (``pageNeedsDurableCommit(_:)``).
    func applyPages(_ pages: [Relais_V1_PullResponse]) throws -> PageOutcome {
        guard !pages.isEmpty else { return PageOutcome() }
        let rows = pages.reduce(0) { $0 + $1.records.count + $1.revocations.count }
        return try syncWrite(durable: pages.contains(where: Self.pageNeedsDurableCommit)) {
            try engine(rows: rows) {
                var total = PageOutcome()
                for page in pages {
                    let outcome = try applyPage(page)
                    total.changed += outcome.changed
                    total.removed += outcome.removed
                    total.rejected += outcome.rejected
                }
                return total
            }
        }
    }

    /// Applies one pull page and stores its cursor, in the caller's transaction and ``engine(_:)``
    /// section (docs/SYNC.md "Applying a page on the replica").
    ///
    /// Records without pending writes take the fast path: one upsert of the changed columns and one of
    /// the bookkeeping row, both prepared once per field set. A record with pending writes updates its
    /// confirmed state and re-derives its visible row as confirmed + pending, so a pull never hides
    /// what the user typed. Applying the same page twice leaves the same state.
    private func applyPage(_ page: Relais_V1_PullResponse) throws -> PageOutcome {
        var pendingKeys = Set<RecordKey>()
        try db.query("SELECT DISTINCT collection, record_id FROM _relais_pending") { row in
            pendingKeys.insert(RecordKey(collection: row.text(at: 0) ?? "", id: row.text(at: 1) ?? ""))
        }
        let replica = try self.replica
        let generation = Int64(try stateInt("generation") ?? 0)
        let hasStash =
            try db.scalar(
                "SELECT EXISTS(SELECT 1 FROM _relais_records INDEXED BY _relais_records_stash WHERE stash IS NOT NULL)")?
            .int64Value == 1
        var outcome = PageOutcome()
        var latest = HLC.zero

        // Prepared once per page: the hot path binds and steps, nothing else.
        let metaUpsert = try db.cachedStatement(
            """
            INSERT INTO _relais_records(collection, record_id, vector, fields, deleted, stash, generation)
            VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5)
            ON CONFLICT(collection, record_id) DO UPDATE SET
                vector = \(Self.vectorJoin(replica)),
                fields = CASE WHEN fields = ?4 THEN fields ELSE json_patch(fields, ?6) END,
                deleted = 0, stash = NULL, generation = excluded.generation
            """)
        var visibleUpserts: [String: Statement] = [:]
        // Records of a page mostly carry the same fields in the same order: the previous record's
        // field positions and upsert statement are reused without a lookup or a signature.
        var previous: (collection: String, wire: [String], indices: [Int], statement: Statement)?
        var wire: [String] = []
        var indices: [Int] = []
        var values: [Value] = []
        var dots = FieldDotsText()
        var vector = TextBuffer()
        for record in page.records {
            guard let collection = schema.collection(record.collection) else {
                logger.warning(
                    "pull: skipping a record of an unknown collection",
                    metadata: ["relais.collection": "\(record.collection)"])
                continue
            }
            let key = RecordKey(collection: record.collection, id: record.recordID)
            let known = previous?.collection == record.collection ? previous : nil
            wire.removeAll(keepingCapacity: true)
            indices.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            dots.removeAll()
            for (n, version) in record.fields.enumerated() {
                let index: Int
                if let known, n < known.wire.count, known.wire[n] == version.field {
                    index = known.indices[n]
                } else if let found = collection.fieldIndex(version.field) {
                    index = found
                } else {
                    continue
                }
                wire.append(version.field)
                indices.append(index)
                values.append(try Value(version.value))
                let (dot, hlc) = record.dotAndTime(of: version)
                dots.add(collection.fields[index].name, replica: dot.replica, counter: dot.counter, hlc: hlc)
                if hlc > latest.rawValue { latest = HLC(rawValue: hlc) }
            }
            dots.finish()
            Self.encodeVector(record.vector, into: &vector)

            if !pendingKeys.isEmpty, pendingKeys.contains(key) {
                let fields = zip(indices, values).map { (collection.fields[$0], $1) }
                if try applyOverlaid(key, collection, record: record, values: fields) { outcome.changed += 1 }
                try upsertMeta(
                    key, dots: dots.explicit.string, vector: vector.string, deleted: record.deleted,
                    generation: generation,
                    replica: replica)
            } else if record.deleted {
                try db.cachedStatement(
                    """
                    INSERT INTO _relais_records(collection, record_id, vector, fields, deleted, stash, generation)
                    VALUES (?, ?, ?, '{}', 1,
                        (SELECT \(ReplicaSQL.rowObject(collection, prefix: "c")) FROM \(ReplicaSQL.quote(collection.name)) AS c WHERE c.id = ?), ?)
                    ON CONFLICT(collection, record_id) DO UPDATE SET
                        vector = \(Self.vectorJoin(replica)), deleted = 1,
                        stash = coalesce(excluded.stash, stash), generation = excluded.generation
                    """
                ).execute([
                    .text(key.collection), .text(key.id), .text(vector.string), .text(key.id), .integer(generation),
                ])
                try db.cachedStatement("DELETE FROM \(ReplicaSQL.quote(collection.name)) WHERE id = ?")
                    .execute([.text(key.id)])
                if db.changes > 0 { outcome.changed += 1 }
            } else {
                if hasStash {
                    try restoreStash(key, collection)
                }
                let upsert: Statement
                if let known, known.indices == indices {
                    upsert = known.statement
                } else {
                    let names = indices.map { collection.fields[$0].name }
                    let signature = ([record.collection] + names).joined(separator: ",")
                    if let cached = visibleUpserts[signature] {
                        upsert = cached
                    } else {
                        upsert = try visibleUpsert(collection, names)
                        visibleUpserts[signature] = upsert
                    }
                    previous = (record.collection, wire, indices, upsert)
                }
                try upsert.bind(text: key.id, at: 1)
                for (i, value) in values.enumerated() {
                    try ColumnCodec.bind(value, to: upsert, at: Int32(i + 2))
                }
                try upsert.execute()
                let visiblyChanged = db.changes > 0
                try metaUpsert.bind(text: key.collection, at: 1)
                try metaUpsert.bind(text: key.id, at: 2)
                try metaUpsert.bind(utf8: vector.bytes, at: 3)
                try metaUpsert.bind(utf8: dots.insertBytes, at: 4)
                try metaUpsert.bind(utf8: dots.explicit.bytes, at: 6)
                try metaUpsert.bind(int64: generation, at: 5)
                try metaUpsert.execute()
                if visiblyChanged { outcome.changed += 1 }
            }
        }
        for revocation in page.revocations {
            let key = RecordKey(collection: revocation.collection, id: revocation.recordID)
            let removed = try revoke(
                key, code: "outside_territory", reason: "the record left this user's territories")
            outcome.removed += removed.records
            outcome.rejected += removed.pending
            if removed.records > 0 { outcome.changed += 1 }
        }
        try setState("cursor", .integer(Int64(page.nextCursor)))
        // The pull is over: the replica now holds every change up to its cursor, where the next one starts.
        if !page.more {
            try setState("pull_since", .integer(Int64(page.nextCursor)))
            try setState("echo_own_writes", .integer(0))
        }
        if !page.more, try stateInt("bootstrapping") == 1 {
            let swept = try sweep(before: generation)
            outcome.removed += swept.records
            outcome.rejected += swept.pending
            try setState("bootstrapping", .integer(0))
        } else if !page.more, let held = try stateInt("sweep_before") {
            // Records a bootstrap's sweep left for their writes: those whose writes are all answered
            // and that the hub did not take since go now.
            let swept = try sweep(before: Int64(held))
            outcome.removed += swept.records
            outcome.rejected += swept.pending
        }
        if latest > .zero { observe(latest) }
        try persistClocks()
        return outcome
    }

    /// SQL joining the stored vector's own entry into the hub's (`excluded.vector`): the record's
    /// vector becomes the hub's vector joined with this replica's acknowledged dots.
    static func vectorJoin(_ replica: ReplicaID) -> String {
        let path = "'$.\"\(replica.rawValue)\"'"
        return """
            CASE WHEN coalesce(json_extract(_relais_records.vector, \(path)), 0) > coalesce(json_extract(excluded.vector, \(path)), 0)
            THEN json_set(excluded.vector, \(path), json_extract(_relais_records.vector, \(path))) ELSE excluded.vector END
            """
    }

    /// The bookkeeping row of a record with pending writes (its tombstone values live in the overlay).
    func upsertMeta(
        _ key: RecordKey, dots: String, vector: String, deleted: Bool, generation: Int64, replica: ReplicaID
    ) throws {
        try db.cachedStatement(
            """
            INSERT INTO _relais_records(collection, record_id, vector, fields, deleted, stash, generation)
            VALUES (?, ?, ?, ?, ?, NULL, ?)
            ON CONFLICT(collection, record_id) DO UPDATE SET
                vector = \(Self.vectorJoin(replica)), fields = json_patch(fields, excluded.fields),
                deleted = excluded.deleted, generation = excluded.generation
            """
        ).execute([
            .text(key.collection), .text(key.id), .text(vector), .text(dots), .integer(deleted ? 1 : 0),
            .integer(generation),
        ])
    }

    /// The upsert of some columns of a visible row.
    private func visibleUpsert(_ collection: CollectionSchema, _ names: [String]) throws -> Statement {
        let table = ReplicaSQL.quote(collection.name)
        let columns = names.map { ReplicaSQL.quote($0) }
        if columns.isEmpty {
            return try db.cachedStatement("INSERT INTO \(table)(id) VALUES (?) ON CONFLICT(id) DO NOTHING")
        }
        return try db.cachedStatement(
            "INSERT INTO \(table)(id, \(columns.joined(separator: ", "))) VALUES (?\(String(repeating: ", ?", count: columns.count))) "
                + "ON CONFLICT(id) DO UPDATE SET " + columns.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
                // Only a real change counts as one (`changes` then tells what the pull changed).
                + " WHERE " + columns.map { "\($0) IS NOT excluded.\($0)" }.joined(separator: " OR "))
    }

    /// A wire vector as stored: `{"3":17,"5":2}` (zero entries dropped), written over `out`.
    static func encodeVector(_ vector: Relais_V1_VersionVector, into out: inout TextBuffer) {
        out.removeAll()
        out.append(ascii: "{")
        for entry in vector.entries where entry.counter > 0 {
            if out.count > 1 { out.append(ascii: ",") }
            out.append(ascii: "\"")
            out.append(UInt64(entry.replica))
            out.append(ascii: "\":")
            out.append(entry.counter)
        }
        out.append(ascii: "}")
    }

    /// Puts back the values a deleted record had, before an update revives it (the hub may send only
    /// the fields the reviving write changed).
    private func restoreStash(_ key: RecordKey, _ collection: CollectionSchema) throws {
        let columns = collection.fields.map { ReplicaSQL.quote($0.name) }
        let extracts = collection.fields.map { "json_extract(stash, '$.\($0.name)')" }
        try db.cachedStatement(
            """
            INSERT OR IGNORE INTO \(ReplicaSQL.quote(collection.name))(id, \(columns.joined(separator: ", ")))
            SELECT record_id, \(extracts.joined(separator: ", ")) FROM _relais_records
            WHERE collection = ? AND record_id = ? AND deleted = 1 AND stash IS NOT NULL
            """
        ).execute([.text(key.collection), .text(key.id)])
    }

    /// A record with pending writes: the page updates its confirmed state, and the visible row is
    /// re-derived as confirmed + pending.
    /// Returns whether the visible row changed.
    private func applyOverlaid(
        _ key: RecordKey, _ collection: CollectionSchema, record: Relais_V1_RecordVersion,
        values: [(FieldSchema, Value)]
    ) throws -> Bool {
        let before = try readRaw(collection, id: key.id)
        let pending = try loadPending(key)
        var confirmed = try loadConfirmed(key, collection)
        if record.deleted {
            confirmed.exists = false
        } else {
            confirmed.exists = true
            for (field, value) in values { confirmed.values[field.name] = value }
        }
        try settle(key, collection, confirmed: confirmed, pending: pending)
        return try readRaw(collection, id: key.id) != before
    }

    /// Removes a record (and, with `children`, the records that take their visibility from it):
    /// visible row, bookkeeping and overlay. Its pending writes move to the rejected list with `code`.
    func revoke(_ key: RecordKey, code: String, reason: String, children: Bool = true) throws -> (
        records: Int, pending: Int
    ) {
        var removed = (records: 0, pending: 0)
        guard let collection = schema.collection(key.collection) else { return removed }
        for write in try loadPending(key) {
            try reject(
                key, isDelete: write.isDelete,
                fieldsJSON: StorageCodec.encodeColumns(write.fields, collection: collection),
                dot: Dot(replica: try replica, counter: write.counter), hlc: write.hlc, code: code, reason: reason,
                source: "hub")
            try deletePending(counter: write.counter)
            removed.pending += 1
        }
        try deleteOverlay(key)
        try db.execute(
            "DELETE FROM _relais_records WHERE collection = ? AND record_id = ?",
            [.text(key.collection), .text(key.id)])
        try db.cachedStatement("DELETE FROM \(ReplicaSQL.quote(collection.name)) WHERE id = ?").execute([.text(key.id)])
        if db.changes > 0 { removed.records += 1 }
        guard children else { return removed }
        // Children follow their parent's visibility.
        for child in schema.collections {
            guard case .parent(let field, let parent) = child.visibility, parent == key.collection else { continue }
            var ids: [String] = []
            try db.query(
                "SELECT id FROM \(ReplicaSQL.quote(child.name)) WHERE \(ReplicaSQL.quote(field)) = ?", [.text(key.id)]
            ) { row in ids.append(row.text(at: 0) ?? "") }
            for id in ids {
                let sub = try revoke(RecordKey(collection: child.name, id: id), code: code, reason: reason)
                removed.records += sub.records
                removed.pending += sub.pending
            }
        }
        return removed
    }

    /// After a bootstrap's last page: removes every record the hub did not send again.
    ///
    /// Each such record goes alone, not with its children: a child the hub sent again is visible
    /// (a contact of a customer deleted earlier, whose tombstone a bootstrap does not resend), and
    /// a child it did not send is swept on its own.
    ///
    /// A record with a write not yet answered (pending, or captured and not yet stamped) is left, with
    /// its write: the hub was not sent it because it was deleted or moved away, and it is the hub that
    /// decides what the write does (an edit beats a concurrent delete, with a report; a write outside
    /// the user's territories is refused). `sweep_before` keeps `generation` while such records remain,
    /// and the end of each later pull sweeps again the ones whose writes are all answered: a write the
    /// hub took gave its record this generation (``acknowledge``), a refused one did not.
    private func sweep(before generation: Int64) throws -> (records: Int, pending: Int) {
        var stale: [RecordKey] = []
        var held = false
        try db.query(
            """
            SELECT collection, record_id,
                EXISTS(SELECT 1 FROM _relais_pending p WHERE p.collection = r.collection AND p.record_id = r.record_id)
                OR EXISTS(SELECT 1 FROM _relais_capture c WHERE c.collection = r.collection AND c.record_id = r.record_id)
            FROM _relais_records r WHERE generation < ?
            """, [.integer(generation)]
        ) { row in
            if row.int64(at: 2) != 0 {
                held = true
            } else {
                stale.append(RecordKey(collection: row.text(at: 0) ?? "", id: row.text(at: 1) ?? ""))
            }
        }
        try setState("sweep_before", held ? .integer(generation) : .null)
        var removed = (records: 0, pending: 0)
        for key in stale {
            let sub = try revoke(
                key, code: "outside_territory", reason: "the hub no longer sends this record to this user",
                children: false)
            removed.records += sub.records
            removed.pending += sub.pending
        }
        return removed
    }
}
