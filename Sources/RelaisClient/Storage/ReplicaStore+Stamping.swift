import Foundation
import RelaisCore
import RelaisSQLite

extension ReplicaStore {
    /// One captured change, as the triggers logged it.
    private struct Captured {
        var seq: Int64
        var key: RecordKey
        var op: String
        var fields: [String]
    }

    /// What stamping did.
    struct StampReport: Sendable, Equatable {
        /// Records whose pending write was created or changed.
        var stamped = 0
        /// Captured changes refused by validation (moved to the rejected list).
        var rejected = 0
    }

    /// Turns the captured changes into pending writes (docs/SYNC.md "Writes, dots and contexts").
    ///
    /// Per record, in capture order: the changed fields are read from the visible row and validated;
    /// a valid change is coalesced into the record's open (not in-flight) pending write, or starts a
    /// new one whose context is the record's vector as last seen from the hub. An open write keeps
    /// its dot (it was never sent) and takes a fresh HLC time; a new one takes the next counter. An
    /// invalid change goes to the rejected list with its reason and the visible row is re-derived from
    /// the confirmed state and the remaining pending writes, so it never blocks the queue.
    ///
    /// Must run inside a transaction; it switches capture off for its own writes.
    @discardableResult
    func stampCaptured() throws -> StampReport {
        var entries: [Captured] = []
        try db.query("SELECT seq, collection, record_id, op, fields FROM _relais_capture ORDER BY seq") { row in
            entries.append(
                Captured(
                    seq: row.int64(at: 0),
                    key: RecordKey(collection: row.text(at: 1) ?? "", id: row.text(at: 2) ?? ""),
                    op: row.text(at: 3) ?? "",
                    fields: (row.text(at: 4) ?? "").split(separator: ",").map(String.init)))
        }
        guard let last = entries.last else { return StampReport() }
        var order: [RecordKey] = []
        var groups: [RecordKey: [Captured]] = [:]
        for entry in entries {
            if groups[entry.key] == nil { order.append(entry.key) }
            groups[entry.key, default: []].append(entry)
        }
        var report = StampReport()
        let role = try stateText("role") ?? ""
        try engine {
            for key in order {
                try stamp(key, groups[key]!, role: role, report: &report)
            }
            try db.execute("DELETE FROM _relais_capture WHERE seq <= ?", [.integer(last.seq)])
            try persistClocks()
        }
        return report
    }

