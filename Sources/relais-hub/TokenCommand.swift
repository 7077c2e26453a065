import ArgumentParser
import Foundation
import RelaisHub

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue, list or revoke admin API tokens.",
        subcommands: [Issue.self, List.self, Revoke.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new admin API token for an admin user and print it, once.",
            discussion: """
                Only the token's hash is kept: it cannot be shown again. Works while `serve` runs.

                  relais-hub token issue --user admin --data /var/lib/relais
                  relais-hub token issue --user admin --data DIR --json
                  # {"id": "3f9a0c1d2e4b", "token": "rlt_...", "user": "admin"}
                """)

        @Option(help: "The admin the token authenticates as.") var user: String
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let token = try await withHub(store) { hub in try await hub.issueAPIToken(for: user) }
            let id = APIToken.id(ofToken: token)
            if json {
                try printJSON(["user": user, "id": id, "token": token])
            } else {
                print("Issued API token \(id) for \(user).")
                print("Token (shown once, keep it secret): \(token)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the admin API tokens: id, user, created, status. Never the tokens themselves.",
            discussion: """
                The id is the first 12 hex digits of the token's SHA-256: it names the token to
                `token revoke` and cannot be turned back into it.

                  relais-hub token list --data /var/lib/relais --json
                """)

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let tokens = try await withHub(store) { hub in try await hub.apiTokens() }
            if json {
                try printJSON(tokens.map { APITokenJSON.object($0) })
            } else {
                print("ID\tUSER\tCREATED\tSTATUS")
                for token in tokens {
                    print(
                        "\(token.id)\t\(token.user)\t\(APITokenJSON.time(token.createdAt))\t\(APITokenJSON.status(token))"
                    )
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an admin API token: it stops working at once (works while `serve` runs).",
            discussion: """
                ID is the id `token list` shows (or its first 6 hex digits or more, when they name one token).

                  relais-hub token revoke 3f9a0c1d2e4b --data /var/lib/relais
                """)

        @Argument(help: "The token's id, as `token list` shows it.") var id: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let (token, revoked) = try await withHub(store) { hub in try await hub.revokeAPIToken(id: id) }
            print(
                revoked
                    ? "Revoked API token \(token.id) (\(token.user))."
                    : "API token \(token.id) (\(token.user)) was already revoked.")
        }
    }
}
