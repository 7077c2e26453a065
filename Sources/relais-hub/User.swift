public import ArgumentParser
import Foundation
import RelaisHub

extension Role: ExpressibleByArgument {}

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage users: add them, issue enrollment codes, change their territories, disable them.",
        subcommands: [Add.self, Code.self, Set.self, List.self, Disable.self, Enable.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user and print a one-time enrollment code for their first device.",
            discussion: """
                The code works once and expires after 7 days. Works while `serve` runs.

                  relais-hub user add claire --role rep --territory north --data /var/lib/relais
                  relais-hub user add marc --role manager --territory north --territory south --data DIR --json
                  # {"enrollment_code": "...", "user": "marc"}
                """)

        @Argument(help: "The user's name.") var name: String
        @Option(help: "rep, manager or admin.") var role: Role
        @Option(name: .customLong("territory"), help: "A territory the user sees (repeat for several).")
        var territories: [String] = []
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let code = try await withHub(store) { hub in
                try await hub.addUser(name, role: role, territories: territories)
            }
            if json {
                try printJSON(["user": name, "enrollment_code": code])
            } else {
                print("Added \(role.rawValue) \(name).")
                print("Enrollment code (one use, expires in 7 days): \(code)")
            }
        }
    }

    struct Code: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue another enrollment code for an existing user (another laptop).",
            discussion: "  relais-hub user code claire --data /var/lib/relais")

        @Argument(help: "The user's name.") var name: String
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let code = try await withHub(store) { hub in try await hub.issueEnrollmentCode(for: name) }
            if json { try printJSON(["user": name, "enrollment_code": code]) } else { print(code) }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a user's role or territories; their devices bootstrap again.",
            discussion: "  relais-hub user set claire --territory north --territory east --data /var/lib/relais")

        @Argument(help: "The user's name.") var name: String
        @Option(help: "rep, manager or admin.") var role: Role?
        @Option(name: .customLong("territory"), help: "The territories (replacing the current ones).")
        var territories: [String] = []
        @Flag(help: "Remove every territory.") var noTerritories = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let newTerritories: [String]? = noTerritories ? [] : (territories.isEmpty ? nil : territories)
            let user = try await withHub(store) { hub in
                try await hub.updateUser(name, role: role, territories: newTerritories)
            }
            print("\(user.name): \(user.role.rawValue), territories \(user.territories.joined(separator: ", "))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users.")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let users = try await withHub(store) { hub in try await hub.users() }
            if json {
                try printJSON(
                    users.map {
                        [
                            "name": $0.name, "role": $0.role.rawValue, "territories": $0.territories,
                            "status": $0.isDisabled ? "disabled" : "active",
                        ]
                    })
            } else {
                for user in users {
                    print(
                        "\(user.name)\t\(user.role.rawValue)\t\(user.territories.joined(separator: ","))"
                            + (user.isDisabled ? "\tdisabled" : ""))
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a user who left: their devices, codes, API tokens and sessions stop at once.",
            discussion: """
                In one transaction: revokes the user's devices (their next sync gets 401), ends their
                unused enrollment codes, revokes their admin API tokens and ends their admin web
                sessions. No code or token is issued to them until `user enable`. Their records and
                history stay. Works while `serve` runs.

                  relais-hub user disable claire --data /var/lib/relais
                """)

        @Argument(help: "The user's name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let disabled = try await withHub(store) { hub in try await hub.disableUser(name) }
            print(
                "Disabled \(name): revoked \(disabled.devices) device(s), \(disabled.enrollmentCodes) unused code(s), "
                    + "\(disabled.apiTokens) API token(s); ended \(disabled.sessions) admin session(s).")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enable a disabled user again; issue them new codes or tokens afterwards.",
            discussion: """
                What `user disable` revoked stays revoked: each laptop enrolls again with a new code
                (`user code`), and an admin needs a new API token (`token issue`).

                  relais-hub user enable claire --data /var/lib/relais
                """)

        @Argument(help: "The user's name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withHub(store) { hub in _ = try await hub.enableUser(name) }
            print("Enabled \(name). Issue a new enrollment code (`relais-hub user code \(name)`) for each laptop.")
        }
    }
}
