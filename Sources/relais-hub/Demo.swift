import ArgumentParser
import Foundation

// MARK: - demo (placeholder)
//
// `relais-hub demo` — a hub on a temporary SQLite store and a simulated sales force — is added by
// another engineer. Replace this struct's body; keep its name, it is registered in RelaisHubCommand.

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a hub on a temporary store with a simulated sales force (not yet available).")

    func run() async throws {
        print("not yet")
        throw ExitCode(1)
    }
}
