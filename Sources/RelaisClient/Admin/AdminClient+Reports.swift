import AsyncHTTPClient
import Foundation

/// A customer as the reports name it.
public struct ReportedCustomer: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var territory: String
    public var owner: String?
    public var segment: String?
    public var status: String?
    public var programme: String?
    public var lifetimeValue: Double?

    enum CodingKeys: String, CodingKey {
        case id, name, territory, owner, segment, status, programme
        case lifetimeValue = "lifetime_value"
    }
}

/// `GET /v1/reports/value-at-risk` (docs/CRM.md "Value at risk").
public struct ValueAtRiskReport: Codable, Sendable, Hashable {
    public struct Reason: Codable, Sendable, Hashable {
        public var signal: String
        public var points: Int
        public var text: String
    }

    public struct Entry: Codable, Sendable, Hashable {
        public var customer: ReportedCustomer
        public var valueAtRisk: Double
        public var defectionScore: Int
        public var reasons: [Reason]
        public var openComplaints: Int
        public var overdueComplaints: Int
        public var proposedProgramme: String?
        public var proposesAtRisk: Bool

        enum CodingKeys: String, CodingKey {
            case customer, reasons
            case valueAtRisk = "value_at_risk"
            case defectionScore = "defection_score"
            case openComplaints = "open_complaints"
            case overdueComplaints = "overdue_complaints"
            case proposedProgramme = "proposed_programme"
            case proposesAtRisk = "proposes_at_risk"
        }
    }

    public var today: String
    public var customers: [Entry]
}

/// `GET /v1/reports/complaints` (docs/CRM.md "Complaints").
public struct ComplaintsReport: Codable, Sendable, Hashable {
    public struct Open: Codable, Sendable, Hashable {
        public var customer: ReportedCustomer
        public var on: String
        public var followUpOn: String?
        public var channel: String?
        public var overdue: Bool
        public var ageDays: Int

        enum CodingKeys: String, CodingKey {
            case customer, on, channel, overdue
            case followUpOn = "follow_up_on"
            case ageDays = "age_days"
        }
    }

    public struct Group: Codable, Sendable, Hashable {
        public var name: String
        public var open: Int
        public var overdue: Int
        public var resolved: Int
        public var meanDaysToResolve: Double?

        enum CodingKeys: String, CodingKey {
            case name, open, overdue, resolved
            case meanDaysToResolve = "mean_days_to_resolve"
        }
    }

    public var today: String
    public var open: [Open]
    public var bySalesperson: [Group]
    public var byTerritory: [Group]
    public var bySegment: [Group]

    enum CodingKeys: String, CodingKey {
        case today, open
        case bySalesperson = "by_salesperson"
        case byTerritory = "by_territory"
        case bySegment = "by_segment"
    }
}

/// `GET /v1/reports/relationship-levels` (docs/CRM.md "Observed and declared relationship level").
public struct LevelsReport: Codable, Sendable, Hashable {
    public struct Entry: Codable, Sendable, Hashable {
        public var customer: ReportedCustomer
        public var declared: String?
        public var observed: String
        public var evidence: String
    }

    public var today: String
    public var customers: [Entry]
}

/// `GET /v1/reports/retention` (docs/CRM.md "Retention").
public struct RetentionReport: Codable, Sendable, Hashable {
    public struct Group: Codable, Sendable, Hashable {
        public var name: String
        public var customers: Int
        public var retained: Int
        public var rate: Double?
    }

    public struct Lost: Codable, Sendable, Hashable {
        public var customer: ReportedCustomer
        public var on: String
    }

    public var from: String
    public var to: String
    public var overall: Group
    public var bySalesperson: [Group]
    public var byTerritory: [Group]
    public var lost: [Lost]

    enum CodingKeys: String, CodingKey {
        case from, to, overall, lost
        case bySalesperson = "by_salesperson"
        case byTerritory = "by_territory"
    }
}

extension AdminClient {
    /// Retention of the token's user's customers over a period (the 90 days up to today by default).
    public func retention(from: String? = nil, to: String? = nil) async throws -> RetentionReport {
        let query = [from.map { "from=\($0)" }, to.map { "to=\($0)" }].compactMap { $0 }.joined(separator: "&")
        return try await get("/v1/reports/retention" + (query.isEmpty ? "" : "?" + query))
    }

    /// The customers whose declared relationship level differs from the observed one.
    public func relationshipLevels(today: String? = nil) async throws -> LevelsReport {
        try await get("/v1/reports/relationship-levels" + (today.map { "?today=\($0)" } ?? ""))
    }

    /// The customers of the token's user's territories ranked by value at risk; `today` as
    /// `YYYY-MM-DD` (the hub's date when nil). A manager's or an admin's token.
    public func valueAtRisk(limit: Int = 50, today: String? = nil) async throws -> ValueAtRiskReport {
        try await get("/v1/reports/value-at-risk?limit=\(limit)" + (today.map { "&today=\($0)" } ?? ""))
    }

    /// The complaints of the token's user's territories.
    public func complaints(today: String? = nil) async throws -> ComplaintsReport {
        try await get("/v1/reports/complaints" + (today.map { "?today=\($0)" } ?? ""))
    }
}
