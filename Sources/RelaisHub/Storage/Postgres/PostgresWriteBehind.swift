import NIOCore
import PostgresNIO
import RelaisCore
import RelaisProtocol

/// What a PostgreSQL write transaction keeps in memory between its statements, so that a push of
/// 50 writes costs a dozen round trips instead of several hundred.
///
/// ## Why it is exact
///
/// A write transaction takes the `head` row's lock before it locks or reads any record
/// (``PostgresHubTransaction/lockRecords(_:)``, ``PostgresHubTransaction/record(collection:id:)``) and
/// holds it to commit. Every record write takes a sequence, so while it holds `head`:
/// - a record it read and locked cannot change under it (its row lock), and a record it found
///   missing cannot appear (inserting it would take a sequence): both are served from ``records``;
/// - the records whose parent is an id it found without children in the database gain children only
///   through its own writes, which are all in ``records``: ``childless``;
/// - the sequences it hands out follow the head it read: ``lastSequence``, written back once.
///
/// Inserts and updates of records, history rows, write results and a push's device update wait in
/// memory and go to the database in one statement (``flushQuery(historyJSON:)``) before any other
/// statement runs and before `COMMIT`, so that every statement sees the transaction's own writes, and
/// a unique violation among them still ends the attempt and re-runs the body. A push's last read, the
/// meta row, comes back from that same statement: under the head's lock a push costs four round trips
/// (the head's lock, the records' lock, the flush, `COMMIT`).
struct PostgresWriteBehind {
    /// The head as it was when this transaction locked it; `nil` until then.
    var lockedHead: UInt64?
    /// The last sequence handed out (starts at ``lockedHead``).
    var lastSequence: UInt64 = 0
    /// The head as the database holds it in this transaction.
    var storedHead: UInt64 = 0

    /// Records read under lock, and keys known to be missing (`nil`), as this transaction sees them.
    var records: [RecordKey: StoredRecord?] = [:]
    /// Ids that had no child in the database once the head was locked.
    var childless: Set<String> = []

    /// Records to insert, and records to update, by key; the order of first write is kept.
    private(set) var recordOrder: [RecordKey] = []
    private(set) var inserts: [RecordKey: StoredRecord] = [:]
    private(set) var updates: [RecordKey: StoredRecord] = [:]
    private(set) var history: [HistoryEntry] = []
    private(set) var results: [StoredWriteResult] = []
    /// A push's update of its device (``PostgresHubTransaction/recordPush(replica:highestCounter:clampedWrites:seenAt:)``),
    /// one per flush.
    var devicePush: DevicePush?

    struct DevicePush {
        var replica: ReplicaID
        var highestCounter: UInt64
        var clampedWrites: Int64
        var seenAt: UInt64
    }

    var isEmpty: Bool {
        recordOrder.isEmpty && history.isEmpty && results.isEmpty && devicePush == nil
            && (lockedHead == nil || lastSequence == storedHead)
    }

    /// Takes the next sequence after the locked head.
    mutating func nextSequence() -> UInt64 {
        lastSequence += 1
        return lastSequence
    }

    mutating func lock(head: UInt64) {
        lockedHead = head
        lastSequence = head
        storedHead = head
    }

    /// A new record: inserted at the next flush.
    mutating func insert(_ record: StoredRecord) {
        let key = RecordKey(collection: record.collection, id: record.id)
        if inserts[key] == nil, updates[key] == nil { recordOrder.append(key) }
        inserts[key] = record
        records[key] = .some(record)
    }

    /// A changed record: an insert still waiting absorbs it; otherwise updated at the next flush.
    mutating func update(_ record: StoredRecord) {
        let key = RecordKey(collection: record.collection, id: record.id)
        if inserts[key] != nil {
            inserts[key] = record
        } else {
            if updates[key] == nil { recordOrder.append(key) }
            updates[key] = record
        }
        records[key] = .some(record)
    }

    mutating func append(_ entry: HistoryEntry) { history.append(entry) }

    mutating func append(_ result: StoredWriteResult) { results.append(result) }

    /// The records of this transaction (read or written) whose parent is `parentID`, in sequence order.
    func cachedChildren(of parentID: String) -> [StoredRecord] {
        records.values.compactMap { $0 }.filter { $0.parentID == parentID }.sorted { $0.seq < $1.seq }
    }

