import Foundation

/// The stored version vectors of one collection's records, keyed by the bytes of their ids: the
/// in-memory side of the digest's join of a collection table with `_relais_records`.
///
/// Joining in SQL looks each row up in `_relais_records` and `_relais_overlay` through their
/// indexes (two seeks by a text key per row, about half of a full verification); reading both tables
/// once and meeting them here costs a hash and a comparison per row. Memory is bounded by the caller,
/// which builds one table per share of the ids (``share(of:shares:)``).
struct DigestVectorTable {
    /// Each entry's id, then its vector's bytes.
    private var bytes: [UInt8] = []
    private var entries: [Entry] = []
    /// Open addressing: an index into `entries`, or -1.
    private var slots: [Int32]
    private var mask: Int

    private struct Entry {
        var hash: UInt64
        var start: Int
        var idCount: Int32
        var vectorCount: Int32
    }

    /// The entries expected (``init(capacity:)``): the bytes are sized from the first ones.
    private let expected: Int

    /// A table with room for `capacity` entries (it grows past them). The bytes of ids and vectors
    /// are reserved once the first ``sampled`` entries tell their usual size, and then grow by a
    /// quarter at a time: an array doubling its storage holds up to three times what it needs while
    /// it copies, which was most of a verification's memory at 1,000,000 records.
    init(capacity: Int = 0) {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        slots = Array(repeating: -1, count: size)
        mask = size - 1
        expected = capacity
        entries.reserveCapacity(capacity)
        bytes.reserveCapacity(Self.sampled * 64)
    }

    /// Entries read before the bytes are reserved for all of them.
    private static let sampled = 256

    var count: Int { entries.count }

    /// Adds a record's id and vector bytes (`hash`: ``hash(_:)`` of the id). Ids are unique.
    mutating func insert(id: UnsafeRawBufferPointer, hash: UInt64, vector: UnsafeRawBufferPointer) {
        if entries.count >= slots.count / 2 { grow() }
        let needed = bytes.count + id.count + vector.count
        if needed > bytes.capacity {
            var capacity = needed + needed / 4
            if entries.count >= Self.sampled, expected > entries.count {
                // The rest at the mean size so far, and a little more.
                let mean = (bytes.count + entries.count - 1) / entries.count
                capacity = max(capacity, bytes.count + (expected - entries.count) * mean * 9 / 8)
            }
            bytes.reserveCapacity(capacity)
        }
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(entries.count)
        entries.append(
            Entry(hash: hash, start: bytes.count, idCount: Int32(id.count), vectorCount: Int32(vector.count)))
        bytes.append(contentsOf: id)
        bytes.append(contentsOf: vector)
    }

    /// Doubles the slots and places every entry again.
    private mutating func grow() {
        slots = Array(repeating: -1, count: slots.count * 2)
        mask = slots.count - 1
        for (index, entry) in entries.enumerated() {
            var slot = Int(truncatingIfNeeded: entry.hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index)
        }
    }

    /// Calls `body` with the vector bytes stored for `id` (`hash`: ``hash(_:)`` of it), or `nil`
    /// when the table holds no such id.
    func withVector<Result>(
        id: UnsafeRawBufferPointer, hash: UInt64, _ body: (UnsafeRawBufferPointer?) throws -> Result
    ) rethrows -> Result {
        var slot = Int(truncatingIfNeeded: hash) & mask
        return try bytes.withUnsafeBytes { all in
            while true {
                let index = Int(slots[slot])
                if index < 0 { return try body(nil) }
                let entry = entries[index]
                if entry.hash == hash, Int(entry.idCount) == id.count {
                    let stored = UnsafeRawBufferPointer(rebasing: all[entry.start..<(entry.start + id.count)])
                    if id.count == 0 || memcmp(stored.baseAddress!, id.baseAddress!, id.count) == 0 {
                        let vectorStart = entry.start + id.count
                        return try body(
                            UnsafeRawBufferPointer(
                                rebasing: all[vectorStart..<(vectorStart + Int(entry.vectorCount))]))
                    }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// A 64-bit hash of an id's bytes (FNV-1a, then mixed so that the low bits spread).
    static func hash(_ id: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }

    /// Which of `shares` shares of the ids an id of hash `hash` belongs to.
    static func share(of hash: UInt64, shares: Int) -> Int {
        shares == 1 ? 0 : Int(hash >> 40) % shares
    }

    /// Entries of one table: a collection of more records is joined in several shares, each read
    /// twice, so that a verification never holds more than this many vectors per thread. 131,072
    /// keeps a laptop's peak memory nearly flat from 100,000 to 1,000,000 records (docs/PERFORMANCE.md);
    /// each share costs one more pass over `_relais_records` and the collection's table.
    static let entriesPerShare = 131_072
}
