import ArgumentParser
import Foundation
import RelaisClient
import RelaisCore

/// `relais admin …`: the administrators' commands (`admin conflicts list|show|resolve`, DESIGN §8),
/// which talk to the hub's admin API (`/v1/admin`, docs/ADMIN.md) with an admin token.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administration through the hub's admin API (conflict reports).",
        subcommands: [AdminConflicts.self])
}

/// `relais admin conflicts list|show|resolve`.
struct AdminConflicts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "List, show and resolve the hub's conflict reports.",
        subcommands: [AdminConflictsList.self, AdminConflictsShow.self, AdminConflictsResolve.self])
}

/// `--hub URL` and the admin token (`--token-file`, `RELAIS_ADMIN_TOKEN` or `--token`), shared by the
/// admin commands.
struct HubOptions: ParsableArguments {
    @Option(name: .long, help: "The hub's address, e.g. https://hub.example:7420.")
    var hub: String

    @Option(
        name: .long,
        help: "An admin token (seen in `ps` and the shell's history: prefer --token-file or RELAIS_ADMIN_TOKEN).")
    var token: String?

    @Option(name: .long, help: "A file whose first line is the admin token.")
    var tokenFile: String?

    @Option(
        name: .long, help: "A PEM file of CA certificates to trust besides the system's (a hub on the firm's own CA).")
    var caFile: String?

    @Flag(name: .long, help: "Accept a plain-HTTP hub that is not on this machine (a trusted network only).")
    var insecure = false

    /// A client of the hub's admin API.
    ///
    /// - Throws: ``CommandFailure`` (2) when `--hub` is not an http(s) URL.
    func client() throws -> AdminClient {
        guard let url = URLComponents(string: hub), url.scheme == "http" || url.scheme == "https" else {
            throw CommandFailure(message: "`--hub` is not an http(s) URL: \(hub)", code: 2)
        }
        let token = try adminToken()
        do {
            return try AdminClient(
                hub: hub, token: token, security: HubSecurity(caFile: caFile, allowInsecure: insecure))
        } catch {
            throw CommandFailure(admin: error)
        }
    }

    /// The admin token: `--token`, else the first line of `--token-file`, else `RELAIS_ADMIN_TOKEN`.
    ///
    /// - Throws: ``CommandFailure`` (2) when none is given, or the file cannot be read or is empty.
    func adminToken(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let token { return token }
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw CommandFailure(message: "cannot read the admin token file \(tokenFile)", code: 2)
            }
            let line =
                text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard !line.isEmpty else {
                throw CommandFailure(message: "the admin token file \(tokenFile) is empty", code: 2)
            }
            return line
        }
        if let token = environment["RELAIS_ADMIN_TOKEN"], !token.isEmpty { return token }
        throw CommandFailure(
            message: "give the admin token with --token-file FILE, RELAIS_ADMIN_TOKEN, or --token", code: 2)
    }

    /// Calls the admin API, mapping its errors to the exit codes.
    func call<T>(_ body: (AdminClient) async throws -> T) async throws -> T {
        let client = try client()
        do {
            return try await body(client)
        } catch {
            throw CommandFailure(admin: error)
        }
    }
}

extension CommandFailure {
    /// The admin commands' exit codes: 5 when the token is refused (401, or 403: not an admin's), 3
    /// for an unknown report (404), 4 when the hub cannot be reached; 1 for any other answer,
    /// 5xx included (the admin commands make one request and do not retry).
    init(admin error: any Error) {
        self.init(error)
        guard let error = error as? SyncError else { return }
        switch error.code {
        case .forbidden: code = Self.refused
        case .notFound: code = Self.notFound
        case .hubUnreachable where error.httpStatus != nil: code = 1
        default: break
        }
    }
}

