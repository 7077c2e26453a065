import RelaisCore
import RelaisProtocol

/// Writes a pull page, the protobuf bytes of a `relais.v1.PullResponse`, straight from the stored
/// rows: the records' states are read in their stored encoding (``RecordCodec/PageView``) and their
/// names and values copied into the page, without building merge states or messages.
///
/// Building the page as messages spent ~20 µs per record decoding states into dictionaries, building
/// `Relais_V1_RecordVersion`s and encoding them (docs/PERFORMANCE.md, "pages"). The bytes are those
/// swift-protobuf writes for the same page (`PullPageWriterTests`): fields in number order, proto3
/// defaults left out, records then revocations. What a device is sent is decided by
/// ``HubService/page(after:since:size:user:replica:counter:head:tx:)``; this type only writes.
struct PullPageWriter {
    /// Every field written, by message: `PullPageWriterTests` checks it against Protocol/relais.proto,
    /// so that a field added to a page's messages is not left out of the pages.
    static let writtenFields: [String: [Int]] = [
        "PullResponse": [1, 2, 3, 4, 5, 6, 7, 8, 9],
        "RecordVersion": [1, 2, 3, 4, 5, 6, 7, 8],
        "FieldVersion": [1, 2, 3, 4],
        "Value": [1, 2, 3, 4, 5, 6],
        "StringSet": [1],
        "Dot": [1, 2],
        "VersionVector": [1],
        "VectorEntry": [1, 2],
        "Revocation": [1, 2],
    ]

    private var out = ProtobufWriter(capacity: 1 << 16)
    private var revocations = ProtobufWriter()
    private var view = RecordCodec.PageView()
    /// The collection of the previous record, its fields sorted by name for matching stored names.
    private var collection: (schema: CollectionSchema, byName: [(utf8: [UInt8], index: Int)])?
    /// For each schema field, its position in ``view``'s fields, or -1.
    private var slots: [Int] = []

    /// The bytes of the records and revocations written so far.
    var byteCount: Int { out.count + revocations.count }

    /// The device's side of a page: what it holds and which of its writes it need not get back.
    struct Device {
        var replica: ReplicaID
        /// Own writes up to this counter are not echoed (0: every write is sent).
        var counter: UInt64
        /// The request's cursor and the start of the device's pull (`nil`: an older client).
        var cursor: UInt64
        var since: UInt64?
        var access: Access
        /// The device reads a field without a dot as having its record's dot and HLC time
        /// (`PullRequest.compact_dots`).
        var compactDots = false
    }

