import RelaisCore

/// The compact binary form of a record's merge state and field bookkeeping in `hub.sqlite`
/// (`records.state`).
///
/// `JSONEncoder` took three quarters of the writer thread's time under load; this format is a
/// plain byte layout with no reflection. All integers are unsigned LEB128 varints; a string is its
/// UTF-8 byte count then its bytes.
///
/// ```
/// record    := version(=1) vector tombstone? fields
/// vector    := count (replica counter)*
/// tombstone := 0 | 1 delete concurrent-count delete*
/// delete    := replica counter hlc author
/// fields    := count (name seq clamped(0|1) base? sibling-count sibling*)*
/// base      := 0 | 1 value
/// sibling   := value replica counter hlc author
/// value     := 0 (null) | 1 text | 2 float64-bits(8 bytes, little endian) | 3 bool(0|1) | 4 date | 5 count text*
/// ```
///
/// Never change this layout in place: add a version.
enum RecordCodec {
    struct Corrupt: Error, CustomStringConvertible {
        var offset: Int
        var description: String { "corrupt record state at byte \(offset)" }
    }

    static let version: UInt8 = 1
    /// The kind byte of a set value.
    static let setKind: UInt8 = 5

    // MARK: - Encoding

    static func encode(_ state: RecordState, fields meta: [String: FieldMeta]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(version)
        let entries = state.vector.sortedEntries
        varint(UInt64(entries.count), &out)
        for entry in entries {
            varint(UInt64(entry.replica.rawValue), &out)
            varint(entry.counter, &out)
        }
        if let tombstone = state.tombstone {
            out.append(1)
            delete(tombstone, &out)
            varint(UInt64(tombstone.concurrent.count), &out)
            for other in tombstone.concurrent { delete(other, &out) }
        } else {
            out.append(0)
        }
        // Every field has its bookkeeping as a rule: the names come from it, without building a set.
        var names = Array(meta.keys)
        for name in state.fields.keys where meta[name] == nil { names.append(name) }
        names.sort()
        varint(UInt64(names.count), &out)
        for name in names {
            string(name, &out)
            let fieldMeta = meta[name] ?? FieldMeta(seq: 0)
            varint(fieldMeta.seq, &out)
            out.append(fieldMeta.clamped ? 1 : 0)
            let field = state.fields[name] ?? FieldState(siblings: [])
            if let base = field.base {
                out.append(1)
                value(base, &out)
            } else {
                out.append(0)
            }
            varint(UInt64(field.siblings.count), &out)
            for sibling in field.siblings {
                value(sibling.value, &out)
                varint(UInt64(sibling.dot.replica.rawValue), &out)
                varint(sibling.dot.counter, &out)
                varint(sibling.hlc.rawValue, &out)
                string(sibling.author, &out)
            }
        }
        return out
    }

    private static func delete(_ tombstone: Tombstone, _ out: inout [UInt8]) {
        varint(UInt64(tombstone.dot.replica.rawValue), &out)
        varint(tombstone.dot.counter, &out)
        varint(tombstone.hlc.rawValue, &out)
        string(tombstone.author, &out)
    }

    static func value(_ value: Value, _ out: inout [UInt8]) {
        switch value {
        case .null: out.append(0)
        case .text(let text):
            out.append(1)
            string(text, &out)
        case .number(let number):
            out.append(2)
            var bits = number.bitPattern.littleEndian
            withUnsafeBytes(of: &bits) { out.append(contentsOf: $0) }
        case .bool(let bool):
            out.append(3)
            out.append(bool ? 1 : 0)
        case .date(let date):
            out.append(4)
            string(date, &out)
        case .set(let items):
            out.append(5)
            varint(UInt64(items.count), &out)
            for item in items { string(item, &out) }
        }
    }

