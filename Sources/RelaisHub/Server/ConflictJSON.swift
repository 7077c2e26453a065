import Foundation
import RelaisCore

/// The JSON form of a conflict report (DESIGN §8): `{"id", "collection", "record_id", "field",
/// "status", "rule", "base", "chosen", "values": [{"value", "user", "replica", "hlc"}], "resolution"}`,
/// plus `created_at` and `territory`; each value also says `counter` and, for the delete side of a
/// `delete-update`, `"deleted": true`.
public enum ConflictJSON {
    /// The report as a `JSONSerialization` object.
    public static func object(_ report: ConflictReport) -> [String: Any] {
        let conflict = report.conflict
        func json(_ value: Value?) -> Any { value.map(FieldType.jsonObject) ?? NSNull() }
        var object: [String: Any] = [
            "id": report.id,
            "collection": conflict.collection,
            "record_id": conflict.recordID,
            "field": conflict.field ?? NSNull(),
            "status": conflict.status.rawValue,
            "rule": conflict.rule,
            "base": json(conflict.base),
            "chosen": json(conflict.chosen),
            "created_at": iso8601(report.createdAt),
            "territory": report.scope ?? NSNull(),
            "values": conflict.values.map { competitor -> [String: Any] in
                var value: [String: Any] = [
                    "value": json(competitor.value),
                    "user": competitor.author,
                    "replica": Int(competitor.dot.replica.rawValue),
                    "counter": NSNumber(value: competitor.dot.counter),
                    "hlc": NSNumber(value: competitor.hlc.rawValue),
                ]
                if competitor.deleted { value["deleted"] = true }
                return value
            },
        ]
        if let resolution = report.resolution {
            var decided: [String: Any] = [
                "by": resolution.by, "at": iso8601(resolution.at), "reason": resolution.reason,
                "value": json(resolution.value),
            ]
            if resolution.deleted { decided["deleted"] = true }
            object["resolution"] = decided
        } else {
            object["resolution"] = NSNull()
        }
        return object
    }

    /// Milliseconds since 1970 as ISO 8601 UTC with milliseconds.
    static func iso8601(_ millis: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

/// The JSON form of a device for the admin API: `{"replica", "user", "name", "epoch", "status"
/// (active, revoked, renewed), "renewed_to", "highest_counter", "acknowledged_cursor", "lag",
/// "last_seen_at", "clamped_writes", "created_at"}`.
public enum DeviceJSON {
    /// The device as a `JSONSerialization` object; `head` gives the lag, `verification` its last
    /// verification report (`null` when it sent none).
    public static func object(_ device: Device, head: UInt64, verification: DeviceVerification? = nil) -> [String: Any]
    {
        return [
            "verification": verification.map(Self.verification) ?? NSNull(),
            "replica": NSNumber(value: device.replica.rawValue), "user": device.user, "name": device.name,
            "epoch": NSNumber(value: device.epoch), "status": status(device),
            "renewed_to": device.renewedTo.map { NSNumber(value: $0.rawValue) } ?? NSNull(),
            "highest_counter": NSNumber(value: device.highestCounter),
            "acknowledged_cursor": NSNumber(value: device.acknowledgedCursor),
            "lag": NSNumber(value: head >= device.acknowledgedCursor ? head - device.acknowledgedCursor : 0),
            "last_seen_at": device.lastSeenAt.map { ConflictJSON.iso8601($0) } ?? NSNull(),
            "clamped_writes": NSNumber(value: device.clampedWrites),
            "created_at": ConflictJSON.iso8601(device.createdAt),
            "token_expires_at": device.tokenExpiresAt.map { ConflictJSON.iso8601($0) } ?? NSNull(),
            "wipe_requested_at": device.wipeRequestedAt.map { ConflictJSON.iso8601($0) } ?? NSNull(),
            "wiped_at": device.wipedAt.map { ConflictJSON.iso8601($0) } ?? NSNull(),
            "wipe_saved_writes": device.wipeSavedWrites.map { NSNumber(value: $0) } ?? NSNull(),
            "wipe_unsaved_writes": device.wipeUnsavedWrites.map { NSNumber(value: $0) } ?? NSNull(),
        ]
    }

    /// A verification report: `{"at", "outcome" (equal, repaired, unrepaired), "records", "differing",
    /// "repaired", "full"}`.
    public static func verification(_ verification: DeviceVerification) -> [String: Any] {
        [
            "at": ConflictJSON.iso8601(verification.at), "outcome": verification.outcome.rawValue,
            "records": NSNumber(value: verification.records), "differing": NSNumber(value: verification.differing),
            "repaired": NSNumber(value: verification.repaired), "full": verification.full,
        ]
    }

    /// A verification report in a few words: `equal`, `repaired 3 of 3`, `DIVERGED: 2 of 5 still differ`.
    public static func summary(_ verification: DeviceVerification) -> String {
        switch verification.outcome {
        case .equal: "equal"
        case .repaired: "repaired \(verification.repaired) of \(verification.differing)"
        case .unrepaired:
            "DIVERGED: \(verification.differing - verification.repaired) of \(verification.differing) still differ"
        }
    }

    /// `wiped`, `revoked`, `wipe requested`, `renewed` or `active`.
    public static func status(_ device: Device) -> String {
        if device.wipedAt != nil { return "wiped" }
        if device.revokedAt != nil { return "revoked" }
        if device.wipeRequestedAt != nil { return "wipe requested" }
        return device.renewedTo != nil ? "renewed" : "active"
    }
}

/// The JSON form of an admin API token: `{"id", "user", "status" (active, revoked), "created_at",
/// "revoked_at"}`. Never the token, nor its whole hash.
public enum APITokenJSON {
    /// The token as a `JSONSerialization` object.
    public static func object(_ token: APIToken) -> [String: Any] {
        [
            "id": token.id, "user": token.user, "status": status(token),
            "created_at": ConflictJSON.iso8601(token.createdAt),
            "revoked_at": token.revokedAt.map { ConflictJSON.iso8601($0) } ?? NSNull(),
        ]
    }

    /// `active` or `revoked`.
    public static func status(_ token: APIToken) -> String { token.revokedAt == nil ? "active" : "revoked" }

    /// Milliseconds since 1970 as ISO 8601 UTC with milliseconds, as the JSON forms show times.
    public static func time(_ millis: UInt64) -> String { ConflictJSON.iso8601(millis) }
}
