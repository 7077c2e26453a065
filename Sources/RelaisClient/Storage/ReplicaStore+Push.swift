import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite

extension ReplicaStore {
    /// The next push batch: pending writes in counter order, at most `limit`, never splitting one
    /// record's writes. Its writes are marked in flight (committed before the request is sent), so
    /// they are never coalesced into and are re-sent unchanged if the answer is lost.
    func nextBatch(limit: Int) throws -> [PendingWrite] {
        var heads: [(counter: UInt64, key: RecordKey)] = []
        try db.query(
            "SELECT counter, collection, record_id FROM _relais_pending ORDER BY counter LIMIT ?",
            [.integer(Int64(max(1, limit)))]
        ) { row in
            heads.append(
                (UInt64(row.int64(at: 0)), RecordKey(collection: row.text(at: 1) ?? "", id: row.text(at: 2) ?? "")))
        }
        guard !heads.isEmpty else { return [] }
        // The last counter of each record in the window: a prefix may end only after every write of
        // every record it holds.
        var lastOf: [RecordKey: UInt64] = [:]
        for head in heads where lastOf[head.key] == nil {
            lastOf[head.key] = UInt64(
                try db.scalar(
                    "SELECT max(counter) FROM _relais_pending WHERE collection = ? AND record_id = ?",
                    [.text(head.key.collection), .text(head.key.id)])?.int64Value ?? 0)
        }
        var cut = 0
        var needed: UInt64 = 0
        for (i, head) in heads.enumerated() {
            needed = max(needed, lastOf[head.key]!)
            if needed <= head.counter { cut = i + 1 }
        }
        var counters = heads.prefix(cut).map(\.counter)
        if cut == 0 {
            // The first record has writes beyond the window. Counters must reach the hub in order, so
            // the batch is the shortest prefix of the queue that holds every write of its records
            // (larger than `limit`, which only happens when one record was edited across many
            // failed pushes).
            var bound = needed
            var seen = Set<RecordKey>()
            while true {
                var window: [(UInt64, RecordKey)] = []
                try db.query(
                    "SELECT counter, collection, record_id FROM _relais_pending WHERE counter <= ? ORDER BY counter",
                    [.integer(Int64(bound))]
                ) { row in
                    window.append(
                        (
                            UInt64(row.int64(at: 0)),
                            RecordKey(collection: row.text(at: 1) ?? "", id: row.text(at: 2) ?? "")
                        ))
                }
                var next = bound
                for (_, key) in window where seen.insert(key).inserted {
                    next = max(
                        next,
                        UInt64(
                            try db.scalar(
                                "SELECT max(counter) FROM _relais_pending WHERE collection = ? AND record_id = ?",
                                [.text(key.collection), .text(key.id)])?.int64Value ?? 0))
                }
                if next == bound {
                    counters = window.map(\.0)
                    break
                }
                bound = next
            }
        }
        var batch: [PendingWrite] = []
        for counter in counters {
            if let write = try loadPending(counter: counter) { batch.append(write) }
        }
        // After a renewal, a re-issued write keeps the context it was stamped with. It must not take
        // the fresh view's entries for this device's previous replica numbers: a clone or a restored
        // copy shares those numbers, and its writes there were never seen here; covering them would
        // silently supersede them (docs/RELIABILITY.md, bug 2). A write the hub already applied under
        // the old number is then merged with its re-issue: same values, nothing lost.
        try engine {
            let mark = try db.cachedStatement("UPDATE _relais_pending SET in_flight = 1 WHERE counter = ?")
            for index in batch.indices where !batch[index].inFlight {
                batch[index].inFlight = true
                try mark.execute([.integer(Int64(batch[index].counter))])
            }
        }
        return batch
    }

    func loadPending(counter: UInt64) throws -> PendingWrite? {
        var write: PendingWrite?
        try db.query(
            """
            SELECT collection, record_id, context, hlc, is_delete, fields, in_flight FROM _relais_pending
            WHERE counter = ?
            """, [.integer(Int64(counter))]
        ) { row in
            write = PendingWrite(
                counter: counter, collection: row.text(at: 0) ?? "", recordID: row.text(at: 1) ?? "",
                context: StorageCodec.decodeVector(row.text(at: 2)),
                hlc: HLC(rawValue: UInt64(bitPattern: row.int64(at: 3))),
                isDelete: row.int64(at: 4) != 0, fields: StorageCodec.decodeFields(row.text(at: 5) ?? "{}"),
                inFlight: row.int64(at: 6) != 0)
        }
        return write
    }

