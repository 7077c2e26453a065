/// Protobuf binary encoding written by hand, for the one answer whose encoding is hot: the hub's pull
/// page, written straight from stored records without building messages (docs/PERFORMANCE.md,
/// "pages").
///
/// It writes what swift-protobuf's deterministic encoding writes: fields in the order the caller
/// gives them (field-number order), proto3 defaults omitted by the `singular` writers, minimal
/// varints, and each nested message's length in front of it. A nested message is written in place
/// (``beginMessage(_:)`` / ``endMessage(_:)``): one byte is reserved for its length, and the bytes are
/// moved in the rare case the length needs more.
public struct ProtobufWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The wire types used here.
    public enum WireType: UInt8, Sendable {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
    }

    /// The number of bytes written.
    public var count: Int { bytes.count }

    /// Drops everything written after `count` bytes (a record that turned out to send nothing).
    public mutating func truncate(to count: Int) {
        bytes.removeSubrange(count...)
    }

    public mutating func varint(_ value: UInt64) {
        if value < 0x80 {
            bytes.append(UInt8(value))
            return
        }
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// A field's key. Field numbers of 16 and more take two bytes or more.
    public mutating func tag(_ number: UInt32, _ type: WireType) {
        varint(UInt64(number) << 3 | UInt64(type.rawValue))
    }

    /// Raw bytes, as they are (an already encoded part).
    public mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    public mutating func append(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    public mutating func append(byte: UInt8) {
        bytes.append(byte)
    }

    /// A length-delimited field holding `raw` (a string's UTF-8 or an encoded message), written even
    /// when empty (a oneof member or a set message).
    public mutating func lengthDelimited(_ number: UInt32, _ raw: UnsafeRawBufferPointer) {
        tag(number, .lengthDelimited)
        varint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// A singular proto3 string: nothing when empty.
    public mutating func string(_ number: UInt32, _ text: String) {
        guard !text.isEmpty else { return }
        var text = text
        text.withUTF8 { lengthDelimited(number, UnsafeRawBufferPointer($0)) }
    }

    /// A singular proto3 unsigned integer: nothing when 0.
    public mutating func uint64(_ number: UInt32, _ value: UInt64) {
        guard value != 0 else { return }
        tag(number, .varint)
        varint(value)
    }

    /// A singular proto3 bool: nothing when false.
    public mutating func bool(_ number: UInt32, _ value: Bool) {
        guard value else { return }
        tag(number, .varint)
        bytes.append(1)
    }

    /// Starts the nested message of field `number`; returns the mark ``endMessage(_:)`` takes.
    public mutating func beginMessage(_ number: UInt32) -> Int {
        tag(number, .lengthDelimited)
        bytes.append(0)
        return bytes.count
    }

    /// Ends the nested message begun at `mark`: writes its length in front of it.
    public mutating func endMessage(_ mark: Int) {
        let length = bytes.count - mark
        if length < 0x80 {
            bytes[mark - 1] = UInt8(length)
            return
        }
        var prefix: [UInt8] = []
        var rest = UInt64(length)
        while rest >= 0x80 {
            prefix.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        prefix.append(UInt8(rest))
        bytes.replaceSubrange((mark - 1)..<mark, with: prefix)
    }
}
