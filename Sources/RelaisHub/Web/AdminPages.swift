import Foundation
import Hummingbird
import Logging
import Mustache

/// The admin pages under `/admin`, rendered on the server with swift-mustache; they work without
/// JavaScript. Sign-in takes an admin token and opens a server-side session (cookie `relais_admin`:
/// HttpOnly, SameSite=Strict, Path=/admin); every POST form carries the session's CSRF token, checked
/// before anything else. Pages: dashboard, conflict list with filters, conflict detail with a resolve
/// form, audit log. Resolving goes through the same service call as the API, so a stale form gets 409
/// and nothing is written.
///
/// The handlers live in extensions by concern: sign-in and sessions (`AdminPages+SignIn`), the
/// dashboard and audit log (`AdminPages+Overview`), the conflict list, detail and export
/// (`AdminPages+Conflicts`), resolving (`AdminPages+Resolve`); forms are read in `AdminForms`, pages
/// drawn from the typed view models of `AdminViews` by `AdminPages+Render`.
struct AdminPages: Sendable {
    let service: HubService
    let sessions: AdminSessions
    let limits: RequestLimits
    /// Whether cookies carry `Secure` (the hub serves TLS): a browser then never sends the session
    /// over plain HTTP. Behind a TLS proxy, the proxy adds it (Deploy/nginx/relais.conf).
    let secureCookies: Bool
    let library: MustacheLibrary
    let stylesheet: String

    static let sessionCookie = "relais_admin"
    static let signInCookie = "relais_signin"

    init(service: HubService, limits: RequestLimits, secureCookies: Bool = false, sessions: AdminSessions? = nil) {
        self.service = service
        self.limits = limits
        self.secureCookies = secureCookies
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
            guard let signed = try await self.session(request) else { return Self.redirect("/admin/sign-in") }
            return Self.redirect(Self.home(signed.role))
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
        router.get("/admin/reports") { request, _ in
            try await self.withSession(request, managers: true) { try await self.reports(request, $0) }
        }
        router.post("/admin/reports/confirm") { request, _ in
            try await self.withSession(request, managers: true) { try await self.confirm(request, $0) }
        }
    }
}
