import RelaisCore
import RelaisProtocol
import Testing

/// Seeded property tests: random valid messages survive every format and encoding unchanged.
///
/// Each case prints its seed on failure; rerun with `RELAIS_SEED=<base seed>` to reproduce.
struct RoundTripPropertyTests {
    static let cases = 10_000
    let codec = MessageCodec()

    func roundTrip<M: WireMessage>(_ message: M, seed: UInt64, index: Int, rng: inout SplitMix64) throws -> Bool {
        for format in WireFormat.allCases {
            let encoding = rng.pick(ContentEncoding.allCases)
            let body = try codec.encode(message, format: format, encoding: encoding)
            let decoded = try codec.decode(
                M.self,
                from: body,
                contentType: format.contentType,
                contentEncoding: encoding.headerValue
            )
            #expect(decoded == message, "seed \(seed) (case \(index)): \(format) + \(encoding)")
            if decoded != message { return false }
        }
        return true
    }

    @Test func pushRequestsRoundTrip() throws {
        let base = PropertySeed.base
        for index in 0..<Self.cases {
            let seed = SplitMix64.caseSeed(base: base, index: index)
            var generator = RandomMessages(seed: seed)
            let push = generator.pushRequest()
            guard try roundTrip(push, seed: seed, index: index, rng: &generator.rng) else { return }
        }
    }

    @Test func pullResponsesRoundTrip() throws {
        let base = PropertySeed.base &+ 1
        for index in 0..<Self.cases {
            let seed = SplitMix64.caseSeed(base: base, index: index)
            var generator = RandomMessages(seed: seed)
            let page = generator.pullResponse()
            guard try roundTrip(page, seed: seed, index: index, rng: &generator.rng) else { return }
        }
    }

    @Test func coreValuesRoundTrip() throws {
        let base = PropertySeed.base &+ 2
        for index in 0..<Self.cases {
            let seed = SplitMix64.caseSeed(base: base, index: index)
            var generator = RandomMessages(seed: seed)
            let wire = generator.value()
            let value = try Value(wire)
            #expect(Relais_V1_Value(value) == wire, "seed \(seed) (case \(index))")
            let vector = try VersionVector(generator.vector(maxEntries: 50))
            #expect(try VersionVector(Relais_V1_VersionVector(vector)) == vector, "seed \(seed) (case \(index))")
        }
    }
}

/// Conversions between wire messages and core values.
struct ConversionTests {
    @Test func valuesConvertBothWays() throws {
        let values: [Value] = [
            .null, .text(""), .text("é😀"), .number(-0.5), .bool(true), .date("2026-11-28"), .set([]), .set(["a", "b"]),
        ]
        for value in values {
            #expect(try Value(Relais_V1_Value(value)) == value)
            #expect(try Relais_V1_Value(value).core == value)
        }
        // Sets are normalised both ways.
        var wire = Relais_V1_Value()
        wire.set.items = ["b", "a", "b"]
        #expect(try Value(wire) == .set(["a", "b"]))
        #expect(Relais_V1_Value(.set(["b", "a"])).set.items == ["a", "b"])
    }

    @Test func dotsVectorsAndTimesConvert() throws {
        let dot = Dot(replica: ReplicaID(9), counter: 77)
        #expect(Relais_V1_Dot(dot).core == dot)
        #expect(Dot(Relais_V1_Dot(dot)) == dot)
        let vector = VersionVector([ReplicaID(5): 2, ReplicaID(1): 9, ReplicaID(300): 1])
        let wire = Relais_V1_VersionVector(vector)
        #expect(wire.entries.map(\.replica) == [1, 5, 300])
        #expect(try wire.core == vector)
        // Zero entries are dropped; order does not matter.
        var unsorted = Relais_V1_VersionVector()
        for (replica, counter) in [(5, 2), (1, 9), (2, 0), (300, 1)] as [(UInt32, UInt64)] {
            var entry = Relais_V1_VectorEntry()
            entry.replica = replica
            entry.counter = counter
            unsorted.entries.append(entry)
        }
        #expect(try VersionVector(unsorted) == vector)
        let time = HLC(physicalMillis: 1_764_316_800_000, logical: 3)
        #expect(HLC(wire: time.rawValue) == time)
        let field = Relais_V1_FieldVersion(field: "status", value: .text("active"), dot: dot, hlc: time)
        #expect(field.hlc == time.rawValue && field.dot.core == dot)
        #expect(try field.value.core == .text("active"))
    }
}
