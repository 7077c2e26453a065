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
