import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A replica file holds the customers of a territory (and the token file beside it, ``TokenFile``,
/// the device's token): on a lost laptop, only its owner's account may read them (docs/SECURITY.md,
/// "A lost laptop").
///
/// - Folders made for a new file are created `0700`.
/// - A new file is created `0600` before SQLite opens it; SQLite gives its write-ahead log and
///   shared-memory files the database file's mode, so they are `0600` too.
/// - An existing file (and its log) that others may read is narrowed to `0600` when opened: a laptop
///   upgraded from a program that created it `0644` is fixed at its next start.
enum ReplicaFiles {
    static let fileMode: mode_t = 0o600
    static let folderMode: mode_t = 0o700

    /// Makes `path` ready for SQLite: its folder and the file itself exist, owner-only.
    static func prepare(_ path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(
                    atPath: folder, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: Int(folderMode)])
            } catch {
                throw ReplicaError(.storage, "cannot create the folder \(folder): \(error)")
            }
        }
        // O_EXCL: an existing file is never opened here. Closing a descriptor of a database file drops
        // every POSIX lock this process holds on it, those of a connection already open on it
        // included (SQLite's documented pitfall), and the next write of that connection fails.
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        if descriptor >= 0 { close(descriptor) }
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard stat(file, &info) == 0, info.st_mode & 0o077 != 0, info.st_uid == geteuid() else { continue }
            _ = chmod(file, (info.st_mode & 0o700) | 0o600)
        }
    }
}
