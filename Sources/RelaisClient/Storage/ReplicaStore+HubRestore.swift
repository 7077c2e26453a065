import Foundation
import RelaisCore
import RelaisSQLite

/// Noticing a restored hub (docs/SYNC.md "A restored hub").
///
/// The hub has a **hub epoch**, new when its store is made and at every restore from a backup. The
/// replica keeps the last one it received (`hub_epoch` in `_relais_state`) and names it in every push
/// and pull; a hub with another epoch answers `409 hub_restored` with the highest counter it holds
/// for this replica, and applies nothing. The replica then:
///
/// 1. puts back in the pending queue, under their own dots and HLC times, the acknowledged writes
///    the restored hub lacks (counters above the hub's, from `_relais_acknowledged`);
/// 2. forgets the bookkeeping of every record with a pending write (so that the bootstrap sweep
///    keeps them, and so that a record the restored hub lacks has no vector left), takes the new
///    epoch, and starts a bootstrap;
/// 3. once the bootstrap's last page is applied, narrows the context of every pending write to what
///    the restored hub holds (``finishHubRestore()``), then pushes. The first pending write on a
///    record the restored hub lacks (another laptop created it after the backup) also carries the
///    record's required fields as this laptop last saw them, so that it does not depend on the other
///    laptop pushing its creation first (the same values, pushed again later, are no conflict).
///
/// Step 3 matters: a context entry naming a write of another laptop that the restored hub lacks
/// would make the hub take that write, when the other laptop pushes it again, for one it already
/// folded in (MergeEngine: a dot the vector covers changes nothing), and drop it.
extension ReplicaStore {
    /// How long an acknowledged write is kept for a restored hub: a restore from a backup older than
    /// this (30 days) can no longer get the writes acknowledged before the cut back from this replica.
    static let acknowledgedRetentionMillis: UInt64 = 30 * 24 * 3600 * 1000

    /// The hub epoch last received; empty before the first answer from a hub that sends one.
    var hubEpoch: String {
        get throws { try stateText("hub_epoch") ?? "" }
    }

    /// Stores `epoch` when the replica holds none yet (the first answer after enrollment or an
    /// upgrade). A different epoch is never taken here: only ``beginHubRestore(hubEpoch:counter:)``
    /// takes one, with the writes the restored hub lacks.
    func rememberHubEpoch(_ epoch: String) throws {
        guard !epoch.isEmpty, try hubEpoch.isEmpty else { return }
        try setState("hub_epoch", .text(epoch))
    }

    /// Whether a restore is being caught up with: the bootstrap it started or the context narrowing
    /// is not done yet. A sync then pulls before it pushes.
    var hubRestorePending: Bool {
        get throws { try stateInt("hub_restore") == 1 }
    }

    /// Keeps the write `counter` of this replica, acknowledged by the hub, for a restored hub (inside
    /// the push answer's transaction).
    ///
    /// The table is ordered by acknowledgment time: an answer appends to its last page, and pruning
    /// deletes a range at its start. A write acknowledged again (pushed again to a restored hub) has
    /// two rows; the newer one counts.
    func keepAcknowledged(counter: UInt64, replica: ReplicaID, now: UInt64) throws {
        try db.execute(
            """
            INSERT OR IGNORE INTO _relais_acknowledged(replica, counter, collection, record_id, context, hlc, is_delete, fields, acknowledged_at)
            SELECT ?, counter, collection, record_id, context, hlc, is_delete, fields, ? FROM _relais_pending WHERE counter = ?
            """, [.integer(Int64(replica.rawValue)), .integer(Int64(now)), .integer(Int64(counter))])
    }

    /// Drops acknowledged writes older than the retention.
    func pruneAcknowledged() throws {
        let now = wallMillis()
        guard now > Self.acknowledgedRetentionMillis else { return }
        try db.execute(
            "DELETE FROM _relais_acknowledged WHERE acknowledged_at < ?",
            [.integer(Int64(now - Self.acknowledgedRetentionMillis))])
    }

    /// Steps 1 and 2 above, in the caller's transaction.
    ///
    /// - Returns: how many acknowledged writes go back in the pending queue.
    @discardableResult
    func beginHubRestore(hubEpoch: String, counter: UInt64) throws -> Int {
        let writes = try acknowledgedWrites(of: try self.replica.rawValue, above: counter)
        var restored = 0
        try engine(rows: writes.count) {
            for write in writes {
                guard let collection = schema.collection(write.collection) else { continue }
                // Still pending from an earlier put-back: kept as it is.
                guard try loadPending(counter: write.counter) == nil else { continue }
                try keepShownAsConfirmed(RecordKey(collection: write.collection, id: write.recordID), collection)
                try savePending(write)
                restored += 1
            }
            try forgetBookkeepingUnderPendingWrites()
        }
        try setState("hub_epoch", .text(hubEpoch))
        try setState("hub_restore", .integer(1))
        try beginBootstrap()
        return restored
    }

    /// The replica numbers this file held before its current one whose acknowledged writes it still
    /// keeps, lowest first: what a rejoin names in `EnrollRequest.earlier_replicas`. A hub hands out
    /// numbers in increasing order (and a restored one moves past the numbers it may have handed out),
    /// so this is the order the file used them in, whatever its clock did.
    func earlierReplicas() throws -> [UInt32] {
        let current = try replica
        var numbers: [UInt32] = []
        try db.query(
            "SELECT DISTINCT replica FROM _relais_acknowledged WHERE replica != ? ORDER BY replica",
            [.integer(Int64(current.rawValue))]
        ) { numbers.append(UInt32(truncatingIfNeeded: $0.int64(at: 0))) }
        return numbers
    }

