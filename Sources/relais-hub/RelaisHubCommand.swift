import ArgumentParser
import Foundation
import RelaisCore
import RelaisHub

/// `relais-hub`: the central office's tool (DESIGN §8).
struct RelaisHubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais-hub",
        abstract: "The Relais hub: keeps the sales force's customer file in sync.",
        discussion: """
            A hub keeps its state in a data folder (one SQLite file, hub.sqlite). Typical first run:

              relais-hub init --data /var/lib/relais
              relais-hub user add claire --role rep --territory north --data /var/lib/relais
              relais-hub serve --data /var/lib/relais --host 0.0.0.0 --port 7420

            Exit codes: 0 success, 2 usage, 3 not found, 5 authentication, 1 anything else.
            """,
        version: "relais-hub \(RelaisVersion.release) (wire protocol v1)",
        subcommands: [
            Init.self, Serve.self, User.self, DeviceCommand.self, TokenCommand.self, Export.self, Backup.self,
            Restore.self,
            HubEpochCommand.self,
            Migrate.self, SchemaCommand.self, ValuesCommand.self, Demo.self,
        ])

    /// Runs the command line and exits with the contract's codes.
    static func entry() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("relais-hub: \(error.message)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch let error as HubError {
            FileHandle.standardError.write(Data("relais-hub: \(error.message)\n".utf8))
            Foundation.exit(CLIError.exitCode(for: error))
        } catch let failure as HubStoreError {
            FileHandle.standardError.write(Data("relais-hub: \(failure.message)\n".utf8))
            Foundation.exit(1)
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = fullMessage(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(
                    Data((message.isEmpty ? "relais-hub: invalid usage" : message).utf8 + [10]))
                Foundation.exit(2)
            }
            FileHandle.standardError.write(
                Data("relais-hub: \(message.isEmpty ? String(describing: error) : message)\n".utf8))
            Foundation.exit(1)
        }
    }
}

/// A failure the tool reports on one line, with its exit code.
struct CLIError: Error {
    var message: String
    var exitCode: Int32

    static func exitCode(for error: HubError) -> Int32 {
        switch error.code {
        case .notFound: 3
        case .unauthorized, .deviceRevoked, .forbidden, .invalidEnrollmentCode: 5
        case .badRequest: 2
        default: 1
        }
    }
}

/// The flags that name where the hub's state is, unchecked: `serve` may take them from elsewhere.
struct StoreFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The hub's data folder (holds hub.sqlite).", valueName: "DIR"))
    var data: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A PostgreSQL database instead of a data folder: postgres://user@host:port/db.", valueName: "URL"))
    var postgres: String?
}

/// Where the hub's state is: `--data DIR` or `--postgres URL`, exactly one.
struct StoreOptions: ParsableArguments {
    @OptionGroup var flags: StoreFlags

    var data: String? { flags.data }

    func validate() throws {
        if flags.data == nil, flags.postgres == nil {
            throw ValidationError("Give the hub's data folder with --data DIR.")
        }
        if flags.data != nil, flags.postgres != nil { throw ValidationError("Give --data or --postgres, not both.") }
    }

    /// Where the store is.
    var location: HubStoreLocation {
        if let postgres = flags.postgres { return .postgres(url: postgres) }
        return .sqlite(folder: flags.data ?? "")
    }
}

/// Prints one JSON value (keys sorted) on stdout.
func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(
        withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data + Data([10]))
}

/// Runs `body` with a hub over the store, then closes the store.
func withHub<T>(_ options: StoreOptions, create: Bool = false, _ body: (HubService) async throws -> T) async throws -> T
{
    let logger = HubLogging.standardError(label: "relais.hub")
    return try await options.location.withStore(create: create, logger: logger) { store in
        try await body(HubService(store: store, logger: logger))
    }
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a hub store and its admin user.",
        discussion: """
            Creates DIR if missing (refuses a DIR that already holds a store), creates the admin user
            `admin` and prints its API token, once. Keep it secret: it opens the admin API.

              relais-hub init --data /var/lib/relais
              relais-hub init --data ./hub --json      # {"admin_token": "..."}
            """)

    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let token = try await withHub(store, create: true) { hub in try await hub.initialize() }
        if json {
            try printJSON(["admin_token": token])
        } else {
            print("Created the hub store in \(store.location.description).")
            print("Admin token (shown once, keep it secret): \(token)")
        }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what a user's replica should hold, as `relais export` prints it.",
        discussion: """
              relais-hub export --user claire --data /var/lib/relais --json
            """)

    @Option(help: "The user.") var user: String
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON (the only format).") var json = false

    func run() async throws {
        let text = try await withHub(store) { hub in try await hub.exportJSON(user: user) }
        FileHandle.standardOutput.write(Data(text) + Data([10]))
    }
}
