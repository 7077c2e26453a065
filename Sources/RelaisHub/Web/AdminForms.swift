import Foundation
import Hummingbird

/// Reading the admin pages' POST forms (`application/x-www-form-urlencoded`), at most
/// ``maxBytes`` each.
enum AdminForms {
    /// The largest form body the pages read; a larger one is refused before it is decoded.
    static let maxBytes = 64 * 1024

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        try HubRoutes.refuseDeclaredLength(request, over: maxBytes)
        var body: [UInt8] = []
        for try await chunk in request.body {
            body += chunk.readableBytesView
            if body.count > maxBytes { throw HubError.badRequest.with("The form is too large.") }
        }
        // No field of a form means one, and PostgreSQL's text refuses it.
        if body.containsNUL { throw HubError.badRequest.with("The form holds a NUL character (%00).") }
        return try URLEncodedFormDecoder().decode(type, from: String(decoding: body, as: UTF8.self))
    }
}

/// The sign-in form: an admin token, and the CSRF token of the sign-in cookie.
struct SignInForm: Decodable {
    var token: String?
    var csrf: String?
}

/// A form that carries only the session's CSRF token (sign out).
struct CSRFForm: Decodable {
    var csrf: String?
}

/// The conflict page's resolve form. `record_version` and `status_seen` are what the page showed, so a
/// form that went stale meanwhile is refused.
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

/// The conflict list's bulk-resolve form: a strategy, a reason, the list's filters (the filter on a
/// salesperson travels as `filter_user`, since `user` names the salesperson whose values to keep) and
/// the count the list showed.
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

    /// The list's filters, as the query parameters ``ConflictFilter`` reads.
    var filterParameters: [String: String] {
        var parameters: [String: String] = [:]
        parameters["status"] = status
        parameters["collection"] = collection
        parameters["field"] = field
        parameters["rule"] = rule
        parameters["territory"] = territory
        parameters["from"] = from
        parameters["to"] = to
        parameters["user"] = filterUser
        parameters["record"] = record
        return parameters
    }
}
