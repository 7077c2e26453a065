import Foundation
import Hummingbird
import Logging
import Mustache
import RelaisCore
import RelaisProtocol

/// The admin pages under `/admin`, rendered on the server with swift-mustache; they work without
/// JavaScript. Sign-in takes an admin token and opens a server-side session (cookie `relais_admin`:
/// HttpOnly, SameSite=Strict, Path=/admin); every POST form carries the session's CSRF token, checked
/// before anything else. Pages: dashboard, conflict list with filters, conflict detail with a resolve
/// form, audit log. Resolving goes through the same service call as the API, so a stale form gets 409
/// and nothing is written.
struct AdminPages: Sendable {
    let service: HubService
    let sessions: AdminSessions
    let limits: RequestLimits
    let library: MustacheLibrary
    let stylesheet: String

    static let sessionCookie = "relais_admin"
    static let signInCookie = "relais_signin"
    static let maxFormBytes = 64 * 1024

    init(service: HubService, limits: RequestLimits, sessions: AdminSessions? = nil) {
        self.service = service
        self.limits = limits
        self.sessions = sessions ?? AdminSessions(store: service.store)
        var templates: [String: MustacheTemplate] = [:]
        if let folder = Bundle.module.url(forResource: "Templates", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        {
            for name in names where name.hasSuffix(".mustache") {
                let url = folder.appendingPathComponent(name)
                guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
                do {
                    templates[String(name.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
                } catch {
                    service.logger.error("admin template \(name) does not parse: \(error)")
                }
            }
        }
        library = MustacheLibrary(templates: templates)
        let css = Bundle.module.url(forResource: "Static", withExtension: nil)?.appendingPathComponent("admin.css")
        stylesheet = css.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }

    /// Whether `path` is an admin page (for 405 rather than 404).
    static func isKnownPath(_ path: String) -> Bool {
        path == "/admin" || path.hasPrefix("/admin/")
    }

    func register(on router: Router<HubRequestContext>) {
        router.get("/admin") { request, _ in
            try await self.session(request) == nil ? Self.redirect("/admin/sign-in") : Self.redirect("/admin/dashboard")
        }
        router.get("/admin/static/admin.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=300"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: self.stylesheet)))
        }
        router.get("/admin/sign-in") { request, _ in self.signInPage(message: nil, status: .ok) }
        router.post("/admin/sign-in") { request, context in try await self.signIn(request, peer: context.peer) }
        router.post("/admin/sign-out") { request, _ in try await self.signOut(request) }
        router.get("/admin/dashboard") { request, _ in
            try await self.withSession(request) { try await self.dashboard($0) }
        }
        router.get("/admin/conflicts") { request, _ in
            try await self.withSession(request) { try await self.list(request, $0) }
        }
        router.get("/admin/conflicts/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await self.withSession(request) { try await self.detail(id: id, request, $0, message: nil) }
        }
        router.post("/admin/conflicts/:id/resolve") { request, context in
            let id = try context.parameters.require("id")
            return try await self.withSession(request) { try await self.resolve(id: id, request, $0) }
        }
        router.post("/admin/bulk-resolve") { request, _ in
            try await self.withSession(request) { try await self.bulkResolve(request, $0) }
        }
        router.get("/admin/export") { request, _ in
            try await self.withSession(request) { _ in try await self.export(request) }
        }
        router.get("/admin/audit") { request, _ in try await self.withSession(request) { try await self.audit($0) } }
    }

    // MARK: - Sessions

    struct Signed: Sendable {
        var id: String
        var session: AdminSession
    }

    private func session(_ request: Request) async throws -> Signed? {
        guard let id = request.cookies[Self.sessionCookie]?.value, !id.isEmpty,
            let session = try await sessions.session(id, now: service.now())
        else { return nil }
        return Signed(id: id, session: session)
    }

    private func withSession(_ request: Request, _ body: (Signed) async throws -> Response) async throws -> Response {
        guard let signed = try await session(request) else { return Self.redirect("/admin/sign-in") }
        do {
            return try await body(signed)
        } catch let error as HubError {
            return errorPage(error.message, status: HTTPResponse.Status(code: error.httpStatus), signed)
        }
    }

    private func signInPage(message: String?, status: HTTPResponse.Status) -> Response {
        let csrf = AdminSessions.randomToken()
        var response = render(
            "sign-in", ["title": "Sign in", "csrf": csrf, "message": message ?? false], status: status)
        response.setCookie(
            Cookie(name: Self.signInCookie, value: csrf, maxAge: 900, path: "/admin", httpOnly: true, sameSite: .strict)
        )
        return response
    }

