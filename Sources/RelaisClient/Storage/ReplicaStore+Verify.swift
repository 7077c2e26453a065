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
        try forEachDigest(keys: true) { collection, id, digest in
            entries.append(DigestEntry(collection: collection, id: id, digest: digest))
        }
        return DigestIndex(entries)
    }

    /// The digest of the whole view (``digestIndex()``'s total, without keeping the entries).
    func viewDigestSum() throws -> DigestSum {
        var sum = DigestSum()
        try forEachDigest(keys: false) { _, _, digest in sum.add(digest.hash) }
        return sum
    }

    /// Calls `body` with the digest of every live record this file holds as the hub confirmed it, with
    /// its collection and, when `keys`, its id (else an empty id).
    private func forEachDigest(keys: Bool, _ body: (String, String, RecordDigest) throws -> Void) throws {
        var encoder = RecordDigestEncoder()
        var vector: [(UInt32, UInt64)] = []
        for collection in schema.collections {
            // Fields in the digest's order (ascending bytes of their names): nothing to sort per record.
            let ordered = collection.fields.indices.sorted {
                collection.fields[$0].name.utf8.lexicographicallyPrecedes(collection.fields[$1].name.utf8)
            }
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
            // Names as one block of bytes, read through pointers (no retain per field and row).
            let nameBytes = ordered.flatMap { Array(collection.fields[$0].name.utf8) }
            var nameRanges: [Range<Int>] = []
            for index in ordered {
                let start = nameRanges.last?.upperBound ?? 0
                nameRanges.append(start..<(start + collection.fields[index].name.utf8.count))
            }
            let kinds = ordered.map { DigestKind(collection.fields[$0].type) }
            let collectionBytes = Array(collection.name.utf8)
            try nameBytes.withUnsafeBytes { allNames in
                let names = nameRanges.map { UnsafeRawBufferPointer(rebasing: allNames[$0]) }
                try rows.forEachRow { row in
                    let id = keys ? row.text(at: 0) ?? "" : ""
                    Self.vectorPairs(row, at: 1, into: &vector)
                    if !row.isNull(at: 2) {
                        // Pending writes lie over the row: the hub's state is the overlay's.
                        guard row.int64(at: 2) != 0 else { return }
                        let confirmed = StorageCodec.decodeColumns(row.text(at: 3), collection: collection)
                        for (field, value) in confirmed { encoder.field(field, value) }
                        let rowID = row.text(at: 0) ?? ""
                        try body(
                            collection.name, id, encoder.digest(collection: collection.name, id: rowID, vector: vector))
                        return
                    }
                    // The row as stored, its bytes straight into the encoding (values are not built).
                    collectionBytes.withUnsafeBytes { name in
                        row.withUnsafeBytes(at: 0) { encoder.begin(collection: name, id: $0, vector: vector) }
                    }
                    for slot in ordered.indices {
                        let column = Int32(4 + ordered[slot])
                        switch (kinds[slot], row.kind(at: column)) {
                        case (_, .null): continue
                        case (.text, .text):
                            row.withUnsafeBytes(at: column) { encoder.text(names[slot], $0) }
                        case (.date, .text):
                            row.withUnsafeBytes(at: column) { encoder.date(names[slot], $0) }
                        case (.number, .real), (.number, .integer):
                            encoder.number(names[slot], row.double(at: column))
                        case (.bool, .integer) where row.int64(at: column) == 0 || row.int64(at: column) == 1:
                            encoder.bool(names[slot], row.int64(at: column) == 1)
                        default:
                            let field = collection.fields[ordered[slot]]
                            encoder.value(field.name, Self.digestValue(row.value(at: column), field, collection))
                        }
                    }
                    try body(collection.name, id, encoder.end())
                }
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
                Self.vectorPairs(row, at: 1, into: &vector)
                try body(collection.name, id, encoder.digest(collection: collection.name, id: id, vector: vector))
            }
        }
    }

    /// How the digest reads a field's column without building a value.
    private enum DigestKind {
        case text, date, number, bool, other

        init(_ type: FieldType) {
            switch type {
            case .text, .enumeration, .reference: self = .text
            case .date: self = .date
            case .number: self = .number
            case .bool: self = .bool
            case .set: self = .other
            }
        }
    }

    /// A column as the digest reads it: a value that does not fit its field (written by hand) still
    /// counts, as something the hub never holds.
    private static func digestValue(_ column: SQLiteValue, _ field: FieldSchema, _ collection: CollectionSchema)
        -> Value
    {
        if let value = try? ColumnCodec.value(column, field: field, collection: collection.name) { return value }
        return .text("\u{0}invalid \(column)")
    }

    /// A stored vector's entries (column `column`: `{"3":17,"5":2}`), written over `pairs`; none for
    /// a row without bookkeeping. Scanned from the column's bytes; any other form goes through the
    /// general decoder.
    private static func vectorPairs(_ row: Row, at column: Int32, into pairs: inout [(UInt32, UInt64)]) {
        pairs.removeAll(keepingCapacity: true)
        guard row.kind(at: column) == .text else { return }
        let scanned = row.withUnsafeBytes(at: column) { bytes -> Bool in
            var index = 0
            func number() -> UInt64? {
                var value: UInt64 = 0
                let start = index
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, index - start < 19 {
                    value = value * 10 + UInt64(bytes[index] - 0x30)
                    index += 1
                }
                return index > start ? value : nil
            }
            func expect(_ byte: UInt8) -> Bool {
                guard index < bytes.count, bytes[index] == byte else { return false }
                index += 1
                return true
            }
            guard expect(0x7B) else { return false }  // {
            if expect(0x7D) { return index == bytes.count }  // }
            while true {
                guard expect(0x22), let replica = number(), replica <= UInt64(UInt32.max), expect(0x22), expect(0x3A),
                    let counter = number()
                else { return false }
                pairs.append((UInt32(replica), counter))
                if expect(0x2C) { continue }  // ,
                return expect(0x7D) && index == bytes.count
            }
        }
        if scanned { return }
        pairs.removeAll(keepingCapacity: true)
        for entry in StorageCodec.decodeVector(row.text(at: column)).entries {
            pairs.append((entry.key.rawValue, entry.value))
        }
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
