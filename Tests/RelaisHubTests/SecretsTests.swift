import Foundation
import Testing

@testable import RelaisHub

/// The hub's random identifiers: their shapes, and that the system generator gives exactly the bytes
/// asked for, every value of a byte among them.
struct SecretsTests {
    @Test func theSystemGeneratorGivesTheBytesAskedFor() {
        let secrets = SecretGenerator.system
        var seen = Set<UInt8>()
        for count in [0, 1, 7, 8, 9, 16, 31, 32, 33, 100] {
            let draws = (0..<40).map { _ in secrets.randomBytes(count) }
            #expect(draws.allSatisfy { $0.count == count }, "\(count) bytes")
            for draw in draws { seen.formUnion(draw) }
            if count >= 8 { #expect(Set(draws).count == draws.count, "repeated draws of \(count) bytes") }
        }
        #expect(seen.count == 256, "only \(seen.count) byte values seen")
    }

    @Test func idsAreVersion4UUIDsInLowercaseCanonicalForm() throws {
        let secrets = SecretGenerator.system
        let pattern = try Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        var ids = Set<String>()
        var digits = Set<Character>()
        for _ in 0..<2_000 {
            let id = secrets.uuid()
            #expect(id.wholeMatch(of: pattern) != nil, "\(id)")
            #expect(UUID(uuidString: id)?.uuidString.lowercased() == id)
            ids.insert(id)
            digits.formUnion(id.filter { $0 != "-" })
        }
        #expect(ids.count == 2_000)
        #expect(digits.count == 16)
        // The layout, from known bytes.
        let fixed = SecretGenerator { count in Array(0..<UInt8(count)).map { $0 &* 17 } }
        #expect(fixed.uuid() == "00112233-4455-4677-8899-aabbccddeeff")
    }

    @Test func tokensAndCodesKeepTheirShape() {
        let secrets = SecretGenerator.system
        let token = secrets.token()
        #expect(token.hasPrefix("rlt_") && token.count == 47)
        #expect(secrets.hubEpoch().count == 32)
        #expect(secrets.enrollmentCode().count == 19)
    }
}