/// The admin commands' JSON: sorted keys, slashes as they are (like ``printJSON(_:pretty:)``).
func printAdminJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// A value as one short line of text: `(empty)` for none, text as it is, a set's items joined by
/// commas, anything else as JSON.
func adminText(_ value: AdminValue?) -> String {
    switch value {
    case nil, .null?: return "(empty)"
    case .string(let text)?: return text
    case .array(let items)?: return items.map { adminText($0) }.joined(separator: ", ")
    case let value?:
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}

struct AdminConflictsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List conflict reports, newest first (every status unless --status).")

    @OptionGroup var options: HubOptions

    @Option(name: .long, help: "open, auto-resolved or resolved.")
    var status: String?

    @Flag(name: .long, help: "Print a JSON array.")
    var json = false

    func validate() throws {
        if let status, ConflictStatus(rawValue: status) == nil {
            throw ValidationError("--status is open, auto-resolved or resolved.")
        }
    }

    func run() async throws {
        let all = try await options.call {
            try await $0.allConflicts(status: status.flatMap(ConflictStatus.init(rawValue:)))
        }
        if json {
            try printAdminJSON(all)
            return
        }
        if all.isEmpty {
            print("No conflicts.")
            return
        }
        for conflict in all {
            let users = conflict.values.map(\.user)
            print(
                "\(conflict.id)  \(conflict.status.rawValue)  \(conflict.collection).\(conflict.field ?? "(record)")  rule \(conflict.rule)  chosen \(adminText(conflict.chosen))  by \(users.joined(separator: ", "))"
            )
        }
    }
}

struct AdminConflictsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one conflict report.")

    @Argument(help: "The conflict's id.")
    var id: String

    @OptionGroup var options: HubOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        let detail = try await options.call { try await $0.conflict(id: id) }
        if json {
            try printAdminJSON(detail)
            return
        }
        let conflict = detail.conflict
        print("conflict   \(conflict.id)")
        let held =
            detail.record.map { " (version \($0.version)\($0.deleted ? ", deleted" : ""))" } ?? " (no longer held)"
        print("record     \(conflict.collection) \(conflict.recordID)\(held)")
        print("field      \(conflict.field ?? "(record: delete against update)")")
        print("status     \(conflict.status.rawValue)   rule \(conflict.rule)")
        print("base       \(adminText(conflict.base))")
        print("chosen     \(adminText(conflict.chosen))")
        for (index, value) in conflict.values.enumerated() {
            let shown = value.deleted ? "(deletes the record)" : adminText(value.value)
            print(
                "value \(index)    \(shown)   — \(value.user), replica \(value.replica), \(value.hlcTime ?? String(value.hlc))"
            )
        }
        if let resolution = conflict.resolution {
            print("resolved   by \(resolution.by) at \(resolution.at): \(resolution.reason)")
        }
        print("history    \(detail.history.isEmpty ? "none recorded" : "newest first")")
        for version in detail.history {
            let shown = version.deleted ? "(deleted the record)" : adminText(version.value)
            var notes: [String] = []
            if let chosen = version.chosenByRule {
                notes.append(chosen ? "conflict, chosen by the rule" : "conflict, not chosen")
            }
            if version.current { notes.append("current") }
            let device = version.device ?? "replica \(version.replica)"
            print(
                "  \(version.hlcTime)  \(shown)   — \(version.user), \(device)"
                    + (notes.isEmpty ? "" : "   [\(notes.joined(separator: "; "))]"))
        }
    }
}

struct AdminConflictsResolve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Resolve a conflict: reinstate values[N] (--pick N) or write a merged value (--value JSON).")

    @Argument(help: "The conflict's id.")
    var id: String

    @Option(name: .long, help: "Reinstate values[N], 0-based as listed.")
    var pick: Int?

    @Option(name: .long, help: "A merged value as JSON, e.g. '\"at_risk\"' or '[\"a\",\"b\"]'.")
    var value: String?

    @Option(name: .long, help: "Why; kept with the decision.")
    var reason: String = ""

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The record's version as `show` printed it: refused if the record changed since.",
            discussion:
                "Without it the hub refuses only when a salesperson wrote the record after the report, a write the report does not list."
        ))
    var recordVersion: UInt64?

    @OptionGroup var options: HubOptions

    @Flag(name: .long, help: "Print the resolved conflict as JSON.")
    var json = false

    func validate() throws {
        guard (pick == nil) != (value == nil) else {
            throw ValidationError("Give exactly one of --pick N or --value JSON.")
        }
        if let pick, pick < 0 { throw ValidationError("--pick is 0 or more.") }
    }

    func run() async throws {
        let decision: AdminDecision
        if let value {
            guard let parsed = try? JSONDecoder().decode(AdminValue.self, from: Data(value.utf8)) else {
                throw CommandFailure(
                    message: "--value is not JSON (a text is written with quotes: '\"text\"').", code: 2)
            }
            decision = .value(parsed)
        } else {
            decision = .pick(pick ?? 0)
        }
        let resolved = try await options.call {
            try await $0.resolve(id: id, decision, reason: reason, overturn: true, recordVersion: recordVersion)
        }
        if json {
            try printAdminJSON(resolved)
        } else {
            print("Resolved \(id): \(adminText(resolved.resolution?.value)).")
        }
    }
}
