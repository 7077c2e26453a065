/// An error the hub itself answers with, outside the codec: authentication, access, versioning.
///
/// The codec's own errors are ``ProtocolError``; these complete the list of codes a client can meet
/// in an error body (`Relais_V1_Error.code`). The specification (Protocol/README.md) lists them all.
public struct HubErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The stable snake_case code sent in the error body.
    public let code: String
    /// The HTTP status answered with it.
    public let httpStatus: Int

    /// A hub error code; the hub's own codes are the static members.
    public init(code: String, httpStatus: Int) {
        self.code = code
        self.httpStatus = httpStatus
    }

    public var description: String { "\(code) (\(httpStatus))" }

    /// No bearer token, or one the hub does not know. 401.
    public static let unauthorized = HubErrorCode(code: "unauthorized", httpStatus: 401)
    /// The token's device was revoked by an administrator. 401; the client stops syncing.
    public static let deviceRevoked = HubErrorCode(code: "device_revoked", httpStatus: 401)
    /// The device token expired, or the grace window of a token a renewal or a rotation replaced
    /// ended: enroll again with a new code (`relais enroll --rejoin`). 401.
    public static let tokenExpired = HubErrorCode(code: "token_expired", httpStatus: 401)
    /// The device reported its remote wipe; its token no longer works. 401; a client that still holds
    /// its replica erases it.
    public static let deviceWiped = HubErrorCode(code: "device_wiped", httpStatus: 401)
    /// An administrator asked for the device to be wiped: push, report (`POST /v1/device/wiped`),
    /// erase. 410.
    public static let wipeRequested = HubErrorCode(code: "wipe_requested", httpStatus: 410)
    /// The token is valid but its role may not do this (for example the admin API). 403.
    public static let forbidden = HubErrorCode(code: "forbidden", httpStatus: 403)
    /// The enrollment code is unknown, already used or expired (not told apart, on purpose). 403.
    public static let invalidEnrollmentCode = HubErrorCode(code: "invalid_enrollment_code", httpStatus: 403)
    /// No such endpoint or resource. 404.
    public static let notFound = HubErrorCode(code: "not_found", httpStatus: 404)
    /// The endpoint exists but not with this method. 405.
    public static let methodNotAllowed = HubErrorCode(code: "method_not_allowed", httpStatus: 405)
    /// The replica's counters went backwards or its history forked (restored backup, copied file):
    /// the client must renew its replica (`POST /v1/replica/renew`). 409.
    public static let replicaForked = HubErrorCode(code: "replica_forked", httpStatus: 409)
    /// The hub was restored from a backup since the client's last sync (the request named another hub
    /// epoch); nothing was applied. `details` carry `hub_epoch` and `counter`. 409.
    public static let hubRestored = HubErrorCode(code: "hub_restored", httpStatus: 409)
    /// The client's schema version is older than the hub's: it must upgrade; its writes stay pending. 409.
    public static let schemaTooOld = HubErrorCode(code: "schema_too_old", httpStatus: 409)
    /// The client's schema version is newer than the hub's: the hub must be upgraded first. 409.
    public static let schemaTooNew = HubErrorCode(code: "schema_too_new", httpStatus: 409)
    /// Too many requests from this token; retry after the `Retry-After` header's delay. 429.
    public static let rateLimited = HubErrorCode(code: "rate_limited", httpStatus: 429)
    /// The hub failed. 500, with no details; the request may be retried.
    public static let `internal` = HubErrorCode(code: "internal", httpStatus: 500)
    /// The hub is shutting down or its store is unavailable; retry with back-off. 503.
    public static let unavailable = HubErrorCode(code: "unavailable", httpStatus: 503)

    /// Every hub-level code.
    public static let all: [HubErrorCode] = [
        .unauthorized, .deviceRevoked, .tokenExpired, .deviceWiped, .wipeRequested, .forbidden,
        .invalidEnrollmentCode, .notFound, .methodNotAllowed, .replicaForked, .hubRestored, .schemaTooOld,
        .schemaTooNew, .rateLimited, .internal, .unavailable,
    ]
}

/// Why the hub refused one write of a push (`Relais_V1_WriteResult.code`, status REJECTED).
///
/// A rejected write is final: the client drops it from its pending queue and shows the reason.
public struct RejectionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// A rejection code as received; the defined codes are the static members.
    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// The user's role may not write this (for example a rep reassigning a territory).
    public static let notAllowed = RejectionCode(rawValue: "not_allowed")
    /// The value does not fit the field's declared type or allowed values.
    public static let invalidValue = RejectionCode(rawValue: "invalid_value")
    /// The collection has no such field in the hub's schema.
    public static let unknownField = RejectionCode(rawValue: "unknown_field")
    /// The schema has no such collection.
    public static let unknownCollection = RejectionCode(rawValue: "unknown_collection")
    /// The field is written by the hub only (for example a computed field).
    public static let hubOnlyField = RejectionCode(rawValue: "hub_only_field")
    /// A new record lacks a required field (for example a customer without a territory).
    public static let requiredMissing = RejectionCode(rawValue: "required_missing")
    /// The record is, or would move, outside the user's territories.
    public static let outsideTerritory = RejectionCode(rawValue: "outside_territory")

    /// Every rejection code.
    public static let all: [RejectionCode] = [
        .notAllowed, .invalidValue, .unknownField, .unknownCollection, .hubOnlyField, .requiredMissing,
        .outsideTerritory,
    ]
}
