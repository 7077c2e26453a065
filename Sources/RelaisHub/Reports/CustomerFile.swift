public import RelaisCore

/// One interaction with a customer, as the reports read it.
public struct ReportInteraction: Sendable, Hashable {
    /// `visit`, `call`, `email`, `complaint` or `suggestion`.
    public var kind: String
    /// When it happened.
    public var on: Day
    /// How the customer was reached (schema version 2), if recorded.
    public var channel: String?
    /// The satisfaction reading, 1 to 5, if recorded.
    public var satisfaction: Int?
    /// Whether it is resolved (complaints).
    public var resolved: Bool
    /// The day it was marked resolved (the `resolved` field's write), when it is.
    public var resolvedOn: Day?
    /// The follow-up promised, if any.
    public var followUpOn: Day?

    public init(
        kind: String, on: Day, channel: String? = nil, satisfaction: Int? = nil, resolved: Bool = false,
        resolvedOn: Day? = nil, followUpOn: Day? = nil
    ) {
        self.kind = kind
        self.on = on
        self.channel = channel
        self.satisfaction = satisfaction
        self.resolved = resolved
        self.resolvedOn = resolvedOn
        self.followUpOn = followUpOn
    }

    public var isComplaint: Bool { kind == "complaint" }
}

/// An order, as the reports read it.
public struct ReportOrder: Sendable, Hashable {
    public var on: Day
    public var amount: Double
    /// The margin, when recorded.
    public var margin: Double?

    public init(on: Day, amount: Double, margin: Double? = nil) {
        self.on = on
        self.amount = amount
        self.margin = margin
    }
}

/// An opportunity of the pipeline, as the reports read it.
public struct ReportOpportunity: Sendable, Hashable {
    /// `prospecting`, `qualified`, `proposal`, `won` or `lost`.
    public var stage: String
    public var amount: Double?
    /// In percent, when recorded.
    public var probability: Double?

    public init(stage: String, amount: Double? = nil, probability: Double? = nil) {
        self.stage = stage
        self.amount = amount
        self.probability = probability
    }

    /// Still to be won or lost.
    public var isOpen: Bool { stage != "won" && stage != "lost" }
}

/// A customer with what the reports need of its file.
public struct ReportCustomer: Sendable, Hashable {
    public var id: String
    public var name: String
    public var territory: String
    public var owner: String?
    public var segment: String?
    public var status: String?
    public var programme: String?
    public var relationshipLevel: String?
    public var lifetimeValue: Double?
    /// Oldest first.
    public var interactions: [ReportInteraction]
    /// Oldest first.
    public var orders: [ReportOrder]
    public var opportunities: [ReportOpportunity]

    public init(
        id: String, name: String, territory: String, owner: String? = nil, segment: String? = nil,
        status: String? = nil, programme: String? = nil, relationshipLevel: String? = nil,
        lifetimeValue: Double? = nil, interactions: [ReportInteraction] = [], orders: [ReportOrder] = [],
        opportunities: [ReportOpportunity] = []
    ) {
        self.orders = orders.sorted { $0.on < $1.on }
        self.opportunities = opportunities
        self.id = id
        self.name = name
        self.territory = territory
        self.owner = owner
        self.segment = segment
        self.status = status
        self.programme = programme
        self.relationshipLevel = relationshipLevel
        self.lifetimeValue = lifetimeValue
        self.interactions = interactions.sorted { $0.on < $1.on }
    }
}

/// Reads the customers of a view, with their interactions, from the records the hub holds.
struct CustomerFileReader {
    let schema: Schema
    /// The territories seen; `nil`: every one.
    let scopes: Set<String>?
    private(set) var customers: [String: ReportCustomer] = [:]
    private var interactions: [String: [ReportInteraction]] = [:]
    private var orders: [String: [ReportOrder]] = [:]
    private var opportunities: [String: [ReportOpportunity]] = [:]

    init(schema: Schema, scopes: Set<String>?) {
        self.schema = schema
        self.scopes = scopes
    }

    mutating func add(_ record: StoredRecord) {
        guard !record.state.isDeleted else { return }
        if let scopes, !scopes.contains(record.scope ?? "") { return }
        guard let collection = schema.collection(record.state.collection) else { return }
        let values = record.state.values(in: collection)
        func text(_ name: String) -> String? {
            if case .text(let text) = values[name] ?? .null { return text }
            if case .date(let text) = values[name] ?? .null { return text }
            return nil
        }
        func number(_ name: String) -> Double? {
            if case .number(let value) = values[name] ?? .null { return value }
            return nil
        }
        switch collection.name {
        case "customers":
            var number: Double?
            if case .number(let value) = values["lifetime_value"] ?? .null { number = value }
            customers[record.state.id] = ReportCustomer(
                id: record.state.id, name: text("name") ?? record.state.id, territory: text("territory") ?? "",
                owner: text("owner"), segment: text("segment"), status: text("status"), programme: text("programme"),
                relationshipLevel: text("relationship_level"), lifetimeValue: number)
        case "interactions":
            guard let customer = text("customer_id"), let kind = text("kind"), let on = text("at").flatMap(Day.init)
            else { return }
            var satisfaction: Int?
            if case .number(let value) = values["satisfaction"] ?? .null { satisfaction = Int(value) }
            var resolved = false
            if case .bool(true) = values["resolved"] ?? .null { resolved = true }
            let resolvedOn =
                resolved ? record.state.fields["resolved"]?.latest.map { Day(millis: $0.hlc.physicalMillis) } : nil
            interactions[customer, default: []].append(
                ReportInteraction(
                    kind: kind, on: on, channel: text("channel"), satisfaction: satisfaction, resolved: resolved,
                    resolvedOn: resolvedOn, followUpOn: text("follow_up_on").flatMap(Day.init)))
        case "orders":
            guard let customer = text("customer_id"), let on = text("ordered_on").flatMap(Day.init),
                let amount = number("amount")
            else { return }
            orders[customer, default: []].append(ReportOrder(on: on, amount: amount, margin: number("margin")))
        case "opportunities":
            guard let customer = text("customer_id"), let stage = text("stage") else { return }
            opportunities[customer, default: []].append(
                ReportOpportunity(stage: stage, amount: number("amount"), probability: number("probability")))
        default:
            break
        }
    }

    /// The customers, each with its interactions, by id.
    func finish() -> [ReportCustomer] {
        customers.values.map { customer in
            var customer = customer
            customer.interactions = (interactions[customer.id] ?? []).sorted { $0.on < $1.on }
            customer.orders = (orders[customer.id] ?? []).sorted { $0.on < $1.on }
            customer.opportunities = opportunities[customer.id] ?? []
            return customer
        }.sorted { $0.id < $1.id }
    }
}
