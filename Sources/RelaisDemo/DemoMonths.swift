import Foundation
import RelaisClient
import RelaisCore
import RelaisHub

/// The two months before the week: the office loads the firm's file (customers with the three months
/// of contacts and orders before), then each salesperson works their customers week by week, offline,
/// syncing on Fridays; some customers drift away (no more visits, falling satisfaction, a complaint
/// left open). Dates run up to the hub's today, so the manager's figures are about now.
extension DemoWeek {
    /// The towns of each territory, for the generated customers' names and cities.
    static let towns: [String: [String]] = [
        "north": ["Lille", "Roubaix", "Amiens", "Arras", "Douai", "Lens", "Calais", "Dunkerque"],
        "south": ["Nîmes", "Montpellier", "Arles", "Avignon", "Sète", "Béziers", "Alès", "Uzès"],
        "east": ["Metz", "Nancy", "Strasbourg", "Colmar", "Mulhouse", "Reims", "Épinal", "Verdun"],
    ]
    static let trades = [
        "Boulangerie", "Pharmacie", "Garage", "Hôtel", "Brasserie", "Fromagerie", "Librairie", "Quincaillerie",
        "Clinique", "Cave", "Épicerie", "Fleuriste", "Restaurant", "Atelier", "Boucherie", "Opticien",
    ]
    static let surnames = [
        "Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux",
        "David", "Bertrand", "Morel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau",
    ]

    /// A generated customer and how the simulation treats it.
    struct Account {
        var id: String
        var territory: String
        var owner: String
        /// Days between two contacts, usually.
        var gap: Int
        var lastContact: Int
        /// Stops being visited after the first fortnight of the two months.
        var drifting: Bool
    }

