public import RelaisCore

/// Retention over a period (docs/CRM.md "Retention"), from the customers' status history: of the
/// customers whose status was `active` or `at_risk` on the period's first day, the share whose status
/// is not `lapsed` on its last day, per salesperson (the customer's owner) and per territory.
public enum Retention {
    /// One group's figures.
    public struct Group: Sendable, Hashable {
        public var name: String
        /// Customers active or at risk on the first day.
        public var customers = 0
        /// Of those, not lapsed on the last day.
        public var retained = 0
        /// retained / customers; nil without customers.
        public var rate: Double? { customers == 0 ? nil : Double(retained) / Double(customers) }
    }

    /// A customer lost during the period.
    public struct Lost: Sendable, Hashable {
        public var customer: ReportCustomer
        /// The day its status became `lapsed`.
        public var on: Day
    }

    /// The report.
    public struct Report: Sendable, Hashable {
        public var from: Day
        public var to: Day
        public var overall: Group
        public var bySalesperson: [Group]
        public var byTerritory: [Group]
        /// Lost customers, the most valuable first.
        public var lost: [Lost]
    }

    /// A customer's status writes: the day each was typed and the value (nil for a delete).
    public typealias History = [(on: Day, status: String?, deleted: Bool)]

    /// The history of a customer's `status` writes, from its history entries in sequence order: by
    /// the day each was typed, writes of one day in the order received.
    static func history(_ entries: [HistoryEntry]) -> History {
        entries.enumerated().map { index, entry in
            var status: String?
            if case .text(let text) = entry.fields["status"] ?? .null { status = text }
            return (index, (on: Day(millis: entry.hlc.physicalMillis), status: status, deleted: entry.deleted))
        }.sorted { ($0.1.on, $0.0) < ($1.1.on, $1.0) }.map(\.1)
    }

    /// The status of a history on `day` (the last write typed on or before it), nil when the customer
    /// did not exist yet or was deleted.
    static func status(_ history: History, on day: Day) -> String? {
        var status: String?
        for entry in history where entry.on <= day {
            if entry.deleted { return nil }
            if let value = entry.status { status = value }
        }
        return status
    }

    /// Retention from `from` to `to` of `customers`, whose status histories are in `histories` by
    /// customer id (in the order typed).
    public static func report(_ customers: [ReportCustomer], histories: [String: History], from: Day, to: Day)
        -> Report
    {
        var overall = Group(name: "all")
        var owners: [String: Group] = [:]
        var territories: [String: Group] = [:]
        var lost: [Lost] = []
        for customer in customers {
            let history = histories[customer.id] ?? []
            guard let start = status(history, on: from), start == "active" || start == "at_risk" else { continue }
            let kept = status(history, on: to) != "lapsed"
            let owner = customer.owner ?? "(no owner)"
            overall.customers += 1
            if kept { overall.retained += 1 }
            owners[owner, default: Group(name: owner)].customers += 1
            territories[customer.territory, default: Group(name: customer.territory)].customers += 1
            if kept {
                owners[owner]!.retained += 1
                territories[customer.territory]!.retained += 1
            } else if let day = history.last(where: { $0.status == "lapsed" && $0.on <= to })?.on {
                lost.append(Lost(customer: customer, on: day))
            }
        }
        lost.sort {
            ($0.customer.lifetimeValue ?? 0, $1.customer.name) > ($1.customer.lifetimeValue ?? 0, $0.customer.name)
        }
        return Report(
            from: from, to: to, overall: overall, bySalesperson: owners.values.sorted { $0.name < $1.name },
            byTerritory: territories.values.sorted { $0.name < $1.name }, lost: lost)
    }
}
