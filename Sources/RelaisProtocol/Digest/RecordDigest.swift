import Crypto
public import RelaisCore

/// The digest of one live record, as Protocol/README.md section 14 defines it: its **position**, a
/// 60-bit number from its key alone that places it in the ranges of a view, and its **hash**, 16 bytes
/// from its key, version vector and field values.
///
/// Computed the same way by the hub (from its merge state, each field's value under its rule) and by
/// a replica (from its tables), never from bookkeeping only one of them keeps: dots, HLC times,
/// sequences and pending writes are left out.
public struct RecordDigest: Hashable, Sendable {
    /// The record's place in the view's ranges: the first 60 bits of SHA-256 of its key.
    public var position: UInt64
    /// The first 16 bytes of SHA-256 of the record's canonical encoding.
    public var hash: RecordHash

    public init(position: UInt64, hash: RecordHash) {
        self.position = position
        self.hash = hash
    }

    /// The digest of a live record: `values` holds each field's current value (nulls and empty
    /// sets may be included; they count as absent).
    public static func of(collection: String, id: String, vector: VersionVector, values: [String: Value])
        -> RecordDigest
    {
        var encoder = RecordDigestEncoder()
        return encoder.digest(collection: collection, id: id, vector: vector, values: values)
    }

    /// The 24 bytes a hub store keeps: the position, then the hash, both big-endian.
    public var stored: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        Self.appendBigEndian(position, to: &bytes)
        Self.appendBigEndian(hash.high, to: &bytes)
        Self.appendBigEndian(hash.low, to: &bytes)
        return bytes
    }

    /// A digest from its ``stored`` bytes; `nil` unless there are exactly 24.
    public init?(stored bytes: some Collection<UInt8>) {
        guard bytes.count == 24 else { return nil }
        let array = Array(bytes)
        position = Self.readBigEndian(array, at: 0)
        hash = RecordHash(high: Self.readBigEndian(array, at: 8), low: Self.readBigEndian(array, at: 16))
    }

    static func appendBigEndian(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    static func readBigEndian(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
        return value
    }
}

/// A record hash: 16 bytes, held as two big-endian halves.
public struct RecordHash: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The hash of 16 bytes; `nil` for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let array = Array(bytes)
        high = RecordDigest.readBigEndian(array, at: 0)
        low = RecordDigest.readBigEndian(array, at: 8)
    }

    /// The 16 bytes.
    public var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        RecordDigest.appendBigEndian(high, to: &bytes)
        RecordDigest.appendBigEndian(low, to: &bytes)
        return bytes
    }

    /// Lowercase hexadecimal.
    public var description: String { bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
}

/// Writes records' canonical encodings into one reusable buffer (Protocol/README.md section 14).
///
/// ```
/// record   = str(collection) str(id) u32(n) n × (u32 replica, u64 counter) u32(m) m × field
/// field    = str(name) tag payload          (fields in ascending byte order of name)
/// str(s)   = u32(byte length) UTF-8 bytes
/// text 0x01 str | number 0x02 u64(IEEE 754 bits, -0 as +0) | bool 0x03 0x00/0x01
/// date 0x04 str | set 0x05 u32(k) k × str   (items in ascending byte order, no duplicates)
/// ```
/// Integers are big-endian. Vector entries with a zero counter, null fields and empty sets are left
/// out. The position is the first 8 bytes of SHA-256 of `str(collection) str(id)`, shifted right by 4.
public struct RecordDigestEncoder: Sendable {
    private var buffer = EncodingBuffer()
    private var names: [(name: String, value: Value)] = []
    /// The fields were added in the digest's order (no sort needed).
    private var namesInOrder = true
    /// Streaming: the record's position, where its field count goes, and the count so far.
    private var position: UInt64 = 0
    private var countOffset = 0
    private var fieldCount: UInt32 = 0

    public init() {}

    /// The digest of a live record (see ``RecordDigest/of(collection:id:vector:values:)``).
    public mutating func digest(collection: String, id: String, vector: VersionVector, values: [String: Value])
        -> RecordDigest
    {
        names.removeAll(keepingCapacity: true)
        namesInOrder = true
        for (name, value) in values { field(name, value) }
        return digest(
            collection: collection, id: id, vector: vector.sortedEntries.map { ($0.replica.rawValue, $0.counter) })
    }

