import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The device token, kept beside the replica file (`FILE.token`, readable by its owner only) and not
/// in it: a copy of the replica file alone (sent for support, left on a share, restored from a backup
/// of the file) carries no bearer secret, and `relais enroll --rejoin` is the way back for such a copy
/// (docs/SECURITY.md "A lost laptop").
///
/// The file holds one line per replica number, `REPLICA TOKEN`: the current replica's, and, for a
/// while, the one before. A renewal or a rejoin writes the new replica's line *before* the replica
/// file commits its new number, so a crash between the two leaves a file that still finds the token
/// of whichever number it holds. A rotation replaces the line of its own number.
///
/// Every write goes to `FILE.token.tmp` (created `0600`), is synced, then renamed over the file.
struct TokenFile {
    /// `FILE.token`.
    let path: String

    init(replica: String) {
        path = replica + ".token"
    }

    /// The token kept for `replica`, if any.
    func token(for replica: UInt32) -> String? {
        entries()[replica]
    }

    /// Keeps `token` for `replica`, with at most the line of `previous` (another number) besides.
    func write(replica: UInt32, token: String, keeping previous: UInt32? = nil) throws {
        var lines = ["\(replica) \(token)"]
        if let previous, previous != replica, let kept = entries()[previous] { lines.append("\(previous) \(kept)") }
        let text = lines.joined(separator: "\n") + "\n"
        let temporary = path + ".tmp"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, ReplicaFiles.fileMode)
        guard descriptor >= 0 else {
            throw ReplicaError(.storage, "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ReplicaError(.storage, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let folder = (path as NSString).deletingLastPathComponent
        let directory = open(folder.isEmpty ? "." : folder, O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }

    /// Deletes the file.
    func remove() {
        unlink(path)
        unlink(path + ".tmp")
    }

    private func entries() -> [UInt32: String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var entries: [UInt32: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let replica = UInt32(parts[0]) else { continue }
            entries[replica] = String(parts[1])
        }
        return entries
    }
}
