import Foundation
import Hummingbird
import Logging
import RelaisProtocol

/// Signing in and out, and the session every other page needs.
extension AdminPages {
    /// A signed-in admin or manager: the session's id (the cookie's value), the session and the
    /// user's role.
    struct Signed: Sendable {
        var id: String
        var session: AdminSession
        var role: Role
    }

    /// The request's live session, if its user is still an enabled admin or manager: a user demoted,
    /// disabled or removed since signing in loses the session at the next request.
    func session(_ request: Request) async throws -> Signed? {
        guard let id = request.cookies[Self.sessionCookie]?.value, !id.isEmpty,
            let session = try await sessions.session(id, now: service.now())
        else { return nil }
        let user = try await service.store.read { tx in try await tx.user(named: session.user) }
        guard let user, user.role != .rep, !user.isDisabled else {
            try await sessions.close(id)
            return nil
        }
        return Signed(id: id, session: session, role: user.role)
    }

    /// Where a signed-in user starts: the dashboard for an admin, the reports for a manager.
    static func home(_ role: Role) -> String { role == .admin ? "/admin/dashboard" : "/admin/reports" }

    /// Runs `body` for a signed-in admin, or manager when `managers` (else redirects to the sign-in
    /// page; a manager on an admin's page gets 403); a refused request, or a store failure's answer,
    /// becomes a message page with the error's status.
    func withSession(_ request: Request, managers: Bool = false, _ body: (Signed) async throws -> Response)
        async throws -> Response
    {
        guard let signed = try await session(request) else { return Self.redirect("/admin/sign-in") }
        guard managers || signed.role == .admin else {
            return errorPage("This page is for admins. Your pages are the reports.", status: .forbidden, signed)
        }
        do {
            return try await body(signed)
        } catch let error as HubError {
            return errorPage(error.message, status: HTTPResponse.Status(code: error.httpStatus), signed)
        } catch let failure as HubStoreError {
            service.logger.error("store failure", metadata: ["relais.error": "\(String(reflecting: failure))"])
            let answer = HubError(answering: failure)
            return errorPage(answer.message, status: HTTPResponse.Status(code: answer.httpStatus), signed)
        }
    }

    func signInPage(message: String?, status: HTTPResponse.Status) -> Response {
        let csrf = AdminSessions.randomToken()
        var response = render(SignInView(csrf: csrf, message: message), status: status)
        response.setCookie(
            Cookie(
                name: Self.signInCookie, value: csrf, maxAge: 900, path: "/admin", secure: secureCookies,
                httpOnly: true, sameSite: .strict)
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

    /// Sign-in is limited per address (checked before the form is read) and per token tried; a
    /// successful sign-in gives its tokens back, so only failed attempts count.
    func signIn(_ request: Request, peer: String) async throws -> Response {
        let address = "address:\(peer)"
        do {
            try RequestLimits.take(limits.signIn, keys: [address], what: "sign-in attempts")
        } catch let error as RateLimited {
            return tooManySignIns(error)
        }
        let form: SignInForm
        do {
            form = try await AdminForms.decode(SignInForm.self, request)
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
        guard !token.isEmpty else { return signInPage(message: "Enter your token.", status: .badRequest) }
        let keys = RequestLimits.attemptKeys(peer: peer, secret: token)
        do {
            try RequestLimits.take(limits.signIn, keys: keys.filter { $0 != address }, what: "sign-in attempts")
        } catch let error as RateLimited {
            return tooManySignIns(error)
        }
        let principal: Principal
        do {
            principal = try await service.authenticateOutsideSync(token: token)
        } catch let error as HubError where error == .wipeRequested {
            return signInPage(
                message: "That token's device is to be wiped: it opens nothing any more.",
                status: .init(code: error.httpStatus))
        } catch let error as HubError where error == .replicaForked {
            return signInPage(
                message: "That token was replaced: it only renews its laptop. Use the current one.",
                status: .init(code: error.httpStatus))
        } catch {
            return signInPage(message: "That token is not valid.", status: .unauthorized)
        }
        guard principal.role != .rep else {
            return signInPage(
                message: "That token is not an admin's or a manager's: the pages need one of theirs.",
                status: .forbidden)
        }
        RequestLimits.giveBack(limits.signIn, keys: keys)
        let opened: (id: String, session: AdminSession)
        do {
            opened = try await openSession(token: token, user: principal.user)
        } catch is HubError {
            return signInPage(message: "That token is not valid.", status: .unauthorized)
        }
        try await service.recordAudit(.adminSignedIn, user: principal.user, detail: "signed in to the admin pages")
        var response = Self.redirect(Self.home(principal.role))
        response.setCookie(
            Cookie(
                name: Self.sessionCookie, value: opened.id, path: "/admin", secure: secureCookies, httpOnly: true,
                sameSite: .strict))
        response.setCookie(
            Cookie(
                name: Self.signInCookie, value: "", maxAge: 0, path: "/admin", secure: secureCookies, httpOnly: true,
                sameSite: .strict))
        return response
    }

    /// A session for `user`, whose `token` was checked: checked again in the session's own
    /// transaction, so that a device or API token revoked in between opens nothing.
    func openSession(token: String, user: String) async throws -> (id: String, session: AdminSession) {
        try await sessions.open(user: user, now: service.now()) { [service] tx in
            guard try await service.authenticateOutsideSync(token: token, in: tx).user == user else {
                throw HubError.unauthorized
            }
        }
    }

    func signOut(_ request: Request) async throws -> Response {
        guard let signed = try await session(request) else { return Self.redirect("/admin/sign-in") }
        let form = try? await AdminForms.decode(CSRFForm.self, request)
        guard let given = form?.csrf, secretsEqual(given, signed.session.csrf) else { return csrfRefused(signed) }
        try await sessions.close(signed.id)
        var response = Self.redirect("/admin/sign-in")
        response.setCookie(
            Cookie(
                name: Self.sessionCookie, value: "", maxAge: 0, path: "/admin", secure: secureCookies, httpOnly: true,
                sameSite: .strict))
        return response
    }

    func csrfRefused(_ signed: Signed) -> Response {
        errorPage(
            "This form expired or did not come from this site (its CSRF token is missing or wrong). Nothing was changed. Reload the page and try again.",
            status: .forbidden, signed)
    }
}