    /// For a rejoin with a restored hub, in the caller's transaction: the acknowledged writes of the
    /// file's earlier replica numbers above what the hub holds of each (`held`, from
    /// `EnrollResponse.earlier_counters`; a number it left out gives nothing), in the order they were
    /// made (numbers in the order the file used them, ``earlierReplicas()``, then counters). The
    /// renewal puts them in the queue ahead of every other write (``renew(replica:epoch:token:hubEpoch:putBack:)``),
    /// in flight, so that no edit is merged into them: sent as they were acknowledged, with their
    /// context and HLC time.
    ///
    /// Their rows leave `_relais_acknowledged` (the hub's answers keep them again under the new
    /// number, so a later restore does not send them twice), and a record without an overlay gets one
    /// holding what the laptop shows, as ``beginHubRestore(hubEpoch:counter:)`` does.
    func earlierWritesLost(_ held: [UInt32: UInt64]) throws -> [PendingWrite] {
        var writes: [PendingWrite] = []
        for number in try earlierReplicas() {
            guard let counter = held[number] else { continue }
            writes += try acknowledgedWrites(of: number, above: counter)
            try db.execute(
                "DELETE FROM _relais_acknowledged WHERE replica = ? AND counter > ?",
                [.integer(Int64(number)), .integer(Int64(clamping: counter))])
        }
        var kept: [PendingWrite] = []
        for write in writes {
            guard let collection = schema.collection(write.collection) else { continue }
            try keepShownAsConfirmed(RecordKey(collection: write.collection, id: write.recordID), collection)
            kept.append(write)
        }
        return kept
    }

    /// The kept acknowledged writes of replica `number` above `counter`, in counter order, each once
    /// from its newest row (a write acknowledged twice, by a hub before and after an earlier restore).
    /// In flight: never coalesced into, sent as they were acknowledged.
    private func acknowledgedWrites(of number: UInt32, above counter: UInt64) throws -> [PendingWrite] {
        var writes: [PendingWrite] = []
        var seen: Set<UInt64> = []
        try db.query(
            """
            SELECT counter, collection, record_id, context, hlc, is_delete, fields FROM _relais_acknowledged
            WHERE replica = ? AND counter > ? ORDER BY counter, acknowledged_at DESC
            """, [.integer(Int64(number)), .integer(Int64(clamping: counter))]
        ) { row in
            guard seen.insert(UInt64(row.int64(at: 0))).inserted else { return }
            writes.append(
                PendingWrite(
                    counter: UInt64(row.int64(at: 0)), collection: row.text(at: 1) ?? "",
                    recordID: row.text(at: 2) ?? "",
                    context: StorageCodec.decodeVector(row.text(at: 3)),
                    hlc: HLC(rawValue: UInt64(bitPattern: row.int64(at: 4))),
                    isDelete: row.int64(at: 5) != 0, fields: StorageCodec.decodeFields(row.text(at: 6) ?? "{}"),
                    inFlight: true))
        }
        return writes
    }

    /// Gives a record about to get a put-back write an overlay holding what the laptop shows, when it
    /// has none (it had no pending write, so the row is its confirmed state).
    private func keepShownAsConfirmed(_ key: RecordKey, _ collection: CollectionSchema) throws {
        guard try loadOverlay(key, collection) == nil else { return }
        let row = try readRow(collection, id: key.id)
        try saveOverlay(key, ConfirmedState(exists: row != nil, values: row ?? [:]), collection)
    }

    /// Removes the bookkeeping of every record with a pending write, so that a bootstrap's sweep keeps
    /// them and a record the restored hub lacks has no vector left (step 2 above).
    func forgetBookkeepingUnderPendingWrites() throws {
        try db.execute(
            """
            DELETE FROM _relais_records WHERE EXISTS (
                SELECT 1 FROM _relais_pending p
                WHERE p.collection = _relais_records.collection AND p.record_id = _relais_records.record_id)
            """)
    }

    /// Step 3 above, in the caller's transaction, once the bootstrap is complete: every pending write's
    /// context keeps this replica's own entry and, for each other replica, at most what the record's
    /// vector from the restored hub holds (nothing for a record the restored hub does not have).
    ///
    /// - Returns: false (nothing done) while the bootstrap is not complete or no restore is pending.
    @discardableResult
    func finishHubRestore() throws -> Bool {
        guard try hubRestorePending, try stateInt("bootstrapping") != 1 else { return false }
        let replica = try self.replica
        var counters: [UInt64] = []
        try db.query("SELECT counter FROM _relais_pending ORDER BY counter") {
            counters.append(UInt64($0.int64(at: 0)))
        }
        var completed: Set<RecordKey> = []
        try engine {
            for counter in counters {
                guard var write = try loadPending(counter: counter) else { continue }
                let key = RecordKey(collection: write.collection, id: write.recordID)
                let meta = try loadMeta(key)
                let held = meta?.vector ?? .empty
                var narrowed = VersionVector()
                for (entry, value) in write.context.entries {
                    narrowed[entry] = entry == replica ? value : min(value, held[entry])
                }
                var changed = narrowed != write.context
                write.context = narrowed
                if meta == nil, !write.isDelete, completed.insert(key).inserted,
                    let collection = schema.collection(write.collection),
                    let confirmed = try loadOverlay(key, collection), confirmed.exists
                {
                    for field in collection.fields where field.required && write.fields[field.name] == nil {
                        if let value = confirmed.values[field.name], !value.isNull {
                            write.fields[field.name] = value
                            changed = true
                        }
                    }
                }
                guard changed else { continue }
                try savePending(write)
            }
        }
        try setState("hub_restore", .integer(0))
        return true
    }
}