    /// Appends the version of `row` that `device` needs (docs/SYNC.md "Pull"), or nothing when it
    /// needs nothing. Returns whether a record was written.
    ///
    /// `moves`: the first move after the pull's start of the page's records
    /// (``HubReadTransaction/firstMoves(of:after:)``).
    mutating func record(
        _ row: StoredRecordRow, for device: Device, moves: [RecordKey: ScopeMove], schema: Schema
    ) throws -> Bool {
        guard useCollection(row.collection, schema), let fields = collection?.schema.fields else { return false }
        try row.state.withUnsafeBytes { try RecordCodec.read($0, into: &view) }
        let start = out.count
        let record = out.beginMessage(1)
        out.string(1, row.collection)
        out.string(2, row.id)
        let vector = out.beginMessage(3)
        for entry in view.vector {
            let mark = out.beginMessage(1)
            out.uint64(1, UInt64(entry.replica))
            out.uint64(2, entry.counter)
            out.endMessage(mark)
        }
        out.endMessage(vector)
        if view.deleted {
            // A fresh replica (cursor 0) has nothing to delete, unless it wrote to the record itself: a
            // device whose first push was applied but whose answer was lost still holds what it created
            // (docs/RELIABILITY.md, bug 3). A snapshot's pull names the hub's own number, which no device
            // has: office writes in the vector do not make a tombstone its own.
            guard device.cursor != 0 || (device.replica != .hub && view.counter(of: device.replica.rawValue) > 0)
            else {
                out.truncate(to: start)
                return false
            }
            out.bool(4, true)
            out.uint64(6, row.seq)
            out.endMessage(record)
            return true
        }
        // Whole: the device may not hold the record at the pull's start (`basis`): a fresh generation
        // (0), a record revived, kept against a delete or moved since, or one whose scope then was not
        // the user's. Otherwise only the fields changed after `since`: the device holds every change up
        // to its pull's start (docs/SYNC.md, "The pull invariant").
        let basis = device.since ?? device.cursor
        var whole = basis == 0 || row.wholeSince > basis
        if !whole, !device.access.role.seesEverything {
            // The record's scope at `basis`: where its first later move started from, or where it is.
            let scopeAtBasis: String?
            if let move = moves[RecordKey(collection: row.collection, id: row.id)] {
                scopeAtBasis = move.fromScope
            } else {
                scopeAtBasis = row.scope
            }
            whole = !device.access.sees(scope: scopeAtBasis)
        }
        try matchSlots(row.state)
        var decoded: StoredRecord?
        var written = 0
        sent.removeAll(keepingCapacity: true)
        for index in slots.indices {
            let slot = slots[index]
            guard slot >= 0 else { continue }
            let stored = view.fields[slot]
            if !whole {
                // Fields changed at or before the pull's start are held by the device. Fields changed
                // after it are sent even when changed at or before the cursor: the record may have moved
                // past the page that covered their change before the device read that page, and then
                // the device never got them (docs/RELIABILITY.md, bug 1). An older client (no `since`)
                // gets every field.
                if let since = device.since, stored.seq <= since { continue }
                // Own writes are not echoed: the device holds them already, unless the record was
                // ever revived, lost a delete or moved between scopes (`wholeSince` set): the device
                // may have removed it, and the page that covered the revival may have been read after
                // the record moved past it (bug 5), so such a record's own writes are always sent.
                if row.wholeSince == 0, stored.siblings == 1, stored.replica == device.replica.rawValue,
                    stored.counter <= device.counter, !stored.clamped
                {
                    continue
                }
            }
            sent.append(index)
        }
        // With compact dots, the dot and time most of the sent fields share are the record's, and
        // those fields carry none.
        let shared = device.compactDots ? sharedDot() : nil
        for index in sent {
            let stored = view.fields[slots[index]]
            let mark = out.beginMessage(5)
            row.state.withUnsafeBytes { out.lengthDelimited(1, UnsafeRawBufferPointer(rebasing: $0[stored.name])) }
            let value = out.beginMessage(2)
            let kind = row.state[stored.value.lowerBound]
            if stored.siblings == 1, kind != RecordCodec.setKind {
                row.state.withUnsafeBytes { writeStoredValue(UnsafeRawBufferPointer(rebasing: $0[stored.value])) }
            } else {
                // Concurrent values kept by the field's rule, or a set (sent sorted, without duplicates):
                // through the merge state, as the rule resolves it.
                if decoded == nil { decoded = try row.decoded() }
                let field = fields[index]
                writeValue(decoded?.state.fields[field.name]?.value(rule: field.rule) ?? .null)
            }
            out.endMessage(value)
            if shared != DotTime(stored) {
                writeDot(3, replica: stored.replica, counter: stored.counter)
                out.uint64(4, stored.hlc)
            }
            out.endMessage(mark)
            written += 1
        }
        guard written > 0 else {
            out.truncate(to: start)
            return false
        }
        out.uint64(6, row.seq)
        if let shared {
            writeDot(7, replica: shared.replica, counter: shared.counter)
            out.uint64(8, shared.hlc)
        }
        out.endMessage(record)
        return true
    }

    /// The fields of the current record to send, by schema position (``record(_:for:moves:schema:)``).
    private var sent: [Int] = []

    /// A field's dot and HLC time.
    private struct DotTime: Equatable {
        var replica: UInt32
        var counter: UInt64
        var hlc: UInt64

        init(_ field: RecordCodec.PageView.Field) {
            (replica, counter, hlc) = (field.replica, field.counter, field.hlc)
        }
    }

