public import RelaisCore

/// What a sales manager sees (docs/CRM.md), computed from the customer file of their territories.
public enum ManagerReports {
    /// One customer of the value-at-risk list.
    public struct AtRisk: Sendable, Hashable {
        public var customer: ReportCustomer
        /// Lifetime value × score / 100.
        public var valueAtRisk: Double
        public var score: DefectionModel.Score
        /// The programme the figures point to, when it differs from the customer's.
        public var proposedProgramme: String?
        /// Whether the score proposes the status `at_risk` (the customer is not yet `at_risk` or `lapsed`).
        public var proposesAtRisk: Bool
    }

    /// Value at risk: the customers ranked by lifetime value × defection score (then by score, then
    /// by name), those with a score of 0 left out; at most `limit`.
    public static func valueAtRisk(
        _ customers: [ReportCustomer], today: Day, model: DefectionModel = DefectionModel(), limit: Int = 50
    ) -> [AtRisk] {
        // Every customer's points first, without the reasons' text; the text for those listed.
        var ranked: [(valueAtRisk: Double, score: Int, name: String, index: Int)] = []
        for (index, customer) in customers.enumerated() where customer.status != "lapsed" {
            let score = DefectionModel.Signals(customer, today: today, model: model).points().total
            guard score > 0 else { continue }
            ranked.append(((customer.lifetimeValue ?? 0) * Double(score) / 100, score, customer.name, index))
        }
        ranked.sort { ($0.valueAtRisk, $0.score, $1.name) > ($1.valueAtRisk, $1.score, $0.name) }
        return ranked.prefix(limit).map { item in
            let customer = customers[item.index]
            let score = model.score(customer, today: today)
            let programme = model.programme(for: customer, score: score.score)
            return AtRisk(
                customer: customer, valueAtRisk: item.valueAtRisk, score: score,
                proposedProgramme: programme == customer.programme ? nil : programme,
                proposesAtRisk: score.score >= model.threshold && customer.status != "at_risk")
        }
    }

    /// One open complaint.
    public struct OpenComplaint: Sendable, Hashable {
        public var customer: ReportCustomer
        public var complaint: ReportInteraction
        public var overdue: Bool
        /// Days since it was made.
        public var ageDays: Int
    }

    /// Complaint figures of one group (a salesperson, a territory or a segment).
    public struct ComplaintGroup: Sendable, Hashable {
        public var name: String
        public var open = 0
        public var overdue = 0
        public var resolved = 0
        /// Mean days from a complaint to its resolution, over the resolved ones; nil without any.
        public var meanDaysToResolve: Double?
        fileprivate var resolveDays = 0
    }

    /// The complaints report.
    public struct Complaints: Sendable, Hashable {
        /// Open complaints: segment A first (then B, C, none), overdue first, oldest first; the first
        /// `openLimit` of them when one was given.
        public var open: [OpenComplaint]
        /// Open complaints in all, listed or not.
        public var openCount: Int
        public var bySalesperson: [ComplaintGroup]
        public var byTerritory: [ComplaintGroup]
        /// A, B, C, then customers without a segment.
        public var bySegment: [ComplaintGroup]
    }

    /// Open and overdue complaints and the time taken to resolve them, by salesperson (the customer's
    /// owner), territory and segment.
    public static func complaints(
        _ customers: [ReportCustomer], today: Day, model: DefectionModel = DefectionModel(), openLimit: Int = .max
    ) -> Complaints {
        var open: [(customer: Int, complaint: ReportInteraction, overdue: Bool)] = []
        var owners: [String: ComplaintGroup] = [:]
        var territories: [String: ComplaintGroup] = [:]
        var segments: [String: ComplaintGroup] = [:]
        for (index, customer) in customers.enumerated() {
            for complaint in customer.interactions where complaint.isComplaint && complaint.on <= today {
                let overdue = model.isOverdue(complaint, today: today)
                func count(_ group: inout ComplaintGroup) {
                    if complaint.resolved {
                        group.resolved += 1
                        group.resolveDays += max(0, (complaint.resolvedOn ?? complaint.on) - complaint.on)
                    } else {
                        group.open += 1
                        if overdue { group.overdue += 1 }
                    }
                }
                let owner = customer.owner ?? "(no owner)"
                let segment = customer.segment ?? "(none)"
                count(&owners[owner, default: ComplaintGroup(name: owner)])
                count(&territories[customer.territory, default: ComplaintGroup(name: customer.territory)])
                count(&segments[segment, default: ComplaintGroup(name: segment)])
                if !complaint.resolved { open.append((index, complaint, overdue)) }
            }
        }
        func rank(_ segment: String?) -> Int { ["A": 0, "B": 1, "C": 2][segment ?? ""] ?? 3 }
        // Sorted by key and index; only the complaints listed are built with their customer.
        let keys = open.indices.map {
            let customer = customers[open[$0].customer]
            return (rank(customer.segment), open[$0].overdue ? 0 : 1, open[$0].complaint.on.number, customer.name, $0)
        }
        let listed = keys.sorted { ($0.0, $0.1, $0.2, $0.3) < ($1.0, $1.1, $1.2, $1.3) }.prefix(openLimit).map {
            let item = open[$0.4]
            return OpenComplaint(
                customer: customers[item.customer], complaint: item.complaint, overdue: item.overdue,
                ageDays: today - item.complaint.on)
        }
        func finished(_ groups: [String: ComplaintGroup]) -> [ComplaintGroup] {
            groups.values.map { group in
                var group = group
                if group.resolved > 0 { group.meanDaysToResolve = Double(group.resolveDays) / Double(group.resolved) }
                return group
            }
        }
        return Complaints(
            open: listed, openCount: open.count,
            bySalesperson: finished(owners).sorted { ($0.open, $1.name) > ($1.open, $0.name) },
            byTerritory: finished(territories).sorted { $0.name < $1.name },
            bySegment: finished(segments).sorted { (rank($0.name), $0.name) < (rank($1.name), $1.name) })
    }
}
