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
