import Hummingbird
import Logging
import NIOHTTP1
import RelaisProtocol

/// Turns every error into the JSON error body `{"error": {"code", "message", "details"}}`.
///
/// ``HubError`` and `ProtocolError` carry their code and status; a ``HubStoreError`` is answered with
/// ``HubError/init(answering:)`` (503, 507, or a bare 500); the router's own 404 and 405 become
/// `not_found` and `method_not_allowed`; anything else is a 500 `internal` with no detail (the
/// detail goes to the log).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HubError {
            if error.httpStatus >= 500 {
                logger.error("hub error", metadata: ["relais.error": "\(String(reflecting: error))"])
            }
            return Self.response(
                status: error.httpStatus, code: error.code.rawValue, message: error.message, details: error.details)
        } catch let error as RateLimited {
            return Self.response(
                status: 429, code: "rate_limited", message: error.message, retryAfterSeconds: error.retryAfterSeconds)
        } catch let failure as HubStoreError {
            let answer = HubError(answering: failure)
            if answer.httpStatus >= 500 {
                logger.error("store failure", metadata: ["relais.error": "\(String(reflecting: failure))"])
            }
            return Self.response(status: answer.httpStatus, code: answer.code.rawValue, message: answer.message)
        } catch let error as ProtocolError {
            return Self.response(
                status: error.httpStatus, code: error.code.rawValue, message: error.message, details: error.details)
        } catch let error as HTTPParserError {
            // The client went away mid-request (a cut connection, a killed laptop): nothing to answer,
            // nothing to report. The server closes the connection.
            logger.debug("request stream ended early", metadata: ["relais.error": "\(error)"])
            throw error
        } catch let error as HTTPError {
            switch error.status {
            case .notFound where HubRoutes.isKnownPath(request.uri.path):
                return Self.response(
                    status: 405, code: HubError.Code.methodNotAllowed.rawValue,
                    message: "The endpoint does not take this method.")
            case .notFound:
                return Self.response(status: 404, code: HubError.Code.notFound.rawValue, message: "No such endpoint.")
            case .methodNotAllowed:
                return Self.response(
                    status: 405, code: HubError.Code.methodNotAllowed.rawValue, message: "Method not allowed.")
            default:
                return Self.response(status: error.status.code, code: "http_error", message: error.status.reasonPhrase)
            }
        } catch {
            logger.error("unexpected error", metadata: ["relais.error": "\(String(reflecting: error))"])
            return Self.response(status: 500, code: HubError.Code.internal.rawValue, message: HubError.internal.message)
        }
    }

    /// The error body: the canonical JSON of a `relais.v1.Error` (`code`, `message`, `details`; see
    /// Protocol/README.md section 9), with the same `code` and `message` also under an `error` key
    /// for HTTP tools that expect `{"error": {...}}`. A client decoding it as a `relais.v1.Error`
    /// ignores that key, as it ignores every unknown field.
    ///
    /// A 429 or 503 carries `Retry-After`: `retryAfterSeconds`, or 1 s.
    static func response(
        status: Int, code: String, message: String, details: [String: String] = [:], retryAfterSeconds: Int? = nil
    ) -> Response {
        var error: [String: Any] = ["code": code, "message": message]
        if !details.isEmpty { error["details"] = details }
        var body = error
        body["error"] = error
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == 503 || status == 429 { headers[.retryAfter] = "\(retryAfterSeconds ?? 1)" }
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONBody.encode(body))))
    }
}
