import Foundation
import RelaisTesting
import Testing

/// What a finished command printed and how it exited.
struct ToolResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    /// The standard output parsed as JSON.
    func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed])
    }

    /// The standard output parsed as a JSON object.
    func object() throws -> [String: Any] {
        try #require(try json() as? [String: Any], "expected a JSON object, got: \(stdout)")
    }

    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs the built `relais` and `relais-hub` executables (and `sqlite3`) as a user would.
enum Tools {
    /// The built `relais` or `relais-hub` (``BuiltExecutable``), or the system's `sqlite3`.
    static func executable(_ name: String) -> String {
        if name == "sqlite3" { return "/usr/bin/sqlite3" }
        return BuiltExecutable.path(name)
    }

    /// Runs `name args...` to completion in `folder` (waiting off Swift concurrency's thread pool).
    @discardableResult
    static func run(_ name: String, _ arguments: [String], in folder: String, input: String? = nil) async throws
        -> ToolResult
    {
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = "warning"
        let result = try await ChildProcess.run(
            URL(fileURLWithPath: executable(name)), arguments, environment: environment,
            currentDirectory: URL(fileURLWithPath: folder), input: input)
        return ToolResult(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }
}

/// A `relais-hub serve` child process on loopback.
final class HubProcess: @unchecked Sendable {
    let process: Process
    let url: String
    let output: Pipe

    /// Starts the hub on `port` (0: a free one) and waits, off the thread pool, until it prints its address.
    static func start(data: String, in folder: String, port: Int = 0) async throws -> HubProcess {
        try await start(store: ["--data", data], in: folder, port: port)
    }

    /// Starts the hub on the store `store` names (`--data DIR` or `--postgres URL`).
    static func start(store: [String], in folder: String, port: Int = 0) async throws -> HubProcess {
        try await ChildProcess.offPool { try HubProcess(store: store, in: folder, port: port) }
    }

    private init(store: [String], in folder: String, port: Int) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Tools.executable("relais-hub"))
        process.arguments = ["serve"] + store + ["--port", String(port)]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = "warning"
        process.environment = environment
        output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let handle = output.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            guard !byte.isEmpty else { break }
            if byte == Data([10]) {
                if let text = String(data: line, encoding: .utf8), let range = text.range(of: "http://") {
                    url = String(text[range.lowerBound...]).trimmingCharacters(in: .whitespaces)
                    return
                }
                line.removeAll()
            } else {
                line.append(byte)
            }
        }
        process.terminate()
        throw HubProcessError(message: "relais-hub serve exited without printing its address")
    }

    /// The port the hub listens on.
    var port: Int { Int(url.split(separator: ":").last ?? "0") ?? 0 }

    /// Stops the hub gracefully (SIGTERM) and waits for it.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

struct HubProcessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