    /// The one statement that writes everything waiting (`nil`: nothing waits), and forgets it. It
    /// answers the meta row as ``PostgresHubTransaction/meta()`` reads it, from the statement's
    /// snapshot: the head it writes is not in it (the caller knows it: ``lastSequence``).
    ///
    /// Each table is written with one `unnest` of column arrays: data-modifying `WITH` clauses all run,
    /// referenced or not. postgres-nio binds no array of optionals, so a nullable column travels as a
    /// value array and a presence array.
    mutating func flushQuery(historyJSON: (HistoryEntry) throws -> String) throws -> PostgresQuery? {
        guard !isEmpty else { return nil }
        var inserted = Columns()
        var updated = Columns()
        for key in recordOrder {
            if let record = inserts[key] {
                inserted.append(record)
            } else if let record = updates[key] {
                updated.append(record)
            }
        }
        var historyColumns = HistoryColumns()
        for entry in history { try historyColumns.append(entry, fields: historyJSON(entry)) }
        var resultColumns = ResultColumns()
        for result in results { resultColumns.append(result) }
        let head = Int64(bitPattern: lastSequence)
        let device = devicePush
        let deviceReplica = Int64(device?.replica.rawValue ?? 0)
        let deviceCounter = Int64(bitPattern: device?.highestCounter ?? 0)
        let deviceSeenAt = Int64(bitPattern: device?.seenAt ?? 0)
        let query: PostgresQuery = """
            WITH head_row AS (
                UPDATE head SET head = \(head) WHERE id = 1 AND \(lockedHead != nil)::bool AND head <> \(head)
            ), inserted AS (
                INSERT INTO records (collection, id, seq, whole_since, scope, parent_id, deleted_at, state, digest)
                SELECT c, i, s, w, CASE WHEN hs THEN sc END, CASE WHEN hp THEN p END, CASE WHEN hd THEN d END, st,
                       CASE WHEN hg THEN g END
                FROM unnest(\(inserted.collection)::text[], \(inserted.id)::text[], \(inserted.seq)::bigint[],
                            \(inserted.wholeSince)::bigint[], \(inserted.hasScope)::bool[], \(inserted.scope)::text[],
                            \(inserted.hasParent)::bool[], \(inserted.parent)::text[], \(inserted.hasDeleted)::bool[],
                            \(inserted.deletedAt)::bigint[], \(inserted.state)::bytea[], \(inserted.hasDigest)::bool[],
                            \(inserted.digest)::bytea[])
                     AS n (c, i, s, w, hs, sc, hp, p, hd, d, st, hg, g)
            ), updated AS (
                UPDATE records r SET seq = u.s, whole_since = u.w, scope = CASE WHEN u.hs THEN u.sc END,
                    parent_id = CASE WHEN u.hp THEN u.p END, deleted_at = CASE WHEN u.hd THEN u.d END, state = u.st,
                    digest = CASE WHEN u.hg THEN u.g END
                FROM unnest(\(updated.collection)::text[], \(updated.id)::text[], \(updated.seq)::bigint[],
                            \(updated.wholeSince)::bigint[], \(updated.hasScope)::bool[], \(updated.scope)::text[],
                            \(updated.hasParent)::bool[], \(updated.parent)::text[], \(updated.hasDeleted)::bool[],
                            \(updated.deletedAt)::bigint[], \(updated.state)::bytea[], \(updated.hasDigest)::bool[],
                            \(updated.digest)::bytea[])
                     AS u (c, i, s, w, hs, sc, hp, p, hd, d, st, hg, g)
                WHERE r.collection = u.c AND r.id = u.i
            ), history_rows AS (
                INSERT INTO write_history (seq, collection, record_id, replica, counter, hlc, user_name, at, fields, deleted)
                SELECT * FROM unnest(\(historyColumns.seq)::bigint[], \(historyColumns.collection)::text[],
                    \(historyColumns.recordID)::text[], \(historyColumns.replica)::bigint[],
                    \(historyColumns.counter)::bigint[], \(historyColumns.hlc)::bigint[], \(historyColumns.user)::text[],
                    \(historyColumns.at)::bigint[], \(historyColumns.fields)::text[], \(historyColumns.deleted)::bool[])
            ), device_row AS (
                UPDATE devices SET highest_counter = greatest(highest_counter, \(deviceCounter)),
                    clamped_writes = clamped_writes + \(device?.clampedWrites ?? 0), last_seen_at = \(deviceSeenAt)
                WHERE replica = \(deviceReplica) AND \(device != nil)::bool
            ), result_rows AS (
                INSERT INTO write_results (replica, counter, digest, status, conflict_ids, code, reason)
                SELECT * FROM unnest(\(resultColumns.replica)::bigint[], \(resultColumns.counter)::bigint[],
                    \(resultColumns.digest)::bytea[], \(resultColumns.status)::text[], \(resultColumns.conflictIDs)::text[],
                    \(resultColumns.code)::text[], \(resultColumns.reason)::text[])
            )
            SELECT h.head, m.purge_horizon, m.hub_counter, m.hub_clock, m.next_replica, m.purged_up_to
            FROM head h CROSS JOIN meta m WHERE h.id = 1 AND m.id = 1
            """
        storedHead = lastSequence
        recordOrder = []
        inserts = [:]
        updates = [:]
        history = []
        results = []
        devicePush = nil
        return query
    }

