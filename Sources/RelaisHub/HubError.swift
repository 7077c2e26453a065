/// A request the hub refuses, or the answer to a failure of the hub itself, outside the wire codec.
///
/// The store's own failures are ``HubStoreError``; the HTTP edge answers them with the error
/// ``init(answering:)`` gives (`unavailable`, `storage_full` or `internal`). Each error has a stable
/// snake_case ``code`` (sent in the error body, see Protocol/README.md) and an ``httpStatus`` (the
/// HTTP status it is answered with); ``message`` is for people and never carries a token, a code or a
/// field value. Compare errors by code, as every error of Relais (`==` on two errors compares their
/// codes too, which is what `#expect(throws: HubError.forbidden)` relies on):
///
/// ```swift
/// do { _ = try await service.authenticate(token: token) }
/// catch let error as HubError where error.code == .deviceRevoked { ... }
/// ```
public struct HubError: Error, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A stable snake_case code; compare errors by it and switch over it (new codes may come, so a
    /// `switch` ends with `default`).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let deviceRevoked = Code(rawValue: "device_revoked")
        public static let forbidden = Code(rawValue: "forbidden")
        public static let invalidEnrollmentCode = Code(rawValue: "invalid_enrollment_code")
        public static let notFound = Code(rawValue: "not_found")
        public static let methodNotAllowed = Code(rawValue: "method_not_allowed")
        public static let replicaForked = Code(rawValue: "replica_forked")
        public static let hubRestored = Code(rawValue: "hub_restored")
        public static let schemaTooOld = Code(rawValue: "schema_too_old")
        public static let schemaTooNew = Code(rawValue: "schema_too_new")
        public static let badRequest = Code(rawValue: "bad_request")
        public static let conflict = Code(rawValue: "conflict")
        public static let unavailable = Code(rawValue: "unavailable")
        public static let `internal` = Code(rawValue: "internal")
        public static let storageFull = Code(rawValue: "storage_full")
        public static let snapshotUnavailable = Code(rawValue: "snapshot_unavailable")
        public static let rangeNotSatisfiable = Code(rawValue: "range_not_satisfiable")
        public static let tokenExpired = Code(rawValue: "token_expired")
        public static let wipeRequested = Code(rawValue: "wipe_requested")
        public static let deviceWiped = Code(rawValue: "device_wiped")
    }

    /// What kind of refusal: the code sent in the error body.
    public let code: Code
    /// What went wrong, for people. Never contains a secret or a field value.
    public let message: String
    /// Context for logs and operators (replica numbers, paths, SQL): shown only in ``debugDescription``.
    public let context: [String: String]
    /// What the client needs to act on the error, sent in the error body's `details` (never a secret).
    public let details: [String: String]

    private init(_ value: Code, _ message: String, context: [String: String] = [:], details: [String: String] = [:]) {
        self.code = value
        self.message = message
        self.context = context
        self.details = details
    }

    /// The HTTP status this error is answered with.
    public var httpStatus: Int {
        switch code {
        case .unauthorized, .deviceRevoked, .tokenExpired, .deviceWiped: 401
        case .wipeRequested: 410
        case .forbidden, .invalidEnrollmentCode: 403
        case .notFound, .snapshotUnavailable: 404
        case .rangeNotSatisfiable: 416
        case .methodNotAllowed: 405
        case .replicaForked, .hubRestored, .schemaTooOld, .schemaTooNew, .conflict: 409
        case .badRequest: 400
        case .unavailable: 503
        case .storageFull: 507
        default: 500
        }
    }

    public static func == (lhs: HubError, rhs: HubError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(code): \(message)" }

    public var debugDescription: String {
        guard !context.isEmpty else { return "HubError(\(description))" }
        let pairs = context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "HubError(\(description) [\(pairs)])"
    }

    /// The same error with another message and more context.
    public func with(_ message: String, _ context: [String: String] = [:]) -> HubError {
        HubError(code, message, context: self.context.merging(context) { _, new in new }, details: details)
    }

    /// The same error with `details` added to those sent on the wire.
    public func with(details: [String: String]) -> HubError {
        HubError(code, message, context: context, details: self.details.merging(details) { _, new in new })
    }

    /// No bearer token, or one the hub does not know. 401.
    public static var unauthorized: HubError { .init(.unauthorized, "A valid bearer token is required.") }
    /// The token's device was revoked by an administrator. 401.
    public static var deviceRevoked: HubError { .init(.deviceRevoked, "This device was revoked by an administrator.") }
    /// The device token expired, or the grace window of a token that a renewal or a rotation replaced
    /// ended: the laptop enrolls again with a new code (`relais enroll --rejoin`). 401.
    public static var tokenExpired: HubError {
        .init(
            .tokenExpired,
            "This device's token expired; enroll the laptop again with a new code (relais enroll --rejoin).")
    }
    /// An admin asked for this device to be wiped: it may push what it holds, then report the wipe
    /// (`POST /v1/device/wiped`); nothing is served to it. 410.
    public static var wipeRequested: HubError {
        .init(.wipeRequested, "An administrator asked for this device to be wiped; push, report and erase.")
    }
    /// The device reported its wipe: its token no longer works. 401.
    public static var deviceWiped: HubError {
        .init(.deviceWiped, "This device was wiped at an administrator's request.")
    }
    /// The token may not do this (its role, or a replica that is not its own). 403.
    public static var forbidden: HubError { .init(.forbidden, "This token may not do that.") }
    /// The enrollment code is unknown, used or expired (not told apart, on purpose). 403.
    public static var invalidEnrollmentCode: HubError {
        .init(.invalidEnrollmentCode, "The enrollment code is unknown, already used or expired.")
    }
    /// No such endpoint, user, device or conflict report. 404.
    public static var notFound: HubError { .init(.notFound, "Not found.") }
    /// No snapshot of the device's view to offer: the laptop bootstraps by pages.
    public static var snapshotUnavailable: HubError {
        .init(.snapshotUnavailable, "This hub has no snapshot to offer; pull pages from cursor 0.")
    }
    /// A `Range` that does not start inside the snapshot.
    public static var rangeNotSatisfiable: HubError {
        .init(.rangeNotSatisfiable, "The range asked for does not start inside the snapshot; download it whole.")
    }
    /// The endpoint exists, not with this method. 405.
    public static var methodNotAllowed: HubError { .init(.methodNotAllowed, "Method not allowed.") }
    /// The replica's counters went backwards or its history forked: renew the replica. 409.
    public static var replicaForked: HubError {
        .init(
            .replicaForked,
            "The replica's history forked or went backwards; renew the replica (POST /v1/replica/renew).")
    }
    /// The hub was restored from a backup since the client last synced: the request named another hub
    /// epoch. Nothing was applied. The details carry the hub's epoch (`hub_epoch`) and the highest
    /// counter the hub holds for the replica (`counter`): the client pushes again its acknowledged
    /// writes above it and downloads its view again (docs/SYNC.md "A restored hub"). 409.
    public static func hubRestored(hubEpoch: String, counter: UInt64) -> HubError {
        .init(
            .hubRestored,
            "The hub was restored from a backup; push again the writes it lacks and download the view again.",
            details: ["hub_epoch": hubEpoch, "counter": String(counter)])
    }
    /// The client's schema is older than the hub's. 409.
    public static var schemaTooOld: HubError {
        .init(.schemaTooOld, "The client's schema is older than the hub's; upgrade the client.")
    }
    /// The client's schema is newer than the hub's. 409.
    public static var schemaTooNew: HubError {
        .init(.schemaTooNew, "The client's schema is newer than the hub's; upgrade the hub.")
    }
    /// A request the hub understood but cannot act on (an admin resolve naming no value...). 400.
    public static var badRequest: HubError { .init(.badRequest, "The request is invalid.") }
    /// The request contradicts the current state (a user that already exists...). 409.
    public static var conflict: HubError { .init(.conflict, "The request conflicts with the hub's state.") }
    /// The hub is shutting down, or its store is busy or closed; retry with back-off. 503.
    public static var unavailable: HubError { .init(.unavailable, "The hub is busy or shutting down; retry later.") }
    /// The store reached its size ceiling (`--max-store-mb`) or the disk is full: nothing of the request
    /// was written; reads keep working, and writes succeed again once space is freed. 507.
    public static var storageFull: HubError {
        .init(.storageFull, "The hub's storage is full; nothing was saved. Retry once an administrator frees space.")
    }
    /// The hub failed. 500; the details stay in the logs.
    public static var `internal`: HubError { .init(.internal, "The hub failed.") }
}
