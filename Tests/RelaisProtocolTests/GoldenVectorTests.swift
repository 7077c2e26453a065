import Foundation
import RelaisProtocol
import Testing

/// The committed vectors under Protocol/vectors/ match the catalog, in every form, both ways.
struct GoldenVectorTests {
    let codec = MessageCodec()

    func file(_ vector: GoldenVector, _ suffix: String) -> URL {
        Repository.vectors.appendingPathComponent("\(vector.name).\(suffix)")
    }

    @Test(arguments: GoldenVectors.all.map(\.name))
    func binaryAndDeflateDecodeToTheCatalogMessage(_ name: String) throws {
        let vector = try #require(GoldenVectors.all.first { $0.name == name })
        let binary = try Repository.read(file(vector, "bin"))
        let deflated = try Repository.read(file(vector, "deflate"))
        let json = try Repository.read(file(vector, "json"))
        #expect(try vector.matches(codec, binary, .protobuf, .identity))
        #expect(try vector.matches(codec, deflated, .protobuf, .deflate))
        #expect(try vector.matches(codec, json, .json, .identity))
        // The .deflate file is the zlib format (RFC 1950): CMF 0x78, and the header checksum holds.
        #expect(deflated.first == 0x78 && (UInt16(deflated[0]) << 8 | UInt16(deflated[1])) % 31 == 0)
    }

    @Test(arguments: GoldenVectors.all.map(\.name))
    func reencodingReproducesTheFilesExactly(_ name: String) throws {
        let vector = try #require(GoldenVectors.all.first { $0.name == name })
        let binary = try Repository.read(file(vector, "bin"))
        let json = try Repository.read(file(vector, "json"))
        // Binary: the catalog encodes to the committed bytes, and so does each file re-encoded.
        #expect(try vector.binary(codec) == binary)
        #expect(try vector.transcode(codec, binary, .protobuf, .protobuf) == binary)
        #expect(try vector.transcode(codec, json, .json, .protobuf) == binary)
        // JSON: the committed file is the canonical encoding, pretty-printed; it round-trips.
        #expect(PrettyJSON.format(try vector.json(codec)) == json)
        #expect(PrettyJSON.format(try vector.transcode(codec, json, .json, .json)) == json)
        #expect(PrettyJSON.format(try vector.transcode(codec, binary, .protobuf, .json)) == json)
    }

    @Test func everyVectorFileIsInTheCatalogAndTheIndex() throws {
        let names = Set(GoldenVectors.all.map(\.name))
        let files = try FileManager.default.contentsOfDirectory(atPath: Repository.vectors.path)
        for file in files where file != "README.md" {
            let name = String(file.prefix { $0 != "." })
            #expect(names.contains(name), "Protocol/vectors/\(file) is not in the catalog")
        }
        let index = try String(contentsOf: Repository.vectors.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(index == Self.index())
    }

    /// Rewrites Protocol/vectors/ from the catalog. Runs only with RELAIS_WRITE_VECTORS=1
    /// (`scripts/generate-protocol.sh --vectors`).
    @Test(.enabled(if: Environment.value("RELAIS_WRITE_VECTORS") == "1"))
    func writeVectors() throws {
        try FileManager.default.createDirectory(at: Repository.vectors, withIntermediateDirectories: true)
        for vector in GoldenVectors.all {
            let binary = try vector.binary(codec)
            try Repository.write(binary, to: file(vector, "bin"))
            try Repository.write(try ContentEncoding.deflate.compress(binary, level: 6), to: file(vector, "deflate"))
            try Repository.write(PrettyJSON.format(try vector.json(codec)), to: file(vector, "json"))
        }
        try Repository.write(Array(Self.index().utf8), to: Repository.vectors.appendingPathComponent("README.md"))
    }

    static func index() -> String {
        var text = """
            # Golden test vectors

            Each vector is one `relais.v1` message in three files:

            - `<name>.bin`: the binary Protocol Buffers encoding (deterministic: fields in number order,
              map entries sorted by key);
            - `<name>.deflate`: the same bytes compressed in the zlib format (RFC 1950, what
              `Content-Encoding: deflate` means), level 6. Other zlib builds may compress to different
              bytes; what must match is the message they inflate to;
            - `<name>.json`: the proto3 canonical JSON encoding, pretty-printed (two-space indent).

            An implementation passes when, for every vector, it decodes all three files to equal messages,
            re-encodes the message to exactly the bytes of `.bin`, and (if it writes JSON) to JSON that
            parses to the same message. The Swift implementation checks this in
            `Tests/RelaisProtocolTests/GoldenVectorTests.swift`; the files are written from the catalog in
            `Tests/RelaisProtocolTests/Support/GoldenVectors.swift` by
            `scripts/generate-protocol.sh --vectors`. Do not edit them by hand.

            | vector | message | what it covers |
            |---|---|---|

            """
        for vector in GoldenVectors.all {
            text += "| `\(vector.name)` | `\(vector.type)` | \(vector.summary) |\n"
        }
        return text
    }
}
