import ArgumentParser
import Foundation
import RelaisHub

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue, list or revoke admin API tokens.",
        subcommands: [Issue.self, List.self, Revoke.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue an admin API token for an admin user; it is printed once, never again.",
            discussion: """
                Works while `serve` runs. Keep the token in a file readable by its owner only and give
                it to `relais admin --token-file`.

                  relais-hub token issue --user alice --data /var/lib/relais > ~/.relais-admin-token
                """)

        @Option(help: "The admin the token authenticates as.") var user: String
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let (token, id) = try await withHub(store) { hub in
                let token = try await hub.issueAPIToken(for: user)
                return (token, APIToken(tokenHash: Secrets.hash(token), user: user, createdAt: 0).id)
            }
            if json { try printJSON(["user": user, "token": token, "id": id]) } else { print(token) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the admin API tokens by id (never the tokens themselves).",
            discussion: "  relais-hub token list --data /var/lib/relais --json")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let tokens = try await withHub(store) { hub in try await hub.apiTokens() }
            func iso(_ millis: UInt64) -> String {
                ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
            }
            if json {
                try printJSON(
                    tokens.map { token -> [String: Any] in
                        var object: [String: Any] = [
                            "id": token.id, "user": token.user, "created_at": iso(token.createdAt),
                            "status": token.revokedAt == nil ? "active" : "revoked",
                        ]
                        if let revoked = token.revokedAt { object["revoked_at"] = iso(revoked) }
                        return object
                    })
            } else {
                print("ID\tUSER\tCREATED\tSTATUS")
                for token in tokens {
                    let status = token.revokedAt.map { "revoked \(iso($0))" } ?? "active"
                    print("\(token.id)\t\(token.user)\t\(iso(token.createdAt))\t\(status)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an admin API token: it stops working at the next request (works while `serve` runs).",
            discussion: "  relais-hub token revoke 3f9a0c12b7e4 --data /var/lib/relais")

        @Argument(help: "The token's id, as `token list` shows it (at least 8 hex digits).") var id: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let token = try await withHub(store) { hub in try await hub.revokeAPIToken(id: id) }
            print("Revoked admin token \(token.id) (\(token.user)).")
        }
    }
}
