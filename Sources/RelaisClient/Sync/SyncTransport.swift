public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
public import RelaisProtocol

/// How the sync engine reaches a hub: the four calls of the wire protocol (Protocol/README.md).
///
/// ``HTTPSyncTransport`` is the real one; tests may put a fake or an in-process hub behind it.
/// Implementations throw ``SyncError``: ``SyncError/Code/hubUnreachable`` for anything transient.
public protocol SyncTransport: Sendable {
    /// `POST /v1/enroll` with a one-time code (no token).
    func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse
    /// `POST /v1/push`: one batch.
    func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse
    /// `POST /v1/pull`: one page.
    func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse
    /// `POST /v1/replica/renew`: a new replica number and token after `replica_forked`.
    func renew(_ request: Relais_V1_ReplicaRenewRequest, token: String) async throws -> Relais_V1_ReplicaRenewResponse
    /// `GET /v1/snapshot`: the snapshot of the device's view, downloaded into `folder` (continuing a
    /// cut download), or nil when there is none; the laptop then bootstraps by pages. A transport
    /// without snapshots need not implement it.
    func snapshot(_ request: SnapshotRequest, token: String, folder: String) async throws -> SnapshotDownload?
    /// `POST /v1/token/rotate`: a new token for the same replica. A transport without it need not
    /// implement it: the laptop keeps its token until it expires.
    func rotateToken(token: String) async throws -> Relais_V1_TokenRotateResponse
    /// `POST /v1/device/wiped`: the report of a device an admin marked for wipe, before it erases itself.
    func reportWipe(_ report: Relais_V1_WipeReport, token: String) async throws -> Relais_V1_WipeReportResponse
    /// `POST /v1/digest`: digests of ranges of the device's view (Protocol/README.md section 14). A
    /// transport without it need not implement it: the laptop then does not verify its copy.
    func digest(_ request: Relais_V1_DigestRequest, token: String) async throws -> Relais_V1_DigestResponse
    /// `POST /v1/records`: records of the device's view by key, whole, to repair them.
    func records(_ request: Relais_V1_RecordsRequest, token: String) async throws -> Relais_V1_RecordsResponse
    /// `POST /v1/verification`: what the device found comparing its copy with the hub's view.
    func reportVerification(_ report: Relais_V1_VerificationReport, token: String) async throws
        -> Relais_V1_VerificationReportResponse
    /// `GET /v1/schema`: the text of the data schema the hub runs, fetched when the hub answers
    /// `schema_too_old`. A transport without it need not implement it: the laptop then reports the
    /// error instead of migrating.
    func schema(token: String) async throws -> String
}

extension SyncTransport {
    public func rotateToken(token: String) async throws -> Relais_V1_TokenRotateResponse {
        throw SyncError(.notFound, "this transport does not rotate tokens")
    }

    public func reportWipe(_ report: Relais_V1_WipeReport, token: String) async throws -> Relais_V1_WipeReportResponse {
        throw SyncError(.notFound, "this transport does not report wipes")
    }

    public func digest(_ request: Relais_V1_DigestRequest, token: String) async throws -> Relais_V1_DigestResponse {
        throw SyncError(.notFound, "this transport does not verify")
    }

    public func records(_ request: Relais_V1_RecordsRequest, token: String) async throws -> Relais_V1_RecordsResponse {
        throw SyncError(.notFound, "this transport does not verify")
    }

    public func reportVerification(_ report: Relais_V1_VerificationReport, token: String) async throws
        -> Relais_V1_VerificationReportResponse
    {
        throw SyncError(.notFound, "this transport does not verify")
    }

    public func schema(token: String) async throws -> String {
        throw SyncError(.notFound, "this transport does not fetch schemas")
    }
}

/// The HTTP transport: protobuf bodies compressed with deflate, `Accept-Encoding: deflate`, a bearer
/// token, over AsyncHTTPClient.
///
/// ```swift
/// let transport = HTTPSyncTransport(hub: "https://hub.example:8443")
/// let result = try await replica.sync(transport: transport)
/// ```
public struct HTTPSyncTransport: SyncTransport {
    /// The hub's base URL (`http://host:port`), without a trailing slash.
    public let hub: String
    /// The HTTP client (``HTTPSyncTransport/defaultClient`` unless given).
    public let client: HTTPClient
    /// The time allowed for one request.
    public let timeout: Duration
    /// The codec (limits and compression level).
    public let codec: MessageCodec
    /// The policy checked before every request (``HubSecurity/check(hub:)``).
    public let security: HubSecurity

    /// The process-wide client used unless one is given: like `HTTPClient.shared`, but a refused
    /// connection fails the request at once instead of being retried until the request's deadline
    /// (the sync engine does its own retries, with back-off), and connecting times out after 10 s.
    /// Its TLS is ``HubSecurity``'s: 1.2 at least, the system's roots.
    public static let defaultClient: HTTPClient = makeClient(tls: HubSecurity.tlsConfiguration)

