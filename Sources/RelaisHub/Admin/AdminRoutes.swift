import Foundation
import Hummingbird
import RelaisCore
import RelaisProtocol

/// The admin API under `/v1/admin` (admin token only, JSON; docs/ADMIN.md):
///
/// - `GET /v1/admin/conflicts?status&collection&field&rule&user&territory&record&from&to&limit&offset`:
///   an array of reports, newest first; the header `X-Total-Count` says how many match in all.
/// - `GET /v1/admin/conflicts/ID`: one report with `record` (the record now, with its `version`) and
///   `history` (the field's recent versions) and `earlier_conflicts` (other reports on the field).
/// - `POST /v1/admin/conflicts/ID/resolve` `{"pick": n | "value": v, "reason", "record_version"?, "overturn"?}`.
/// - `POST /v1/admin/conflicts/bulk-resolve` `{"strategy": "newest"|"oldest"|"pick-user:NAME", "reason", "expected_count"?, filters…}`.
/// - `GET /v1/admin/export?format=csv|json&filters…`: every matching report.
/// - `GET /v1/admin/audit?limit=`: the audit log.
struct AdminRoutes: Sendable {
    let service: HubService

    /// Whether `path` is one of the admin API's endpoints (for 405 rather than 404).
    static func isKnownPath(_ path: String) -> Bool {
        if ["/v1/admin/conflicts", "/v1/admin/export", "/v1/admin/audit", "/v1/admin/conflicts/bulk-resolve"].contains(
            path)
        {
            return true
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5 || parts.count == 6, parts[1] == "v1", parts[2] == "admin", parts[3] == "conflicts",
            !parts[4].isEmpty
        else { return false }
        return parts.count == 5 || parts[5] == "resolve"
    }

    func register(on router: Router<HubRequestContext>) {
        router.get("/v1/admin/conflicts") { request, _ in try await self.list(request) }
        router.post("/v1/admin/conflicts/bulk-resolve") { request, _ in try await self.bulkResolve(request) }
        router.get("/v1/admin/conflicts/:id") { request, context in
            try await self.show(request, id: context.parameters.require("id"))
        }
        router.post("/v1/admin/conflicts/:id/resolve") { request, context in
            try await self.resolve(request, id: context.parameters.require("id"))
        }
        router.get("/v1/admin/export") { request, _ in try await self.export(request) }
        router.get("/v1/admin/audit") { request, _ in try await self.audit(request) }
    }

    static func parameters(_ request: Request) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { result[String(key)] = String(value) }
        return result
    }

    private func list(_ request: Request) async throws -> Response {
        _ = try await authenticateAdmin(request)
        let page = try await service.reviewConflicts(try ConflictFilter(parameters: Self.parameters(request)))
        var response = HubRoutes.json(page.reports.map { AdminJSON.conflict($0) })
        response.headers[HTTPFields.Element.Name("X-Total-Count")!] = String(page.total)
        return response
    }

    /// The most versions `GET /v1/admin/conflicts/ID?history=N` returns.
    static let maxHistory = 500

    private func show(_ request: Request, id: String) async throws -> Response {
        _ = try await authenticateAdmin(request)
        let limit =
            try HubRoutes.number(
                request, "history", in: 1...Self.maxHistory, "`history` is a number from 1 to \(Self.maxHistory).",
                emptyIsAbsent: true) ?? HubService.defaultHistoryLimit
        return HubRoutes.json(
            AdminJSON.detail(
                try await service.conflictDetail(id: id, historyLimit: limit), schema: service.schema))
    }

    private func resolve(_ request: Request, id: String) async throws -> Response {
        let principal = try await authenticateAdmin(request)
        let object = try await jsonObject(request)
        let reason = (object["reason"] as? String) ?? ""
        guard reason.utf8.count <= 4096 else { throw HubError.badRequest.with("The reason is longer than 4096 bytes.") }
        let decision: HubService.Decision
        switch (object["pick"], object.keys.contains("value")) {
        case (let pick?, false):
            guard let number = pick as? NSNumber, let index = Int(exactly: number.doubleValue), index >= 0 else {
                throw HubError.badRequest.with("`pick` is the 0-based index of a listed value.")
            }
            decision = .pick(index)
        case (nil, true):
            guard let value = JSONValue(foundation: object["value"]) else {
                throw HubError.badRequest.with("`value` is not a JSON value.")
            }
            decision = .json(value)
        default:
            throw HubError.badRequest.with("Give exactly one of `pick` or `value`.")
        }
        var expected: UInt64?
        if let version = object["record_version"] {
            guard let number = version as? NSNumber, let value = UInt64(exactly: number.doubleValue) else {
                throw HubError.badRequest.with("`record_version` is the record's version as shown with the report.")
            }
            expected = value
        }
        let overturn = (object["overturn"] as? Bool) ?? false
        let report = try await service.reviewResolve(
            id: id, decision: decision, reason: reason, by: principal.user, expectedVersion: expected,
            overturn: overturn)
        return HubRoutes.json(AdminJSON.conflict(report))
    }

