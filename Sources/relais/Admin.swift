import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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

/// `--hub URL --token T`, shared by the admin commands.
struct HubOptions: ParsableArguments {
    @Option(name: .long, help: "The hub's address, e.g. https://hub.example:7420.")
    var hub: String

    @Option(name: .long, help: "An admin token.")
    var token: String

    /// Sends a request to the admin API; returns the parsed JSON body of a 2xx answer.
    ///
    /// - Throws: ``CommandFailure``: 4 when the hub cannot be reached, 5 when the token is refused,
    ///   3 for 404, 1 otherwise (with the hub's message).
    func call(_ method: String, _ path: String, query: [URLQueryItem] = [], body: Any? = nil) async throws -> Any {
        guard var components = URLComponents(string: hub.hasSuffix("/") ? String(hub.dropLast()) + path : hub + path),
            components.scheme == "http" || components.scheme == "https"
        else {
            throw CommandFailure(message: "`--hub` is not an http(s) URL: \(hub)", code: 2)
        }
        if !query.isEmpty { components.queryItems = query }
        guard let url = components.url else { throw CommandFailure(message: "`--hub` is not a valid URL.", code: 2) }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = 60
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .fragmentsAllowed])
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CommandFailure(message: "The hub at \(hub) cannot be reached: \(error.localizedDescription)", code: CommandFailure.unreachable)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let json = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        guard (200..<300).contains(status) else {
            let error = (json as? [String: Any])?["error"] as? [String: Any]
            let message = (error?["message"] as? String) ?? "The hub answered HTTP \(status)."
            switch status {
            case 401, 403: throw CommandFailure(message: message, code: CommandFailure.refused)
            case 404: throw CommandFailure(message: message, code: CommandFailure.notFound)
            default: throw CommandFailure(message: message, code: 1)
            }
        }
        guard let json else { throw CommandFailure(message: "The hub's answer is not JSON.", code: 1) }
        return json
    }
}

/// A value as one short line of text.
func adminText(_ value: Any?) -> String {
    switch value {
    case nil, is NSNull: return "(empty)"
    case let text as String: return text
    case let items as [Any]: return items.map { adminText($0) }.joined(separator: ", ")
    default:
        if let data = try? JSONSerialization.data(withJSONObject: value as Any, options: [.fragmentsAllowed, .sortedKeys]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value!)"
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
        if let status, !["open", "auto-resolved", "resolved"].contains(status) {
            throw ValidationError("--status is open, auto-resolved or resolved.")
        }
    }

    func run() async throws {
        var all: [[String: Any]] = []
        let pageSize = 1000
        while true {
            var query = [URLQueryItem(name: "limit", value: String(pageSize)), URLQueryItem(name: "offset", value: String(all.count))]
            if let status { query.append(URLQueryItem(name: "status", value: status)) }
            guard let page = try await options.call("GET", "/v1/admin/conflicts", query: query) as? [[String: Any]] else {
                throw CommandFailure(message: "The hub's answer is not a list of conflicts.", code: 1)
            }
            all += page
            if page.count < pageSize { break }
        }
        if json {
            try printJSON(all)
            return
        }
        if all.isEmpty {
            print("No conflicts.")
            return
        }
        for conflict in all {
            let field = (conflict["field"] as? String) ?? "(record)"
            let users = ((conflict["values"] as? [[String: Any]]) ?? []).compactMap { $0["user"] as? String }
            print(
                "\(conflict["id"] as? String ?? "?")  \(conflict["status"] as? String ?? "?")  \(conflict["collection"] as? String ?? "?").\(field)  rule \(conflict["rule"] as? String ?? "?")  chosen \(adminText(conflict["chosen"]))  by \(users.joined(separator: ", "))"
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
        let escaped = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_"))) ?? id
        guard let conflict = try await options.call("GET", "/v1/admin/conflicts/\(escaped)") as? [String: Any] else {
            throw CommandFailure(message: "The hub's answer is not a conflict.", code: 1)
        }
        if json {
            try printJSON(conflict)
            return
        }
        print("conflict   \(conflict["id"] as? String ?? id)")
        print("record     \(conflict["collection"] as? String ?? "?") \(conflict["record_id"] as? String ?? "?")")
        print("field      \((conflict["field"] as? String) ?? "(record: delete against update)")")
        print("status     \(conflict["status"] as? String ?? "?")   rule \(conflict["rule"] as? String ?? "?")")
        print("base       \(adminText(conflict["base"]))")
        print("chosen     \(adminText(conflict["chosen"]))")
        for (index, value) in ((conflict["values"] as? [[String: Any]]) ?? []).enumerated() {
            let shown = (value["deleted"] as? Bool) == true ? "(deletes the record)" : adminText(value["value"])
            print(
                "value \(index)    \(shown)   — \(value["user"] as? String ?? "?"), replica \(adminText(value["replica"])), \(value["hlc_time"] as? String ?? adminText(value["hlc"]))"
            )
        }
        if let resolution = conflict["resolution"] as? [String: Any] {
            print("resolved   by \(resolution["by"] as? String ?? "?") at \(resolution["at"] as? String ?? "?"): \(resolution["reason"] as? String ?? "")")
        }
        let history = (conflict["history"] as? [[String: Any]]) ?? []
        print("history    \(history.isEmpty ? "none recorded" : "newest first")")
        for version in history {
            let shown = (version["deleted"] as? Bool) == true ? "(deleted the record)" : adminText(version["value"])
            var notes: [String] = []
            if let chosen = version["chosen_by_rule"] as? Bool { notes.append(chosen ? "conflict, chosen by the rule" : "conflict, not chosen") }
            if (version["current"] as? Bool) == true { notes.append("current") }
            let device = (version["device"] as? String) ?? "replica \(adminText(version["replica"]))"
            print(
                "  \(version["hlc_time"] as? String ?? "?")  \(shown)   — \(version["user"] as? String ?? "?"), \(device)"
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

    @OptionGroup var options: HubOptions

    @Flag(name: .long, help: "Print the resolved conflict as JSON.")
    var json = false

    func validate() throws {
        guard (pick == nil) != (value == nil) else { throw ValidationError("Give exactly one of --pick N or --value JSON.") }
        if let pick, pick < 0 { throw ValidationError("--pick is 0 or more.") }
    }

    func run() async throws {
        var body: [String: Any] = ["reason": reason, "overturn": true]
        if let pick { body["pick"] = pick }
        if let value {
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed]) else {
                throw CommandFailure(message: "--value is not JSON (a text is written with quotes: '\"text\"').", code: 2)
            }
            body["value"] = parsed
        }
        let escaped = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_"))) ?? id
        let resolved = try await options.call("POST", "/v1/admin/conflicts/\(escaped)/resolve", body: body)
        if json {
            try printJSON(resolved)
        } else {
            let chosen = ((resolved as? [String: Any])?["resolution"] as? [String: Any])?["value"]
            print("Resolved \(id): \(adminText(chosen)).")
        }
    }
}
