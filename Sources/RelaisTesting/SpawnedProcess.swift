public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn`, for tests and the simulator.
///
/// Foundation's `Process.run()` on Linux (Swift 6.3.1) lists `/proc/self/fd` to close the parent's
/// descriptors in the child and overruns its buffer once the parent holds about a thousand of them
/// (swiftlang/swift-corelibs-foundation#5472), which the test suite reaches with its parallel hubs.
/// This spawns with glibc's `posix_spawn_file_actions_addclosefrom_np` instead: the child keeps only
/// its three standard streams, closed by the kernel (`close_range`), with no listing.
public final class SpawnedProcess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// A pipe; this side's end is in ``standardInput``, ``standardOutput`` or ``standardError``.
        case pipe
        /// Appended to the file at this path, created when missing.
        case file(String)
        /// The same stream as this process's.
        case inherit
    }

    /// How the child ended.
    public struct Termination: Sendable, Equatable {
        /// The exit status, or the signal's number when ``signalled``.
        public var status: Int32
        /// Ended by a signal (SIGKILL: a crash) rather than by exiting.
        public var signalled: Bool

        public init(status: Int32, signalled: Bool) {
            self.status = status
            self.signalled = signalled
        }
    }

    public let pid: pid_t
    /// This side of the child's standard input, when it is a ``Stream/pipe``.
    public let standardInput: FileHandle?
    /// This side of the child's standard output, when it is a ``Stream/pipe``.
    public let standardOutput: FileHandle?
    /// This side of the child's standard error, when it is a ``Stream/pipe``.
    public let standardError: FileHandle?
    private let ended = Mutex<Termination?>(nil)

    /// Starts `executable` (a path) with `arguments`. `environment` replaces this process's when given.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: String? = nil, stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var ours: [FileHandle?] = []
        var theirs: [Int32] = []
        defer { for fd in theirs { close(fd) } }
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .inherit:
                ours.append(nil)
            case .null:
                try Self.check(posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0))
                ours.append(nil)
            case .file(let path):
                try Self.check(
                    posix_spawn_file_actions_addopen(
                        &actions, target, path, O_WRONLY | O_CREAT | O_APPEND, 0o644))
                ours.append(nil)
            case .pipe:
                var ends: [Int32] = [0, 0]
                guard pipe(&ends) == 0 else { throw SpawnError(call: "pipe", code: errno) }
                // Other children close it anyway (closefrom); this keeps it from any other exec.
                for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
                // The child reads standard input's pipe and writes the others.
                let (child, parent) = target == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
                theirs.append(child)
                ours.append(FileHandle(fileDescriptor: parent, closeOnDealloc: true))
                // dup2 onto 0, 1 or 2 clears close-on-exec for the child's copy only.
                try Self.check(posix_spawn_file_actions_adddup2(&actions, child, target))
            }
        }
        try Self.check(Self.closeFrom(&actions, 3))
        if let currentDirectory { try Self.check(Self.changeDirectory(&actions, currentDirectory)) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envp: [UnsafeMutablePointer<CChar>?] =
            (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard code == 0 else { throw SpawnError(call: "posix_spawn \(executable)", code: code) }
        self.pid = pid
        standardInput = ours[0]
        standardOutput = ours[1]
        standardError = ours[2]
    }

    /// Sends `signal` unless the child has already been reaped.
    public func signal(_ signal: Int32) {
        ended.withLock { if $0 == nil { _ = kill(pid, signal) } }
    }

    /// SIGTERM: an orderly stop.
    public func terminate() { signal(SIGTERM) }

    /// Whether the child has not ended yet.
    public var isRunning: Bool { poll() == nil }

    /// How the child ended, or nil while it runs. Never blocks.
    public func poll() -> Termination? {
        ended.withLock { ended in
            if ended == nil { ended = Self.reap(pid, options: WNOHANG) }
            return ended
        }
    }

    /// Blocks the calling thread until the child ends (call it off Swift concurrency's pool).
    @discardableResult
    public func wait() -> Termination {
        // Wait without reaping, so that several threads may wait and `poll()` never blocks on a lock.
        var info = siginfo_t()
        while ended.withLock({ $0 }) == nil, waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1,
            errno == EINTR
        {}
        return ended.withLock { ended in
            if ended == nil { ended = Self.reap(pid, options: 0) }
            return ended ?? Termination(status: -1, signalled: false)
        }
    }

    /// Waits off the thread pool.
    @discardableResult
    public func waitOffPool() async throws -> Termination {
        try await ChildProcess.offPool { self.wait() }
    }

    deinit {
        if ended.withLock({ $0 }) == nil {
            _ = kill(pid, SIGKILL)
            wait()
        }
    }

    private static func reap(_ pid: pid_t, options: Int32) -> Termination? {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, options) } while result == -1 && errno == EINTR
        guard result == pid else { return result == -1 ? Termination(status: -1, signalled: false) : nil }
        let signal = status & 0x7f
        return signal == 0
            ? Termination(status: (status >> 8) & 0xff, signalled: false)
            : Termination(status: signal, signalled: true)
    }

    private static func check(_ code: Int32) throws {
        guard code == 0 else { throw SpawnError(call: "posix_spawn_file_actions", code: code) }
    }

    // glibc declares these only under _GNU_SOURCE, which Swift's Glibc module does not set.
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private typealias ChangeDirectory =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    private static func closeFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ fd: Int32) -> Int32 {
        glibc("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self).map { $0(actions, fd) } ?? ENOSYS
    }

    private static func changeDirectory(
        _ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String
    ) -> Int32 {
        glibc("posix_spawn_file_actions_addchdir_np", as: ChangeDirectory.self).map { $0(actions, path) } ?? ENOSYS
    }

    /// The function glibc exports as `name`, nil when this glibc has none.
    private static func glibc<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(dlopen(nil, RTLD_NOW), name).map { unsafeBitCast($0, to: type) }
    }
}

/// A system call made to start a child failed.
public struct SpawnError: Error, CustomStringConvertible {
    public var call: String
    public var code: Int32
    public var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
}