    private func bulkResolve(_ request: Request) async throws -> Response {
        let principal = try await authenticateAdmin(request)
        let object = try await jsonObject(request)
        guard let text = object["strategy"] as? String, let strategy = BulkStrategy(text: text) else {
            throw HubError.badRequest.with("`strategy` is newest, oldest or pick-user:NAME.")
        }
        let reason = (object["reason"] as? String) ?? ""
        guard !reason.isEmpty, reason.utf8.count <= 4096 else {
            throw HubError.badRequest.with("A bulk resolve needs a `reason` (at most 4096 bytes).")
        }
        var parameters: [String: String] = [:]
        for key in ["status", "collection", "field", "rule", "user", "territory", "record", "from", "to"] {
            if let value = object[key] as? String { parameters[key] = value }
        }
        let query = try ConflictFilter(parameters: parameters)
        var expected: Int?
        if let given = object["expected_count"] {
            guard let number = given as? NSNumber, let count = Int(exactly: number.doubleValue), count >= 0 else {
                throw HubError.badRequest.with(
                    "`expected_count` is how many conflicts matched when you looked (0 or more).")
            }
            expected = count
        }
        let result = try await service.bulkResolve(
            query, strategy: strategy, reason: reason, by: principal.user, expectedCount: expected)
        return HubRoutes.json(["resolved": result.resolved, "skipped": result.skipped])
    }

    private func export(_ request: Request) async throws -> Response {
        _ = try await authenticateAdmin(request)
        var parameters = Self.parameters(request)
        let format = parameters.removeValue(forKey: "format") ?? "json"
        parameters["limit"] = nil
        parameters["offset"] = nil
        let query = try ConflictFilter(parameters: parameters)
        guard let format = ConflictExport.Format(rawValue: format) else {
            throw HubError.badRequest.with("`format` is csv or json.")
        }
        return ConflictExport.response(service: service, query: query, format: format)
    }

    private func audit(_ request: Request) async throws -> Response {
        _ = try await authenticateAdmin(request)
        let limit =
            try HubRoutes.number(request, "limit", in: 1...10_000, "`limit` is a number from 1 to 10000.") ?? 200
        let events = try await service.auditLog(limit: limit)
        return HubRoutes.json(events.map { AdminJSON.event($0) })
    }

    // MARK: - Helpers

    private func jsonObject(_ request: Request) async throws -> [String: Any] {
        try HubRoutes.refuseDeclaredLength(request, over: HubRoutes.maxAdminBodyBytes)
        var body: [UInt8] = []
        for try await chunk in request.body {
            body += chunk.readableBytesView
            if body.count > HubRoutes.maxAdminBodyBytes {
                throw HubError.badRequest.with("The body is larger than \(HubRoutes.maxAdminBodyBytes) bytes.")
            }
        }
        try StrictJSONScanner.validate(body, maxDepth: service.configuration.limits.maxNestingDepth)
        guard
            let object = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
                as? [String: Any]
        else { throw HubError.badRequest.with("The body is a JSON object.") }
        // A text the hub keeps (a reason, a name, a value) is text of PostgreSQL's, which refuses it.
        if Self.holdsNUL(object) { throw HubError.badRequest.with("A text of the body holds a NUL character.") }
        return object
    }

    /// Whether a string of `object` (a key or a value, at any depth) holds a NUL character.
    static func holdsNUL(_ object: Any) -> Bool {
        switch object {
        case let text as String: text.utf8.contains(0)
        case let array as [Any]: array.contains(where: holdsNUL)
        case let dictionary as [String: Any]: dictionary.contains { holdsNUL($0.key) || holdsNUL($0.value) }
        default: false
        }
    }

    private func authenticateAdmin(_ request: Request) async throws -> Principal {
        guard let header = request.headers[.authorization] else {
            throw HubError.unauthorized.with("The request has no Authorization header.")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw HubError.unauthorized.with("The Authorization header is not `Bearer <token>`.")
        }
        let principal = try await service.authenticateOutsideSync(
            token: String(parts[1]).trimmingCharacters(in: .whitespaces))
        guard principal.role == .admin else { throw HubError.forbidden.with("The admin API needs an admin token.") }
        return principal
    }
}

/// The admin API's JSON shapes.
enum AdminJSON {
    /// A report (DESIGN §8) with, for each value, `hlc_time` (the HLC's wall clock, ISO 8601).
    static func conflict(_ report: ConflictReport) -> [String: Any] {
        var object = ConflictJSON.object(report)
        object["values"] = zip(report.conflict.values, (object["values"] as? [[String: Any]]) ?? []).map {
            competitor, json -> [String: Any] in
            var json = json
            json["hlc_time"] = AdminTime.iso8601(competitor.hlc)
            return json
        }
        return object
    }