    /// The wire form of a batch.
    func pushRequest(_ batch: [PendingWrite]) throws -> Relais_V1_PushRequest {
        let replica = try self.replica
        var request = Relais_V1_PushRequest()
        request.replica = replica.rawValue
        request.epoch = UInt32(try stateInt("epoch") ?? 0)
        request.hubEpoch = try hubEpoch
        request.schemaVersion = UInt32(schema.version)
        request.writes = batch.map { write in
            var wire = Relais_V1_RecordWrite()
            wire.collection = write.collection
            wire.recordID = write.recordID
            wire.context = Relais_V1_VersionVector(write.context)
            wire.dot = Relais_V1_Dot(Dot(replica: replica, counter: write.counter))
            wire.hlc = write.hlc.rawValue
            if write.isDelete {
                wire.delete = true
            } else {
                wire.fields = write.fields.keys.sorted().map {
                    Relais_V1_FieldValue(field: $0, value: write.fields[$0]!)
                }
            }
            return wire
        }
        return request
    }

    /// What a push's answer did to the replica.
    struct PushOutcome: Sendable, Equatable {
        var acknowledged = 0
        var rejected = 0
        var conflicts = 0
        var unanswered = 0
    }

    /// Applies the hub's answer to a batch, in one transaction (the caller's).
    ///
    /// APPLIED and CONFLICT: the write joins the confirmed state and its dot the record's vector; the
    /// conflict ids are kept. REJECTED: the write moves to the rejected list with the code and reason,
    /// and the visible row goes back to the confirmed state (with the other pending writes on top).
    /// A write with no answer stays pending (in flight).
    func applyPushResults(_ batch: [PendingWrite], _ response: Relais_V1_PushResponse) throws -> PushOutcome {
        let replica = try self.replica
        var results: [UInt64: Relais_V1_WriteResult] = [:]
        for result in response.results where result.dot.replica == replica.rawValue {
            results[result.dot.counter] = result
        }
        var outcome = PushOutcome()
        try rememberHubEpoch(response.hubEpoch)
        try pruneAcknowledged()
        // Read once for the batch, not once per write.
        let generation = Int64(try stateInt("generation") ?? 0)
        let now = wallMillis()
        try engine {
            for write in batch {
                guard let result = results[write.counter] else {
                    outcome.unanswered += 1
                    continue
                }
                let key = RecordKey(collection: write.collection, id: write.recordID)
                guard let collection = schema.collection(write.collection) else { continue }
                // The usual case: the record's only pending write, taken by the hub. The visible row
                // is confirmed + pending, so it already shows the new confirmed state: only the
                // bookkeeping changes, and the overlay (kept while writes are pending) goes.
                if result.status == .applied || result.status == .conflict {
                    let (pendingOnRecord, isPending) = try pendingCount(key, counter: write.counter)
                    guard isPending else { continue }
                    if pendingOnRecord == 1 {
                        try acknowledge(
                            key, write: write, result: result, replica: replica, generation: generation, now: now,
                            outcome: &outcome)
                        try deletePending(counter: write.counter)
                        try deleteOverlay(key)
                        continue
                    }
                }
                var pending = try loadPending(key)
                guard let index = pending.firstIndex(where: { $0.counter == write.counter }) else { continue }
                pending.remove(at: index)
                // No overlay: a record imported by a file from before imports kept one; the hub holds
                // the record only if the file has its bookkeeping.
                var confirmed = try loadConfirmed(key, collection)
                let dot = Dot(replica: replica, counter: write.counter)
                switch result.status {
                case .applied, .conflict:
                    if write.isDelete {
                        confirmed.exists = false
                    } else {
                        confirmed.exists = true
                        confirmed.values.merge(write.fields) { _, new in new }
                    }
                    try acknowledge(
                        key, write: write, result: result, replica: replica, generation: generation, now: now,
                        outcome: &outcome)
                case .rejected:
                    try reject(
                        key, isDelete: write.isDelete,
                        fieldsJSON: StorageCodec.encodeColumns(write.fields, collection: collection), dot: dot,
                        hlc: write.hlc, code: result.code.isEmpty ? "rejected" : result.code,
                        reason: result.reason.isEmpty ? "refused by the hub" : result.reason, source: "hub")
                    outcome.rejected += 1
                default:
                    outcome.unanswered += 1
                    continue
                }
                try deletePending(counter: write.counter)
                try settle(key, collection, confirmed: confirmed, pending: pending)
            }
        }
        return outcome
    }

    /// How many writes are pending on `key`, and whether write `counter` is one of them.
    private func pendingCount(_ key: RecordKey, counter: UInt64) throws -> (count: Int, includes: Bool) {
        let statement = try db.cachedStatement(
            """
            SELECT count(*), coalesce(sum(counter = ?), 0) FROM _relais_pending
            WHERE collection = ? AND record_id = ?
            """)
        try statement.bind([.integer(Int64(counter)), .text(key.collection), .text(key.id)])
        defer { statement.reset() }
        guard try statement.step() else { return (0, false) }
        return (Int(statement.int64(at: 0)), statement.int64(at: 1) > 0)
    }

