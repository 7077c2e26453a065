import ArgumentParser
import Foundation
import RelaisClient
import RelaisCore

/// `relais`: the laptop's command line (DESIGN §8). Every command that prints data takes `--json`.
///
/// Exit codes: 0 success; 2 usage; 3 not found; 4 hub unreachable (writes stay pending); 5
/// authentication refused or device revoked; 1 anything else. The error goes to stderr, on one line.
@main
struct RelaisMain {
    static func main() async {
        do {
            var command = try Relais.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            printError(failure.message)
            exit(failure.code)
        } catch {
            let code = Relais.exitCode(for: error)
            if code == .success {
                print(Relais.fullMessage(for: error))
                exit(0)
            }
            if let exitCode = error as? ExitCode {
                exit(exitCode.rawValue)
            }
            let message = Relais.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            printError(message)
            exit(2)
        }
    }
}

/// A command's failure: a one-line message and the exit code of the contract.
struct CommandFailure: Error {
    var message: String
    var code: Int32

    static let notFound: Int32 = 3
    static let unreachable: Int32 = 4
    static let refused: Int32 = 5

    /// Maps library errors to the contract's exit codes.
    init(_ error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let replica as ReplicaError:
            message = replica.message
            code = replica.code == .notFound ? Self.notFound : 1
        case let sync as SyncError:
            message = sync.description
            switch sync.code {
            case .hubUnreachable: code = Self.unreachable
            case .authenticationRefused, .deviceRevoked, .tokenExpired, .deviceWiped: code = Self.refused
            default: code = 1
            }
        case let validation as RelaisCore.ValidationError:
            message = validation.description
            code = 1
        default:
            message = "\(error)"
            code = 1
        }
    }

    init(message: String, code: Int32) {
        self.message = message
        self.code = code
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("relais: \(message.replacingOccurrences(of: "\n", with: " "))\n".utf8))
}

/// Runs a command body, mapping any error to a ``CommandFailure``.
func failing<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw CommandFailure(error)
    }
}

/// Prints a JSON-compatible object with sorted keys.
func printJSON(_ object: Any, pretty: Bool = false) throws {
    var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]
    if pretty { options.insert(.prettyPrinted) }
    let data = try JSONSerialization.data(withJSONObject: object, options: options)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

struct Relais: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relais",
        abstract: "Keep a field sales force's customer file in sync: the laptop's local replica.",
        discussion: """
            Exit codes: 0 ok, 2 usage, 3 not found, 4 hub unreachable (writes stay pending), \
            5 authentication refused or device revoked, 1 anything else.
            """,
        version: "relais \(RelaisVersion.release) (wire protocol v1)",
        subcommands: [
            Enroll.self, Add.self, SetFields.self, Delete.self, Get.self, List.self, Import.self, Sync.self,
            Verify.self, Status.self, Export.self, Conflicts.self, Rejected.self, Trust.self, Agent.self,
            Admin.self, Report.self,
            CollectionAlias.Customer.self, CollectionAlias.Contact.self, CollectionAlias.Interaction.self,
        ])
}

/// `--db FILE` and `--json`, shared by the commands.
struct ReplicaOptions: ParsableArguments {
    @Option(name: .long, help: "The replica file.")
    var db: String

    @Flag(name: .long, help: "Print JSON (snake_case keys).")
    var json = false

    func open() throws -> Replica {
        do {
            return try Replica.open(path: db, create: false)
        } catch {
            throw CommandFailure(error)
        }
    }
}

/// `path` made absolute against the current folder, for a path kept in the replica file.
func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
