// Writes the golden test vectors (Protocol/vectors/) from the catalog in
// Tests/RelaisProtocolTests/Support/GoldenVectors.swift. Built and run by scripts/write-vectors.sh, which
// copies the catalog and PrettyJSON.swift beside this file; GoldenVectorTests checks the result.
import Foundation
import RelaisProtocol

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: write-vectors FOLDER\n".utf8))
    exit(2)
}
let folder = URL(fileURLWithPath: CommandLine.arguments[1])
let codec = MessageCodec()

func write(_ bytes: [UInt8], _ name: String) throws {
    try Data(bytes).write(to: folder.appendingPathComponent(name))
}

try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
for vector in GoldenVectors.all {
    let binary = try vector.binary(codec)
    try write(binary, "\(vector.name).bin")
    try write(try ContentEncoding.deflate.compress(binary, level: 6), "\(vector.name).deflate")
    try write(PrettyJSON.format(try vector.json(codec)), "\(vector.name).json")
}
try write(Array(GoldenVectors.index().utf8), "README.md")
print("Wrote \(GoldenVectors.all.count) vectors and their index to \(folder.path)")
