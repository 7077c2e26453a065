public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import RelaisCore
import RelaisProtocol

/// What an administrator decides for a conflict.
public enum AdminDecision: Sendable, Hashable {
    /// Reinstate `values[n]` (0-based, as listed).
    case pick(Int)
    /// Write a merged value.
    case value(AdminValue)
}

/// The hub's admin API (`/v1/admin`, role `admin`; Protocol/README.md, docs/ADMIN.md) over
/// AsyncHTTPClient: conflict reports listed, shown and resolved, as typed values.
///
/// ```swift
/// let admin = AdminClient(hub: "https://hub.example:8443", token: adminToken)
/// for report in try await admin.allConflicts(status: .open) {
///     try await admin.resolve(id: report.id, .pick(0), reason: "checked with the customer")
/// }
/// ```
///
/// Errors are ``SyncError``s, classified as a sync's are: ``SyncError/Code/hubUnreachable`` when the
/// hub cannot be reached (no answer; 429 and 5xx too, with ``SyncError/httpStatus`` set — the client
/// does not retry), ``SyncError/Code/authenticationRefused`` for an unknown token (401),
/// ``SyncError/Code/forbidden`` for a token that is not an admin's (403), ``SyncError/Code/notFound``
/// for an unknown report (404), ``SyncError/Code/protocolFailure`` for a refused request (400, 409)
/// or an answer this client cannot read.
public struct AdminClient: Sendable {
    /// The hub's base URL (`http://host:port`), without a trailing slash.
    public let hub: String
    /// The admin token sent as `Authorization: Bearer`.
    private let token: String
    /// The HTTP client (``HTTPSyncTransport/defaultClient`` unless given).
    public let client: HTTPClient
    /// The time allowed for one request.
    public let timeout: Duration
    /// The policy checked before every request (``HubSecurity/check(hub:)``): an admin token never
    /// crosses the network in clear unless told.
    public let security: HubSecurity

    /// The largest answer read: a page of 1000 reports, or a report with 500 versions, is far smaller.
    public static let maxAnswerBytes = 64 << 20

    /// A client for the hub at `hub` with an admin token.
    public init(
        hub: String, token: String, client: HTTPClient = HTTPSyncTransport.defaultClient,
        timeout: Duration = .seconds(60), security: HubSecurity = HubSecurity()
    ) {
        var base = hub
        while base.hasSuffix("/") { base.removeLast() }
        self.hub = base
        self.token = token
        self.client = client
        self.timeout = timeout
        self.security = security
    }

    /// A client for the hub at `hub` under `security`, on its client (``HubSecurity/client()``).
    ///
    /// - Throws: ``SyncError`` when the CA file cannot be read.
    public init(hub: String, token: String, security: HubSecurity) throws {
        self.init(hub: hub, token: token, client: try security.client(), security: security)
    }

    /// One page of reports, newest first (`GET /v1/admin/conflicts`); every status unless `status`.
    public func conflicts(status: ConflictStatus? = nil, limit: Int = 100, offset: Int = 0) async throws
        -> [AdminConflict]
    {
        var query = "limit=\(limit)&offset=\(offset)"
        if let status { query += "&status=\(Self.escape(status.rawValue))" }
        return try await call(.GET, "/v1/admin/conflicts?" + query, body: nil)
    }

    /// Every report, newest first, read `pageSize` at a time; every status unless `status`.
    public func allConflicts(status: ConflictStatus? = nil, pageSize: Int = 1000) async throws -> [AdminConflict] {
        precondition(pageSize > 0, "pageSize is 1 or more")
        var all: [AdminConflict] = []
        while true {
            let page = try await conflicts(status: status, limit: pageSize, offset: all.count)
            all += page
            if page.count < pageSize { return all }
        }
    }

    /// One report with the record now, the field's history and the earlier reports on the field
    /// (`GET /v1/admin/conflicts/ID`).
    public func conflict(id: String) async throws -> AdminConflictDetail {
        try await call(.GET, "/v1/admin/conflicts/\(Self.escape(id))", body: nil)
    }

    /// Resolves a report (`POST /v1/admin/conflicts/ID/resolve`) and returns it as resolved.
    ///
    /// - Parameters:
    ///   - overturn: whether to decide again a report that an administrator already resolved or the
    ///     rule already decided.
    ///   - recordVersion: the record's version as the administrator saw it
    ///     (``AdminConflictDetail/Record/version``): the hub refuses (409) if the record changed since.
    ///     Without it the hub refuses only when a device wrote the record after the report, a write
    ///     the report does not list.
    @discardableResult
    public func resolve(
        id: String, _ decision: AdminDecision, reason: String = "", overturn: Bool = true, recordVersion: UInt64? = nil
    ) async throws -> AdminConflict {
        let body = ResolveBody(decision: decision, reason: reason, overturn: overturn, recordVersion: recordVersion)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try await call(.POST, "/v1/admin/conflicts/\(Self.escape(id))/resolve", body: try encoder.encode(body))
    }

    private struct ResolveBody: Encodable {
        var decision: AdminDecision
        var reason: String
        var overturn: Bool
        var recordVersion: UInt64?

        enum CodingKeys: String, CodingKey {
            case pick, value, reason, overturn
            case recordVersion = "record_version"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch decision {
            case .pick(let index): try container.encode(index, forKey: .pick)
            case .value(let value): try container.encode(value, forKey: .value)
            }
            try container.encode(reason, forKey: .reason)
            try container.encode(overturn, forKey: .overturn)
            try container.encodeIfPresent(recordVersion, forKey: .recordVersion)
        }
    }

    /// `GET path`, its JSON answer decoded.
    func get<Answer: Decodable>(_ path: String) async throws -> Answer {
        try await call(.GET, path, body: nil)
    }

    private func call<Answer: Decodable>(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> Answer {
        try security.check(hub: hub)
        var request = HTTPClientRequest(url: hub + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let answer = try await HTTPSyncTransport.exchange(
            request, client: client, hub: hub, timeout: timeout, maxBytes: Self.maxAnswerBytes, codec: MessageCodec())
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(answer.bytes))
        } catch {
            throw SyncError(
                .protocolFailure, "the hub's answer to \(method) \(path) is unreadable: \(error)",
                httpStatus: answer.status)
        }
    }

    /// A path segment or query value: letters, digits, `-` and `_` as they are, the rest
    /// percent-encoded.
    private static func escape(_ text: String) -> String {
        var escaped = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                escaped.append(Character(Unicode.Scalar(byte)))
            default:
                escaped += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return escaped
    }
}
