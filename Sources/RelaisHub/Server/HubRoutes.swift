import Foundation
import Hummingbird
import RelaisCore
import RelaisProtocol
import SwiftProtobuf

/// The hub's endpoints (Protocol/README.md): sync under `/v1`, the admin API under `/v1/admin`,
/// health and metrics.
struct HubRoutes: Sendable {
    let service: HubService
    let limits: RequestLimits
    /// Whether `GET /metrics` is answered here; when the metrics have their own address
    /// (`--metrics-port`), it is `404` on the sync port.
    var servesMetrics = true

    /// Whether `path` names an endpoint (with some method): a request with another method gets 405.
    static func isKnownPath(_ path: String) -> Bool {
        let fixed: Set<String> = [
            "/v1/enroll", "/v1/replica/renew", "/v1/token/rotate", "/v1/device/wiped", "/v1/push", "/v1/pull",
            "/v1/digest", "/v1/records", "/v1/verification", "/v1/snapshot", "/v1/schema", "/v1/health", "/metrics",
            "/v1/reports/value-at-risk", "/v1/reports/complaints", "/v1/reports/relationship-levels",
            "/v1/reports/retention",
            "/v1/admin/conflicts",
            "/v1/admin/devices", "/v1/admin/events",
        ]
        if fixed.contains(path) || AdminRoutes.isKnownPath(path) || AdminPages.isKnownPath(path) { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 6, parts[1] == "v1", parts[2] == "admin", parts[3] == "devices",
            parts[5] == "revoke" || parts[5] == "wipe"
        {
            return true
        }
        // "", "v1", "admin", "conflicts", id[, "resolve"]
        guard parts.count == 5 || parts.count == 6, parts[1] == "v1", parts[2] == "admin", parts[3] == "conflicts",
            !parts[4].isEmpty
        else { return false }
        return parts.count == 5 || parts[5] == "resolve"
    }

    /// The most bytes an admin JSON body may have.
    static let maxAdminBodyBytes = 1 << 20

    func register(on router: Router<HubRequestContext>) {
        router.post("/v1/enroll") { request, context in try await self.enroll(request, peer: context.peer) }
        router.post("/v1/replica/renew") { request, _ in try await self.renew(request) }
        router.post("/v1/token/rotate") { request, _ in try await self.rotateToken(request) }
        router.post("/v1/device/wiped") { request, _ in try await self.reportWipe(request) }
        router.post("/v1/push") { request, _ in try await self.push(request) }
        router.post("/v1/pull") { request, _ in try await self.pull(request) }
        router.post("/v1/digest") { request, _ in try await self.digest(request) }
        router.post("/v1/records") { request, _ in try await self.records(request) }
        router.post("/v1/verification") { request, _ in try await self.reportVerification(request) }
        router.get("/v1/snapshot") { request, context in try await self.snapshot(request, context: context) }
        router.get("/v1/schema") { request, _ in try await self.schemaFile(request) }
        router.get("/v1/reports/value-at-risk") { request, _ in try await self.valueAtRisk(request) }
        router.get("/v1/reports/complaints") { request, _ in try await self.complaints(request) }
        router.get("/v1/reports/relationship-levels") { request, _ in try await self.levels(request) }
        router.get("/v1/reports/retention") { request, _ in try await self.retention(request) }
        router.get("/v1/health") { _, _ in try await self.health() }
        router.get("/metrics") { _, _ in
            guard self.servesMetrics else {
                throw HubError.notFound.with("The metrics are served on their own address (--metrics-port).")
            }
            return try await Self.metrics(self.service)
        }
        AdminRoutes(service: service).register(on: router)
        router.get("/v1/admin/devices") { request, _ in try await self.listDevices(request) }
        router.post("/v1/admin/devices/:replica/revoke") { request, context in
            try await self.revokeDevice(request, replica: context.parameters.require("replica"))
        }
        router.post("/v1/admin/devices/:replica/wipe") { request, context in
            try await self.wipeDevice(request, replica: context.parameters.require("replica"))
        }
        router.get("/v1/admin/events") { request, _ in try await self.listEvents(request) }
    }

    // MARK: - Sync

    /// Enrollment is limited per address (checked before the body is read) and per code; a successful
    /// enrollment, or one failing for another reason than its code, gives its tokens back, so only
    /// refused codes (and unreadable bodies) count.
    private func enroll(_ request: Request, peer: String) async throws -> Response {
        let address = "address:\(peer)"
        try RequestLimits.take(limits.enroll, keys: [address], what: "enrollment attempts")
        let (message, format) = try await Self.decode(Relais_V1_EnrollRequest.self, request, service.codec)
        let keys = RequestLimits.attemptKeys(peer: peer, secret: message.code)
        try RequestLimits.take(limits.enroll, keys: keys.filter { $0 != address }, what: "enrollment attempts")
        let response: Relais_V1_EnrollResponse
        do {
            response = try await service.enroll(message)
        } catch let error as HubError where error != .invalidEnrollmentCode {
            // Not a guess (a schema mismatch, a store that is down): the laptop may try again.
            RequestLimits.giveBack(limits.enroll, keys: keys)
            throw error
        }
        RequestLimits.giveBack(limits.enroll, keys: keys)
        return try Self.respond(response, format: format, codec: service.codec)
    }

    private func renew(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeRenewal(principal)
        let (message, format) = try await Self.decode(Relais_V1_ReplicaRenewRequest.self, request, service.codec)
        return try Self.respond(try await service.renew(message, from: principal), format: format, codec: service.codec)
    }

    private func rotateToken(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeSync(principal)
        let (_, format) = try await Self.decode(Relais_V1_TokenRotateRequest.self, request, service.codec)
        return try Self.respond(try await service.rotateToken(from: principal), format: format, codec: service.codec)
    }

    private func reportWipe(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        let (message, format) = try await Self.decode(Relais_V1_WipeReport.self, request, service.codec)
        return try Self.respond(
            try await service.reportWipe(message, from: principal), format: format, codec: service.codec)
    }

    private func push(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeSync(principal)
        let (message, format) = try await Self.decode(Relais_V1_PushRequest.self, request, service.codec)
        return try Self.respond(try await service.push(message, from: principal), format: format, codec: service.codec)
    }

    private func pull(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeSync(principal)
        let (message, format) = try await Self.decode(Relais_V1_PullRequest.self, request, service.codec)
        let encoding = ContentEncoding.negotiate(acceptEncoding: request.headers[.acceptEncoding])
        let page = try await service.pullEncoded(message, from: principal)
        guard format == .protobuf else {
            return try Self.respond(
                try Relais_V1_PullResponse(serializedBytes: page), format: format, encoding: encoding,
                codec: service.codec)
        }
        // The page comes as protobuf bytes already: only compressed here.
        return try Self.respond(serialized: page, format: .protobuf, encoding: encoding, codec: service.codec)
    }

    /// `POST /v1/digest`: ranges of the device's view (Protocol/README.md section 14). Counted against
    /// the sync rate limit: each answer reads the whole view.
    private func digest(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeSync(principal)
        let (message, format) = try await Self.decode(Relais_V1_DigestRequest.self, request, service.codec)
        let encoding = ContentEncoding.negotiate(acceptEncoding: request.headers[.acceptEncoding])
        return try Self.respond(
            try await service.digest(message, from: principal), format: format, encoding: encoding, codec: service.codec
        )
    }

    /// `POST /v1/records`: records of the device's view by key, to repair what a verification found.
    private func records(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeSync(principal)
        let (message, format) = try await Self.decode(Relais_V1_RecordsRequest.self, request, service.codec)
        let encoding = ContentEncoding.negotiate(acceptEncoding: request.headers[.acceptEncoding])
        return try Self.respond(
            try await service.records(message, from: principal), format: format, encoding: encoding,
            codec: service.codec)
    }

    /// `POST /v1/verification`: what the device found comparing its copy with the hub's view.
    private func reportVerification(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeSync(principal)
        let (message, format) = try await Self.decode(Relais_V1_VerificationReport.self, request, service.codec)
        return try Self.respond(
            try await service.reportVerification(message, from: principal), format: format, codec: service.codec)
    }

    /// `GET /v1/snapshot?schema_version=N&hub_epoch=E&unsent_from=C`: the compressed snapshot of the
    /// device's view, whole or, with `Range: bytes=N-` (and an `If-Range` naming it), from byte N on.
    private func snapshot(_ request: Request, context: HubRequestContext) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeSync(principal)
        let query = request.uri.queryParameters
        let schemaVersion = query.get("schema_version").flatMap { UInt32(String($0)) } ?? 0
        let hubEpoch = query.get("hub_epoch").map { String($0) } ?? ""
        let unsentFrom = try Self.number(
            request, "unsent_from", in: 0...UInt64.max, "unsent_from must be a counter (an unsigned integer).")
        // The service has looked for the file (`FileIO`'s own miss would answer a route miss).
        let snapshot = try await service.snapshot(
            for: principal, schemaVersion: schemaVersion, hubEpoch: hubEpoch, unsentFrom: unsentFrom)
        return try await snapshotResponse(snapshot, request: request, context: context)
    }

