public import RelaisCore

/// A customer's value, current and future, and its segment (docs/CRM.md "Lifetime value and
/// segments"):
///
/// - **current value**: the margin of the orders of the last 365 days (an order's amount when it has
///   no margin recorded);
/// - **future value**: the weighted pipeline, each open opportunity's amount × its probability (by
///   default by stage: prospecting 10 %, qualified 25 %, proposal 50 %);
/// - **lifetime value** = current value × r / (1 + i − r) + future value, the margin of a customer
///   kept with retention rate r, discounted at rate i (r = 0.8, i = 0.1: 2.67 years of margin);
/// - **segment** (Pareto): customers ranked by lifetime value; A while the cumulated value stays
///   within the first 80 % of the total, B within 95 %, C after (and every customer worth nothing).
public struct CustomerValueModel: Sendable {
    /// r: the share of customers kept from one year to the next.
    public var retention = 0.8
    /// i: the yearly discount rate.
    public var discount = 0.1
    /// The probability of an opportunity without one, by stage, in percent.
    public var stageProbability: [String: Double] = ["prospecting": 10, "qualified": 25, "proposal": 50]
    /// The cumulated shares of the total value that close segments A and B.
    public var segmentA = 0.80
    public var segmentB = 0.95

    public init() {}

    /// A customer's figures.
    public struct Value: Sendable, Hashable {
        public var current: Double
        public var future: Double
        /// Rounded to a whole unit: what the hub writes.
        public var lifetime: Double
        public var segment: String
    }

    /// The years of margin a kept customer is worth: r / (1 + i − r).
    public var multiplier: Double { retention / (1 + discount - retention) }

    /// Every customer's figures, by id: segments are ranked over all of `customers`.
    public func values(_ customers: [ReportCustomer], today: Day) -> [String: Value] {
        var values: [String: Value] = [:]
        for customer in customers {
            let current = customer.orders.filter { $0.on <= today && today - $0.on < 365 }
                .reduce(0) { $0 + ($1.margin ?? $1.amount) }
            let future = customer.opportunities.filter(\.isOpen).reduce(0.0) { sum, opportunity in
                let probability = opportunity.probability ?? stageProbability[opportunity.stage] ?? 0
                return sum + (opportunity.amount ?? 0) * probability / 100
            }
            let lifetime = max(0, (current * multiplier + future).rounded())
            values[customer.id] = Value(current: current, future: future, lifetime: lifetime, segment: "C")
        }
        let total = values.values.reduce(0) { $0 + $1.lifetime }
        guard total > 0 else { return values }
        var cumulated = 0.0
        for id in values.keys.sorted(by: { (values[$0]!.lifetime, $1) > (values[$1]!.lifetime, $0) }) {
            let value = values[id]!
            guard value.lifetime > 0 else { break }
            // A customer whose value starts inside the first 80 % is an A (the largest is always one).
            let share = cumulated / total
            values[id]!.segment = share < segmentA ? "A" : share < segmentB ? "B" : "C"
            cumulated += value.lifetime
        }
        return values
    }
}
