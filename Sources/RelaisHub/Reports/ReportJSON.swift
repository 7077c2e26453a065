import Foundation
import RelaisCore

/// The manager's figures as JSON (`GET /v1/reports/...`, `relais report ... --json`): snake_case keys,
/// dates as `YYYY-MM-DD`.
enum ReportJSON {
    static func customer(_ customer: ReportCustomer) -> [String: Any] {
        [
            "id": customer.id, "name": customer.name, "territory": customer.territory,
            "owner": customer.owner ?? NSNull(), "segment": customer.segment ?? NSNull(),
            "status": customer.status ?? NSNull(), "programme": customer.programme ?? NSNull(),
            "lifetime_value": customer.lifetimeValue ?? NSNull(),
        ]
    }

    static func valueAtRisk(_ list: [ManagerReports.AtRisk], today: Day) -> [String: Any] {
        [
            "today": today.description,
            "formula": "value_at_risk = lifetime_value × defection_score / 100 (docs/CRM.md)",
            "customers": list.map { item -> [String: Any] in
                [
                    "customer": customer(item.customer), "value_at_risk": item.valueAtRisk,
                    "defection_score": item.score.score,
                    "reasons": item.score.reasons.map { ["signal": $0.signal, "points": $0.points, "text": $0.text] },
                    "open_complaints": item.score.openComplaints, "overdue_complaints": item.score.overdueComplaints,
                    "proposed_programme": item.proposedProgramme ?? NSNull(),
                    "proposes_at_risk": item.proposesAtRisk,
                ]
            },
        ]
    }

    static func levels(_ list: [ManagerReports.LevelDifference], today: Day) -> [String: Any] {
        [
            "today": today.description,
            "customers": list.map { item -> [String: Any] in
                [
                    "customer": customer(item.customer), "declared": item.declared ?? NSNull(),
                    "observed": item.observed, "evidence": item.evidence,
                ]
            },
        ]
    }

    static func retention(_ report: Retention.Report) -> [String: Any] {
        func group(_ group: Retention.Group) -> [String: Any] {
            [
                "name": group.name, "customers": group.customers, "retained": group.retained,
                "rate": group.rate ?? NSNull(),
            ]
        }
        return [
            "from": report.from.description, "to": report.to.description, "overall": group(report.overall),
            "by_salesperson": report.bySalesperson.map(group), "by_territory": report.byTerritory.map(group),
            "lost": report.lost.map { ["customer": customer($0.customer), "on": $0.on.description] },
        ]
    }

    static func complaints(_ report: ManagerReports.Complaints, today: Day) -> [String: Any] {
        func groups(_ groups: [ManagerReports.ComplaintGroup]) -> [[String: Any]] {
            groups.map {
                [
                    "name": $0.name, "open": $0.open, "overdue": $0.overdue, "resolved": $0.resolved,
                    "mean_days_to_resolve": $0.meanDaysToResolve ?? NSNull(),
                ]
            }
        }
        return [
            "today": today.description,
            "open": report.open.map { item -> [String: Any] in
                [
                    "customer": customer(item.customer), "on": item.complaint.on.description,
                    "follow_up_on": item.complaint.followUpOn?.description ?? NSNull(),
                    "channel": item.complaint.channel ?? NSNull(), "overdue": item.overdue, "age_days": item.ageDays,
                ]
            },
            "by_salesperson": groups(report.bySalesperson), "by_territory": groups(report.byTerritory),
            "by_segment": groups(report.bySegment),
        ]
    }
}
