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
        // digest.json: the view digest vectors, checked by DigestTests (scripts/digest-vectors.py).
        for file in files where file != "README.md" && file != "digest.json" {
            let name = String(file.prefix { $0 != "." })
            #expect(names.contains(name), "Protocol/vectors/\(file) is not in the catalog")
        }
        let index = try String(contentsOf: Repository.vectors.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(index == GoldenVectors.index())
    }
}
