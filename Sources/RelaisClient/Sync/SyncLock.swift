import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One sync at a time on a replica file, across processes: `relais sync` and `relais agent` hold it
/// while they sync. It is an advisory `flock` on `FILE.sync-lock` (which holds the holder's process
/// id, for the message), released when the holder releases it, closes it, or dies: a crashed sync
/// never leaves a stale lock.
///
/// Two syncs of one file would not lose anything (a replayed push is answered from the hub's
/// history, a page is applied with its cursor in one transaction), but they would send the same
/// writes twice and fight over the file's write lock.
public final class SyncLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Mutex<Int32?>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    /// Takes the lock of the replica file at `replicaPath`, or throws at once if another process
    /// (or another holder in this one) has it.
    ///
    /// - Throws: ``SyncError/Code/syncInProgress`` naming the holder's process id.
    public static func acquire(for replicaPath: String) throws -> SyncLock {
        let path = replicaPath + ".sync-lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SyncError(.protocolFailure, "cannot open the sync lock \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &buffer, buffer.count, 0)
            close(descriptor)
            guard failure == EWOULDBLOCK else {
                throw SyncError(.protocolFailure, "cannot lock \(path): \(String(cString: strerror(failure)))")
            }
            let holder = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw SyncError(
                .syncInProgress,
                "another sync of \(replicaPath) is running"
                    + (holder.isEmpty ? "" : " (process \(holder), `relais agent` or `relais sync`)")
                    + ": wait for it to finish; pending writes stay pending")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
        return SyncLock(path: path, descriptor: descriptor)
    }

    /// Releases the lock (again: nothing).
    public func release() {
        descriptor.withLock { descriptor in
            guard let held = descriptor else { return }
            _ = ftruncate(held, 0)
            flock(held, LOCK_UN)
            close(held)
            descriptor = nil
        }
    }

    deinit { release() }
}
