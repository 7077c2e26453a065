import Crypto
import Foundation
import RelaisProtocol

/// The laptop's folder for snapshots (`FILE.snapshot/` beside the replica file), owner-only: a part
/// being downloaded (`DIGEST.part`), the complete download (`DIGEST.snapshot`) and the replica file
/// inflated from it (`DIGEST.db`). Emptied once a snapshot is applied.
struct SnapshotFolder {
    let path: String

    /// The folder beside a replica file.
    init(replica: String) { path = replica + ".snapshot" }

    init(path: String) { self.path = path }

    /// Creates the folder, readable by its owner only.
    func prepare() throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { return }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SyncError(.protocolFailure, "cannot create the snapshot folder \(path): \(error)")
        }
    }

    /// The part being downloaded, if any: its digest (from its name) and size.
    func part() -> (digest: String, bytes: Int64)? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return nil }
        for name in names where name.hasSuffix(".part") {
            let digest = String(name.dropLast(".part".count))
            guard Self.isDigest(digest) else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: partPath(digest))[.size] as? NSNumber)?
                .int64Value
            return (digest, size ?? 0)
        }
        return nil
    }

    func partPath(_ digest: String) -> String { path + "/" + digest + ".part" }

    /// Removes every file in the folder.
    func removeAll() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            try? FileManager.default.removeItem(atPath: path + "/" + name)
        }
    }

    /// Removes the folder and everything in it.
    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Opens `file` for writing at `offset` (created owner-only when absent, cut at `offset`).
    func openForAppend(_ file: String, at offset: Int64) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: file) {
            guard FileManager.default.createFile(atPath: file, contents: nil, attributes: [.posixPermissions: 0o600])
            else { throw SyncError(.protocolFailure, "cannot create \(file)") }
        }
        guard let handle = FileHandle(forWritingAtPath: file) else {
            throw SyncError(.protocolFailure, "cannot write \(file)")
        }
        try handle.truncate(atOffset: UInt64(offset))
        try handle.seek(toOffset: UInt64(offset))
        return handle
    }

    /// Checks a complete part against its digest and renames it `DIGEST.snapshot`. A part that does
    /// not match is removed.
    func complete(_ part: String, digest: String) throws -> String {
        var hash = SHA256()
        guard let input = FileHandle(forReadingAtPath: part) else {
            throw SyncError(.protocolFailure, "cannot read the snapshot \(part)")
        }
        defer { try? input.close() }
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            hash.update(data: chunk)
        }
        let actual = hash.finalize().map { String(format: "%02x", $0) }.joined()
        guard actual == digest else {
            removeAll()
            throw SyncError(
                .protocolFailure, "the snapshot downloaded does not match its digest (\(actual), expected \(digest))")
        }
        let complete = path + "/" + digest + ".snapshot"
        try? FileManager.default.removeItem(atPath: complete)
        try FileManager.default.moveItem(atPath: part, toPath: complete)
        return complete
    }

    /// Inflates a complete snapshot (zlib) into a replica file, refusing more than `maxBytes` out.
    func inflate(_ compressed: String, digest: String, maxBytes: Int64) throws -> String {
        let output = path + "/" + digest + ".db"
        try? FileManager.default.removeItem(atPath: output)
        var limits = ProtocolLimits.default
        limits.maxBodyBytes = Int.max
        limits.maxDecompressedBytes = Int(clamping: maxBytes)
        limits.maxExpansionRatio = Int.max
        let inflater = try Inflater(encoding: .deflate, limits: limits)
        guard let input = FileHandle(forReadingAtPath: compressed) else {
            throw SyncError(.protocolFailure, "cannot read the snapshot \(compressed)")
        }
        defer { try? input.close() }
        let out = try openForAppend(output, at: 0)
        defer { try? out.close() }
        // 64 KiB in at a time: what it inflates to is written out before the next, so the output
        // buffer stays small and is reused (1 MiB in grew it to the whole file, copied at each
        // doubling: 17 ms instead of 10.6 for a 10,000-customer snapshot).
        while let chunk = try input.read(upToCount: 1 << 16), !chunk.isEmpty {
            try inflater.feed(chunk)
            try out.write(contentsOf: inflater.drain())
        }
        try out.write(contentsOf: inflater.finish())
        return output
    }

    /// The digest an `ETag` names (`"hex"`), or nil when it is not a SHA-256 in hex.
    static func digest(fromTag tag: String) -> String? {
        var text = tag
        if text.hasPrefix("W/") { return nil }
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = String(text.dropFirst().dropLast()) }
        return isDigest(text) ? text : nil
    }

    static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
