import RelaisCore

/// The customer file the manager's reports read (docs/CRM.md "How the reports stay fast"): every
/// customer with its interactions, orders, opportunities and status history, held in memory and
/// brought up to date, at each read, from the records changed since the last one (the store's
/// sequence, as a laptop's pull). A page then costs the figures' arithmetic, not a decode of the
/// whole view.
///
/// Invariant: after ``refresh(store:schema:)`` the cache holds exactly what a reading of every
/// record at the head it reached would give (``ReportRecord``). It holds because
/// - every applied write gives its record a new sequence, and the record's status history gains
///   its entry under that same sequence (``HubService`` applying a write): a record changed after
///   the cursor is read again, whole, with its history;
/// - an interaction, order or opportunity is filed under the customer it names; the cache remembers
///   under which one, so one that moves to another customer, or is deleted, leaves the old one;
/// - what the cursor cannot see starts the cache again from nothing: another schema, a purge of
///   tombstones (a delete removed before the cache read it), a purge horizon past the cursor.
///
/// Items of one customer are kept in (day, key) order, the key a 128-bit hash of the record's
/// collection and id: a cache built from nothing and one brought up to date agree exactly.
actor ReportCache {
    /// The items of one customer's file, by a hash of their collection and id.
    private typealias ItemKey = UInt128

    private struct Slot {
        /// The customer's own fields (when ``live``) and its items, in (day, key) order.
        var customer: ReportCustomer
        /// Whether the customer record exists and is not deleted.
        var live = false
        var scope: String?
        /// Parallel to `customer.interactions`, `.orders` and `.opportunities`.
        var interactionKeys: [ItemKey] = []
        var orderKeys: [ItemKey] = []
        var opportunityKeys: [ItemKey] = []
        /// The status writes, in the order typed.
        var history: Retention.History = []
    }

    private var slots: [Slot] = []
    private var slotOf: [String: Int] = [:]
    /// The customer slot each item is filed under.
    private var owner: [ItemKey: Int32] = [:]
    /// The sequence up to which every change was read.
    private(set) var cursor: UInt64 = 0
    private var schema: Schema?
    /// The latest tombstone purge seen (its event id).
    private var purge: Int64?
    /// Slots by customer id; nil after a customer was added.
    private var order: [Int]?
    /// The latest refresh started.
    private var last: Task<Void, any Error>?
    /// Times the cache started from nothing (for tests).
    private(set) var rebuilds = 0

    /// Records read per store transaction.
    static let page = 2_000

    /// Brings the cache up to the store's head. Refreshes run one after the other, each after the
    /// one before it ended, so each caller sees every write committed before its call and no two
    /// catch-ups interleave (the cache is mutated between their reads of the store). A caller
    /// cancelled stops its catch-up between two pages, where the cache holds every change up to its
    /// cursor; the next refresh goes on from there.
    func refresh(store: any HubStore, schema: Schema) async throws {
        let previous = last
        let task = Task {
            _ = try? await previous?.value
            try await self.catchUp(store: store, schema: schema)
        }
        last = task
        try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }

    /// The live customers whose territory is in `scopes` (every one when nil), by id.
    func customers(scopes: Set<String>?) -> [ReportCustomer] {
        if order == nil { order = slots.indices.sorted { slots[$0].customer.id < slots[$1].customer.id } }
        return order!.compactMap { index in
            let slot = slots[index]
            guard slot.live else { return nil }
            if let scopes, !scopes.contains(slot.scope ?? "") { return nil }
            return slot.customer
        }
    }

    /// How many customers the file holds alive.
    var liveCustomers: Int { slots.lazy.filter(\.live).count }

    /// The status histories of `ids`.
    func histories(of ids: [String]) -> [String: Retention.History] {
        var histories: [String: Retention.History] = [:]
        histories.reserveCapacity(ids.count)
        for id in ids {
            if let index = slotOf[id], !slots[index].history.isEmpty { histories[id] = slots[index].history }
        }
        return histories
    }

    private func catchUp(store: any HubStore, schema: Schema) async throws {
        let (meta, purge) = try await store.read { tx in
            (try await tx.meta(), try await tx.events(kinds: [.tombstonesPurged], limit: 1).first?.id)
        }
        if schema != self.schema || purge != self.purge || meta.purgeHorizon > cursor {
            if cursor > 0 || !slots.isEmpty { rebuilds += 1 }
            slots = []
            slotOf = [:]
            owner = [:]
            order = nil
            cursor = 0
            self.schema = schema
            self.purge = purge
        }
        // From nothing, the status histories come in one scan; a customer written after it is read
        // again with its record.
        var scanned: [String: [HistoryEntry]] = [:]
        var scannedUpTo: UInt64 = 0
        if cursor == 0 {
            (scannedUpTo, scanned) = try await store.read { tx in
                let head = try await tx.meta().head
                var entries: [String: [HistoryEntry]] = [:]
                try await tx.forEachFieldHistory(collection: "customers", field: "status") { entry in
                    entries[entry.recordID, default: []].append(entry)
                }
                return (head, entries)
            }
        }
        let upTo = scannedUpTo
        while true {
            try Task.checkCancellation()
            let after = cursor
            let (head, records, histories) = try await store.read { tx in
                let head = try await tx.meta().head
                let records = try await tx.records(after: after, scopes: nil, limit: Self.page)
                var histories: [String: [HistoryEntry]] = [:]
                for record in records where record.state.collection == "customers" && record.seq > upTo {
                    histories[record.state.id] = try await tx.history(
                        collection: "customers", recordID: record.state.id, field: "status", limit: Int(Int32.max)
                    ).reversed()
                }
                return (head, records, histories)
            }
            for record in records {
                apply(record, schema: schema)
                if record.state.collection == "customers",
                    let entries = histories[record.state.id] ?? scanned[record.state.id]
                {
                    slots[slot(record.state.id)].history = Retention.history(entries)
                }
            }
            if records.count < Self.page {
                // Everything up to the head of that transaction was read.
                cursor = max(cursor, head)
                break
            }
            cursor = records.last!.seq
        }
    }

    private func slot(_ id: String) -> Int {
        if let index = slotOf[id] { return index }
        slots.append(Slot(customer: ReportCustomer(id: id, name: id, territory: "")))
        slotOf[id] = slots.count - 1
        order = nil
        return slots.count - 1
    }

    private func apply(_ record: StoredRecord, schema: Schema) {
        let collection = record.state.collection
        if collection == "customers" {
            let index = slot(record.state.id)
            if case .customer(var customer) = ReportRecord(record, schema: schema) {
                customer.interactions = slots[index].customer.interactions
                customer.orders = slots[index].customer.orders
                customer.opportunities = slots[index].customer.opportunities
                slots[index].customer = customer
                slots[index].live = true
                slots[index].scope = record.scope
            } else {
                slots[index].live = false
            }
            return
        }
        guard collection == "interactions" || collection == "orders" || collection == "opportunities" else { return }
        let key = Self.key(collection, record.state.id)
        if let old = owner.removeValue(forKey: key) { remove(key, from: Int(old)) }
        switch ReportRecord(record, schema: schema) {
        case .interaction(let id, let interaction):
            let index = slot(id)
            owner[key] = Int32(index)
            let at = Self.position(
                interaction.on, key, in: slots[index].customer.interactions, slots[index].interactionKeys, day: \.on)
            slots[index].customer.interactions.insert(interaction, at: at)
            slots[index].interactionKeys.insert(key, at: at)
        case .order(let id, let order):
            let index = slot(id)
            owner[key] = Int32(index)
            let at = Self.position(order.on, key, in: slots[index].customer.orders, slots[index].orderKeys, day: \.on)
            slots[index].customer.orders.insert(order, at: at)
            slots[index].orderKeys.insert(key, at: at)
        case .opportunity(let id, let opportunity):
            let index = slot(id)
            owner[key] = Int32(index)
            let keys = slots[index].opportunityKeys
            let at = keys.firstIndex { $0 > key } ?? keys.count
            slots[index].customer.opportunities.insert(opportunity, at: at)
            slots[index].opportunityKeys.insert(key, at: at)
        case .customer, .none:
            break
        }
    }

    private func remove(_ key: ItemKey, from index: Int) {
        if let at = slots[index].interactionKeys.firstIndex(of: key) {
            slots[index].interactionKeys.remove(at: at)
            slots[index].customer.interactions.remove(at: at)
        } else if let at = slots[index].orderKeys.firstIndex(of: key) {
            slots[index].orderKeys.remove(at: at)
            slots[index].customer.orders.remove(at: at)
        } else if let at = slots[index].opportunityKeys.firstIndex(of: key) {
            slots[index].opportunityKeys.remove(at: at)
            slots[index].customer.opportunities.remove(at: at)
        }
    }

    /// Where an item of `day` and `key` goes in a list ordered by (day, key).
    private static func position<Item>(
        _ day: Day, _ key: ItemKey, in items: [Item], _ keys: [ItemKey], day of: (Item) -> Day
    )
        -> Int
    {
        var at = items.count
        while at > 0, (of(items[at - 1]), keys[at - 1]) > (day, key) { at -= 1 }
        return at
    }

    /// FNV-1a, 128 bits, of the collection and the id: distinct for distinct records short of a
    /// collision no store of this size will see (about one in 10^26 at a million records).
    private static func key(_ collection: String, _ id: String) -> ItemKey {
        var hash: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013B
        for byte in collection.utf8 {
            hash = (hash ^ UInt128(byte)) &* prime
        }
        hash = (hash ^ 0) &* prime
        for byte in id.utf8 {
            hash = (hash ^ UInt128(byte)) &* prime
        }
        return hash
    }
}
