import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite

/// The replica's side of a verification (Protocol/README.md section 14): the digest of what it holds
/// as confirmed by the hub, and the repair of records found different.
extension ReplicaStore {
    /// The digest entries of every live record this file holds as the hub confirmed it: the visible
    /// row of a record without pending writes, the hub-confirmed state (`_relais_overlay`) of one with
    /// pending writes, each with its stored version vector. Read from the tables themselves, so that a
    /// row changed, added or removed behind the sync engine's back counts.
    func digestIndex() throws -> DigestIndex {
        var entries: [DigestEntry] = []
        var encoder = RecordDigestEncoder()
        for collection in schema.collections {
            let table = ReplicaSQL.quote(collection.name)
            let columns = collection.fields.map { "c.\(ReplicaSQL.quote($0.name))" }.joined(separator: ", ")
            let name = ReplicaSQL.literal(collection.name)
            // Visible rows, with their vector and whether the hub's state of them lies in the overlay.
            let rows = try db.prepare(
                """
                SELECT c.id, r.vector, o.confirmed_exists, o.confirmed\(columns.isEmpty ? "" : ", " + columns)
                FROM \(table) AS c
                LEFT JOIN _relais_records AS r ON r.collection = \(name) AND r.record_id = c.id
                LEFT JOIN _relais_overlay AS o ON o.collection = \(name) AND o.record_id = c.id
                """)
            try rows.forEachRow { row in
                let id = row.text(at: 0) ?? ""
                if !row.isNull(at: 2) {
                    // Pending writes lie over the row: the hub's state is the overlay's.
                    guard row.int64(at: 2) != 0 else { return }
                    let confirmed = StorageCodec.decodeColumns(row.text(at: 3), collection: collection)
                    for (field, value) in confirmed { encoder.field(field, value) }
                } else {
                    for (index, field) in collection.fields.enumerated() {
                        encoder.field(field.name, Self.digestValue(row.value(at: Int32(4 + index)), field, collection))
                    }
                }
                let digest = encoder.digest(
                    collection: collection.name, id: id, vector: Self.vectorPairs(row.text(at: 1)))
                entries.append(DigestEntry(collection: collection.name, id: id, digest: digest))
            }
            // Records the hub holds alive that a pending delete hides.
            try db.query(
                """
                SELECT o.record_id, r.vector, o.confirmed FROM _relais_overlay AS o
                LEFT JOIN _relais_records AS r ON r.collection = o.collection AND r.record_id = o.record_id
                WHERE o.collection = ? AND o.confirmed_exists = 1
                  AND NOT EXISTS (SELECT 1 FROM \(table) AS c WHERE c.id = o.record_id)
                """, [.text(collection.name)]
            ) { row in
                let id = row.text(at: 0) ?? ""
                for (field, value) in StorageCodec.decodeColumns(row.text(at: 2), collection: collection) {
                    encoder.field(field, value)
                }
                let digest = encoder.digest(
                    collection: collection.name, id: id, vector: Self.vectorPairs(row.text(at: 1)))
                entries.append(DigestEntry(collection: collection.name, id: id, digest: digest))
            }
        }
        return DigestIndex(entries)
    }

    /// A column as the digest reads it: a value that does not fit its field (written by hand) still
    /// counts, as something the hub never holds.
    private static func digestValue(_ column: SQLiteValue, _ field: FieldSchema, _ collection: CollectionSchema)
        -> Value
    {
        if let value = try? ColumnCodec.value(column, field: field, collection: collection.name) { return value }
        return .text("\u{0}invalid \(column)")
    }

    /// A stored vector's entries; none for a row without bookkeeping.
    private static func vectorPairs(_ text: String?) -> [(UInt32, UInt64)] {
        StorageCodec.decodeVector(text).sortedEntries.map { ($0.replica.rawValue, $0.counter) }
    }

    /// What a repair did.
    struct RepairOutcome: Sendable, Equatable {
        /// Records set again to the hub's state.
        var replaced = 0
        /// Records removed because the hub does not hold them (alive, in this user's view).
        var removed = 0
    }

    /// Puts the hub's state of each record in place (`records`: whole, live) and removes the confirmed
    /// state of those the hub does not hold (`absent`), in one transaction. Pending writes are never
    /// touched: a record with pending writes gets the hub's state as its confirmed state, its pending
    /// writes laid over it again. The cursor does not move.
    func applyRepair(records: [Relais_V1_RecordVersion], absent: [Relais_V1_RecordKey]) throws -> RepairOutcome {
        try syncWrite(durable: true) {
            try engine {
                var outcome = RepairOutcome()
                let generation = Int64(try stateInt("generation") ?? 0)
                for record in records {
                    guard let collection = schema.collection(record.collection), !record.deleted else { continue }
                    let key = RecordKey(collection: record.collection, id: record.recordID)
                    var values: [String: Value] = [:]
                    var dots = FieldDotsText()
                    for version in record.fields {
                        guard let index = collection.fieldIndex(version.field) else { continue }
                        let name = collection.fields[index].name
                        values[name] = try Value(version.value)
                        dots.add(name, replica: version.dot.replica, counter: version.dot.counter, hlc: version.hlc)
                    }
                    dots.finish()
                    var vector = TextBuffer()
                    Self.encodeVector(record.vector, into: &vector)
                    let pending = try loadPending(key)
                    try settle(
                        key, collection, confirmed: ConfirmedState(exists: true, values: values), pending: pending)
                    // The hub's vector and dots exactly: a repair does not join what the file held.
                    try db.cachedStatement(
                        """
                        INSERT INTO _relais_records(collection, record_id, vector, fields, deleted, stash, generation)
                        VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5)
                        ON CONFLICT(collection, record_id) DO UPDATE SET
                            vector = excluded.vector, fields = excluded.fields, deleted = 0, stash = NULL,
                            generation = excluded.generation
                        """
                    ).execute([
                        .text(key.collection), .text(key.id), .text(vector.string),
                        .text(String(decoding: dots.insertBytes, as: UTF8.self)),
                        .integer(generation),
                    ])
                    outcome.replaced += 1
                }
                for absentKey in absent {
                    guard let collection = schema.collection(absentKey.collection) else { continue }
                    let key = RecordKey(collection: absentKey.collection, id: absentKey.recordID)
                    let pending = try loadPending(key)
                    try settle(key, collection, confirmed: ConfirmedState(exists: false, values: [:]), pending: pending)
                    try db.execute(
                        "DELETE FROM _relais_records WHERE collection = ? AND record_id = ?",
                        [.text(key.collection), .text(key.id)])
                    outcome.removed += 1
                }
                return outcome
            }
        }
    }
}
