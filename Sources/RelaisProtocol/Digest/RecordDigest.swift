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
    private var buffer: [UInt8] = []
    private var names: [(name: String, value: Value)] = []

    public init() {}

    /// The digest of a live record (see ``RecordDigest/of(collection:id:vector:values:)``).
    public mutating func digest(collection: String, id: String, vector: VersionVector, values: [String: Value])
        -> RecordDigest
    {
        names.removeAll(keepingCapacity: true)
        for (name, value) in values where Self.counts(value) { names.append((name, value)) }
        return digest(
            collection: collection, id: id, vector: vector.sortedEntries.map { ($0.replica.rawValue, $0.counter) })
    }

    /// The digest of a live record whose counted fields were appended with ``field(_:_:)`` since the
    /// last digest, in any order; `vector` as (replica, counter) pairs in any order.
    public mutating func digest(collection: String, id: String, vector: [(UInt32, UInt64)]) -> RecordDigest {
        buffer.removeAll(keepingCapacity: true)
        append(string: collection)
        append(string: id)
        let position = Self.sha256(buffer).high >> 4
        let entries = vector.filter { $0.1 > 0 }.sorted { $0.0 < $1.0 }
        append(UInt32(entries.count))
        for (replica, counter) in entries {
            append(replica)
            append(counter)
        }
        names.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        append(UInt32(names.count))
        for (name, value) in names {
            append(string: name)
            switch value {
            case .null: break
            case .text(let text):
                buffer.append(0x01)
                append(string: text)
            case .number(let number):
                buffer.append(0x02)
                append((number == 0 ? 0.0 : number).bitPattern)
            case .bool(let flag):
                buffer.append(0x03)
                buffer.append(flag ? 1 : 0)
            case .date(let text):
                buffer.append(0x04)
                append(string: text)
            case .set(let items):
                buffer.append(0x05)
                let sorted = Array(Set(items)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                append(UInt32(sorted.count))
                for item in sorted { append(string: item) }
            }
        }
        names.removeAll(keepingCapacity: true)
        return RecordDigest(position: position, hash: Self.sha256(buffer))
    }

    /// Adds a field of the next record (a null or an empty set is skipped).
    public mutating func field(_ name: String, _ value: Value) {
        if Self.counts(value) { names.append((name, value)) }
    }

    /// The canonical encoding of the last record digested (for golden vectors).
    public var lastEncoding: [UInt8] { buffer }

    static func counts(_ value: Value) -> Bool {
        switch value {
        case .null: false
        case .set(let items): !items.isEmpty
        default: true
        }
    }

    private mutating func append(string: String) {
        var string = string
        string.withUTF8 { utf8 in
            append(UInt32(utf8.count))
            buffer.append(contentsOf: utf8)
        }
    }

    private mutating func append(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            buffer.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    private mutating func append(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            buffer.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    private static func sha256(_ bytes: [UInt8]) -> RecordHash {
        let digest = SHA256.hash(data: bytes)
        return digest.withUnsafeBytes { raw in
            var high: UInt64 = 0
            var low: UInt64 = 0
            for i in 0..<8 { high = high << 8 | UInt64(raw[i]) }
            for i in 8..<16 { low = low << 8 | UInt64(raw[i]) }
            return RecordHash(high: high, low: low)
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