    /// The digest of a live record whose counted fields were added with ``field(_:_:)`` since the
    /// last digest, in any order; `vector` as (replica, counter) pairs in any order.
    public mutating func digest(collection: String, id: String, vector: [(UInt32, UInt64)]) -> RecordDigest {
        var collection = collection
        var id = id
        collection.withUTF8 { collection in
            id.withUTF8 { id in
                begin(collection: UnsafeRawBufferPointer(collection), id: UnsafeRawBufferPointer(id), vector: vector)
            }
        }
        if !namesInOrder { names.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) } }
        for (name, fieldValue) in names { self.value(name, fieldValue) }
        names.removeAll(keepingCapacity: true)
        namesInOrder = true
        return end()
    }

    /// Adds a field of the next record (a null or an empty set is skipped), in any order.
    public mutating func field(_ name: String, _ value: Value) {
        guard Self.counts(value) else { return }
        if namesInOrder, let last = names.last, !last.name.utf8.lexicographicallyPrecedes(name.utf8) {
            namesInOrder = false
        }
        names.append((name, value))
    }

    // MARK: Streaming: a record's parts in the encoding's order, without building values

    /// Starts a record: its key and its vector, as (replica, counter) pairs in any order. Its fields
    /// follow, in ascending byte order of their names; ``end()`` gives the digest.
    ///
    /// - Parameter withPosition: Computes the record's position (a second SHA-256); without it the
    ///   digest's position is 0, for a sum of hashes, which needs none.
    public mutating func begin(
        collection: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, vector: [(UInt32, UInt64)],
        withPosition: Bool = true
    ) {
        buffer.removeAll()
        append(bytes: collection)
        append(bytes: id)
        position = withPosition ? buffer.sha256().high >> 4 : 0
        var entries: UInt32 = 0
        var ascending = true
        var previous: UInt32?
        for (replica, counter) in vector where counter > 0 {
            entries += 1
            if let previous, previous >= replica { ascending = false }
            previous = replica
        }
        append(entries)
        for (replica, counter) in ascending ? vector : vector.sorted(by: { $0.0 < $1.0 }) where counter > 0 {
            append(replica)
            append(counter)
        }
        countOffset = buffer.count
        append(UInt32(0))
        fieldCount = 0
    }

    /// A text field (text, enumeration, reference): its name's and its value's UTF-8 bytes.
    public mutating func text(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        buffer.field(name, tag: 0x01, text: value)
        fieldCount += 1
    }

    /// A date field.
    public mutating func date(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        buffer.field(name, tag: 0x04, text: value)
        fieldCount += 1
    }

    /// A number field.
    public mutating func number(_ name: UnsafeRawBufferPointer, _ value: Double) {
        buffer.field(name, tag: 0x02, number: (value == 0 ? 0.0 : value).bitPattern)
        fieldCount += 1
    }

    /// A bool field.
    public mutating func bool(_ name: UnsafeRawBufferPointer, _ value: Bool) {
        buffer.field(name, tag: 0x03, byte: value ? 1 : 0)
        fieldCount += 1
    }

    /// Any field (a null or an empty set is skipped).
    public mutating func value(_ name: String, _ value: Value) {
        guard Self.counts(value) else { return }
        append(string: name)
        switch value {
        case .null: return
        case .text(let text):
            buffer.append(UInt8(0x01))
            append(string: text)
        case .number(let number):
            buffer.append(UInt8(0x02))
            append((number == 0 ? 0.0 : number).bitPattern)
        case .bool(let flag):
            buffer.append(UInt8(0x03))
            buffer.append(UInt8(flag ? 1 : 0))
        case .date(let text):
            buffer.append(UInt8(0x04))
            append(string: text)
        case .set(let items):
            buffer.append(UInt8(0x05))
            let sorted = Array(Set(items)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            append(UInt32(sorted.count))
            for item in sorted { append(string: item) }
        }
        fieldCount += 1
    }

    /// Ends the record begun with ``begin(collection:id:vector:)``: its digest.
    public mutating func end() -> RecordDigest {
        buffer.patch(fieldCount, at: countOffset)
        return RecordDigest(position: position, hash: buffer.sha256())
    }

    /// The canonical encoding of the last record digested (for golden vectors).
    public var lastEncoding: [UInt8] { buffer.bytes }

    static func counts(_ value: Value) -> Bool {
        switch value {
        case .null: false
        case .set(let items): !items.isEmpty
        default: true
        }
    }

    private mutating func append(string: String) {
        var string = string
        string.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
    }

    private mutating func append(bytes: UnsafeRawBufferPointer) {
        buffer.append(UInt32(bytes.count))
        buffer.append(bytes)
    }

    private mutating func append(_ value: UInt32) { buffer.append(value) }

    private mutating func append(_ value: UInt64) { buffer.append(value) }
}

