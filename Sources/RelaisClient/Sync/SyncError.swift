import RelaisProtocol

/// Why a sync (or an enrollment, or a call to the admin API through ``AdminClient``) stopped. Pending
/// writes are never lost: whatever was not acknowledged stays pending and is sent by the next sync.
///
/// Compare by ``code``, as every error of Relais (`error.code == .hubUnreachable`, or `switch error.code`).
/// The description never contains the token.
public struct SyncError: Error, Sendable, CustomStringConvertible {
    /// The kinds of sync errors.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The kind's snake_case name.
        public var description: String { name }

        /// The hub could not be reached (refused, reset, timed out) or kept failing (5xx, 429) after
        /// the retries: writes stay pending.
        public static let hubUnreachable = Code("hub_unreachable")
        /// The hub does not know the token (or the enrollment code).
        public static let authenticationRefused = Code("authentication_refused")
        /// An administrator revoked this device.
        public static let deviceRevoked = Code("device_revoked")
        /// The hub runs a newer schema that this laptop could not take (a sync fetches it and migrates
        /// the file first: docs/CRM.md); writes stay pending.
        public static let schemaTooOld = Code("schema_too_old")
        /// The hub runs an older schema than this program.
        public static let schemaTooNew = Code("schema_too_new")
        /// The hub asked for a bootstrap and the bootstrap could not be completed.
        public static let bootstrapNeeded = Code("bootstrap_needed")
        /// The hub refused the request (4xx) or answered something this client cannot read.
        public static let protocolFailure = Code("protocol_failure")
        /// The hub knows the token but it may not do that (403): a device token on the admin API, an
        /// admin token pushing.
        public static let forbidden = Code("forbidden")
        /// The hub has no such thing (404): an unknown conflict report, an unknown endpoint.
        public static let notFound = Code("not_found")
        /// The replica is not enrolled.
        public static let notEnrolled = Code("not_enrolled")
        /// The replica kept forking after a renewal.
        public static let replicaForked = Code("replica_forked")
        /// The hub's address is plain HTTP off this machine and the replica was not enrolled with
        /// `--insecure` (``HubSecurity``): nothing was sent.
        public static let insecureHub = Code("insecure_hub")
        /// Another process syncs this replica file (``SyncLock``): nothing was done.
        public static let syncInProgress = Code("sync_in_progress")
        /// The hub was restored from a backup since the last sync (docs/SYNC.md "A restored hub"). A
        /// sync catches up by itself; this error stops one only when the hub is restored again during it.
        public static let hubRestored = Code("hub_restored")
        /// The replica file could not grow (full disk, or ``Replica/Configuration/maxFileBytes``):
        /// what the hub sent was not saved; pending writes are kept.
        public static let storageFull = Code("storage_full")
        /// The device token expired (the laptop did not sync for longer than the hub's token lifetime),
        /// or a replaced token's grace window ended: enroll again with `relais enroll --rejoin`, which
        /// keeps the file and takes its unsent writes along.
        public static let tokenExpired = Code("token_expired")
        /// An administrator had this laptop wiped: its replica file is erased (after pushing what it
        /// could).
        public static let deviceWiped = Code("device_wiped")
        /// An administrator asked for this laptop to be wiped (handled inside a sync, which then ends
        /// with ``deviceWiped``).
        public static let wipeRequested = Code("wipe_requested")
    }

    /// What kind of failure.
    public let code: Code
    /// What happened, for a person.
    public let message: String
    /// The HTTP status, when the hub answered.
    public let httpStatus: Int?
    /// The hub's error code (`device_revoked`, `replica_forked`, …), when it answered one.
    public let hubCode: String?
    /// Pending writes left when the sync stopped (filled in by the sync engine).
    public internal(set) var pending: Int?
    /// How long the hub asked to wait before trying again (its `Retry-After`, with 429 and 503).
    public internal(set) var retryAfter: Duration?

    /// Whether the hub refused the request for coming too often (`429 rate_limited`).
    public var isRateLimited: Bool { httpStatus == 429 }

    /// The error body's `details` (for `hub_restored`: `hub_epoch` and `counter`).
    public let details: [String: String]

    /// An error with `code`; transports other than ``HTTPSyncTransport`` describe their failures
    /// with it (``SyncTransport``: `hubUnreachable` for anything transient).
    public init(
        _ code: Code, _ message: String, httpStatus: Int? = nil, hubCode: String? = nil,
        details: [String: String] = [:]
    ) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.hubCode = hubCode
        self.details = details
    }

    /// Whether retrying later may succeed (a network failure, 5xx, 429).
    public var isTransient: Bool { code == .hubUnreachable }

    /// The message; for an unreachable or rate-limiting hub, how many writes stay pending.
    public var description: String {
        if isRateLimited {
            let wait = retryAfter.map { " in \($0.components.seconds) s" } ?? " later"
            let kept = pending.map { ": \($0) write\($0 == 1 ? "" : "s") kept pending" } ?? ""
            return "the hub is limiting this device's requests\(kept); try again\(wait) (\(message))"
        }
        if code == .hubUnreachable, let pending {
            return "hub unreachable: \(pending) write\(pending == 1 ? "" : "s") kept pending (\(message))"
        }
        return message
    }

    /// Classifies an HTTP error answer.
    static func fromHTTP(status: Int, code: String, message: String, details: [String: String] = [:]) -> SyncError {
        let detail = message.isEmpty ? "the hub answered \(status) \(code)" : "\(message) (\(status) \(code))"
        switch (status, code) {
        case (401, "token_expired"):
            return SyncError(
                .tokenExpired,
                "this laptop's token expired: ask the office for a new enrollment code and run `relais enroll "
                    + "--rejoin --code CODE --db FILE`, which keeps this file and sends its unsent writes (\(detail))",
                httpStatus: status, hubCode: code)
        case (401, "device_wiped"):
            return SyncError(
                .deviceWiped, "this laptop was wiped at the office's request: \(detail)", httpStatus: status,
                hubCode: code)
        case (410, "wipe_requested"):
            return SyncError(
                .wipeRequested, "the office asked for this laptop to be wiped: \(detail)", httpStatus: status,
                hubCode: code)
        case (401, "device_revoked"):
            return SyncError(.deviceRevoked, "this device was revoked: \(detail)", httpStatus: status, hubCode: code)
        case (401, _), (403, "invalid_enrollment_code"):
            return SyncError(
                .authenticationRefused, "authentication refused: \(detail)", httpStatus: status, hubCode: code,
                details: details)
        case (409, "schema_too_old"):
            return SyncError(
                .schemaTooOld, "the hub runs a newer schema (writes stay pending): \(detail)",
                httpStatus: status, hubCode: code)
        case (409, "schema_too_new"):
            return SyncError(
                .schemaTooNew, "the hub runs an older schema than this program: \(detail)", httpStatus: status,
                hubCode: code)
        case (409, "hub_restored"):
            return SyncError(
                .hubRestored, "the hub was restored from a backup: \(detail)", httpStatus: status, hubCode: code,
                details: details)
        case (409, "replica_forked"):
            return SyncError(
                .replicaForked, "the hub found this replica's history forked: \(detail)", httpStatus: status,
                hubCode: code
            )
        case (403, _):
            return SyncError(.forbidden, "the hub refused the request: \(detail)", httpStatus: status, hubCode: code)
        case (404, _):
            return SyncError(.notFound, "the hub refused the request: \(detail)", httpStatus: status, hubCode: code)
        case (429, _), (500...599, _):
            return SyncError(.hubUnreachable, detail, httpStatus: status, hubCode: code)
        default:
            return SyncError(
                .protocolFailure, "the hub refused the request: \(detail)", httpStatus: status, hubCode: code)
        }
    }

    /// Classifies an HTTP error answer from its body: a `relais.v1.Error` in protobuf or JSON
    /// (Protocol/README.md section 9); an unreadable body leaves the code and message empty.
    ///
    /// `retryAfter` is the `Retry-After` header: a number of seconds (the HTTP-date form is ignored).
    static func fromHTTP(
        status: Int, body: [UInt8], contentType: String?, contentEncoding: String?, retryAfter: String? = nil,
        codec: MessageCodec
    ) -> SyncError {
        let error = try? codec.decode(
            Relais_V1_Error.self, from: body, contentType: contentType ?? "application/json",
            contentEncoding: contentEncoding)
        var failure = fromHTTP(
            status: status, code: error?.code ?? "", message: error?.message ?? "", details: error?.details ?? [:])
        if let text = retryAfter?.filter({ $0 != " " }), let seconds = Int64(text), seconds >= 0 {
            failure.retryAfter = .seconds(seconds)
        }
        return failure
    }
}
