import Foundation

/// The digest of a set of live records: how many, and the XOR of their hashes (Protocol/README.md
/// section 14). XOR makes it independent of order and lets a range's digest be the XOR of its parts.
public struct DigestSum: Hashable, Sendable, CustomStringConvertible {
    public var count: UInt64 = 0
    public var high: UInt64 = 0
    public var low: UInt64 = 0

    public init() {}

    public init(count: UInt64, hash: RecordHash) {
        self.count = count
        high = hash.high
        low = hash.low
    }

    /// Adds one record.
    public mutating func add(_ hash: RecordHash) {
        count += 1
        high ^= hash.high
        low ^= hash.low
    }

    /// Adds the records of another sum (of records not in this one).
    public mutating func merge(_ other: DigestSum) {
        count += other.count
        high ^= other.high
        low ^= other.low
    }

    /// The XOR as a hash.
    public var xor: RecordHash { RecordHash(high: high, low: low) }

    /// The wire form.
    public var wire: Relais_V1_Digest {
        var digest = Relais_V1_Digest()
        digest.count = count
        digest.xor = Data(xor.bytes)
        return digest
    }

    /// A digest from the wire; `nil` when its XOR is not 16 bytes.
    public init?(_ wire: Relais_V1_Digest) {
        guard let hash = RecordHash(bytes: wire.xor) else { return nil }
        self.init(count: wire.count, hash: hash)
    }

    public var description: String { "\(count) records, \(xor)" }
}

/// A range of positions: those whose first `level` hexadecimal digits (of 15) are `prefix`.
public struct DigestRange: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The deepest level: a range of one position.
    public static let deepest = 15
    /// A range holding at most this many records is answered with its entries, not its sub-ranges.
    public static let leafSize = 32
    /// The most ranges one `POST /v1/digest` may ask for.
    public static let maximumPerRequest = 256

    public var level: Int
    public var prefix: UInt64

    /// The whole view.
    public static let root = DigestRange(level: 0, prefix: 0)!

    /// A range; `nil` unless `level` is 0...15 and `prefix` below 16^level.
    public init?(level: Int, prefix: UInt64) {
        guard (0...Self.deepest).contains(level), prefix >> UInt64(4 * level) == 0 else { return nil }
        self.level = level
        self.prefix = prefix
    }

    /// A range from the wire; `nil` when out of bounds.
    public init?(_ wire: Relais_V1_DigestRange) {
        self.init(level: Int(wire.level), prefix: wire.prefix)
    }

    public var wire: Relais_V1_DigestRange {
        var range = Relais_V1_DigestRange()
        range.level = UInt32(level)
        range.prefix = prefix
        return range
    }

    private var shift: UInt64 { UInt64(4 * (Self.deepest - level)) }

    /// The first position in the range.
    public var lowerBound: UInt64 { prefix << shift }
    /// The position after the last one in the range.
    public var upperBound: UInt64 { (prefix + 1) << shift }

    public func contains(_ position: UInt64) -> Bool { position >> shift == prefix }

    /// The 16 sub-ranges, in prefix order (empty at the deepest level).
    public var children: [DigestRange] {
        guard level < Self.deepest else { return [] }
        return (0..<16).map { DigestRange(level: level + 1, prefix: prefix << 4 | UInt64($0))! }
    }

    public static func < (a: DigestRange, b: DigestRange) -> Bool { (a.lowerBound, a.level) < (b.lowerBound, b.level) }

    public var description: String { "\(level):\(String(prefix, radix: 16))" }
}

/// A record's key with its digest: one entry of a ``DigestIndex``.
public struct DigestEntry: Hashable, Sendable {
    public var collection: String
    public var id: String
    public var digest: RecordDigest

    public init(collection: String, id: String, digest: RecordDigest) {
        self.collection = collection
        self.id = id
        self.digest = digest
    }

    var sortKey: (UInt64, String, String) { (digest.position, collection, id) }
}

/// A view's records by position, with running XORs: the digest of any range in O(log n), and the
/// answer to a `POST /v1/digest` range. The hub builds one from its store, a replica from its file.
public struct DigestIndex: Sendable {
    /// Sorted by position, then collection, then id.
    public private(set) var entries: [DigestEntry]
    private var prefixSums: [DigestSum]

    public init(_ entries: [DigestEntry]) {
        self.entries = entries.sorted { a, b in
            if a.digest.position != b.digest.position { return a.digest.position < b.digest.position }
            if a.collection != b.collection { return a.collection.utf8.lexicographicallyPrecedes(b.collection.utf8) }
            return a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
        }
        var sums = [DigestSum()]
        sums.reserveCapacity(self.entries.count + 1)
        var running = DigestSum()
        for entry in self.entries {
            running.add(entry.digest.hash)
            sums.append(running)
        }
        prefixSums = sums
    }

    /// The digest of the whole view.
    public var total: DigestSum { prefixSums.last! }

