import RelaisClient
import RelaisCore

/// Random offline edits on a laptop; every field write carries a unique token the checker follows.
extension Simulation {
    mutating func token() -> String {
        nextToken += 1
        return "tk\(nextToken)z"
    }

    mutating func track(
        _ laptop: Int, _ token: String, _ collection: String, _ id: String, _ field: String, _ kind: SimFieldKind
    ) {
        report.trace.append("laptop \(laptop) writes \(token) to \(collection)/\(id).\(field)")
        tokenIndex[token] = writes.count
        writes.append(SimWrite(laptop: laptop, token: token, collection: collection, id: id, field: field, kind: kind))
    }

    /// Marks as superseded the tracked tokens the author sees in `value` (it replaces them).
    mutating func supersede(_ value: Value) {
        let text: String
        switch value {
        case .text(let s): text = s
        case .set(let items): text = items.joined(separator: " ")
        default: return
        }
        for (token, i) in tokenIndex where text.contains(token) { writes[i].superseded = true }
    }

    mutating func edit(_ index: Int) async throws {
        let laptop = laptops[index]
        report.edits += 1
        let customers = try await laptop.replica.list("customers")
        let roll = random.int(0...99)
        if fault == .deletes, !customers.isEmpty, roll < 35 {
            // Deletes of records other laptops hold too, and moves between territories.
            return try await (roll < 8 ? moveCustomer(index) : deleteEverywhere(index))
        }
        if customers.isEmpty || roll < 25 {
            try await addCustomer(index)
        } else if roll < 35 {
            let customer = random.pick(customers)
            let name = token()
            var values: [String: Value] = ["customer_id": .text(customer.id), "name": .text(name)]
            let email = token()
            if random.chance(0.5) { values["email"] = .text(email) }
            let id = try await laptop.replica.add("contacts", values)
            track(index, name, "contacts", id, "name", .replace)
            if values["email"] != nil { track(index, email, "contacts", id, "email", .replace) }
        } else if roll < 45 {
            let customer = random.pick(customers)
            let summary = token()
            var values: [String: Value] = [
                "customer_id": .text(customer.id),
                "kind": .text(random.pick(["visit", "call", "email", "complaint", "suggestion"])),
                "at": .date("2026-11-\(random.int(10...28))"), "summary": .text(summary),
            ]
            if random.chance(0.5) { values["satisfaction"] = .number(Double(random.int(1...5))) }
            if random.chance(0.5) { values["resolved"] = .bool(random.chance(0.5)) }
            if random.chance(0.5) { values["follow_up_on"] = .date("2026-12-\(random.int(10...28))") }
            let id = try await laptop.replica.add("interactions", values)
            track(index, summary, "interactions", id, "summary", .append)
        } else if roll < 85 {
            try await setFields(index)
        } else if roll < 92 {
            try await deleteRecord(index)
        } else {
            try await importCustomers(index)
        }
    }

    mutating func addCustomer(_ index: Int) async throws {
        let laptop = laptops[index]
        let name = token()
        var values: [String: Value] = ["name": .text(name), "territory": .text(random.pick(laptop.territories))]
        let phone = token()
        let tag = token()
        let note = token()
        if random.chance(0.5) { values["phone"] = .text(phone) }
        if random.chance(0.5) { values["tags"] = .set([tag]) }
        if random.chance(0.5) { values["notes"] = .text(note) }
        if laptop.full, random.chance(0.7) {
            // A long visit report pasted in: on a full disk, the edit that needs new pages.
            values["notes"] = .text(note + " " + String(repeating: "report ", count: random.int(300...1200)))
        }
        if random.chance(0.3) { values["status"] = .text(random.pick(["prospect", "active", "at_risk", "lapsed"])) }
        let id = try await laptop.replica.add("customers", values)
        track(index, name, "customers", id, "name", .replace)
        if values["phone"] != nil { track(index, phone, "customers", id, "phone", .replace) }
        if values["tags"] != nil { track(index, tag, "customers", id, "tags", .union) }
        if values["notes"] != nil { track(index, note, "customers", id, "notes", .append) }
    }

    mutating func importCustomers(_ index: Int) async throws {
        let laptop = laptops[index]
        var lines: [String] = []
        var tokens: [String] = []
        for _ in 0..<random.int(1...3) {
            let name = token()
            tokens.append(name)
            lines.append("{\"name\":\"\(name)\",\"territory\":\"\(random.pick(laptop.territories))\"}")
        }
        _ = try await laptop.replica.import("customers", text: lines.joined(separator: "\n"), format: .jsonl)
        let imported = try await laptop.replica.list("customers")
        for record in imported {
            if case .text(let name) = record["name"], tokens.contains(name) {
                track(index, name, "customers", record.id, "name", .replace)
            }
        }
    }

