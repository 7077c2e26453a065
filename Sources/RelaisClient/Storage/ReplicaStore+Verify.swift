import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import Synchronization

/// The replica's side of a verification (Protocol/README.md section 14): the digest of what it holds
/// as confirmed by the hub, and the repair of records found different.
extension ReplicaStore {
    /// The digest entries of every live record this file holds as the hub confirmed it: the visible
    /// row of a record without pending writes, the hub-confirmed state (`_relais_overlay`) of one with
    /// pending writes, each with its stored version vector. Read from the tables themselves, so that a
    /// row changed, added or removed behind the sync engine's back counts.
    func digestIndex() throws -> DigestIndex {
        DigestIndex(try digests(keys: true).flatMap(\.entries))
    }

    /// The digest of the whole view (``digestIndex()``'s total, without keeping the entries).
    ///
    /// - Parameters:
    ///   - entriesPerShare: At most about this many vectors held at once by each thread (tests make it
    ///     small).
    ///   - parallelRecords: From this many records in the file on, shares are read by worker threads.
    func viewDigestSum(
        entriesPerShare: Int = DigestVectorTable.entriesPerShare, parallelRecords: Int = ReplicaStore.parallelRecords
    ) throws -> DigestSum {
        var sum = DigestSum()
        for part in try digests(keys: false, entriesPerShare: entriesPerShare, parallelRecords: parallelRecords) {
            sum.merge(part.sum)
        }
        return sum
    }

    /// What the shares one thread read add to the digest.
    private struct DigestShare: Sendable {
        var sum = DigestSum()
        /// With keys: each record's entry.
        var entries: [DigestEntry] = []
    }

    /// The digests of every live record this file holds as the hub confirmed it, in shares (``DigestShare``):
    /// their sum and, when `keys`, their entries (else no position is computed: the sum needs only the
    /// hashes).
    ///
    /// The records are split into shares by a hash of their ids, each share read in one read
    /// transaction: the vectors of its records (one pass over `_relais_records` in its own order),
    /// then each collection's rows, which meet their vectors in a ``DigestVectorTable`` rather than
    /// through a SQL join (that seeks two indexes by a text key per row), then its hub-confirmed
    /// states under pending writes. From ``parallelRecords`` records on, the shares are read by worker
    /// threads, each on its own read-only connection. Shares may be read at different moments, but each
    /// record is read whole in one of them, and only the sync engine (which is computing this digest,
    /// holding the sync lock) changes what the hub confirmed: a user's edit, insert or delete between
    /// two shares' reads changes no record's confirmed state.
    private func digests(
        keys: Bool, entriesPerShare: Int = DigestVectorTable.entriesPerShare,
        parallelRecords: Int = ReplicaStore.parallelRecords
    ) throws -> [DigestShare] {
        // Records (tombstones included) per collection: they size each share's tables.
        var counts: [String: Int] = [:]
        try db.query("SELECT collection, count(*) FROM _relais_records GROUP BY collection") { row in
            counts[row.text(at: 0) ?? ""] = Int(row.int64(at: 1))
        }
        let stored = counts.values.reduce(0, +)
        let workers = stored >= parallelRecords ? Self.digestWorkers : 1
        let shares = max(workers, 1 + stored / max(1, entriesPerShare))
        let schema = schema
        // A share holds about its part of each collection; a hash spreads ids evenly (1/32 more).
        let capacities = schema.collections.map { collection -> Int in
            let part = (counts[collection.name] ?? 0) / shares
            return part + part / 32 + 16
        }
        if workers == 1 {
            var part = DigestShare()
            try db.transaction(.deferred) {
                for share in 0..<shares {
                    try Self.digest(
                        share: share, of: shares, schema, capacities, keys: keys, db: db, into: &part)
                }
            }
            return [part]
        }
        let path = db.path
        let results = Mutex<[Result<DigestShare, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let result = Result { () throws -> DigestShare in
                let reader = try Connection(path: path, mode: .readOnly)
                defer { try? reader.close() }
                reader.busyTimeout = .seconds(5)
                // 4 MiB: each share reads its pages once, in order. 32 MiB per worker was most of a
                // bootstrapping laptop's peak memory (150 MB against 98 MB at 100,000 customers,
                // docs/PERFORMANCE.md) and no faster.
                try reader.execute("PRAGMA cache_size = -4096")
                var part = DigestShare()
                try reader.transaction(.deferred) {
                    for share in stride(from: worker, to: shares, by: workers) {
                        try Self.digest(
                            share: share, of: shares, schema, capacities, keys: keys, db: reader, into: &part)
                    }
                }
                return part
            }
            results.withLock { $0.append(result) }
        }
        return try results.withLock { $0 }.map { try $0.get() }
    }

