/// A request the hub refuses, or a failure of the hub itself, outside the wire codec.
///
/// Each error has a stable snake_case ``code`` (sent in the error body, see Protocol/README.md) and
/// a ``status`` (the HTTP status it is answered with); ``message`` is for people and never carries a
/// token, a code or a field value. Compare errors by code:
///
/// ```swift
/// do { _ = try await service.authenticate(token: token) }
/// catch let error as HubError where error == .deviceRevoked { ... }
/// ```
public struct HubError: Error, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private enum Code: String, Sendable {
        case unauthorized
        case deviceRevoked = "device_revoked"
        case forbidden
        case invalidEnrollmentCode = "invalid_enrollment_code"
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case replicaForked = "replica_forked"
        case hubRestored = "hub_restored"
        case schemaTooOld = "schema_too_old"
        case schemaTooNew = "schema_too_new"
        case badRequest = "bad_request"
        case conflict = "conflict"
        case unavailable
        case `internal`
        case storeExists = "store_exists"
        case storeMissing = "store_missing"
        case storeTooNew = "store_too_new"
        case storageFull = "storage_full"
        case storeLocation = "store_location"
    }

    private let value: Code
    /// What went wrong, for people. Never contains a secret or a field value.
    public let message: String
    /// Context for logs and operators (replica numbers, paths, SQL): shown only in ``debugDescription``.
    public let context: [String: String]
    /// What the client needs to act on the error, sent in the error body's `details` (never a secret).
    public let details: [String: String]

    private init(_ value: Code, _ message: String, context: [String: String] = [:], details: [String: String] = [:]) {
        self.value = value
        self.message = message
        self.context = context
        self.details = details
    }

    /// The stable snake_case code, for example `device_revoked`.
    public var code: String { value.rawValue }

    /// The HTTP status this error is answered with.
    public var httpStatus: Int {
        switch value {
        case .unauthorized, .deviceRevoked: 401
        case .forbidden, .invalidEnrollmentCode: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .replicaForked, .hubRestored, .schemaTooOld, .schemaTooNew, .conflict: 409
        case .badRequest: 400
        case .unavailable: 503
        case .storageFull: 507
        case .internal, .storeExists, .storeMissing, .storeTooNew, .storeLocation: 500
        }
    }

    public static func == (lhs: HubError, rhs: HubError) -> Bool { lhs.value == rhs.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }

    public var description: String { "\(code): \(message)" }

    public var debugDescription: String {
        guard !context.isEmpty else { return "HubError(\(description))" }
        let pairs = context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "HubError(\(description) [\(pairs)])"
    }

    /// The same error with another message and more context.
    public func with(_ message: String, _ context: [String: String] = [:]) -> HubError {
        HubError(value, message, context: self.context.merging(context) { _, new in new }, details: details)
    }

    /// The same error with `details` added to those sent on the wire.
    public func with(details: [String: String]) -> HubError {
        HubError(value, message, context: context, details: self.details.merging(details) { _, new in new })
    }

    /// No bearer token, or one the hub does not know. 401.
    public static var unauthorized: HubError { .init(.unauthorized, "A valid bearer token is required.") }
    /// The token's device was revoked by an administrator. 401.
    public static var deviceRevoked: HubError { .init(.deviceRevoked, "This device was revoked by an administrator.") }
    /// The token may not do this (its role, or a replica that is not its own). 403.
    public static var forbidden: HubError { .init(.forbidden, "This token may not do that.") }
    /// The enrollment code is unknown, used or expired (not told apart, on purpose). 403.
    public static var invalidEnrollmentCode: HubError {
        .init(.invalidEnrollmentCode, "The enrollment code is unknown, already used or expired.")
    }
    /// No such endpoint, user, device or conflict report. 404.
    public static var notFound: HubError { .init(.notFound, "Not found.") }
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
    /// The store is busy or shutting down; retry with back-off. 503.
    public static var unavailable: HubError { .init(.unavailable, "The hub is busy or shutting down; retry later.") }
    /// The store reached its size ceiling (`--max-store-mb`) or the disk is full: nothing of the request
    /// was written; reads keep working, and writes succeed again once space is freed. 507.
    public static var storageFull: HubError {
        .init(.storageFull, "The hub's storage is full; nothing was saved. Retry once an administrator frees space.")
    }
    /// The hub failed. 500; the details stay in the logs.
    public static var `internal`: HubError { .init(.internal, "The hub failed.") }
    /// `init` found a store already in the data folder.
    public static var storeExists: HubError { .init(.storeExists, "The data folder already holds a hub store.") }
    /// No store in the data folder (run `relais-hub init` first).
    public static var storeMissing: HubError {
        .init(.storeMissing, "The data folder holds no hub store; run `relais-hub init` first.")
    }
    /// A store location that cannot name a store (a malformed `--postgres` URL).
    public static var storeLocation: HubError { .init(.storeLocation, "The store location is malformed.") }
    /// The store was written by a newer version of the hub.
    public static var storeTooNew: HubError {
        .init(.storeTooNew, "The store was written by a newer relais-hub; upgrade it.")
    }
}