    mutating func setFields(_ index: Int) async throws {
        let laptop = laptops[index]
        let collection = random.pick(["customers", "customers", "contacts", "interactions"])
        let records = try await laptop.replica.list(collection)
        guard !records.isEmpty else { return try await addCustomer(index) }
        let record = random.pick(records)
        var values: [String: Value] = [:]
        var tracked: [(String, String, SimFieldKind)] = []
        var seen: [Value] = []
        let fields: [String]
        switch collection {
        case "customers":
            fields = ["name", "phone", "email", "tags", "notes", "status", "programme", "relationship_level", "city"]
        case "contacts": fields = ["name", "role", "phone", "email"]
        default: fields = ["summary", "outcome", "satisfaction", "follow_up_on", "resolved", "kind"]
        }
        for _ in 0..<random.int(1...3) {
            let field = random.pick(fields)
            let t = token()
            switch field {
            case "status": values[field] = .text(random.pick(["prospect", "active", "at_risk", "lapsed"]))
            case "programme": values[field] = .text(random.pick(["prospection", "development", "recovery", "loyalty"]))
            case "relationship_level":
                values[field] = .text(random.pick(["basic", "reactive", "responsible", "proactive", "partnership"]))
            case "satisfaction": values[field] = .number(Double(random.int(1...5)))
            case "follow_up_on": values[field] = .date("2027-01-\(random.int(10...28))")
            case "resolved": values[field] = .bool(random.chance(0.5))
            case "kind": values[field] = .text(random.pick(["visit", "call", "email", "complaint", "suggestion"]))
            case "tags":
                var items = record[field].setItems ?? []
                items.append(t)
                values[field] = .set(items)
                tracked.append((field, t, .union))
            case "notes", "summary", "outcome":
                // An append field: the salesperson adds to what is there.
                if case .text(let old) = record[field] {
                    values[field] = .text(old + "\n" + t)
                } else {
                    values[field] = .text(t)
                }
                tracked.append((field, t, .append))
            default:
                seen.append(record[field])
                values[field] = .text(t)
                tracked.append((field, t, .replace))
            }
        }
        // A set of a field that was set twice in this edit keeps the last value only.
        tracked = tracked.filter { entry in
            switch values[entry.0] {
            case .text(let s): s.contains(entry.1)
            case .set(let items): items.contains(entry.1)
            default: false
            }
        }
        try await laptop.replica.set(collection, id: record.id, values)
        for value in seen { supersede(value) }
        for (field, t, kind) in tracked { track(index, t, collection, record.id, field, kind) }
    }

    mutating func deleteRecord(_ index: Int) async throws {
        let laptop = laptops[index]
        // Contacts and interactions, and customers in the deletes kind (a customer's children stay).
        let collection = random.pick(
            fault == .deletes ? ["customers", "contacts", "interactions"] : ["contacts", "interactions"])
        let records = try await laptop.replica.list(collection)
        guard !records.isEmpty else { return }
        let record = random.pick(records)
        try await delete(index, collection, record)
    }

    /// Laptop `index` deletes `record`; the delete is tracked (`isDelete`) like a field write.
    mutating func delete(_ index: Int, _ collection: String, _ record: Replica.Record) async throws {
        try await laptops[index].replica.delete(collection, id: record.id)
        for value in record.values.values { supersede(value) }
        report.trace.append("laptop \(index) deletes \(collection)/\(record.id)")
        writes.append(
            SimWrite(
                laptop: index, token: "delete\(writes.count)", collection: collection, id: record.id, field: "",
                kind: .replace, isDelete: true))
    }

    /// The deletes kind: laptop `index` deletes a record it holds, and each other laptop that holds
    /// it too deletes it with a chance, offline, before anyone syncs (a customer two salespeople both
    /// drop). Their syncs, in any order and around hub kills, must leave it deleted everywhere, or
    /// alive with a `delete-update` report when someone edited it concurrently.
    mutating func deleteEverywhere(_ index: Int) async throws {
        let collection = random.pick(["customers", "customers", "contacts", "interactions"])
        let records = try await laptops[index].replica.list(collection)
        guard !records.isEmpty else { return }
        let record = random.pick(records)
        try await delete(index, collection, record)
        for other in laptops.indices where other != index && random.chance(0.6) {
            guard let held = try await laptops[other].replica.get(collection, id: record.id) else { continue }
            try await delete(other, collection, held)
        }
    }

    /// The deletes kind: a laptop whose user sees two territories moves one of its customers to the
    /// other (the customer then leaves the view of a rep of the first, revoking their copies and
    /// rejecting their pending writes to it).
    mutating func moveCustomer(_ index: Int) async throws {
        let laptop = laptops[index]
        guard laptop.territories.count > 1 else { return try await deleteEverywhere(index) }
        let customers = try await laptop.replica.list("customers")
        guard !customers.isEmpty else { return }
        let customer = random.pick(customers)
        var current: String?
        if case .text(let text) = customer["territory"] { current = text }
        guard let target = laptop.territories.first(where: { $0 != current }) else { return }
        try await laptop.replica.set("customers", id: customer.id, ["territory": .text(target)])
        report.trace.append("laptop \(index) moves customers/\(customer.id) to \(target)")
    }
}