    /// The dot and time that most of the ``sent`` fields share (the first of equal counts), or nil
    /// when no two share one: a record of one field, or of fields all set by different writes, is
    /// written as without compact dots.
    private func sharedDot() -> DotTime? {
        guard sent.count >= 2 else { return nil }
        // Most records: every field sent was set by one write.
        let first = DotTime(view.fields[slots[sent[0]]])
        if sent.dropFirst().allSatisfy({ DotTime(view.fields[slots[$0]]) == first }) { return first }
        var best: (dot: DotTime, count: Int)?
        for (position, index) in sent.enumerated() {
            let dot = DotTime(view.fields[slots[index]])
            // Counted from its first field only.
            if sent[..<position].contains(where: { DotTime(view.fields[slots[$0]]) == dot }) { continue }
            let count = sent[position...].count(where: { DotTime(view.fields[slots[$0]]) == dot })
            if count > (best?.count ?? 1) { best = (dot, count) }
        }
        return best?.dot
    }

    /// A `Dot` message as field `number`.
    private mutating func writeDot(_ number: UInt32, replica: UInt32, counter: UInt64) {
        let dot = out.beginMessage(number)
        out.uint64(1, UInt64(replica))
        out.uint64(2, counter)
        out.endMessage(dot)
    }

    /// Appends a revocation of record `id` of `collection`.
    mutating func revocation(collection: String, id: String) {
        let mark = revocations.beginMessage(2)
        revocations.string(1, collection)
        revocations.string(2, id)
        revocations.endMessage(mark)
    }

    /// The page's bytes: the records, the revocations, then the page's own fields.
    mutating func finish(nextCursor: UInt64, more: Bool, head: UInt64) -> [UInt8] {
        out.append(revocations.bytes)
        out.uint64(3, nextCursor)
        out.bool(4, more)
        out.uint64(6, head)
        return out.bytes
    }

    // MARK: - Values

    /// A value in the stored layout (`RecordCodec`), as the fields of a wire `Value`. Not a set.
    private mutating func writeStoredValue(_ stored: UnsafeRawBufferPointer) {
        let payload = UnsafeRawBufferPointer(rebasing: stored[1...])
        switch stored[0] {
        case 0:
            out.append(byte: 0x08)  // is_null = true
            out.append(byte: 1)
        case 1:
            out.append(byte: 0x12)  // text: the stored length and bytes are the wire's
            out.append(payload)
        case 2:
            out.append(byte: 0x19)  // number: 8 bytes, little endian, in both
            out.append(payload)
        case 3:
            out.append(byte: 0x20)  // boolean
            out.append(payload)
        default:
            out.append(byte: 0x2A)  // date
            out.append(payload)
        }
    }

    /// A core value as the fields of a wire `Value` (as `Relais_V1_Value.init(_:)` makes it).
    private mutating func writeValue(_ value: Value) {
        if case .set(let items) = value {
            let mark = out.beginMessage(6)
            for item in Array(Set(items)).sorted() {
                var item = item
                item.withUTF8 { out.lengthDelimited(1, UnsafeRawBufferPointer($0)) }
            }
            out.endMessage(mark)
            return
        }
        RecordCodec.encodeValue(value).withUnsafeBytes { writeStoredValue($0) }
    }

    // MARK: - Fields

    /// Makes `name` the current collection; false when the schema has no such collection.
    private mutating func useCollection(_ name: String, _ schema: Schema) -> Bool {
        if collection?.schema.name == name { return true }
        guard let found = schema.collection(name) else { return false }
        let byName = found.fields.enumerated().map { (utf8: Array($1.name.utf8), index: $0) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        collection = (found, byName)
        slots = Array(repeating: -1, count: found.fields.count)
        return true
    }

    /// Fills ``slots``: where each of the collection's fields is among the view's. Stored names come
    /// sorted, so the search usually finds each at the position after the previous one.
    private mutating func matchSlots(_ state: [UInt8]) throws {
        guard let byName = collection?.byName else { return }
        for index in slots.indices { slots[index] = -1 }
        var next = 0
        state.withUnsafeBytes { bytes in
            for (position, field) in view.fields.enumerated() {
                let name = UnsafeRawBufferPointer(rebasing: bytes[field.name])
                for step in 0..<byName.count {
                    let candidate = (next + step) % byName.count
                    if byName[candidate].utf8.elementsEqual(name) {
                        slots[byName[candidate].index] = position
                        next = candidate + 1
                        break
                    }
                }
            }
        }
    }
}
