public import Foundation

/// What a finished child process printed and how it exited.
public struct ChildProcessResult: Sendable {
    /// The exit status; negative, the signal that ended it.
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs child processes (the `relais` and `relais-hub` tools) for tests without holding a thread of
/// Swift concurrency's pool.
///
/// The pool has one thread per core: two on the machines CI uses. A test that waited for a child with
/// `waitUntilExit()` on a pool thread, while the child talked to a hub served by the same test process,
/// could leave that hub with no thread to answer on. Waiting happens here on a dedicated thread instead.
public enum ChildProcess {
    /// Runs `body` on a new thread and returns its result.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    continuation.resume(returning: try body())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    /// Runs `executable arguments...` to completion.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: URL? = nil, input: String? = nil
    ) async throws -> ChildProcessResult {
        try await offPool {
            let process = try SpawnedProcess(
                executable.path, arguments, environment: environment, currentDirectory: currentDirectory?.path,
                stdin: .pipe, stdout: .pipe, stderr: .pipe)
            if let input { process.standardInput?.write(Data(input.utf8)) }
            try process.standardInput?.close()
            // Drain stderr on its own thread so a child filling one pipe never blocks on the other.
            let errData = LockedData()
            let drain = Thread { errData.set(process.standardError?.readDataToEndOfFile() ?? Data()) }
            drain.start()
            let outData = process.standardOutput?.readDataToEndOfFile() ?? Data()
            let ended = process.wait()
            let stderr = errData.wait()
            return ChildProcessResult(
                status: ended.signalled ? -ended.status : ended.status,
                stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
        }
    }
}

/// Data handed from one thread to another.
private final class LockedData: @unchecked Sendable {
    private let condition = NSCondition()
    private var data: Data?

    func set(_ value: Data) {
        condition.lock()
        data = value
        condition.signal()
        condition.unlock()
    }

    func wait() -> Data {
        condition.lock()
        defer { condition.unlock() }
        while data == nil { condition.wait() }
        return data!
    }
}
