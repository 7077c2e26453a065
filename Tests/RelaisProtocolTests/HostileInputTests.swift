import RelaisCore
import RelaisProtocol
import RelaisTesting
import Testing

/// Random and mutated bytes into every decode path: only typed errors, never a crash or a hang. Run by
/// ``Property``: a failure names its seed and case and the command that replays it.
struct HostileInputTests {
    static let cases = 10_000
    let codec = MessageCodec()

    /// Valid bodies to mutate, so inputs also reach the deeper layers (inflated, parsed, validated).
    static let seeds: [(WireFormat, ContentEncoding, [UInt8])] = {
        let codec = MessageCodec()
        var out: [(WireFormat, ContentEncoding, [UInt8])] = []
        for vector in GoldenVectors.all {
            guard let binary = try? vector.binary(codec), let json = try? vector.json(codec) else { continue }
            for encoding in ContentEncoding.allCases {
                if let body = try? encoding.compress(binary) { out.append((.protobuf, encoding, body)) }
                if let body = try? encoding.compress(json) { out.append((.json, encoding, body)) }
            }
        }
        return out
    }()

    func mutate(_ bytes: [UInt8], _ rng: inout SeededRandom) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<rng.int(1...4) {
            switch rng.int(0...4) {
            case 0 where !bytes.isEmpty: bytes[rng.int(0...(bytes.count - 1))] ^= UInt8(1 << rng.int(0...7))
            case 1 where !bytes.isEmpty: bytes[rng.int(0...(bytes.count - 1))] = UInt8(truncatingIfNeeded: rng.next())
            case 2: bytes = Array(bytes.prefix(rng.int(0...bytes.count)))
            case 3: bytes.insert(contentsOf: rng.bytes(rng.int(1...8)), at: rng.int(0...bytes.count))
            default: bytes += rng.bytes(rng.int(1...4))
            }
        }
        return bytes
    }

    /// Decodes `body` as every message type; any error must be a ProtocolError with a known code and
    /// a 4xx status. Nil when so, else the first that is not.
    func decodeEverything(_ body: [UInt8], _ format: WireFormat, _ encoding: ContentEncoding) -> String? {
        func attempt<M: WireMessage>(_ type: M.Type) -> String? {
            do {
                _ = try codec.decode(type, from: body, format: format, encoding: encoding)
                return nil
            } catch {
                // `error` is statically a ProtocolError (typed throws); check it is a documented one.
                guard ProtocolError.allCodes.contains(error.code.rawValue), [400, 413, 415].contains(error.httpStatus)
                else { return "\(M.self) as \(format) + \(encoding): \(error)" }
                return nil
            }
        }
        return attempt(Relais_V1_PushRequest.self) ?? attempt(Relais_V1_PushResponse.self)
            ?? attempt(Relais_V1_PullRequest.self) ?? attempt(Relais_V1_PullResponse.self)
            ?? attempt(Relais_V1_EnrollRequest.self) ?? attempt(Relais_V1_EnrollResponse.self)
            ?? attempt(Relais_V1_ReplicaRenewRequest.self) ?? attempt(Relais_V1_Error.self)
    }

    @Test func randomBytesIntoEveryDecodePath() throws {
        try Property.check("randomBytesIntoEveryDecodePath", cases: Self.cases) { rng in
            let body = rng.bytes(rng.int(0...300))
            for format in WireFormat.allCases {
                for encoding in ContentEncoding.allCases {
                    if let problem = decodeEverything(body, format, encoding) { return problem }
                }
            }
            do throws(ProtocolError) {
                try StrictJSONScanner.validate(body, maxDepth: 32)
            } catch {
                guard [ProtocolError.malformedBody, .duplicateJSONKey, .jsonTooDeep].contains(error) else {
                    return "the JSON scanner threw \(error)"
                }
            }
            return nil
        }
    }

    @Test func mutatedValidBodiesIntoEveryDecodePath() throws {
        try Property.check("mutatedValidBodiesIntoEveryDecodePath", cases: Self.cases) { rng in
            let (format, encoding, valid) = rng.pick(Self.seeds)
            return decodeEverything(mutate(valid, &rng), format, encoding)
        }
    }

    @Test func randomBytesIntoTheIncrementalInflater() throws {
        try Property.check("randomBytesIntoTheIncrementalInflater", cases: Self.cases) { rng in
            let encoding = rng.pick([ContentEncoding.deflate, .gzip])
            // Half random bytes, half a valid header followed by random bytes.
            var body = rng.bytes(rng.int(0...400))
            if rng.chance(0.5) {
                body = (encoding == .deflate ? [0x78, 0x9C] : [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF]) + body
            }
            do throws(ProtocolError) {
                let inflater = try Inflater(encoding: encoding)
                var offset = 0
                while offset < body.count {
                    let end = min(body.count, offset + rng.int(1...64))
                    try inflater.feed(body[offset..<end])
                    offset = end
                }
                _ = try inflater.finish()
            } catch {
                guard
                    [ProtocolError.corruptStream, .truncatedStream, .trailingData, .expansionRatioExceeded].contains(
                        error)
                else { return "the inflater threw \(error)" }
            }
            return nil
        }
    }
}
