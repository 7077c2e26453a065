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

    /// The observed level, and the contacts it was read from (the words are left to
    /// ``observed(_:today:)``: ranking needs the level alone).
    func observedLevel(_ customer: ReportCustomer, today: Day) -> (level: String, ours: Int, theirs: Int) {
        var ours = 0
        var theirs = 0
        for contact in customer.interactions where contact.on <= today && today - contact.on < 180 {
            if Self.salespersonKinds.contains(contact.kind) { ours += 1 } else { theirs += 1 }
        }
        let engaged = customer.opportunities.contains { $0.isOpen || $0.stage == "won" }
        if ours >= 12, engaged { return ("partnership", ours, theirs) }
        if ours >= 3 { return ("proactive", ours, theirs) }
        let followed = customer.orders.contains { order in
            today - order.on < 365
                && customer.interactions.contains {
                    Self.salespersonKinds.contains($0.kind) && $0.on > order.on && $0.on - order.on <= 30
                }
        }
        if followed { return ("responsible", ours, theirs) }
        return (theirs > 0 ? "reactive" : "basic", ours, theirs)
    }

    /// The observed level, and the figures it rests on, in words.
    public func observed(_ customer: ReportCustomer, today: Day) -> (level: String, evidence: String) {
        let (level, ours, theirs) = observedLevel(customer, today: today)
        let evidence = "\(ours) salesperson contact(s) and \(theirs) from the customer in 180 days"
        switch level {
        case "partnership": return (level, evidence + ", an opportunity open or won")
        case "responsible": return (level, evidence + ", an order followed up within 30 days")
        default: return (level, evidence)
        }
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
    /// valuable first (lifetime value, then name); customers `lapsed` left out; at most `limit`.
    public static func levelDifferences(
        _ customers: [ReportCustomer], today: Day, model: RelationshipLevelModel = RelationshipLevelModel(),
        limit: Int = .max
    ) -> [LevelDifference] {
        // Ranked by key and index, the evidence written only for the customers listed.
        var ranked: [(value: Double, name: String, index: Int)] = []
        for (index, customer) in customers.enumerated() where customer.status != "lapsed" {
            guard model.observedLevel(customer, today: today).level != customer.relationshipLevel else { continue }
            ranked.append((customer.lifetimeValue ?? 0, customer.name, index))
        }
        ranked.sort { ($0.value, $1.name) > ($1.value, $0.name) }
        return ranked.prefix(limit).map { item in
            let customer = customers[item.index]
            let (level, evidence) = model.observed(customer, today: today)
            return LevelDifference(
                customer: customer, declared: customer.relationshipLevel, observed: level, evidence: evidence)
        }
    }
}
