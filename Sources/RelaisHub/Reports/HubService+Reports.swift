public import RelaisCore

/// The manager's figures (docs/CRM.md), computed on the hub from the synced customer file of the
/// user's territories (an admin's: every territory). Reps have none: their laptops hold their file.
extension HubService {
    /// The customers `user` sees, each with its interactions, orders and opportunities, by id (from
    /// ``ReportCache``, brought up to the store's head first).
    ///
    /// - Throws: ``HubError/forbidden`` for a rep or a disabled user, ``HubError/notFound`` for an
    ///   unknown one.
    public func reportCustomers(for user: String) async throws -> [ReportCustomer] {
        let account = try await store.read { tx in try await tx.user(named: user) }
        guard let account else { throw HubError.notFound.with("No user `\(user)`.") }
        guard account.role != .rep, !account.isDisabled else {
            throw HubError.forbidden.with("The reports are for managers and admins.")
        }
        try await reports.refresh(store: store, schema: schema)
        return await reports.customers(scopes: Self.viewScopes(account))
    }

    /// Brings the reports' customer file up to the store's head without a report asking for it (the
    /// housekeeping does, ``Configuration/warmReports``): the next report then reads only what
    /// changed since.
    ///
    /// - Returns: the live customers it holds.
    @discardableResult
    public func warmReports() async throws -> Int {
        try await reports.refresh(store: store, schema: schema)
        return await reports.liveCustomers
    }

    /// The store sequence up to which the reports' customer file has read every change (0: not read).
    public var reportCacheCursor: UInt64 {
        get async { await reports.cursor }
    }

    /// How many times the reports' customer file started again from nothing after its first reading
    /// (another schema, a purge of tombstones).
    public var reportCacheRebuilds: Int {
        get async { await reports.rebuilds }
    }

    /// Today, by the hub's clock (UTC).
    public func today() -> Day { Day(millis: now()) }

    /// Value at risk this week for `user` (``ManagerReports/valueAtRisk(_:today:model:limit:)``).
    public func valueAtRisk(for user: String, today: Day? = nil, limit: Int = 50) async throws -> [ManagerReports
        .AtRisk]
    {
        ManagerReports.valueAtRisk(try await reportCustomers(for: user), today: today ?? self.today(), limit: limit)
    }

    /// The customers of `user`'s territories whose declared relationship level differs from the
    /// observed one (``ManagerReports/levelDifferences(_:today:model:limit:)``).
    public func levelDifferences(for user: String, today: Day? = nil) async throws -> [ManagerReports.LevelDifference] {
        ManagerReports.levelDifferences(try await reportCustomers(for: user), today: today ?? self.today())
    }

    /// The complaints of `user`'s territories (``ManagerReports/complaints(_:today:model:openLimit:)``).
    public func complaintsReport(for user: String, today: Day? = nil) async throws -> ManagerReports.Complaints {
        ManagerReports.complaints(try await reportCustomers(for: user), today: today ?? self.today())
    }
}

extension HubService {
    /// A manager (or an admin) confirms what the figures propose for a customer of their territories:
    /// a programme, or the status `at_risk`. Written as an office write (the hub's replica 0, with the
    /// customer's current version as context: it follows every write the hub holds), it reaches the
    /// laptops at their next sync.
    ///
    /// - Throws: ``HubError/forbidden`` for a rep, a disabled user, or a customer outside the user's
    ///   territories; ``HubError/notFound`` for an unknown customer; ``HubError/badRequest`` for a value
    ///   the schema refuses.
    public func confirmProposal(customer id: String, programme: String?, status: String?, by user: String)
        async throws
    {
        var fields: [String: Value] = [:]
        if let programme { fields["programme"] = .text(programme) }
        if let status { fields["status"] = .text(status) }
        guard !fields.isEmpty else { throw HubError.badRequest.with("Nothing to confirm.") }
        let now = self.now()
        let confirmed = fields
        try await store.write { tx in
            guard let account = try await tx.user(named: user), account.role != .rep, !account.isDisabled else {
                throw HubError.forbidden.with("Only managers and admins confirm proposals.")
            }
            let access = Access(role: account.role, territories: Set(account.territories))
            guard let record = try await tx.record(collection: "customers", id: id), !record.state.isDeleted,
                access.sees(scope: record.scope)
            else {
                throw HubError.notFound.with("No customer `\(id)` in your territories.")
            }
            if let refused = try await self.applyOfficeWrite(
                .upsert(confirmed), to: record, author: user, role: account.role, tx: tx, now: now)
            {
                throw HubError.badRequest.with("The hub refused the change: \(refused)")
            }
            let what = confirmed.keys.sorted().map { "\($0) \(confirmed[$0]!.description)" }.joined(separator: ", ")
            try await tx.insertEvent(
                HubEvent(at: now, kind: .proposalConfirmed, user: user, detail: "customer \(id): \(what) confirmed"))
        }
    }
}

