import Foundation
public import RelaisCore

/// Which conflict reports an admin lists, exports or bulk-resolves: the store's ``ConflictFilter``,
/// read from the admin API's and the conflict list page's query parameters (`status`, `collection`,
/// `field`, `rule`, `user`, `territory`, `record`, `from`, `to`, and a page: `limit`, `offset`).
extension ConflictFilter {
    /// The page the admin API and pages show when `limit` is not given (the store's own default is 100).
    public static let adminPageSize = 50

    /// The most reports a page may hold.
    public static let maxLimit = 1000

    /// The largest `offset` accepted: far past any store's reports, and small enough that a page's
    /// arithmetic (`offset + limit`, `offset + 1`) cannot overflow.
    public static let maxOffset = 1_000_000_000

    /// Parses query parameters (empty values mean "any"; no `limit`, a page of ``adminPageSize``).
    /// Dates are `YYYY-MM-DD` (UTC; `to` then includes that whole day) or ISO 8601 times.
    ///
    /// - Throws: ``HubError/badRequest`` naming the parameter.
    public init(parameters: [String: String]) throws {
        self.init(limit: Self.adminPageSize)
        func text(_ name: String) -> String? {
            guard let value = parameters[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        if let status = text("status") {
            guard let parsed = ConflictStatus(rawValue: status) else {
                throw HubError.badRequest.with("Unknown status; use open, auto-resolved or resolved.")
            }
            self.status = parsed
        }
        collection = text("collection")
        field = text("field")
        rule = text("rule")
        user = text("user")
        territory = text("territory")
        recordID = text("record")?.lowercased()
        if let from = text("from") { self.from = try Self.time(from, name: "from", endOfDay: false) }
        if let to = text("to") { self.to = try Self.time(to, name: "to", endOfDay: true) }
        if let limit = text("limit") {
            guard let value = Int(limit), (1...Self.maxLimit).contains(value) else {
                throw HubError.badRequest.with("`limit` is a number from 1 to \(Self.maxLimit).")
            }
            self.limit = value
        }
        if let offset = text("offset") {
            guard let value = Int(offset), (0...Self.maxOffset).contains(value) else {
                throw HubError.badRequest.with("`offset` is a number from 0 to \(Self.maxOffset).")
            }
            self.offset = value
        }
    }

    /// The filters as query parameters (without the page), for links that keep them.
    public var parameters: [(String, String)] {
        var result: [(String, String)] = []
        if let status { result.append(("status", status.rawValue)) }
        if let collection { result.append(("collection", collection)) }
        if let field { result.append(("field", field)) }
        if let rule { result.append(("rule", rule)) }
        if let user { result.append(("user", user)) }
        if let territory { result.append(("territory", territory)) }
        if let recordID { result.append(("record", recordID)) }
        if let from { result.append(("from", AdminTime.iso8601(from))) }
        if let to { result.append(("to", AdminTime.iso8601(to))) }
        return result
    }

    static func time(_ text: String, name: String, endOfDay: Bool) throws -> UInt64 {
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyy-MM-dd"
        if text.count == 10, let date = day.date(from: text) {
            let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
            return endOfDay ? millis + 86_400_000 : millis
        }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) ?? ISO8601DateFormatter().date(from: text) {
            return UInt64(max(0, date.timeIntervalSince1970 * 1000))
        }
        throw HubError.badRequest.with("`\(name)` is a date (YYYY-MM-DD) or an ISO 8601 time.")
    }
}

/// Times as admins read them.
public enum AdminTime {
    /// Milliseconds since 1970 as ISO 8601 UTC with milliseconds.
    public static func iso8601(_ millis: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// The wall-clock part of an HLC as ISO 8601 UTC.
    public static func iso8601(_ hlc: HLC) -> String { iso8601(hlc.physicalMillis) }
}
