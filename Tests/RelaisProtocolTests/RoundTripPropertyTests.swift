import RelaisCore
import RelaisProtocol
import RelaisTesting
import Testing

/// Seeded property tests: random valid messages survive every format and encoding unchanged.
///
/// Run by ``Property``: a failure names its seed and case and the command that replays it.
struct RoundTripPropertyTests {
    static let cases = 10_000
    let codec = MessageCodec()

    /// Nil when `message` survives every format (with a random encoding) unchanged; else what changed.
    func roundTrip<M: WireMessage>(_ message: M, rng: inout SeededRandom) throws -> String? {
        for format in WireFormat.allCases {
            let encoding = rng.pick(ContentEncoding.allCases)
            let body = try codec.encode(message, format: format, encoding: encoding)
            let decoded = try codec.decode(
                M.self,
                from: body,
                contentType: format.contentType,
                contentEncoding: encoding.headerValue
            )
            if decoded != message { return "\(format) + \(encoding) changed the message" }
        }
        return nil
    }

    @Test func pushRequestsRoundTrip() throws {
        try Property.check("pushRequestsRoundTrip", cases: Self.cases) { rng in
            var generator = RandomMessages(rng: rng)
            let push = generator.pushRequest()
            return try roundTrip(push, rng: &generator.rng)
        }
    }

    @Test func pullResponsesRoundTrip() throws {
        try Property.check("pullResponsesRoundTrip", cases: Self.cases) { rng in
            var generator = RandomMessages(rng: rng)
            let page = generator.pullResponse()
            return try roundTrip(page, rng: &generator.rng)
        }
    }

    @Test func coreValuesRoundTrip() throws {
        try Property.check("coreValuesRoundTrip", cases: Self.cases) { rng in
            var generator = RandomMessages(rng: rng)
            let wire = generator.value()
            guard Relais_V1_Value(try Value(wire)) == wire else { return "the value \(wire) changed" }
            let vector = try VersionVector(generator.vector(maxEntries: 50))
            guard try VersionVector(Relais_V1_VersionVector(vector)) == vector else {
                return "the vector \(vector) changed"
            }
            return nil
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