    /// Remembers the conflict reports the hub raised for write `counter` (shown until reviewed).
    private func recordConflicts(
        _ ids: [String], _ key: RecordKey, replica: ReplicaID, counter: UInt64, now: UInt64
    ) throws {
        for id in ids {
            try db.execute(
                """
                INSERT OR IGNORE INTO _relais_conflicts(conflict_id, collection, record_id, dot_replica, dot_counter, seen_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(id), .text(key.collection), .text(key.id), .integer(Int64(replica.rawValue)),
                    .integer(Int64(counter)), .text(StorageCodec.iso(millis: now)),
                ])
        }
    }

    /// Takes a write the hub applied (with or without conflict): folds it into the record's
    /// bookkeeping (its dot joins the vector, its fields take its dot and HLC, and the hub holding
    /// it in the user's view gives it the current generation: a bootstrap's sweep keeps it), keeps it
    /// for a restored hub and remembers its conflict reports. `generation` and `now` are the batch's.
    private func acknowledge(
        _ key: RecordKey, write: PendingWrite, result: Relais_V1_WriteResult, replica: ReplicaID, generation: Int64,
        now: UInt64, outcome: inout PushOutcome
    ) throws {
        let dot = Dot(replica: replica, counter: write.counter)
        let meta = try loadMeta(key)
        var vector = meta?.vector ?? .empty
        vector.add(dot)
        var fieldsPatch = "{"
        for (i, name) in write.fields.keys.sorted().enumerated() {
            if i > 0 { fieldsPatch += "," }
            fieldsPatch += "\"\(name)\":[\(dot.replica.rawValue),\(dot.counter),\(write.hlc.rawValue)]"
        }
        fieldsPatch += "}"
        try db.execute(
            """
            INSERT INTO _relais_records(collection, record_id, vector, fields, deleted, generation)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(collection, record_id) DO UPDATE SET
                vector = excluded.vector, fields = json_patch(fields, excluded.fields), deleted = excluded.deleted,
                generation = max(generation, excluded.generation)
            """,
            [
                .text(key.collection), .text(key.id), .text(StorageCodec.encode(vector)), .text(fieldsPatch),
                .integer(write.isDelete ? 1 : 0), .integer(generation),
            ])
        try keepAcknowledged(counter: write.counter, replica: replica, now: now)
        try recordConflicts(result.conflictIds, key, replica: replica, counter: write.counter, now: now)
        outcome.acknowledged += 1
        outcome.conflicts += result.conflictIds.count
    }
}

extension ReplicaStore {
    /// Takes a new replica number after `replica_forked` (docs/SYNC.md "Rollback and clones"): the
    /// pending writes are re-stamped, in their order, with dots of the new replica (contexts, HLC
    /// times and in-flight markers kept), and a full pull is started. A write that was in flight may
    /// be on the hub under the old number: it stays marked, so that no later edit is merged into it
    /// (a merge takes a fresh time, the very thing keeping its time avoids).
    ///
    /// The time is kept because it is when the salesperson typed the value: a write the hub applied
    /// under the old number but never acknowledged may have been seen and replaced since by someone
    /// else's later edit, and a re-issue stamped now would win against that edit under last writer wins.
    ///
    /// A pending write the hub had acknowledged (put back for a restored hub) leaves
    /// `_relais_acknowledged`: once acknowledged again it is kept under the new number, and a later
    /// restore must not send it twice. `putBack` (a rejoin's writes of earlier numbers,
    /// ``earlierWritesLost(_:)``) goes ahead of every pending write.
    func renew(
        replica: UInt32, epoch: UInt32, token: String, hubEpoch: String, putBack: [PendingWrite] = []
    ) throws {
        var writes = putBack
        var counters: [UInt64] = []
        try db.query("SELECT counter FROM _relais_pending ORDER BY counter") {
            counters.append(UInt64($0.int64(at: 0)))
        }
        for counter in counters {
            if let write = try loadPending(counter: counter) { writes.append(write) }
        }
        try db.execute(
            "DELETE FROM _relais_acknowledged WHERE replica = ? AND counter IN (SELECT counter FROM _relais_pending)",
            [.integer(Int64(try self.replica.rawValue))])
        try engine {
            try db.execute("DELETE FROM _relais_pending")
            var next: UInt64 = 0
            for var write in writes {
                next += 1
                write.counter = next
                try savePending(write)
            }
            setCounter(next)
            try persistClocks()
            if !putBack.isEmpty { try forgetBookkeepingUnderPendingWrites() }
        }
        // The new number's token is kept before the file commits the number (``TokenFile``).
        try tokenFile.write(replica: replica, token: token, keeping: try stateInt("replica").map { UInt32($0) })
        try setState("replica", .integer(Int64(replica)))
        try setState("epoch", .integer(Int64(epoch)))
        try rememberHubEpoch(hubEpoch)
        try beginBootstrap()
    }
}
