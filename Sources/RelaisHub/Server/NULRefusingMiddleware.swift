import Hummingbird

/// Refuses, as 400 `bad_request`, a request whose address holds a NUL character (`%00`): no path or
/// query parameter of the hub's means one, and PostgreSQL's text refuses it (a filter on one would
/// fail the request with a 500). Bodies are checked where they are read (``AdminForms``, the admin
/// API's JSON, the protocol's validation).
struct NULRefusingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if request.uri.description.utf8.containsNUL {
            throw HubError.badRequest.with("The address holds a NUL character (%00).")
        }
        return try await next(request, context)
    }
}

extension Sequence<UInt8> {
    /// Whether the bytes hold a NUL, raw or percent-encoded (`%00`, the only way a form or an
    /// address spells one).
    var containsNUL: Bool {
        var state = 0  // bytes of "%00" matched so far
        for byte in self {
            if byte == 0 { return true }
            switch (state, byte) {
            case (_, UInt8(ascii: "%")): state = 1
            case (1, UInt8(ascii: "0")), (2, UInt8(ascii: "0")): state += 1
            default: state = 0
            }
            if state == 3 { return true }
        }
        return false
    }
}