    private func stamp(_ key: RecordKey, _ entries: [Captured], role: String, report: inout StampReport) throws {
        guard let collection = schema.collection(key.collection) else { return }
        let meta = try loadMeta(key)
        var pending = try loadPending(key)
        // Whether the hub holds the record alive; its confirmed values are read only when the
        // visible row is derived again, below (most stamps never need them).
        let overlay = try overlayExists(key)
        let confirmedExists = overlay ?? meta.map { !$0.deleted } ?? false
        var open: PendingWrite? = pending.last.flatMap { $0.inFlight ? nil : $0 }
        if open != nil { pending.removeLast() }
        var changed = false
        var rejectedAny = false

        for entry in entries {
            // The state this change starts from: confirmed, then the pending writes, then the open one.
            let existedBefore = ConfirmedState.exists(confirmedExists, after: pending + (open.map { [$0] } ?? []))
            let change: [String: Value]?  // nil: a delete
            do {
                switch entry.op {
                case "delete":
                    change = nil
                case "insert", "update":
                    guard let raw = try readRaw(collection, id: key.id) else { continue }  // deleted later
                    var fieldValues: [String: Value] = [:]
                    let insert = entry.op == "insert"
                    // Every field, nulls included, unless nothing before this insert can hold a value
                    // for the record: the hub (bookkeeping), or earlier writes still pending (a record
                    // added, deleted and added again before a sync), whose fields would otherwise show
                    // through the fields the new row leaves empty.
                    let wholeRow = insert && (meta != nil || existedBefore || !pending.isEmpty || open != nil)
                    // The confirmed values, read for the first office field a rep's insert over a row
                    // that exists (`REPLACE`) names.
                    var confirmedValues: [String: Value]?
                    for (field, column) in zip(collection.fields, raw) {
                        guard insert || entry.fields.contains(field.name) else { continue }
                        let value = try ColumnCodec.value(column, field: field, collection: collection.name)
                        if field.required, value.isNull {
                            throw ValidationError.requiredMissing(collection.name, field.name)
                        }
                        if field.hubOnly, role == "rep", insert, existedBefore, !value.isNull {
                            // Such a `REPLACE` names the office's fields with the values they hold:
                            // those it leaves as they are are left out of the write.
                            if confirmedValues == nil {
                                let confirmed = try loadConfirmed(key, collection)
                                confirmedValues = confirmed.exists ? confirmed.values : [:]
                            }
                            if confirmedValues?[field.name] == value { continue }
                        }
                        if field.hubOnly, role == "rep", insert ? !value.isNull : true {
                            throw LocalRejection(
                                code: "hub_only_field",
                                reason: "\(collection.name).\(field.name): written by the office only")
                        }
                        // A rep's write never names a field of the office's, not even empty: the hub
                        // refuses it (`hub_only_field`), and keeps its own value.
                        if insert && value.isNull && (!wholeRow || (field.hubOnly && role == "rep")) { continue }
                        fieldValues[field.name] = value
                    }
                    if !existedBefore {
                        // The record is being created (or revived): every required field must be there.
                        var merged = open?.isDelete == false ? open!.fields : [:]
                        merged.merge(fieldValues) { _, new in new }
                        for field in collection.fields where field.required && merged[field.name] == nil {
                            throw ValidationError.requiredMissing(collection.name, field.name)
                        }
                    }
                    // Ids are lowercase UUIDs everywhere (the hub lowercases them): an uppercase id
                    // typed in the shell would come back from the hub as a second record.
                    guard FieldType.isUUID(key.id), key.id == key.id.lowercased() else {
                        throw ValidationError.invalidID(collection.name, key.id)
                    }
                    change = fieldValues
                default:
                    continue
                }
            } catch let failure {
                let (code, reason) = Self.describeRejection(failure)
                var attempted: [(String, SQLiteValue)] = []
                if entry.op != "delete", let raw = try readRaw(collection, id: key.id) {
                    for (field, column) in zip(collection.fields, raw)
                    where entry.op == "insert" || entry.fields.contains(field.name) {
                        attempted.append((field.name, column))
                    }
                }
                try reject(
                    key, isDelete: false, fieldsJSON: StorageCodec.encodeRaw(attempted), dot: nil, hlc: nil,
                    code: code, reason: reason, source: "local")
                report.rejected += 1
                rejectedAny = true
                continue
            }

            if change == nil, let stamped = open, stamped.counter != 0, !stamped.isDelete {
                // A write stamped by an earlier edit may already be on the hub even though this file
                // never sent it: a copy of the file (the one a backup was taken from) sent it. A delete
                // therefore never folds into it; the delete goes as a write of its own, after it.
                pending.append(stamped)
                open = nil
            }
            var write =
                open
                ?? PendingWrite(
                    counter: 0, collection: key.collection, recordID: key.id,
                    context: meta?.vector ?? .empty, hlc: .zero, isDelete: false, fields: [:], inFlight: false)
            if let change {
                if write.isDelete {
                    write.fields = change
                } else {
                    write.fields.merge(change) { _, new in new }
                }
                write.isDelete = false
            } else {
                write.isDelete = true
                write.fields = [:]
            }
            open = write
            changed = true
        }

        if var write = open, changed {
            let hubKnows = meta != nil || !pending.isEmpty
            if write.isDelete && !hubKnows && !confirmedExists {
                // Created and deleted before the hub ever heard of it: nothing to tell.
                if write.counter != 0 { try deletePending(counter: write.counter) }
                open = nil
            } else {
                let new = write.counter == 0
                if new { write.counter = nextCounter() }
                write.hlc = nextHLC()
                try savePending(write, new: new)
                open = write
                report.stamped += 1
            }
        }
        let all = pending + (open.map { [$0] } ?? [])
        if rejectedAny || all.isEmpty {
            let confirmed =
                try overlay.flatMap { _ in try loadOverlay(key, collection) }
                ?? ConfirmedState(exists: confirmedExists, values: [:])
            try settle(key, collection, confirmed: confirmed, pending: all)
        }
    }