    /// A file of at least this many records is digested by ``digestWorkers`` threads.
    static let parallelRecords = 20_000

    /// The threads that digest a large file: the machine's cores, at most 4 (at least 2).
    static let digestWorkers = max(2, min(4, ProcessInfo.processInfo.activeProcessorCount))

    /// Adds the digests of share `share` (of `shares`) of the records to `part`; `db` is in a read
    /// transaction. `capacities`: the entries expected per collection in a share.
    private static func digest(
        share: Int, of shares: Int, _ schema: Schema, _ capacities: [Int], keys: Bool, db: Connection,
        into part: inout DigestShare
    ) throws {
        // The vectors of this share's records, per collection, in one pass.
        var tables = capacities.map { DigestVectorTable(capacity: $0) }
        let names = schema.collections.map { Array($0.name.utf8) }
        try db.query(
            "SELECT collection, record_id, vector FROM _relais_records NOT INDEXED WHERE typeof(vector) = 'text'"
        ) { row in
            let collection = row.withUnsafeBytes(at: 0) { bytes in
                names.firstIndex { $0.count == bytes.count && $0.elementsEqual(bytes) }
            }
            guard let collection else { return }
            row.withUnsafeBytes(at: 1) { id in
                let hash = DigestVectorTable.hash(id)
                guard shares == 1 || DigestVectorTable.share(of: hash, shares: shares) == share else { return }
                row.withUnsafeBytes(at: 2) { tables[collection].insert(id: id, hash: hash, vector: $0) }
            }
        }
        for (index, collection) in schema.collections.enumerated() {
            try digest(
                share: share, of: shares, collection, vectors: tables[index], keys: keys, db: db, into: &part)
            tables[index] = DigestVectorTable()
        }
    }

