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

/// What a record of the customer file is to the reports (``ReportCache``): a customer's own fields,
/// or one of its interactions, orders or opportunities, filed under the customer it names.
enum ReportRecord {
    /// A live customer, without its interactions, orders and opportunities.
    case customer(ReportCustomer)
    case interaction(customer: String, ReportInteraction)
    case order(customer: String, ReportOrder)
    case opportunity(customer: String, ReportOpportunity)
    /// Deleted, of another collection, or lacking what the reports need.
    case none

    init(_ record: StoredRecord, schema: Schema) {
        self = Self.reading(record, schema: schema)
    }

    private static func reading(_ record: StoredRecord, schema: Schema) -> ReportRecord {
        guard !record.state.isDeleted, let collection = schema.collection(record.state.collection) else {
            return .none
        }
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
            return .customer(
                ReportCustomer(
                    id: record.state.id, name: text("name") ?? record.state.id, territory: text("territory") ?? "",
                    owner: text("owner"), segment: text("segment"), status: text("status"),
                    programme: text("programme"), relationshipLevel: text("relationship_level"),
                    lifetimeValue: number("lifetime_value")))
        case "interactions":
            guard let customer = text("customer_id"), let kind = text("kind"), let on = text("at").flatMap(Day.init)
            else { return .none }
            var resolved = false
            if case .bool(true) = values["resolved"] ?? .null { resolved = true }
            let resolvedOn =
                resolved ? record.state.fields["resolved"]?.latest.map { Day(millis: $0.hlc.physicalMillis) } : nil
            return .interaction(
                customer: customer,
                ReportInteraction(
                    kind: kind, on: on, channel: text("channel"), satisfaction: number("satisfaction").map { Int($0) },
                    resolved: resolved, resolvedOn: resolvedOn, followUpOn: text("follow_up_on").flatMap(Day.init)))
        case "orders":
            guard let customer = text("customer_id"), let on = text("ordered_on").flatMap(Day.init),
                let amount = number("amount")
            else { return .none }
            return .order(customer: customer, ReportOrder(on: on, amount: amount, margin: number("margin")))
        case "opportunities":
            guard let customer = text("customer_id"), let stage = text("stage") else { return .none }
            return .opportunity(
                customer: customer,
                ReportOpportunity(stage: stage, amount: number("amount"), probability: number("probability")))
        default:
            return .none
        }
    }
}