    /// A UUID from the seeded generator (the ids are chosen before the rows are imported).
    mutating func uuid() -> String {
        let hex = (0..<32).map { _ in String(random.next(16), radix: 16) }.joined()
        let chars = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(chars[$0]) }.joined(separator: "-")
    }

    private static func jsonLine(_ values: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: values, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Loads `count` customers with their history through the managers' laptops and syncs everyone;
    /// then runs the two months. Returns the records written.
    mutating func twoMonths(_ replicas: [String: Replica], count: Int, report: inout DemoReport) async throws {
        let today = service.today()
        func date(_ offset: Int) -> String { (today + offset).description }
        let repsOf: [String: [String]] = [
            "north": ["claire", "hugo"], "south": ["samir", "ines"], "east": ["theo", "zoe"],
        ]
        let managerOf = ["north": "maria", "south": "maria", "east": "lucas"]
        var accounts: [Account] = []
        var lines: [String: [String: [String]]] = [:]  // manager → collection → JSON lines
        func add(_ manager: String, _ collection: String, _ values: [String: Any]) throws {
            lines[manager, default: [:]][collection, default: []].append(try Self.jsonLine(values))
        }
        for index in 0..<count {
            let territory = ["north", "south", "east"][index % 3]
            let towns = Self.towns[territory]!
            let town = towns[random.next(towns.count)]
            let reps = repsOf[territory]!
            let owner = reps[random.next(reps.count)]
            let gap = [14, 21, 30, 30, 45, 60][random.next(6)]
            let account = Account(
                id: uuid(), territory: territory, owner: owner, gap: gap, lastContact: -60 - random.next(gap),
                drifting: random.next(100) < 8)
            let manager = managerOf[territory]!
            try add(
                manager, "customers",
                [
                    "id": account.id,
                    "name":
                        "\(Self.trades[random.next(Self.trades.count)]) \(Self.surnames[random.next(Self.surnames.count)]) (\(town))",
                    "city": town, "territory": territory, "owner": owner,
                    "status": random.next(10) == 0 ? "prospect" : "active",
                    "programme": ["development", "loyalty", "development"][random.next(3)],
                    "relationship_level": ["basic", "reactive", "responsible", "proactive", "partnership"][
                        random.next(5)],
                ])
            // The half year before the two months: a contact every `gap` days, an order every third.
            var day = account.lastContact
            var history: [Int] = []
            while day > -150 {
                history.append(day)
                day -= gap + random.next(7) - 3
            }
            for (n, day) in history.reversed().enumerated() {
                var interaction: [String: Any] = [
                    "id": uuid(), "customer_id": account.id,
                    "kind": ["visit", "call", "visit", "email"][random.next(4)],
                    "channel": "visit", "at": date(day), "author": owner, "summary": "Regular contact.",
                ]
                if random.next(2) == 0 { interaction["satisfaction"] = 3 + random.next(3) }
                try add(manager, "interactions", interaction)
                if n % 3 == 0 {
                    let amount = Double(500 + random.next(40) * 250)
                    try add(
                        manager, "orders",
                        [
                            "id": uuid(), "customer_id": account.id, "ordered_on": date(day), "amount": amount,
                            "margin": (amount * Double(20 + random.next(16)) / 100).rounded(),
                        ])
                }
            }
            if random.next(4) == 0 {
                try add(
                    manager, "opportunities",
                    [
                        "id": uuid(), "customer_id": account.id, "title": "Range extension",
                        "stage": ["prospecting", "qualified", "proposal"][random.next(3)],
                        "amount": Double(5_000 + random.next(20) * 2_500), "owner": owner,
                    ])
            }
            accounts.append(account)
        }
        // The office loads the file (`relais import`), in parent-first order, and pushes it.
        for manager in ["maria", "lucas"] {
            for collection in ["customers", "interactions", "orders", "opportunities"] {
                guard let rows = lines[manager]?[collection], !rows.isEmpty else { continue }
                try await replicas[manager]!.import(collection, text: rows.joined(separator: "\n"), format: .jsonl)
            }
            report.add(try await replicas[manager]!.sync())
        }
        for person in Self.people { report.add(try await replicas[person.name]!.sync()) }

        // Eight weeks in the field, from 56 days ago: each salesperson sees the customers that are due.
        let complaints = ["Invoice sent twice.", "Damaged packaging on delivery.", "Late delivery again."]
        var openComplaints: [(rep: String, id: String, due: Int)] = []
        for week in 0..<8 {
            let monday = -56 + 7 * week
            for territory in ["north", "south", "east"] {
                for rep in repsOf[territory]! {
                    let laptop = replicas[rep]!
                    // Complaints of earlier weeks get resolved, most of them on time.
                    for complaint in openComplaints where complaint.rep == rep && complaint.due <= monday {
                        if random.next(5) != 0 {
                            try await laptop.set("interactions", id: complaint.id, ["resolved": .bool(true)])
                        }
                    }
                    openComplaints.removeAll { $0.rep == rep && $0.due <= monday }
                    // The week's notes, typed offline; imported at once here (`relais import`), as
                    // one transaction per collection.
                    var notes: [String: [String]] = [:]
                    func note(_ collection: String, _ values: [String: Any]) throws {
                        notes[collection, default: []].append(try Self.jsonLine(values))
                    }
                    for index in accounts.indices where accounts[index].owner == rep {
                        var account = accounts[index]
                        let due = account.lastContact + account.gap
                        guard due < monday + 5, !(account.drifting && week >= 2) else { continue }
                        let day = min(monday + random.next(5), -1)
                        account.lastContact = day
                        accounts[index] = account
                        let complains = account.drifting ? random.next(3) == 0 : random.next(30) == 0
                        let kind = complains ? "complaint" : ["visit", "call"][random.next(2)]
                        let interaction = uuid()
                        var values: [String: Any] = [
                            "id": interaction, "customer_id": account.id, "kind": kind, "channel": "visit",
                            "at": date(day), "author": rep,
                            "summary": kind == "complaint" ? complaints[random.next(3)] : "Regular contact.",
                            "satisfaction": account.drifting ? 1 + random.next(2) : 3 + random.next(3),
                        ]
                        if kind == "complaint" {
                            values["resolved"] = false
                            values["follow_up_on"] = date(day + 7)
                            if !account.drifting { openComplaints.append((rep, interaction, day + 7)) }
                        }
                        try note("interactions", values)
                        if kind != "complaint", random.next(3) == 0 {
                            let amount = Double(500 + random.next(40) * 250)
                            try note(
                                "orders",
                                [
                                    "customer_id": account.id, "ordered_on": date(day), "amount": amount,
                                    "margin": (amount * Double(20 + random.next(16)) / 100).rounded(),
                                ])
                        }
                        if random.next(12) == 0 {
                            try note(
                                "opportunities",
                                [
                                    "customer_id": account.id, "title": "New season range",
                                    "stage": ["prospecting", "qualified", "proposal"][random.next(3)],
                                    "amount": Double(5_000 + random.next(20) * 2_500), "owner": rep,
                                ])
                        }
                        if random.next(8) == 0 {
                            try note(
                                "tasks",
                                ["customer_id": account.id, "due_on": date(day + 14), "kind": "visit", "assignee": rep])
                        }
                    }
                    for collection in ["interactions", "orders", "opportunities", "tasks"] {
                        guard let rows = notes[collection] else { continue }
                        try await laptop.import(collection, text: rows.joined(separator: "\n"), format: .jsonl)
                    }
                    // Friday evening: the laptop syncs.
                    report.add(try await laptop.sync())
                }
            }
        }
        // The office computes lifetime values and segments; everyone receives them.
        report.valuesWritten = try await service.updateCustomerValues().written
        for person in Self.people { report.add(try await replicas[person.name]!.sync()) }
    }
}