    /// The index of the first entry at or after `position`.
    private func lowerIndex(_ position: UInt64) -> Int {
        var (low, high) = (0, entries.count)
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].digest.position < position { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func bounds(_ range: DigestRange) -> Range<Int> {
        let start = lowerIndex(range.lowerBound)
        let end = range.level == 0 ? entries.count : lowerIndex(range.upperBound)
        return start..<end
    }

    /// The digest of a range.
    public func sum(_ range: DigestRange) -> DigestSum {
        let span = bounds(range)
        let (a, b) = (prefixSums[span.lowerBound], prefixSums[span.upperBound])
        var sum = DigestSum()
        sum.count = b.count - a.count
        sum.high = a.high ^ b.high
        sum.low = a.low ^ b.low
        return sum
    }

    /// The entries of a range.
    public func entries(in range: DigestRange) -> ArraySlice<DigestEntry> { entries[bounds(range)] }

    /// The answer to one requested range: its digest, and its sub-ranges' digests or its entries.
    public func answer(_ range: DigestRange) -> Relais_V1_RangeDigest {
        var answer = Relais_V1_RangeDigest()
        answer.range = range.wire
        let sum = sum(range)
        answer.digest = sum.wire
        if sum.count > UInt64(DigestRange.leafSize), range.level < DigestRange.deepest {
            answer.children = range.children.map { self.sum($0).wire }
        } else {
            answer.entries = entries(in: range).sorted { ($0.collection, $0.id) < ($1.collection, $1.id) }.map {
                var entry = Relais_V1_DigestEntry()
                entry.collection = $0.collection
                entry.recordID = $0.id
                entry.hash = Data($0.digest.hash.bytes)
                return entry
            }
        }
        return answer
    }
}

/// Narrows a difference between a local ``DigestIndex`` and a remote view down to the records that
/// differ, asking the remote for ranges level by level (range-based reconciliation: the exchange
/// grows with the difference, not with the view).
public struct DigestReconciliation: Sendable {
    /// A record found different, and how.
    public struct Difference: Hashable, Sendable {
        public enum Kind: String, Sendable {
            /// Both hold it, with different hashes.
            case changed
            /// Only the remote holds it.
            case missing
            /// Only the local copy holds it.
            case extra
        }
        public var collection: String
        public var id: String
        public var kind: Kind

        public init(collection: String, id: String, kind: Kind) {
            self.collection = collection
            self.id = id
            self.kind = kind
        }
    }

    /// The records that differ.
    public var differences: [Difference] = []
    /// Requests made.
    public var requests = 0

    /// Runs the reconciliation. `ask` answers ranges (at most ``DigestRange/maximumPerRequest`` at a
    /// time) with the remote's ``Relais_V1_RangeDigest`` for each, in order.
    public static func run(
        local: DigestIndex,
        ask: ([DigestRange]) async throws -> [Relais_V1_RangeDigest]
    ) async throws -> DigestReconciliation {
        var result = DigestReconciliation()
        var pending: [DigestRange] = [.root]
        var found = Set<Difference>()
        while !pending.isEmpty {
            let batch = Array(pending.prefix(DigestRange.maximumPerRequest))
            pending.removeFirst(batch.count)
            let answers = try await ask(batch)
            result.requests += 1
            guard answers.count == batch.count else {
                throw DigestError.malformed("\(answers.count) ranges answered for \(batch.count) asked")
            }
            for (range, answer) in zip(batch, answers) {
                guard let remote = DigestSum(answer.digest) else {
                    throw DigestError.malformed("a digest is not 16 bytes")
                }
                if remote == local.sum(range) { continue }
                if !answer.children.isEmpty {
                    guard answer.children.count == 16 else {
                        throw DigestError.malformed("\(answer.children.count) sub-ranges, not 16")
                    }
                    for (child, wire) in zip(range.children, answer.children) {
                        guard let sum = DigestSum(wire) else { throw DigestError.malformed("a digest is not 16 bytes") }
                        if sum != local.sum(child) { pending.append(child) }
                    }
                    continue
                }
                var remoteHashes: [RecordKeyPair: RecordHash] = [:]
                for entry in answer.entries {
                    guard let hash = RecordHash(bytes: entry.hash) else {
                        throw DigestError.malformed("a record hash is not 16 bytes")
                    }
                    remoteHashes[RecordKeyPair(collection: entry.collection, id: entry.recordID)] = hash
                }
                for entry in local.entries(in: range) {
                    let key = RecordKeyPair(collection: entry.collection, id: entry.id)
                    if let hash = remoteHashes.removeValue(forKey: key) {
                        if hash != entry.digest.hash {
                            found.insert(Difference(collection: key.collection, id: key.id, kind: .changed))
                        }
                    } else {
                        found.insert(Difference(collection: key.collection, id: key.id, kind: .extra))
                    }
                }
                for key in remoteHashes.keys {
                    found.insert(Difference(collection: key.collection, id: key.id, kind: .missing))
                }
            }
        }
        result.differences = found.sorted { ($0.collection, $0.id) < ($1.collection, $1.id) }
        return result
    }

    private struct RecordKeyPair: Hashable {
        var collection: String
        var id: String
    }
}

/// A remote's digest answer that does not follow Protocol/README.md section 14.
public enum DigestError: Error, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let detail): "The hub's digest answer is malformed: \(detail)."
        }
    }
}