    /// A client configured like ``defaultClient``, with `tls`.
    static func makeClient(tls: TLSConfiguration) -> HTTPClient {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// A transport for the hub at `hub`.
    public init(
        hub: String, client: HTTPClient = HTTPSyncTransport.defaultClient, timeout: Duration = .seconds(60),
        codec: MessageCodec = MessageCodec(), security: HubSecurity = HubSecurity()
    ) {
        var base = hub
        while base.hasSuffix("/") { base.removeLast() }
        self.hub = base
        self.client = client
        self.timeout = timeout
        self.codec = codec
        self.security = security
    }

    /// A transport for the hub at `hub` under `security`, on its client (``HubSecurity/client()``).
    ///
    /// - Throws: ``SyncError`` when the CA file cannot be read.
    public init(hub: String, security: HubSecurity) throws {
        self.init(hub: hub, client: try security.client(), security: security)
    }

    /// `POST /v1/enroll`.
    public func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse {
        try await call("/v1/enroll", request, token: nil)
    }

    /// `POST /v1/push`.
    public func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        try await call("/v1/push", request, token: token)
    }

    /// `POST /v1/digest`.
    public func digest(_ request: Relais_V1_DigestRequest, token: String) async throws -> Relais_V1_DigestResponse {
        try await call("/v1/digest", request, token: token)
    }

    /// `POST /v1/records`.
    public func records(_ request: Relais_V1_RecordsRequest, token: String) async throws -> Relais_V1_RecordsResponse {
        try await call("/v1/records", request, token: token)
    }

    /// `POST /v1/verification`.
    public func reportVerification(_ report: Relais_V1_VerificationReport, token: String) async throws
        -> Relais_V1_VerificationReportResponse
    {
        try await call("/v1/verification", report, token: token)
    }

    /// `POST /v1/pull`, asking for a deflate-compressed answer.
    public func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
        try await call("/v1/pull", request, token: token)
    }

    /// `POST /v1/replica/renew`.
    public func renew(_ request: Relais_V1_ReplicaRenewRequest, token: String) async throws
        -> Relais_V1_ReplicaRenewResponse
    {
        try await call("/v1/replica/renew", request, token: token)
    }

    /// `POST /v1/token/rotate`.
    public func rotateToken(token: String) async throws -> Relais_V1_TokenRotateResponse {
        try await call("/v1/token/rotate", Relais_V1_TokenRotateRequest(), token: token)
    }

    /// `POST /v1/device/wiped`.
    public func reportWipe(_ report: Relais_V1_WipeReport, token: String) async throws -> Relais_V1_WipeReportResponse {
        try await call("/v1/device/wiped", report, token: token)
    }

    /// `GET /v1/schema`.
    public func schema(token: String) async throws -> String {
        try security.check(hub: hub)
        var request = HTTPClientRequest(url: hub + "/v1/schema")
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let answer = try await Self.exchange(
            request, client: client, hub: hub, timeout: timeout, maxBytes: codec.limits.maxBodyBytes, codec: codec)
        return String(decoding: answer.bytes, as: UTF8.self)
    }

    private func call<Request: WireMessage, Response: WireMessage>(
        _ path: String, _ message: Request, token: String?
    ) async throws -> Response {
        try security.check(hub: hub)
        let body = try codec.encode(message, format: .protobuf, encoding: .deflate)
        var request = HTTPClientRequest(url: hub + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: WireFormat.protobuf.contentType)
        request.headers.add(name: "Content-Encoding", value: "deflate")
        request.headers.add(name: "Accept", value: WireFormat.protobuf.contentType)
        request.headers.add(name: "Accept-Encoding", value: "deflate")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(body)
        let answer = try await Self.exchange(
            request, client: client, hub: hub, timeout: timeout, maxBytes: codec.limits.maxBodyBytes, codec: codec)
        do {
            return try codec.decode(
                Response.self, from: answer.bytes, contentType: answer.contentType,
                contentEncoding: answer.contentEncoding)
        } catch {
            throw SyncError(
                .protocolFailure, "the hub's answer to \(path) is unreadable: \(error)", httpStatus: answer.status)
        }
    }

    /// A successful (2xx) answer of the hub, its body read whole.
    struct Answer {
        var status: Int
        var contentType: String?
        var contentEncoding: String?
        var retryAfter: String?
        var bytes: [UInt8]
    }

    /// Sends `request` and reads its answer, up to `maxBytes`: the one exchange of the sync transport
    /// and the admin client. A hub that cannot be reached is ``SyncError/Code/hubUnreachable``; an
    /// answer outside 2xx is the ``SyncError`` its status and body say (``SyncError/fromHTTP``).
    static func exchange(
        _ request: HTTPClientRequest, client: HTTPClient, hub: String, timeout: Duration, maxBytes: Int,
        codec: MessageCodec
    ) async throws -> Answer {
        let answer: Answer
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
            let buffer = try await response.body.collect(upTo: maxBytes)
            answer = Answer(
                status: Int(response.status.code), contentType: response.headers.first(name: "Content-Type"),
                contentEncoding: response.headers.first(name: "Content-Encoding"),
                retryAfter: response.headers.first(name: "Retry-After"), bytes: Array(buffer.readableBytesView))
        } catch {
            throw SyncError(.hubUnreachable, "cannot reach the hub at \(hub): \(describe(error))")
        }
        guard (200..<300).contains(answer.status) else {
            throw SyncError.fromHTTP(
                status: answer.status, body: answer.bytes, contentType: answer.contentType,
                contentEncoding: answer.contentEncoding, retryAfter: answer.retryAfter, codec: codec)
        }
        return answer
    }

    /// An error as text for a message, at most 200 characters.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
