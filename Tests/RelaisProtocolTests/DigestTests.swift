import Foundation
import RelaisCore
import RelaisTesting
import Testing

@testable import RelaisProtocol

/// The view digest of Protocol/README.md section 14: the encoding against vectors written by a second
/// implementation, and the range-based reconciliation's results and bytes.
@Suite struct DigestTests {
    /// Protocol/vectors/digest.json, written by scripts/digest-vectors.py (Python, from the README).
    @Test func recordsDigestAsTheGoldenVectorsSay() throws {
        let data = try Data(contentsOf: Repository.vectors.appendingPathComponent("digest.json"))
        let file = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let records = try #require(file["records"] as? [[String: Any]])
        #expect(records.count >= 4)
        var view = DigestSum()
        for record in records {
            let collection = try #require(record["collection"] as? String)
            let id = try #require(record["id"] as? String)
            var vector = VersionVector.empty
            for (replica, counter) in try #require(record["vector"] as? [String: Int]) {
                vector[ReplicaID(UInt32(replica)!)] = UInt64(counter)
            }
            var values: [String: Value] = [:]
            for (name, raw) in try #require(record["fields"] as? [String: [String: Any]]) {
                let (kind, payload) = try #require(raw.first)
                switch kind {
                case "text": values[name] = .text(payload as! String)
                case "date": values[name] = .date(payload as! String)
                case "number": values[name] = .number((payload as! NSNumber).doubleValue)
                case "bool": values[name] = .bool((payload as! NSNumber).boolValue)
                case "set": values[name] = .set(payload as! [String])
                default: values[name] = .null
                }
            }
            var encoder = RecordDigestEncoder()
            let digest = encoder.digest(collection: collection, id: id, vector: vector, values: values)
            #expect(
                encoder.lastEncoding.map { String(format: "%02x", $0) }.joined() == record["encoding"] as? String,
                "\(id)")
            #expect(String(digest.position, radix: 16).leftPadded(15) == record["position"] as? String, "\(id)")
            #expect(digest.hash.description == record["hash"] as? String, "\(id)")
            #expect(RecordDigest(stored: digest.stored) == digest)
            view.add(digest.hash)
        }
        let expected = try #require(file["view"] as? [String: Any])
        #expect(view.count == (expected["count"] as? NSNumber)?.uint64Value)
        #expect(view.xor.description == expected["xor"] as? String)
    }

    @Test func nullsAndEmptySetsCountAsAbsentAndMinusZeroAsZero() {
        let id = "0b5e7c1a-3f2d-4e8b-9a61-2c4d5e6f7a80"
        let vector = VersionVector([ReplicaID(2): 3])
        let plain = RecordDigest.of(collection: "customers", id: id, vector: vector, values: ["score": .number(0)])
        let padded = RecordDigest.of(
            collection: "customers", id: id, vector: vector,
            values: ["score": .number(-0.0), "phone": .null, "tags": .set([])])
        #expect(plain == padded)
        // Every part of a record counts: key, vector entry, field name, value, value kind.
        let others = [
            RecordDigest.of(collection: "contacts", id: id, vector: vector, values: ["score": .number(0)]),
            RecordDigest.of(
                collection: "customers", id: id, vector: VersionVector([ReplicaID(2): 4]), values: ["score": .number(0)]
            ),
            RecordDigest.of(collection: "customers", id: id, vector: vector, values: ["rank": .number(0)]),
            RecordDigest.of(collection: "customers", id: id, vector: vector, values: ["score": .number(1)]),
            RecordDigest.of(collection: "customers", id: id, vector: vector, values: ["score": .text("0")]),
            RecordDigest.of(collection: "customers", id: id, vector: vector, values: ["score": .date("0")]),
        ]
        for other in others { #expect(other.hash != plain.hash) }
        #expect(others[1].position == plain.position, "the position depends on the key alone")
        #expect(others[0].position != plain.position)
    }

    @Test func rangesSplitPositionsByHexadecimalDigits() throws {
        let range = try #require(DigestRange(level: 2, prefix: 0xA7))
        #expect(range.contains(0xA7F_FFFF_FFFF_FFFF))
        #expect(range.contains(0xA70_0000_0000_0000))
        #expect(!range.contains(0xA80_0000_0000_0000))
        #expect(!range.contains(0xA6F_FFFF_FFFF_FFFF))
        #expect(range.lowerBound == 0xA70_0000_0000_0000 && range.upperBound == 0xA80_0000_0000_0000)
        #expect(range.children.count == 16)
        #expect(range.children.allSatisfy { $0.level == 3 && $0.prefix >> 4 == 0xA7 })
        #expect(DigestRange(level: 2, prefix: 0x100) == nil)
        #expect(DigestRange(level: 16, prefix: 0) == nil)
        #expect(DigestRange(level: 15, prefix: 5)?.children.isEmpty == true)
        #expect(DigestRange.root.contains(UInt64(1) << 59))
    }

    /// One record differs among 100,000: the exchange finds it, and only it, in a few kilobytes.
    @Test func oneDifferingRecordAmongAHundredThousandCostsAFewKilobytes() async throws {
        var random = SeededRandom(seed: SeededRandom.seed(default: 20_261_205))
        let hub = (0..<100_000).map { _ in Self.entry(&random) }
        var laptop = hub
        let changed = 41_234
        laptop[changed].digest.hash.low ^= 1
        let extra = Self.entry(&random)
        laptop.append(extra)
        let missing = laptop.remove(at: 77_000)
        let (result, bytes) = try await Self.reconcile(local: DigestIndex(laptop), remote: DigestIndex(hub))
        #expect(
            Set(result.differences)
                == [
                    .init(collection: hub[changed].collection, id: hub[changed].id, kind: .changed),
                    .init(collection: extra.collection, id: extra.id, kind: .extra),
                    .init(collection: missing.collection, id: missing.id, kind: .missing),
                ])
        // Three records among 100,000: each found by about 4 levels of 16 digests and one leaf.
        #expect(bytes < 9_000, "\(bytes) bytes for three differing records")

        laptop = hub
        laptop[changed].digest.hash.high ^= 1 << 63
        let (one, oneBytes) = try await Self.reconcile(local: DigestIndex(laptop), remote: DigestIndex(hub))
        #expect(one.differences.map(\.id) == [hub[changed].id])
        #expect(oneBytes < 3_000, "\(oneBytes) bytes for one differing record")
        print("digest exchange: \(oneBytes) bytes, \(one.requests) requests for one differing record among 100,000")
    }

    @Test func equalViewsCostOneRequestAndRandomDifferencesAreAllFound() async throws {
        var random = SeededRandom(seed: SeededRandom.seed(default: 20_261_206))
        let hub = (0..<5_000).map { _ in Self.entry(&random) }
        let (equal, _) = try await Self.reconcile(local: DigestIndex(hub), remote: DigestIndex(hub))
        #expect(equal.differences.isEmpty)
        #expect(equal.requests == 1)
        for _ in 0..<20 {
            var laptop = hub
            var expected = Set<String>()
            for _ in 0..<Int.random(in: 1...60, using: &random) {
                let index = Int.random(in: 0..<laptop.count, using: &random)
                // A changed record hashes to new, unrelated bytes.
                if expected.insert(laptop[index].id).inserted {
                    laptop[index].digest.hash = RecordHash(high: random.next(), low: random.next())
                }
            }
            let (result, _) = try await Self.reconcile(local: DigestIndex(laptop), remote: DigestIndex(hub))
            #expect(Set(result.differences.map(\.id)) == expected)
            #expect(result.differences.allSatisfy { $0.kind == .changed })
        }
    }

    /// Runs a reconciliation against `remote` through the wire messages, counting their bytes.
    static func reconcile(local: DigestIndex, remote: DigestIndex) async throws -> (DigestReconciliation, Int) {
        var bytes = 0
        let result = try await DigestReconciliation.run(local: local) { ranges in
            var request = Relais_V1_DigestRequest()
            request.ranges = ranges.map(\.wire)
            let asked = try request.protobufBytes()
            bytes += asked.count
            var response = Relais_V1_DigestResponse()
            response.ranges = try Relais_V1_DigestRequest(protobufBytes: asked).ranges.map {
                remote.answer(DigestRange($0)!)
            }
            let wire = try response.protobufBytes()
            bytes += wire.count
            return try Relais_V1_DigestResponse(protobufBytes: wire).ranges
        }
        return (result, bytes)
    }

    static func entry(_ random: inout SeededRandom) -> DigestEntry {
        let id = UUID(
            uuid: (
                UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
                UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
                UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random), 0x40,
                UInt8.random(in: 0...255, using: &random), 0x80, UInt8.random(in: 0...255, using: &random),
                UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
                UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random),
                UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random)
            )
        ).uuidString.lowercased()
        let digest = RecordDigest.of(
            collection: "customers", id: id, vector: VersionVector([ReplicaID(3): random.next() % 1000 + 1]),
            values: ["name": .text("customer \(random.next() % 100_000)")])
        return DigestEntry(collection: "customers", id: id, digest: digest)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
