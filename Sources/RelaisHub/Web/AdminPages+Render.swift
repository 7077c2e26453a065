import Foundation
import Hummingbird
import Mustache

/// Drawing a page: a typed view model (``AdminView``) through its template, with the headers every
/// admin page carries.
extension AdminPages {
    func render<View: AdminView>(_ view: View, status: HTTPResponse.Status = .ok) -> Response {
        let html =
            library.render(view, withTemplate: View.template)
            ?? "<!doctype html><title>Error</title><p>Missing template \(View.template)."
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

    /// A page that only says `message` (an error, or what a bulk resolve did).
    func errorPage(_ message: String, status: HTTPResponse.Status, _ signed: Signed, title: String = "Not done")
        -> Response
    {
        render(MessageView(layout: AdminLayout(signed, title: title, section: nil), message: message), status: status)
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// `path` with `parameters` as its query, percent-encoded.
    static func path(_ path: String, _ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = parameters.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
        return query.isEmpty ? path : "\(path)?\(query)"
    }
}