    private static func varint(_ value: UInt64, _ out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    private static func string(_ text: String, _ out: inout [UInt8]) {
        var text = text
        text.withUTF8 { utf8 in
            varint(UInt64(utf8.count), &out)
            out.append(contentsOf: utf8)
        }
    }

    // MARK: - Decoding

    /// Decodes a record of `collection` and `id` from its stored bytes.
    static func decode(_ bytes: UnsafeRawBufferPointer, collection: String, id: String) throws
        -> (RecordState, [String: FieldMeta])
    {
        var reader = Reader(bytes: bytes)
        guard try reader.byte() == version else { throw Corrupt(offset: 0) }
        var vector = VersionVector()
        for _ in 0..<(try reader.count()) {
            let replica = ReplicaID(try reader.u32())
            vector[replica] = try reader.varint()
        }
        var tombstone: Tombstone?
        if try reader.flag() {
            var main = try reader.delete()
            var concurrent: [Tombstone] = []
            for _ in 0..<(try reader.count()) { concurrent.append(try reader.delete()) }
            main.concurrent = concurrent
            tombstone = main
        }
        // Sized up front: growing a dictionary field by field rehashed it four times per record, the
        // larger part of reading a page (docs/PERFORMANCE.md, "pages").
        let fieldCount = try reader.count()
        var fields = [String: FieldState](minimumCapacity: fieldCount)
        var meta = [String: FieldMeta](minimumCapacity: fieldCount)
        for _ in 0..<fieldCount {
            let name = try reader.string()
            meta[name] = FieldMeta(seq: try reader.varint(), clamped: try reader.flag())
            let base: Value? = try reader.flag() ? try reader.value() : nil
            let siblingCount = try reader.count()
            var siblings: [Sibling] = []
            siblings.reserveCapacity(siblingCount)
            for _ in 0..<siblingCount {
                let value = try reader.value()
                let dot = Dot(replica: ReplicaID(try reader.u32()), counter: try reader.varint())
                let hlc = HLC(rawValue: try reader.varint())
                siblings.append(Sibling(value: value, dot: dot, hlc: hlc, author: try reader.string()))
            }
            if !siblings.isEmpty { fields[name] = FieldState(siblings: siblings, base: base) }
        }
        guard reader.offset == bytes.count else { throw Corrupt(offset: reader.offset) }
        return (RecordState(collection: collection, id: id, vector: vector, fields: fields, tombstone: tombstone), meta)
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func byte() throws -> UInt8 {
            guard offset < bytes.count else { throw Corrupt(offset: offset) }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func flag() throws -> Bool {
            switch try byte() {
            case 0: return false
            case 1: return true
            default: throw Corrupt(offset: offset - 1)
            }
        }

        mutating func varint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let next = try byte()
                guard shift < 64 else { throw Corrupt(offset: offset - 1) }
                result |= UInt64(next & 0x7F) << shift
                if next & 0x80 == 0 { return result }
                shift += 7
            }
        }

        mutating func u32() throws -> UInt32 {
            let value = try varint()
            guard value <= UInt64(UInt32.max) else { throw Corrupt(offset: offset) }
            return UInt32(value)
        }

        /// A count, bounded by the bytes left (every counted item takes at least one byte).
        mutating func count() throws -> Int {
            let value = try varint()
            guard value <= UInt64(bytes.count - offset) else { throw Corrupt(offset: offset) }
            return Int(value)
        }

        mutating func string() throws -> String {
            let length = try count()
            defer { offset += length }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]), as: UTF8.self)
        }

        mutating func delete() throws -> Tombstone {
            let dot = Dot(replica: ReplicaID(try u32()), counter: try varint())
            let hlc = HLC(rawValue: try varint())
            return Tombstone(dot: dot, hlc: hlc, author: try string())
        }

        mutating func value() throws -> Value {
            switch try byte() {
            case 0: return .null
            case 1: return .text(try string())
            case 2:
                guard offset + 8 <= bytes.count else { throw Corrupt(offset: offset) }
                var bits: UInt64 = 0
                for index in 0..<8 { bits |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
                offset += 8
                return .number(Double(bitPattern: bits))
            case 3: return .bool(try flag())
            case 4: return .date(try string())
            case 5:
                var items: [String] = []
                for _ in 0..<(try count()) { items.append(try string()) }
                return .set(items)
            default: throw Corrupt(offset: offset - 1)
            }
        }
    }
}

// MARK: - The page's view

