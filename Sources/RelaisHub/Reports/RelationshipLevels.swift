public import RelaisCore

/// The relationship level a customer's contact pattern shows, against the one declared in its file
/// (docs/CRM.md "Observed and declared relationship level"), from the paper's five levels. Over the
/// last 180 days, counting the salesperson's contacts (visits, calls, e-mails) apart from the
/// customer's own (complaints, suggestions):
///
/// | level | observed when |
/// |---|---|
/// | partnership | 12 or more salesperson contacts (two a month) and an opportunity open or won |
/// | proactive | 3 or more salesperson contacts (one every two months) |
/// | responsible | a salesperson contact within 30 days after an order of the last 365 days |
/// | reactive | only the customer's own contacts |
/// | basic | no contact at all |
public struct RelationshipLevelModel: Sendable {
    public init() {}

    /// The contact kinds a salesperson makes; the others (complaints, suggestions) come from the customer.
    public static let salespersonKinds: Set<String> = ["visit", "call", "email"]

    /// The observed level, and the figures it rests on, in words.
    public func observed(_ customer: ReportCustomer, today: Day) -> (level: String, evidence: String) {
        let recent = customer.interactions.filter { $0.on <= today && today - $0.on < 180 }
        let ours = recent.filter { Self.salespersonKinds.contains($0.kind) }
        let theirs = recent.count - ours.count
        let evidence = "\(ours.count) salesperson contact(s) and \(theirs) from the customer in 180 days"
        let engaged = customer.opportunities.contains { $0.isOpen || $0.stage == "won" }
        if ours.count >= 12, engaged { return ("partnership", evidence + ", an opportunity open or won") }
        if ours.count >= 3 { return ("proactive", evidence) }
        let followed = customer.orders.contains { order in
            today - order.on < 365
                && customer.interactions.contains {
                    Self.salespersonKinds.contains($0.kind) && $0.on > order.on && $0.on - order.on <= 30
                }
        }
        if followed { return ("responsible", evidence + ", an order followed up within 30 days") }
        if theirs > 0 { return ("reactive", evidence) }
        return ("basic", evidence)
    }
}

extension ManagerReports {
    /// A customer whose observed level differs from the declared one.
    public struct LevelDifference: Sendable, Hashable {
        public var customer: ReportCustomer
        /// The level in the file (nil: none declared).
        public var declared: String?
        public var observed: String
        public var evidence: String
    }

    /// The customers whose declared relationship level differs from the observed one, the most
    /// valuable first (lifetime value, then name); customers `lapsed` left out.
    public static func levelDifferences(
        _ customers: [ReportCustomer], today: Day, model: RelationshipLevelModel = RelationshipLevelModel()
    ) -> [LevelDifference] {
        let differences = customers.filter { $0.status != "lapsed" }.compactMap { customer -> LevelDifference? in
            let (level, evidence) = model.observed(customer, today: today)
            guard level != customer.relationshipLevel else { return nil }
            return LevelDifference(
                customer: customer, declared: customer.relationshipLevel, observed: level, evidence: evidence)
        }
        // Sorted by key and index: moving the items themselves (each with its customer) costs more.
        let keys = differences.indices.map {
            (differences[$0].customer.lifetimeValue ?? 0, differences[$0].customer.name, $0)
        }
        return keys.sorted { ($0.0, $1.1) > ($1.0, $0.1) }.map { differences[$0.2] }
    }
}