    /// The answer serving `snapshot`, whole or from the byte its `Range` names.
    private func snapshotResponse(_ snapshot: HubSnapshot, request: Request, context: HubRequestContext) async throws
        -> Response
    {
        let tag = "\"\(snapshot.digest)\""
        var start: Int64 = 0
        if let range = request.headers[.range], request.headers[.ifRange].map({ $0 == tag }) ?? true {
            // Only the form a laptop sends, `bytes=N-` with N digits; any other (`bytes=-5-`, `bytes=+5-`)
            // is answered whole.
            let digits = range.hasPrefix("bytes=") && range.hasSuffix("-") ? range.dropFirst(6).dropLast() : ""
            if !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) }) {
                guard let from = Int64(digits), from < snapshot.bytes else { throw HubError.rangeNotSatisfiable }
                start = from
            }
        }
        var headers: HTTPFields = [
            .contentType: "application/vnd.relais.snapshot", .eTag: tag, .acceptRanges: "bytes",
            .contentLength: String(snapshot.bytes - start),
        ]
        headers[HTTPFields.Element.Name("Relais-Snapshot-Cursor")!] = String(snapshot.cursor)
        headers[HTTPFields.Element.Name("Relais-Snapshot-Bytes")!] = String(snapshot.inflatedBytes)
        if start > 0 { headers[.contentRange] = "bytes \(start)-\(snapshot.bytes - 1)/\(snapshot.bytes)" }
        let body = try await FileIO().loadFile(
            path: snapshot.path, range: Int(start)...Int(snapshot.bytes - 1), context: context)
        return Response(status: start > 0 ? .partialContent : .ok, headers: headers, body: body)
    }

    /// `GET /v1/schema`: the data schema in force, its file's text as applied (docs/CRM.md "Changing
    /// the schema"); a laptop told `schema_too_old` fetches it and migrates its file.
    private func schemaFile(_ request: Request) async throws -> Response {
        let principal = try await authenticate(request)
        try limits.takeSync(principal)
        let definition = try await service.schemaDefinition()
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPFields.Element.Name("Relais-Schema-Version")!] = String(definition.version)
        return Response(
            status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: definition.text)))
    }

    // MARK: - Reports (managers and admins)

    /// `GET /v1/reports/value-at-risk[?limit=N][&today=YYYY-MM-DD]`: the token's user's customers
    /// ranked by value at risk (docs/CRM.md).
    private func valueAtRisk(_ request: Request) async throws -> Response {
        let principal = try await authenticateOutsideSync(request)
        let limit = try Self.number(request, "limit", in: 1...1000, "`limit` is a number from 1 to 1000.") ?? 50
        let today = try Self.day(request.uri.queryParameters["today"].map(String.init)) ?? service.today()
        let list = try await service.valueAtRisk(for: principal.user, today: today, limit: limit)
        return Self.json(ReportJSON.valueAtRisk(list, today: today))
    }

    /// `GET /v1/reports/complaints[?today=YYYY-MM-DD]`: the complaints of the token's user's territories.
    private func complaints(_ request: Request) async throws -> Response {
        let principal = try await authenticateOutsideSync(request)
        let today = try Self.day(request.uri.queryParameters["today"].map(String.init)) ?? service.today()
        let report = try await service.complaintsReport(for: principal.user, today: today)
        return Self.json(ReportJSON.complaints(report, today: today))
    }

    /// `GET /v1/reports/relationship-levels[?today=YYYY-MM-DD]`: declared against observed levels.
    private func levels(_ request: Request) async throws -> Response {
        let principal = try await authenticateOutsideSync(request)
        let today = try Self.day(request.uri.queryParameters["today"].map(String.init)) ?? service.today()
        let list = try await service.levelDifferences(for: principal.user, today: today)
        return Self.json(ReportJSON.levels(list, today: today))
    }

    /// `GET /v1/reports/retention[?from=YYYY-MM-DD][&to=YYYY-MM-DD]`: retention over the period (the
    /// 90 days up to today by default).
    private func retention(_ request: Request) async throws -> Response {
        let principal = try await authenticateOutsideSync(request)
        let query = request.uri.queryParameters
        let report = try await service.retention(
            for: principal.user, from: try Self.day(query["from"].map(String.init)),
            to: try Self.day(query["to"].map(String.init)))
        return Self.json(ReportJSON.retention(report))
    }

    /// Query parameter `name` of `request` as a whole number in `range`, nil when absent; any other
    /// value is 400 `bad_request` with `message`.
    ///
    /// An empty value (`?name=`) is refused too, unless `emptyIsAbsent`: the admin pages' forms send
    /// an empty field that way, while a device that sends one has a bug the hub must not guess past
    /// (an empty `unsent_from` taken as absent would serve a snapshot that ignores its unsent writes).
    static func number<T: FixedWidthInteger>(
        _ request: Request, _ name: String, in range: ClosedRange<T>, _ message: String, emptyIsAbsent: Bool = false
    ) throws -> T? {
        guard let text = request.uri.queryParameters[name[...]].map(String.init) else { return nil }
        if emptyIsAbsent, text.isEmpty { return nil }
        guard let value = T(text), range.contains(value) else { throw HubError.badRequest.with(message) }
        return value
    }

    private static func day(_ text: String?) throws -> Day? {
        guard let text else { return nil }
        guard let day = Day(text), text.count == 10 else {
            throw HubError.badRequest.with("A date is YYYY-MM-DD: \(text).")
        }
        return day
    }

    private func health() async throws -> Response {
        let head: UInt64
        do {
            head = try await service.store.read { tx in try await tx.meta().head }
        } catch {
            throw HubError.unavailable.with("The hub's store is unavailable.")
        }
        return Self.json(["status": "ok", "head": head, "schema_version": service.schema.version])
    }

    /// The Prometheus exposition of `service`'s metrics.
    static func metrics(_ service: HubService) async throws -> Response {
        let body = try await service.metricsExposition()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: - Devices and events (admin)

    private func listDevices(_ request: Request) async throws -> Response {
        _ = try await authenticateAdmin(request)
        let devices = try await service.devices()
        let head = try await service.store.read { tx in try await tx.meta().head }
        let verifications = try await service.deviceVerifications()
        return Self.json(devices.map { DeviceJSON.object($0, head: head, verification: verifications[$0.replica]) })
    }

    private func revokeDevice(_ request: Request, replica: String) async throws -> Response {
        let principal = try await authenticateAdmin(request)
        guard let number = UInt32(replica) else { throw HubError.notFound.with("No device with replica \(replica).") }
        let device = try await service.revokeDevice(ReplicaID(number), by: principal.user)
        let head = try await service.store.read { tx in try await tx.meta().head }
        return Self.json(DeviceJSON.object(device, head: head))
    }

    private func wipeDevice(_ request: Request, replica: String) async throws -> Response {
        let principal = try await authenticateAdmin(request)
        guard let number = UInt32(replica) else { throw HubError.notFound.with("No device with replica \(replica).") }
        let device = try await service.requestWipe(ReplicaID(number), by: principal.user)
        let head = try await service.store.read { tx in try await tx.meta().head }
        return Self.json(DeviceJSON.object(device, head: head))
    }

    private func listEvents(_ request: Request) async throws -> Response {
        _ = try await authenticateAdmin(request)
        let limit = try Self.number(request, "limit", in: 1...1000, "`limit` is a number from 1 to 1000.") ?? 100
        let events = try await service.events(limit: limit)
        return Self.json(
            events.map { event -> [String: Any] in
                [
                    "id": NSNumber(value: event.id), "at": ConflictJSON.iso8601(event.at), "kind": event.kind.rawValue,
                    "replica": event.replica.map { NSNumber(value: $0.rawValue) } ?? NSNull(),
                    "user": event.user ?? NSNull(), "detail": event.detail,
                ]
            })
    }

    private func authenticateAdmin(_ request: Request) async throws -> Principal {
        let principal = try await authenticateOutsideSync(request)
        guard principal.role == .admin else { throw HubError.forbidden.with("The admin API needs an admin token.") }
        return principal
    }

    // MARK: - Helpers

    private func bearerToken(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization] else {
            throw HubError.unauthorized.with("The request has no Authorization header.")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw HubError.unauthorized.with("The Authorization header is not `Bearer <token>`.")
        }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    private func authenticate(_ request: Request) async throws -> Principal {
        try await service.authenticate(token: try bearerToken(request))
    }

    /// For the reports and the admin API: a device token held to its device's state, as push and pull
    /// hold it (``HubService/authenticateOutsideSync(token:)``).
    private func authenticateOutsideSync(_ request: Request) async throws -> Principal {
        try await service.authenticateOutsideSync(token: try bearerToken(request))
    }

    /// Reads a body as it streams in, inflating chunk by chunk within the limits (never trusting
    /// Content-Length), then parses and checks it.
    static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ request: Request, _ codec: MessageCodec) async throws
        -> (M, WireFormat)
    {
        let format = try WireFormat(contentType: request.headers[.contentType])
        let encoding = try ContentEncoding(header: request.headers[.contentEncoding])
        try refuseDeclaredLength(request, over: codec.limits.maxBodyBytes)
        let inflater = try Inflater(encoding: encoding, limits: codec.limits)
        for try await chunk in request.body {
            try inflater.feed(chunk.readableBytesView)
        }
        let bytes = try inflater.finish()
        return (try codec.decode(type, decompressed: bytes, format: format), format)
    }

    /// Answers 413 before reading a byte when the declared Content-Length is over `limit`, so a
    /// client cannot hold a connection open by announcing a body it never sends. The limit is still
    /// checked while reading, since Content-Length may be absent (chunked) or understated.
    static func refuseDeclaredLength(_ request: Request, over limit: Int) throws {
        guard let declared = request.headers[.contentLength], !declared.isEmpty,
            declared.allSatisfy({ ("0"..."9").contains($0) })
        else { return }
        if Int(declared).map({ $0 > limit }) ?? true {
            throw ProtocolError.bodyTooLarge(limit: limit)
        }
    }

    static func respond<M: SwiftProtobuf.Message>(
        _ message: M, format: WireFormat, encoding: ContentEncoding = .identity, codec: MessageCodec
    ) throws -> Response {
        try respond(
            serialized: codec.serialize(message, format: format), format: format, encoding: encoding, codec: codec)
    }

    /// An answer whose message is already serialized in `format`: compressed with `encoding` and sent.
    static func respond(serialized: [UInt8], format: WireFormat, encoding: ContentEncoding, codec: MessageCodec)
        throws -> Response
    {
        let body = try encoding.compress(serialized, level: codec.compressionLevel)
        var headers: HTTPFields = [.contentType: format.contentType]
        if let value = encoding.headerValue { headers[.contentEncoding] = value }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func json(_ object: Any) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONBody.encode(object))))
    }
}

/// JSON text of `JSONSerialization` objects, keys sorted.
enum JSONBody {
    static func encode(_ object: Any) -> [UInt8] {
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Array(data ?? Data("{}".utf8))
    }
}