    /// A records table's columns, as arrays.
    private struct Columns {
        var collection: [String] = []
        var id: [String] = []
        var seq: [Int64] = []
        var wholeSince: [Int64] = []
        var hasScope: [Bool] = []
        var scope: [String] = []
        var hasParent: [Bool] = []
        var parent: [String] = []
        var hasDeleted: [Bool] = []
        var deletedAt: [Int64] = []
        var state: [ByteBuffer] = []
        var hasDigest: [Bool] = []
        var digest: [ByteBuffer] = []

        mutating func append(_ record: StoredRecord) {
            collection.append(record.collection)
            id.append(record.id)
            seq.append(Int64(bitPattern: record.seq))
            wholeSince.append(Int64(bitPattern: record.wholeSince))
            hasScope.append(record.scope != nil)
            scope.append(record.scope ?? "")
            hasParent.append(record.parentID != nil)
            parent.append(record.parentID ?? "")
            hasDeleted.append(record.deletedAt != nil)
            deletedAt.append(Int64(bitPattern: record.deletedAt ?? 0))
            state.append(ByteBuffer(bytes: RecordCodec.encode(record.state, fields: record.fields)))
            hasDigest.append(record.digest != nil)
            digest.append(ByteBuffer(bytes: record.digest?.stored ?? []))
        }
    }

    private struct HistoryColumns {
        var seq: [Int64] = []
        var collection: [String] = []
        var recordID: [String] = []
        var replica: [Int64] = []
        var counter: [Int64] = []
        var hlc: [Int64] = []
        var user: [String] = []
        var at: [Int64] = []
        var fields: [String] = []
        var deleted: [Bool] = []

        mutating func append(_ entry: HistoryEntry, fields json: String) {
            seq.append(Int64(bitPattern: entry.seq))
            collection.append(entry.collection)
            recordID.append(entry.recordID)
            replica.append(Int64(entry.dot.replica.rawValue))
            counter.append(Int64(bitPattern: entry.dot.counter))
            hlc.append(Int64(bitPattern: entry.hlc.rawValue))
            user.append(entry.user)
            at.append(Int64(bitPattern: entry.at))
            fields.append(json)
            deleted.append(entry.deleted)
        }
    }

    private struct ResultColumns {
        var replica: [Int64] = []
        var counter: [Int64] = []
        var digest: [ByteBuffer] = []
        var status: [String] = []
        var conflictIDs: [String] = []
        var code: [String] = []
        var reason: [String] = []

        mutating func append(_ result: StoredWriteResult) {
            replica.append(Int64(result.dot.replica.rawValue))
            counter.append(Int64(bitPattern: result.dot.counter))
            digest.append(ByteBuffer(bytes: result.digest))
            status.append(result.status.rawValue)
            conflictIDs.append(result.conflictIDs.joined(separator: ","))
            code.append(result.code)
            reason.append(result.reason)
        }
    }
}