    /// Inserts rows whose ids the visible table does not hold (an import's), each stamped as a
    /// pending write. Caller's transaction, after its checks.
    ///
    /// A row of a record the file knows nothing of (no bookkeeping, no pending write, no overlay) is
    /// stamped as it is inserted, with capture off: the write ``stampCaptured()`` would make of its
    /// capture (its fields that are not null, on an empty context), without the capture row and the
    /// reading back. The others (a deleted record revived, say) and every row of a file with
    /// triggers of its user's (which may change a row as it goes in) are inserted with capture on and
    /// stamped from it.
    func insertStamped(_ collection: CollectionSchema, _ rows: [(id: String, values: [String: Value])]) throws {
        let columns = collection.fields.map { ReplicaSQL.quote($0.name) }
        let statement = try db.cachedStatement(
            "INSERT INTO \(ReplicaSQL.quote(collection.name))(id, \(columns.joined(separator: ", "))) "
                + "VALUES (?\(String(repeating: ", ?", count: columns.count)))")
        func insert(_ row: (id: String, values: [String: Value])) throws {
            try statement.bind(text: row.id, at: 1)
            for (i, field) in collection.fields.enumerated() {
                try ColumnCodec.bind(row.values[field.name] ?? .null, to: statement, at: Int32(i + 2))
            }
            try statement.execute()
        }
        let known = try db.cachedStatement(
            """
            SELECT EXISTS(SELECT 1 FROM _relais_records WHERE collection = ?1 AND record_id = ?2)
                OR EXISTS(SELECT 1 FROM _relais_pending WHERE collection = ?1 AND record_id = ?2)
                OR EXISTS(SELECT 1 FROM _relais_overlay WHERE collection = ?1 AND record_id = ?2)
            """)
        // What the capture's insert trigger keeps: the hub does not have the record. A rejected write
        // then takes the row away instead of leaving it blank.
        let absent = try db.cachedStatement(
            "INSERT OR IGNORE INTO _relais_overlay(collection, record_id, confirmed_exists, confirmed) VALUES (?, ?, 0, NULL)"
        )
        var captured: [(id: String, values: [String: Value])] = []
        if try hasTriggersOfItsUser() {
            captured = rows
        } else {
            try engine(rows: rows.count) {
                for row in rows {
                    try known.bind([.text(collection.name), .text(row.id)])
                    let isKnown = try known.step() && known.int64(at: 0) != 0
                    known.reset()
                    if isKnown {
                        captured.append(row)
                        continue
                    }
                    try insert(row)
                    try absent.execute([.text(collection.name), .text(row.id)])
                    try savePending(
                        PendingWrite(
                            counter: nextCounter(), collection: collection.name, recordID: row.id, context: .empty,
                            hlc: nextHLC(), isDelete: false, fields: row.values.filter { !$0.value.isNull },
                            inFlight: false),
                        new: true)
                }
                try persistClocks()
            }
        }
        for row in captured { try insert(row) }
        try stampCaptured()
    }

    /// The wire code and the reason of a local refusal.
    static func describeRejection(_ error: any Error) -> (String, String) {
        switch error {
        case let validation as ValidationError: (validation.code.rawValue, validation.description)
        case let local as LocalRejection: (local.code, local.reason)
        default: ("invalid_value", "\(error)")
        }
    }
}

/// A change refused on the replica before it reaches the hub, with the code the hub would answer.
struct LocalRejection: Error {
    var code: String
    var reason: String
}