extension RecordCodec {
    /// What a pull page needs of a stored record, read from its bytes without building its merge
    /// state: the tombstone flag, the vector, and each field's bookkeeping and latest write, with
    /// byte ranges into the stored bytes for names and values (docs/PERFORMANCE.md, "pages").
    struct PageView {
        struct Field {
            /// The field's name, as UTF-8 bytes of the stored state.
            var name: Range<Int>
            var seq: UInt64
            var clamped: Bool
            /// Siblings (concurrent values kept by the merge rule); the page reads more than one
            /// through the merge state.
            var siblings: Int
            /// The latest sibling's value, encoded as stored (`value` in the layout above).
            var value: Range<Int>
            var replica: UInt32
            var counter: UInt64
            var hlc: UInt64
        }

        var deleted = false
        /// Vector entries in ascending replica order, as stored.
        var vector: [(replica: UInt32, counter: UInt64)] = []
        /// Fields with at least one sibling, in stored (name) order.
        var fields: [Field] = []

        /// The vector's counter for `replica`.
        func counter(of replica: UInt32) -> UInt64 {
            vector.first { $0.replica == replica }?.counter ?? 0
        }
    }

    /// Reads `bytes` into `view`, reusing its storage. The stored layout is checked as strictly as
    /// ``decode(_:collection:id:)`` checks it.
    static func read(_ bytes: UnsafeRawBufferPointer, into view: inout PageView) throws {
        view.deleted = false
        view.vector.removeAll(keepingCapacity: true)
        view.fields.removeAll(keepingCapacity: true)
        var reader = Reader(bytes: bytes)
        guard try reader.byte() == version else { throw Corrupt(offset: 0) }
        for _ in 0..<(try reader.count()) {
            let replica = try reader.u32()
            let counter = try reader.varint()
            if counter > 0 { view.vector.append((replica, counter)) }
        }
        if try reader.flag() {
            view.deleted = true
            try reader.skipDelete()
            for _ in 0..<(try reader.count()) { try reader.skipDelete() }
        }
        for _ in 0..<(try reader.count()) {
            let name = try reader.stringRange()
            let seq = try reader.varint()
            let clamped = try reader.flag()
            if try reader.flag() { _ = try reader.valueRange() }
            let siblings = try reader.count()
            var latest: PageView.Field?
            for _ in 0..<siblings {
                let value = try reader.valueRange()
                let replica = try reader.u32()
                let counter = try reader.varint()
                let hlc = try reader.varint()
                _ = try reader.stringRange()
                latest = PageView.Field(
                    name: name, seq: seq, clamped: clamped, siblings: siblings, value: value, replica: replica,
                    counter: counter, hlc: hlc)
            }
            if let latest { view.fields.append(latest) }
        }
        guard reader.offset == bytes.count else { throw Corrupt(offset: reader.offset) }
    }

    /// Whether the stored record is deleted (holds a tombstone), read without decoding the rest.
    static func isDeleted(_ state: [UInt8]) throws -> Bool {
        try state.withUnsafeBytes { bytes in
            var reader = Reader(bytes: bytes)
            guard try reader.byte() == version else { throw Corrupt(offset: 0) }
            for _ in 0..<(try reader.count()) {
                _ = try reader.u32()
                _ = try reader.varint()
            }
            return try reader.flag()
        }
    }

    /// `value` in the stored layout, encoded: what the page turns into a wire value.
    static func encodeValue(_ value: Value) -> [UInt8] {
        var out: [UInt8] = []
        Self.value(value, &out)
        return out
    }
}

extension RecordCodec.Reader {
    /// The bytes of a string (after its length).
    mutating func stringRange() throws -> Range<Int> {
        let length = try count()
        defer { offset += length }
        return offset..<(offset + length)
    }

    mutating func skipDelete() throws {
        _ = try u32()
        _ = try varint()
        _ = try varint()
        _ = try stringRange()
    }

    /// The bytes of a stored value, its kind byte included.
    mutating func valueRange() throws -> Range<Int> {
        let start = offset
        switch try byte() {
        case 0: break
        case 1, 4: _ = try stringRange()
        case 2:
            guard offset + 8 <= bytes.count else { throw RecordCodec.Corrupt(offset: offset) }
            offset += 8
        case 3: _ = try flag()
        case 5:
            for _ in 0..<(try count()) { _ = try stringRange() }
        default: throw RecordCodec.Corrupt(offset: offset - 1)
        }
        return start..<offset
    }
}