    /// A report with the record now (`record`: `version`, `deleted`, `fields`) and `history`.
    static func detail(_ detail: ConflictDetail, schema: Schema) -> [String: Any] {
        var object = conflict(detail.report)
        if let record = detail.record, let collection = schema.collection(record.state.collection) {
            var fields: [String: Any] = [:]
            for (name, value) in record.state.values(in: collection) { fields[name] = FieldType.jsonObject(value) }
            object["record"] =
                [
                    "version": NSNumber(value: record.seq), "deleted": record.state.isDeleted, "fields": fields,
                    "territory": record.scope ?? NSNull(),
                ] as [String: Any]
        } else {
            object["record"] = NSNull()
        }
        object["history"] = detail.history.map { version($0) }
        object["earlier_conflicts"] = detail.earlierConflicts.map { conflict($0) }
        return object
    }

    /// One version of the field: `seq`, `value` (absent for a delete), `deleted`, `user`, `replica`,
    /// `device`, `counter`, `hlc`, `hlc_time` (when it was typed), `received_at` (when the hub accepted
    /// it), `conflicts` (report ids), `chosen_by_rule` (or null), `current`.
    static func version(_ version: FieldVersion) -> [String: Any] {
        let entry = version.entry
        var object: [String: Any] = [
            "seq": NSNumber(value: entry.seq), "deleted": entry.deleted, "user": entry.user,
            "replica": NSNumber(value: entry.dot.replica.rawValue), "device": version.device ?? NSNull(),
            "counter": NSNumber(value: entry.dot.counter), "hlc": NSNumber(value: entry.hlc.rawValue),
            "hlc_time": AdminTime.iso8601(entry.hlc), "received_at": AdminTime.iso8601(entry.at),
            "conflicts": version.conflictIDs, "chosen_by_rule": version.chosenByRule.map { $0 as Any } ?? NSNull(),
            "current": version.current,
        ]
        if !entry.deleted { object["value"] = version.value.map { FieldType.jsonObject($0) } ?? NSNull() }
        return object
    }

    static func event(_ event: HubEvent) -> [String: Any] {
        [
            "id": NSNumber(value: event.id), "at": AdminTime.iso8601(event.at), "kind": event.kind.rawValue,
            "user": event.user ?? NSNull(), "replica": event.replica.map { NSNumber(value: $0.rawValue) } ?? NSNull(),
            "detail": event.detail,
        ]
    }
}

/// Conflict reports as CSV (RFC 4180): one row per report, values as JSON text.
enum ConflictCSV {
    static let header = [
        "id", "created_at", "status", "collection", "record_id", "field", "rule", "territory", "base", "chosen",
        "values",
        "resolved_by", "resolved_at", "reason",
    ]

    static func text(_ reports: [ConflictReport]) -> String {
        rows(reports, header: true)
    }

    /// The CSV lines of `reports`, each ending in CRLF, after the header line when `header`.
    static func rows(_ reports: [ConflictReport], header withHeader: Bool) -> String {
        var lines = withHeader ? [header.joined(separator: ",")] : []
        for report in reports {
            let object = AdminJSON.conflict(report)
            let resolution = object["resolution"] as? [String: Any]
            let row: [String] = [
                report.id, AdminTime.iso8601(report.createdAt), report.status.rawValue, report.conflict.collection,
                report.conflict.recordID, report.conflict.field ?? "", report.conflict.rule, report.scope ?? "",
                json(object["base"]), json(object["chosen"]), json(object["values"]),
                resolution?["by"] as? String ?? "", resolution?["at"] as? String ?? "",
                resolution?["reason"] as? String ?? "",
            ]
            lines.append(row.map(quote).joined(separator: ","))
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\r\n") + "\r\n"
    }

    static func json(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "" }
        let data = try? JSONSerialization.data(
            withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// The conflict export (API and admin page) as a streamed response: the reports are read a page at a
/// time, each page written out before the next is read, so that memory stays bounded however many
/// match. The export covers the reports raised before it began (a `to` bound), so that pages read in
/// separate snapshots neither repeat nor miss one as new reports arrive.
enum ConflictExport {
    enum Format: String {
        case csv
        case json
    }

    static let pageSize = 500

    static func response(service: HubService, query: ConflictFilter, format: Format) -> Response {
        var filter = query
        let now = service.now() + 1
        filter.to = min(filter.to ?? now, now)
        filter.offset = 0
        filter.limit = pageSize
        let frozen = filter
        let body = ResponseBody { writer in
            var filter = frozen
            var first = true
            if format == .json { try await writer.write(ByteBuffer(string: "[")) }
            while true {
                let page = try await service.conflicts(filter)
                var text: String
                switch format {
                case .csv:
                    text = ConflictCSV.rows(page, header: first)
                case .json:
                    text = page.map { String(decoding: JSONBody.encode(AdminJSON.conflict($0)), as: UTF8.self) }
                        .joined(separator: ",")
                    if !first, !text.isEmpty { text = "," + text }
                }
                if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
                first = false
                if page.count < filter.limit { break }
                filter.offset += page.count
            }
            if format == .json { try await writer.write(ByteBuffer(string: "]")) }
            try await writer.finish(nil)
        }
        let (type, name) =
            format == .csv ? ("text/csv; charset=utf-8", "conflicts.csv") : ("application/json", "conflicts.json")
        return Response(
            status: .ok, headers: [.contentType: type, .contentDisposition: "attachment; filename=\"\(name)\""],
            body: body)
    }
}