    /// The sign-in page answered `429` with `Retry-After`.
    private func tooManySignIns(_ error: RateLimited) -> Response {
        let seconds = error.retryAfterSeconds
        var response = signInPage(
            message: "Too many sign-in attempts. Try again in \(seconds) second\(seconds == 1 ? "" : "s").",
            status: .tooManyRequests)
        response.headers[.retryAfter] = "\(seconds)"
        return response
    }

    struct SignInForm: Decodable {
        var token: String?
        var csrf: String?
    }

    /// Sign-in is limited per address (checked before the form is read) and per token tried; a
    /// successful sign-in gives its tokens back, so only failed attempts count.
    private func signIn(_ request: Request, peer: String) async throws -> Response {
        let address = "address:\(peer)"
        do {
            try RequestLimits.take(limits.signIn, keys: [address], what: "sign-in attempts")
        } catch let error as RateLimited {
            return tooManySignIns(error)
        }
        let form: SignInForm
        do {
            form = try await Self.decodeForm(SignInForm.self, request)
        } catch let error as ProtocolError {
            return signInPage(message: "The form is too large.", status: .init(code: error.httpStatus))
        } catch {
            return signInPage(message: "The form could not be read. Try again.", status: .badRequest)
        }
        guard let expected = request.cookies[Self.signInCookie]?.value, let given = form.csrf,
            secretsEqual(expected, given)
        else {
            return signInPage(
                message: "The sign-in form expired or did not come from this site. Try again.", status: .forbidden)
        }
        let token = (form.token ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { return signInPage(message: "Enter an admin token.", status: .badRequest) }
        let keys = RequestLimits.attemptKeys(peer: peer, secret: token)
        do {
            try RequestLimits.take(limits.signIn, keys: keys.filter { $0 != address }, what: "sign-in attempts")
        } catch let error as RateLimited {
            return tooManySignIns(error)
        }
        let principal: Principal
        do {
            principal = try await service.authenticate(token: token)
        } catch {
            return signInPage(message: "That token is not valid.", status: .unauthorized)
        }
        guard principal.role == .admin else {
            return signInPage(
                message: "That token is not an admin's: the admin pages need an admin token.", status: .forbidden)
        }
        RequestLimits.giveBack(limits.signIn, keys: keys)
        let opened = try await sessions.open(user: principal.user, now: service.now())
        try await service.recordAudit(.adminSignedIn, user: principal.user, detail: "signed in to the admin pages")
        var response = Self.redirect("/admin/dashboard")
        response.setCookie(
            Cookie(name: Self.sessionCookie, value: opened.id, path: "/admin", httpOnly: true, sameSite: .strict))
        response.setCookie(
            Cookie(name: Self.signInCookie, value: "", maxAge: 0, path: "/admin", httpOnly: true, sameSite: .strict))
        return response
    }

    struct CSRFForm: Decodable {
        var csrf: String?
    }

    private func signOut(_ request: Request) async throws -> Response {
        guard let signed = try await session(request) else { return Self.redirect("/admin/sign-in") }
        let form = try? await Self.decodeForm(CSRFForm.self, request)
        guard let given = form?.csrf, secretsEqual(given, signed.session.csrf) else { return csrfRefused(signed) }
        try await sessions.close(signed.id)
        var response = Self.redirect("/admin/sign-in")
        response.setCookie(
            Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/admin", httpOnly: true, sameSite: .strict))
        return response
    }

    private func csrfRefused(_ signed: Signed) -> Response {
        errorPage(
            "This form expired or did not come from this site (its CSRF token is missing or wrong). Nothing was changed. Reload the page and try again.",
            status: .forbidden, signed)
    }

    // MARK: - Pages

    private func dashboard(_ signed: Signed) async throws -> Response {
        let figures = try await service.dashboard()
        func rows(_ counts: [(String, Int)]) -> [[String: Any]] { counts.map { ["name": $0.0, "count": $0.1] } }
        return render(
            "dashboard",
            base(signed, title: "Dashboard", nav: "dashboard").merging([
                "open": figures.open, "total": figures.total, "by_rule": rows(figures.byRule),
                "by_user": rows(figures.byUser), "by_week": rows(Array(figures.byWeek.prefix(12))),
                "lags": figures.lags.map { entry -> [String: Any] in
                    [
                        "name": entry.device.name, "user": entry.device.user,
                        "replica": Int(entry.device.replica.rawValue),
                        "lag": NSNumber(value: entry.lag),
                        "last_seen": entry.device.lastSeenAt.map(AdminTime.iso8601) ?? "never",
                    ]
                },
                "has_lags": !figures.lags.isEmpty, "has_rules": !figures.byRule.isEmpty,
            ]) { $1 })
    }

    private func list(_ request: Request, _ signed: Signed) async throws -> Response {
        let parameters = AdminRoutes.parameters(request)
        let query: AdminConflictQuery
        do {
            query = try AdminConflictQuery(parameters: parameters)
        } catch let error as HubError {
            return render(
                "conflicts",
                base(signed, title: "Conflicts", nav: "conflicts").merging(["message": error.message]) { $1 },
                status: .badRequest)
        }
        let page = try await service.reviewConflicts(query)
        // What a bulk resolve of these filters would take (open ones unless a status is chosen); the
        // form sends the count back so that a list changed meanwhile is refused (stale form).
        var bulkQuery = query
        if bulkQuery.status == nil { bulkQuery.status = .open }
        bulkQuery.limit = 1
        bulkQuery.offset = 0
        let bulkCount = try await service.reviewConflicts(bulkQuery).total
        let filters = query.parameters
        func link(offset: Int) -> String {
            Self.path("/admin/conflicts", filters + [("limit", String(query.limit)), ("offset", String(offset))])
        }
        let statuses = ["", "open", "auto-resolved", "resolved"].map { status -> [String: Any] in
            [
                "value": status, "label": status.isEmpty ? "any" : status,
                "selected": (query.status?.rawValue ?? "") == status,
            ]
        }
        let rules = ["", "manual", "lww", "union", "append", "max", "min", "delete-update"].map {
            rule -> [String: Any] in
            ["value": rule, "label": rule.isEmpty ? "any" : rule, "selected": (query.rule ?? "") == rule]
        }
        var context = base(signed, title: "Conflicts", nav: "conflicts")
        context.merge([
            "statuses": statuses, "rules": rules,
            "collection": query.collection ?? "", "field": query.field ?? "", "user": query.user ?? "",
            "territory": query.territory ?? "", "from": parameters["from"] ?? "", "to": parameters["to"] ?? "",
            "limit": query.limit, "total": page.total,
            "first": page.total == 0 ? 0 : query.offset + 1, "last": query.offset + page.reports.count,
            "reports": page.reports.map(Self.row), "empty": page.reports.isEmpty,
            "previous": query.offset > 0 ? link(offset: max(0, query.offset - query.limit)) : false,
            "next": query.offset + page.reports.count < page.total ? link(offset: query.offset + query.limit) : false,
            "export_csv": Self.path("/admin/export", filters + [("format", "csv")]),
            "export_json": Self.path("/admin/export", filters + [("format", "json")]),
            // The bulk form's own `user` is the salesperson whose values to keep: the filter travels as `filter_user`.
            "hidden_filters": filters.map { ["name": $0.0 == "user" ? "filter_user" : $0.0, "value": $0.1] },
            "bulk_count": bulkCount, "bulk_status": bulkQuery.status?.rawValue ?? "open",
        ]) { $1 }
        return render("conflicts", context)
    }

    static func row(_ report: ConflictReport) -> [String: Any] {
        let conflict = report.conflict
        return [
            "id": report.id, "short_id": String(report.id.prefix(8)), "created_at": AdminTime.iso8601(report.createdAt),
            "collection": conflict.collection, "record_id": conflict.recordID, "field": conflict.field ?? "(record)",
            "rule": conflict.rule, "status": conflict.status.rawValue, "territory": report.scope ?? "",
            "users": Array(Set(conflict.values.map(\.author))).sorted().joined(separator: ", "),
            "is_open": conflict.status == .open,
        ]
    }

    private func detail(
        id: String, _ request: Request?, _ signed: Signed, message: String?, status: HTTPResponse.Status = .ok
    )
        async throws -> Response
    {
        let detail = try await service.conflictDetail(id: id)
        let report = detail.report
        let conflict = report.conflict
        let schema = service.configuration.schema
        let field = conflict.field.flatMap { schema.collection(conflict.collection)?.field($0) }
        func reference(for index: Int) -> Value? {
            if let base = conflict.base { return base }
            let others = conflict.values.indices.filter { $0 != index }
            return others.first.flatMap { conflict.values[$0].value }
        }
        let values = conflict.values.enumerated().map { index, competitor -> [String: Any] in
            let shown = competitor.deleted ? "(deletes the record)" : Self.display(competitor.value)
            let diff = competitor.deleted ? [] : Self.diff(from: reference(for: index), to: competitor.value)
            return [
                "index": index, "user": competitor.author, "replica": Int(competitor.dot.replica.rawValue),
                "hlc_time": AdminTime.iso8601(competitor.hlc), "text": shown,
                "diff": diff, "has_diff": !diff.isEmpty,
                "is_chosen": !competitor.deleted && competitor.value == conflict.chosen && conflict.field != nil,
                "checked": index == 0,
            ]
        }
        var recordFields: [[String: Any]] = []
        if let record = detail.record, let collection = schema.collection(conflict.collection) {
            recordFields = record.state.values(in: collection).sorted { $0.key < $1.key }.map {
                ["name": $0.key, "value": Self.display($0.value), "is_field": $0.key == conflict.field]
            }
        }
        var context = base(signed, title: "Conflict \(report.id.prefix(8))", nav: "conflicts")
        let resolution: Any
        if let decided = report.resolution {
            let shown: String = decided.deleted ? "(record deleted)" : Self.display(decided.value)
            let fields: [String: Any] = [
                "by": decided.by, "at": AdminTime.iso8601(decided.at), "reason": decided.reason, "value": shown,
            ]
            resolution = fields
        } else {
            resolution = false
        }
        let fieldText: String = conflict.field ?? "(the record: delete against update)"
        let baseText: String = conflict.base.map { Self.display($0) } ?? "(none: both sides were new)"
        let chosenText: String = conflict.chosen.map { Self.display($0) } ?? "(none)"
        let version: String = detail.record.map { String($0.seq) } ?? ""
        let hint: String = field.map { Self.hint($0.type) } ?? ""
        let done: Bool = request?.uri.queryParameters["done"] != nil
        context["id"] = report.id
        context["collection"] = conflict.collection
        context["record_id"] = conflict.recordID
        context["field"] = fieldText
        context["is_field"] = conflict.field != nil
        context["rule"] = conflict.rule
        context["status"] = conflict.status.rawValue
        context["territory"] = report.scope ?? "—"
        context["created_at"] = AdminTime.iso8601(report.createdAt)
        context["base"] = baseText
        context["chosen"] = chosenText
        context["values"] = values
        context["resolution"] = resolution
        context["is_resolved"] = conflict.status == .resolved
        context["record_version"] = version
        context["record_deleted"] = detail.record?.state.isDeleted ?? false
        context["record_missing"] = detail.record == nil
        context["record_fields"] = recordFields
        context["history"] = detail.history.map { version -> [String: Any] in
            let entry = version.entry
            let shown: String =
                entry.deleted
                ? "(deleted the record)" : conflict.field == nil ? "(updated the record)" : Self.display(version.value)
            let outcome: String
            switch version.chosenByRule {
            case true?: outcome = "conflict: chosen by the rule"
            case false?: outcome = "conflict: not chosen by the rule"
            case nil: outcome = ""
            }
            return [
                "seq": NSNumber(value: entry.seq), "value": shown, "user": entry.user,
                "device": version.device ?? "replica \(entry.dot.replica.rawValue)",
                "replica": Int(entry.dot.replica.rawValue),
                "typed_at": AdminTime.iso8601(entry.hlc), "received_at": AdminTime.iso8601(entry.at),
                "outcome": outcome, "current": version.current,
                "conflicts": version.conflictIDs.map {
                    ["id": $0, "short_id": String($0.prefix(8)), "is_this": $0 == report.id]
                },
            ]
        }
        context["has_history"] = !detail.history.isEmpty
        context["earlier"] = detail.earlierConflicts.map(Self.row)
        context["has_earlier"] = !detail.earlierConflicts.isEmpty
        context["history_limit"] = HubService.defaultHistoryLimit
        context["field_hint"] = hint
        context["message"] = message ?? false
        context["done"] = done
        return render("conflict", context, status: status)
    }

    struct ResolveForm: Decodable {
        var csrf: String?
        var choice: String?
        var merged: String?
        var reason: String?
        var recordVersion: String?
        var statusSeen: String?

        enum CodingKeys: String, CodingKey {
            case csrf, choice, merged, reason
            case recordVersion = "record_version"
            case statusSeen = "status_seen"
        }
    }

    private func resolve(id: String, _ request: Request, _ signed: Signed) async throws -> Response {
        let form: ResolveForm
        do {
            form = try await Self.decodeForm(ResolveForm.self, request)
        } catch {
            return try await detail(id: id, nil, signed, message: "The form could not be read.", status: .badRequest)
        }
        guard let given = form.csrf, secretsEqual(given, signed.session.csrf) else { return csrfRefused(signed) }
        let reason = (form.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else {
            return try await detail(
                id: id, nil, signed, message: "Give a reason: it is kept with the decision and shown to everyone.",
                status: .badRequest)
        }
        guard reason.utf8.count <= 4096 else {
            return try await detail(
                id: id, nil, signed, message: "The reason is longer than 4096 bytes.", status: .badRequest)
        }
        let report = try await service.conflict(id: id)
        let decision: HubService.Decision
        switch form.choice ?? "" {
        case let choice where choice.hasPrefix("pick-"):
            guard let index = Int(choice.dropFirst(5)) else {
                return try await detail(id: id, nil, signed, message: "Choose one of the values.", status: .badRequest)
            }
            decision = .pick(index)
        case "merged":
            let text = form.merged ?? ""
            guard let fieldName = report.conflict.field,
                let field = service.configuration.schema.collection(report.conflict.collection)?.field(fieldName)
            else {
                return try await detail(
                    id: id, nil, signed, message: "A delete-against-update conflict is resolved by picking a side.",
                    status: .badRequest)
            }
            do {
                decision = .value(try field.type.parse(text, collection: report.conflict.collection, field: fieldName))
            } catch {
                return try await detail(
                    id: id, nil, signed, message: "The merged value does not fit the field: \(error)",
                    status: .badRequest)
            }
        default:
            return try await detail(
                id: id, nil, signed, message: "Choose a value or enter a merged one.", status: .badRequest)
        }
        var expected: UInt64?
        if let text = form.recordVersion, !text.isEmpty {
            guard let value = UInt64(text) else {
                return try await detail(
                    id: id, nil, signed, message: "The form's record version is not valid.", status: .badRequest)
            }
            expected = value
        }
        do {
            try await service.reviewResolve(
                id: id, decision: decision, reason: reason, by: signed.session.user, expectedVersion: expected,
                overturn: form.statusSeen == ConflictStatus.resolved.rawValue)
        } catch let error as HubError {
            return try await detail(
                id: id, nil, signed, message: error.message, status: HTTPResponse.Status(code: error.httpStatus))
        }
        return Self.redirect("/admin/conflicts/\(id)?done=1")
    }

    struct BulkForm: Decodable {
        var csrf: String?
        var strategy: String?
        var user: String?
        var reason: String?
        var status: String?
        var collection: String?
        var field: String?
        var rule: String?
        var territory: String?
        var from: String?
        var to: String?
        var record: String?
        var filterUser: String?
        var seenCount: String?

        enum CodingKeys: String, CodingKey {
            case csrf, strategy, user, reason, status, collection, field, rule, territory, from, to, record
            case filterUser = "filter_user"
            case seenCount = "seen_count"
        }
    }

    private func bulkResolve(_ request: Request, _ signed: Signed) async throws -> Response {
        guard let form = try? await Self.decodeForm(BulkForm.self, request) else {
            return errorPage("The form could not be read.", status: .badRequest, signed)
        }
        guard let given = form.csrf, secretsEqual(given, signed.session.csrf) else { return csrfRefused(signed) }
        var strategyText = form.strategy ?? ""
        if strategyText == "pick-user" { strategyText = "pick-user:\(form.user ?? "")" }
        guard let strategy = BulkStrategy(text: strategyText) else {
            return errorPage(
                "Choose a strategy (for pick-user, also the user's name). Nothing was changed.", status: .badRequest,
                signed)
        }
        let reason = (form.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else {
            return errorPage("Give a reason. Nothing was changed.", status: .badRequest, signed)
        }
        var parameters: [String: String] = [:]
        parameters["status"] = form.status
        parameters["collection"] = form.collection
        parameters["field"] = form.field
        parameters["rule"] = form.rule
        parameters["territory"] = form.territory
        parameters["from"] = form.from
        parameters["to"] = form.to
        parameters["user"] = form.filterUser
        parameters["record"] = form.record
        let query = try AdminConflictQuery(parameters: parameters)
        let seen = form.seenCount.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let result = try await service.bulkResolve(
            query, strategy: strategy, reason: reason, by: signed.session.user, expectedCount: seen)
        return errorPage(
            "Resolved \(result.resolved.count) conflict(s); skipped \(result.skipped.count).", status: .ok, signed,
            title: "Bulk resolve done")
    }

    private func export(_ request: Request) async throws -> Response {
        var parameters = AdminRoutes.parameters(request)
        let format = parameters.removeValue(forKey: "format") ?? "csv"
        parameters["limit"] = nil
        parameters["offset"] = nil
        let query = try AdminConflictQuery(parameters: parameters)
        return ConflictExport.response(service: service, query: query, format: format == "json" ? .json : .csv)
    }

    private func audit(_ signed: Signed) async throws -> Response {
        let events = try await service.auditLog(limit: 500)
        return render(
            "audit",
            base(signed, title: "Audit log", nav: "audit").merging([
                "events": events.map { event -> [String: Any] in
                    [
                        "at": AdminTime.iso8601(event.at),
                        "kind": event.kind.rawValue.replacingOccurrences(of: "_", with: " "),
                        "user": event.user ?? "", "detail": event.detail,
                    ]
                },
                "empty": events.isEmpty,
            ]) { $1 })
    }

    // MARK: - Rendering

    private func base(_ signed: Signed, title: String, nav: String) -> [String: Any] {
        [
            "title": title, "admin": signed.session.user, "csrf": signed.session.csrf, "signed_in": true,
            "nav_dashboard": nav == "dashboard", "nav_conflicts": nav == "conflicts", "nav_audit": nav == "audit",
        ]
    }

    private func errorPage(_ message: String, status: HTTPResponse.Status, _ signed: Signed, title: String = "Not done")
        -> Response
    {
        render("message", base(signed, title: title, nav: "").merging(["message": message]) { $1 }, status: status)
    }

    private func render(_ template: String, _ context: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html =
            library.render(context, withTemplate: template)
            ?? "<!doctype html><title>Error</title><p>Missing template \(template)."
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
                HTTPFields.Element.Name("X-Content-Type-Options")!: "nosniff",
                HTTPFields.Element.Name("Referrer-Policy")!: "same-origin",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    static func path(_ path: String, _ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = parameters.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
        return query.isEmpty ? path : "\(path)?\(query)"
    }

    static func decodeForm<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        try HubRoutes.refuseDeclaredLength(request, over: maxFormBytes)
        var body: [UInt8] = []
        for try await chunk in request.body {
            body += chunk.readableBytesView
            if body.count > maxFormBytes { throw HubError.badRequest.with("The form is too large.") }
        }
        return try URLEncodedFormDecoder().decode(type, from: String(decoding: body, as: UTF8.self))
    }

    static func display(_ value: Value?) -> String {
        switch value {
        case nil, .null?: "(empty)"
        case .text(let text)?, .date(let text)?: text.isEmpty ? "(empty text)" : text
        case .number(let number)?:
            number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag)?: flag ? "yes" : "no"
        case .set(let items)?: items.isEmpty ? "(no items)" : items.joined(separator: ", ")
        }
    }

    static func diff(from old: Value?, to new: Value?) -> [[String: Any]] {
        let tokens: [WordDiff.Token]
        switch (old, new) {
        case (.set(let a)?, .set(let b)?): tokens = WordDiff.items(from: a, to: b)
        case (nil, .set(let b)?), (.null?, .set(let b)?): tokens = WordDiff.items(from: [], to: b)
        case (.text(let a)?, .text(let b)?): tokens = WordDiff.words(from: a, to: b)
        default: return []
        }
        return tokens.map {
            ["text": $0.text, "added": $0.kind == .added, "removed": $0.kind == .removed, "same": $0.kind == .same]
        }
    }

    static func hint(_ type: FieldType) -> String {
        switch type {
        case .text: "Text, as it should read."
        case .number: "A number."
        case .date: "A date, YYYY-MM-DD."
        case .bool: "true or false."
        case .enumeration(let options): "One of: \(options.joined(separator: ", "))."
        case .set: "Items separated by commas: a,b,c."
        case .reference: "The id of the referenced record."
        }
    }
}
