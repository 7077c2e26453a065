import RelaisCore
import RelaisTesting
import Testing

/// RelaisTesting's `Property` harness: a broken case stops the run and names what replays it.
struct PropertyHarnessTests {
    @Test func aBrokenCaseIsThrownWithItsSeedCaseAndReplay() throws {
        var seen: [UInt64] = []
        let failure = #expect(throws: Property.Failure.self) {
            try Property.check("harnessSelfTest", cases: 50) { random in
                let draw = random.next()
                seen.append(draw)
                return seen.count == 7 ? "broken on purpose" : nil
            }
        }
        #expect(seen.count == 7)
        #expect(failure?.property == "harnessSelfTest")
        #expect(failure?.index == 6)
        #expect(failure?.seed == Property.seed)
        let text = try #require(failure?.description)
        #expect(text.contains("case=6") && text.contains("broken on purpose"))
        #expect(text.contains("RELAIS_SEED=\(Property.hex(Property.seed)) RELAIS_CASE=6"))
        // The case's generator is the same whenever it runs: case 6 replays alone.
        var replay = SeededRandom(seed: Property.caseSeed("harnessSelfTest", 6))
        #expect(replay.next() == seen[6])
    }

    @Test func aThrowingCaseIsABrokenCase() {
        struct Boom: Error {}
        let failure = #expect(throws: Property.Failure.self) {
            try Property.check("harnessThrows", cases: 3) { _ in throw Boom() }
        }
        #expect(failure?.index == 0)
        #expect(failure?.problem.hasPrefix("threw") == true)
    }
}
