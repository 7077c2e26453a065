import Foundation

/// A `relais-hub serve` child process on loopback.
public final class HubProcess: @unchecked Sendable {
    public let process: SpawnedProcess
    /// `http://127.0.0.1:PORT`, as the hub printed it.
    public let url: String

    /// Starts the hub on `port` (0: a free one) and waits, off the thread pool, until it prints its address.
    public static func start(data: String, in folder: String? = nil, port: Int = 0) async throws -> HubProcess {
        try await start(store: ["--data", data], in: folder, port: port)
    }

    /// Starts the hub on the store `store` names (`--data DIR`, `--postgres URL`, or `--config FILE`).
    /// `environment` is added to this process's own.
    public static func start(
        store: [String], in folder: String? = nil, port: Int = 0, environment: [String: String] = [:]
    ) async throws -> HubProcess {
        try await ChildProcess.offPool {
            try HubProcess(store: store, in: folder, port: port, environment: environment)
        }
    }

    private init(store: [String], in folder: String?, port: Int, environment extra: [String: String]) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = "warning"
        environment.merge(extra) { _, new in new }
        process = try SpawnedProcess(
            BuiltExecutable.url("relais-hub").path, ["serve"] + store + ["--port", String(port)],
            environment: environment, currentDirectory: folder, stdout: .pipe)
        var line = Data()
        let handle = process.standardOutput!
        while true {
            let byte = handle.readData(ofLength: 1)
            guard !byte.isEmpty else { break }
            if byte == Data([10]) {
                if let text = String(data: line, encoding: .utf8), text.contains("listening on"),
                    let range = text.range(of: "https://") ?? text.range(of: "http://")
                {
                    url = String(text[range.lowerBound...]).trimmingCharacters(in: .whitespaces)
                    return
                }
                line.removeAll()
            } else {
                line.append(byte)
            }
        }
        process.terminate()
        process.wait()
        throw HubProcessError(message: "relais-hub serve exited without printing its address")
    }

    /// The port the hub listens on.
    public var port: Int { Int(url.split(separator: ":").last ?? "0") ?? 0 }

    /// Runs a short `relais-hub` command to completion and returns what it printed.
    public static func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let output = try await ChildProcess.run(BuiltExecutable.url("relais-hub"), arguments)
        return (output.status, output.stdout, output.stderr)
    }

    /// Sends `signal` (SIGKILL: a crash) and waits, off the thread pool, for the process to end.
    public func kill(_ signal: Int32) async throws {
        process.signal(signal)
        try await process.waitOffPool()
    }

    /// Sends `signal` (SIGHUP: reload the TLS certificate) without waiting.
    public func signal(_ signal: Int32) {
        process.signal(signal)
    }

    /// Whether the hub still runs.
    public var isRunning: Bool { process.isRunning }

    /// Stops the hub gracefully (SIGTERM) and waits for it.
    public func stop() {
        if process.isRunning {
            process.terminate()
            process.wait()
        }
    }

    deinit { stop() }
}

/// The hub exited before it printed its address.
public struct HubProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) { self.message = message }
}
