import Foundation
import Hummingbird
import Logging
import RelaisProtocol

/// Signing in and out, and the session every other page needs.
extension AdminPages {
    /// A signed-in admin: the session's id (the cookie's value) and the session.
    struct Signed: Sendable {
        var id: String
        var session: AdminSession
    }

    func session(_ request: Request) async throws -> Signed? {
        guard let id = request.cookies[Self.sessionCookie]?.value, !id.isEmpty,
            let session = try await sessions.session(id, now: service.now())
        else { return nil }
        return Signed(id: id, session: session)
    }

    /// Runs `body` for a signed-in admin (else redirects to the sign-in page); a refused request, or a
    /// store failure's answer, becomes a message page with the error's status.
    func withSession(_ request: Request, _ body: (Signed) async throws -> Response) async throws -> Response {
        guard let signed = try await session(request) else { return Self.redirect("/admin/sign-in") }
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
            Cookie(name: Self.signInCookie, value: csrf, maxAge: 900, path: "/admin", httpOnly: true, sameSite: .strict)
        )
        return response
    }

    func signIn(_ request: Request) async throws -> Response {
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
        guard !token.isEmpty else { return signInPage(message: "Enter an admin token.", status: .badRequest) }
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
        let opened = try await sessions.open(user: principal.user, now: service.now())
        try await service.recordAudit(.adminSignedIn, user: principal.user, detail: "signed in to the admin pages")
        var response = Self.redirect("/admin/dashboard")
        response.setCookie(
            Cookie(name: Self.sessionCookie, value: opened.id, path: "/admin", httpOnly: true, sameSite: .strict))
        response.setCookie(
            Cookie(name: Self.signInCookie, value: "", maxAge: 0, path: "/admin", httpOnly: true, sameSite: .strict))
        return response
    }

    func signOut(_ request: Request) async throws -> Response {
        guard let signed = try await session(request) else { return Self.redirect("/admin/sign-in") }
        let form = try? await AdminForms.decode(CSRFForm.self, request)
        guard let given = form?.csrf, secretsEqual(given, signed.session.csrf) else { return csrfRefused(signed) }
        try await sessions.close(signed.id)
        var response = Self.redirect("/admin/sign-in")
        response.setCookie(
            Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/admin", httpOnly: true, sameSite: .strict))
        return response
    }

    func csrfRefused(_ signed: Signed) -> Response {
        errorPage(
            "This form expired or did not come from this site (its CSRF token is missing or wrong). Nothing was changed. Reload the page and try again.",
            status: .forbidden, signed)
    }
}