    /// Adds the digests of share `share` (of `shares`) of `collection`'s records to `part`, their
    /// vectors in `known`.
    private static func digest(
        share: Int, of shares: Int, _ collection: CollectionSchema, vectors known: DigestVectorTable, keys: Bool,
        db: Connection, into part: inout DigestShare
    ) throws {
        func mine(_ id: UnsafeRawBufferPointer) -> Bool {
            shares == 1 || DigestVectorTable.share(of: DigestVectorTable.hash(id), shares: shares) == share
        }
        var encoder = RecordDigestEncoder()
        var vector: [(UInt32, UInt64)] = []
        func add(_ id: String, _ digest: RecordDigest) {
            part.sum.add(digest.hash)
            if keys { part.entries.append(DigestEntry(collection: collection.name, id: id, digest: digest)) }
        }
        // Fields in the digest's order (ascending bytes of their names): nothing to sort per record.
        let ordered = collection.fields.indices.sorted {
            collection.fields[$0].name.utf8.lexicographicallyPrecedes(collection.fields[$1].name.utf8)
        }
        let table = ReplicaSQL.quote(collection.name)
        let columns = collection.fields.map { ReplicaSQL.quote($0.name) }.joined(separator: ", ")
        let name = SQLiteValue.text(collection.name)
        // Records with pending writes: the hub's state of them is the overlay's.
        var overlay: [String: (exists: Bool, confirmed: String?)] = [:]
        try db.query(
            "SELECT record_id, confirmed_exists, confirmed FROM _relais_overlay WHERE collection = ?", [name]
        ) { row in
            guard row.withUnsafeBytes(at: 0, mine) else { return }
            overlay[row.text(at: 0) ?? ""] = (row.int64(at: 1) != 0, row.text(at: 2))
        }
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
            try db.query("SELECT id\(columns.isEmpty ? "" : ", " + columns) FROM \(table)") { row in
                let found = row.withUnsafeBytes(at: 0) { id -> Bool in
                    let hash = DigestVectorTable.hash(id)
                    guard shares == 1 || DigestVectorTable.share(of: hash, shares: shares) == share else {
                        return false
                    }
                    known.withVector(id: id, hash: hash) { vectorPairs($0, into: &vector) }
                    return true
                }
                guard found else { return }
                let id = keys || !overlay.isEmpty ? row.text(at: 0) ?? "" : ""
                if !overlay.isEmpty, let confirmed = overlay[id] {
                    // Pending writes lie over the row: the hub's state is the overlay's.
                    guard confirmed.exists else { return }
                    for (field, value) in StorageCodec.decodeColumns(confirmed.confirmed, collection: collection) {
                        encoder.field(field, value)
                    }
                    add(id, encoder.digest(collection: collection.name, id: id, vector: vector))
                    return
                }
                // The row as stored, its bytes straight into the encoding (values are not built).
                collectionBytes.withUnsafeBytes { name in
                    row.withUnsafeBytes(at: 0) {
                        encoder.begin(collection: name, id: $0, vector: vector, withPosition: keys)
                    }
                }
                for slot in ordered.indices {
                    let column = Int32(1 + ordered[slot])
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
                        encoder.value(field.name, digestValue(row.value(at: column), field, collection))
                    }
                }
                add(id, encoder.end())
            }
        }
        // Records the hub holds alive that a pending delete hides.
        try db.query(
            """
            SELECT o.record_id, r.vector, o.confirmed FROM _relais_overlay AS o
            LEFT JOIN _relais_records AS r ON r.collection = o.collection AND r.record_id = o.record_id
            WHERE o.collection = ? AND o.confirmed_exists = 1
              AND NOT EXISTS (SELECT 1 FROM \(table) AS c WHERE c.id = o.record_id)
            """, [name]
        ) { row in
            guard row.withUnsafeBytes(at: 0, mine) else { return }
            let id = row.text(at: 0) ?? ""
            for (field, value) in StorageCodec.decodeColumns(row.text(at: 2), collection: collection) {
                encoder.field(field, value)
            }
            if row.kind(at: 1) == .text {
                row.withUnsafeBytes(at: 1) { vectorPairs($0, into: &vector) }
            } else {
                vectorPairs(nil, into: &vector)
            }
            add(id, encoder.digest(collection: collection.name, id: id, vector: vector))
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

    /// A stored vector's entries (`{"3":17,"5":2}`), written over `pairs`; none for a record without
    /// bookkeeping (`nil`). Scanned from the bytes; any other form goes through the general decoder.
    private static func vectorPairs(_ bytes: UnsafeRawBufferPointer?, into pairs: inout [(UInt32, UInt64)]) {
        pairs.removeAll(keepingCapacity: true)
        guard let bytes else { return }
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
        func scan() -> Bool {
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
        if scan() { return }
        pairs.removeAll(keepingCapacity: true)
        for entry in StorageCodec.decodeVector(String(decoding: bytes, as: UTF8.self)).entries {
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
            try engine(rows: records.count + absent.count) {
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
                        let (dot, hlc) = record.dotAndTime(of: version)
                        dots.add(name, replica: dot.replica, counter: dot.counter, hlc: hlc)
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
                    // As a pull's tombstone does: the last confirmed values stay under pending writes,
                    // which revive the record at the hub whole (a blank field would be typed over).
                    var confirmed = try loadOverlay(key, collection) ?? ConfirmedState(exists: false, values: [:])
                    confirmed.exists = false
                    try settle(key, collection, confirmed: confirmed, pending: pending)
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