/// The encoder's growable byte buffer: appends are a bounds check and a copy (an `Array`'s generic
/// `append(contentsOf:)` was a sixth of a laptop's digest).
private final class EncodingStorage: @unchecked Sendable {
    var base: UnsafeMutableRawPointer
    var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    func grow(to needed: Int) {
        var capacity = self.capacity
        while capacity < needed { capacity *= 2 }
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        bigger.copyMemory(from: base, byteCount: self.capacity)
        base.deallocate()
        base = bigger
        self.capacity = capacity
    }
}

/// Bytes written in place; each encoder owns its storage (never shared: an encoder is used by one
/// task at a time, and a copy gets its own storage on first write).
private struct EncodingBuffer: Sendable {
    private var storage = EncodingStorage(capacity: 1024)
    private(set) var count = 0

    mutating func removeAll() { count = 0 }

    private mutating func reserve(_ extra: Int) {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = EncodingStorage(capacity: storage.capacity)
            copy.base.copyMemory(from: storage.base, byteCount: count)
            storage = copy
        }
        if count + extra > storage.capacity { storage.grow(to: count + extra) }
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (storage.base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func append(_ byte: UInt8) {
        reserve(1)
        storage.base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    mutating func append(_ value: UInt32) {
        reserve(4)
        storage.base.storeBytes(of: value.bigEndian, toByteOffset: count, as: UInt32.self)
        count += 4
    }

    mutating func append(_ value: UInt64) {
        reserve(8)
        storage.base.storeBytes(of: value.bigEndian, toByteOffset: count, as: UInt64.self)
        count += 8
    }

    /// A field: `str(name) tag str(text)`, with one bounds check.
    mutating func field(_ name: UnsafeRawBufferPointer, tag: UInt8, text: UnsafeRawBufferPointer) {
        reserve(9 + name.count + text.count)
        unchecked(name)
        storage.base.storeBytes(of: tag, toByteOffset: count, as: UInt8.self)
        count += 1
        unchecked(text)
    }

    /// A field: `str(name) tag u64`.
    mutating func field(_ name: UnsafeRawBufferPointer, tag: UInt8, number: UInt64) {
        reserve(13 + name.count)
        unchecked(name)
        storage.base.storeBytes(of: tag, toByteOffset: count, as: UInt8.self)
        storage.base.storeBytes(of: number.bigEndian, toByteOffset: count + 1, as: UInt64.self)
        count += 9
    }

    /// A field: `str(name) tag byte`.
    mutating func field(_ name: UnsafeRawBufferPointer, tag: UInt8, byte: UInt8) {
        reserve(6 + name.count)
        unchecked(name)
        storage.base.storeBytes(of: tag, toByteOffset: count, as: UInt8.self)
        storage.base.storeBytes(of: byte, toByteOffset: count + 1, as: UInt8.self)
        count += 2
    }

    /// `str(bytes)` into room already reserved.
    private mutating func unchecked(_ bytes: UnsafeRawBufferPointer) {
        storage.base.storeBytes(of: UInt32(bytes.count).bigEndian, toByteOffset: count, as: UInt32.self)
        count += 4
        if let source = bytes.baseAddress, bytes.count > 0 {
            (storage.base + count).copyMemory(from: source, byteCount: bytes.count)
            count += bytes.count
        }
    }

    /// Overwrites 4 bytes at `offset` with `value`, big-endian.
    mutating func patch(_ value: UInt32, at offset: Int) {
        reserve(0)
        storage.base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: storage.base, count: count)) }

    /// The first 16 bytes of SHA-256 of the bytes written.
    func sha256() -> RecordHash {
        var hasher = SHA256()
        hasher.update(bufferPointer: UnsafeRawBufferPointer(start: storage.base, count: count))
        let digest = hasher.finalize()
        return digest.withUnsafeBytes { raw in
            RecordHash(
                high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