/// What ``HubService/updateCustomerValues(today:batch:)`` did.
public struct CustomerValueUpdate: Sendable, Hashable {
    /// Customers whose lifetime value or segment was written.
    public var written = 0
    /// Customers looked at.
    public var customers = 0

    public init(written: Int = 0, customers: Int = 0) {
        self.written = written
        self.customers = customers
    }
}

extension HubService {
    /// Computes every customer's lifetime value and segment from the orders and the pipeline
    /// (``CustomerValueModel``) and writes those that changed as office writes (the hub's replica 0,
    /// the customer's current version as context), `batch` customers per transaction; laptops
    /// receive them at their next sync. Running it again with nothing changed writes nothing.
    @discardableResult
    public func updateCustomerValues(
        today: Day? = nil, model: CustomerValueModel = CustomerValueModel(), batch: Int = 500
    )
        async throws -> CustomerValueUpdate
    {
        let schema = self.schema
        guard schema.collection("customers")?.field("lifetime_value") != nil,
            schema.collection("customers")?.field("segment") != nil
        else {
            throw HubError.badRequest.with("The schema has no customers.lifetime_value and segment to write.")
        }
        try await reports.refresh(store: store, schema: schema)
        let customers = await reports.customers(scopes: nil)
        let values = model.values(customers, today: today ?? self.today())
        let changed = customers.filter { customer in
            guard let value = values[customer.id] else { return false }
            return customer.lifetimeValue != value.lifetime || customer.segment != value.segment
        }
        var update = CustomerValueUpdate(written: 0, customers: customers.count)
        var start = 0
        while start < changed.count {
            let slice = Array(changed[start..<min(changed.count, start + batch)])
            start += batch
            let now = self.now()
            update.written += try await store.write { tx in
                var written = 0
                for customer in slice {
                    guard let value = values[customer.id],
                        let record = try await tx.record(collection: "customers", id: customer.id),
                        !record.state.isDeleted
                    else { continue }
                    let change = RecordWrite.Change.upsert([
                        "lifetime_value": .number(value.lifetime), "segment": .text(value.segment),
                    ])
                    if let refused = try await self.applyOfficeWrite(
                        change, to: record, author: "relais-hub", role: .admin, tx: tx, now: now)
                    {
                        throw HubError.internal.with("The hub refused its own value write: \(refused)")
                    }
                    written += 1
                }
                return written
            }
        }
        if update.written > 0 {
            let now = self.now()
            let written = update.written
            let count = update.customers
            _ = try await store.write { tx in
                try await tx.insertEvent(
                    HubEvent(
                        at: now, kind: .valuesUpdated,
                        detail: "lifetime value and segment written for \(written) of \(count) customers"))
            }
        }
        return update
    }
}

extension HubService {
    /// Retention of `user`'s customers from `from` to `to` (``Retention/report(_:histories:from:to:)``):
    /// by default the 90 days up to today.
    public func retention(for user: String, from: Day? = nil, to: Day? = nil) async throws -> Retention.Report {
        let to = to ?? today()
        let from = from ?? to - 90
        guard from <= to else { throw HubError.badRequest.with("`from` is after `to`.") }
        return try await retention(of: try await reportCustomers(for: user), from: from, to: to)
    }

    /// Retention of `customers` (read by ``reportCustomers(for:)``) from `from` to `to`.
    public func retention(of customers: [ReportCustomer], from: Day, to: Day) async throws -> Retention.Report {
        try await reports.refresh(store: store, schema: schema)
        let histories = await reports.histories(of: customers.map(\.id))
        return Retention.report(customers, histories: histories, from: from, to: to)
    }
}
