import RelaisCore
import RelaisProtocol
import RelaisTesting
import Testing

/// Bytes on the wire per changed field (DESIGN §10): 10,000 customer edits of one or two fields,
/// sent as our PushRequest batches (1,000 writes, binary, deflate level 6) against the same edits
/// sent as plain uncompressed JSON of whole customer records (all 15 fields).
///
/// Prints the figures; asserts only that our form is smaller. No timing.
struct WireSizeTests {
    struct Customer {
        var fields: [(String, Value)]
    }

    static let words = [
        "visit", "order", "delivery", "price", "discount", "complaint", "follow-up", "contract", "renewal", "quality",
        "late", "satisfied", "call", "meeting", "catalogue", "sample", "invoice", "payment", "manager", "new",
    ]
    static let cities = [
        "Lyon", "Villeurbanne", "Vénissieux", "Bron", "Caluire-et-Cuire", "Écully", "Givors", "Oullins",
    ]
    static let streets = [
        "rue de la République", "avenue Jean Jaurès", "cours Lafayette", "place Bellecour", "rue Garibaldi",
    ]
    static let names = ["Boulangerie", "Garage", "Pharmacie", "Hôtel", "Cabinet", "Atelier", "Librairie", "Fromagerie"]
    static let surnames = [
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    ]

    static func sentence(_ rng: inout SeededRandom, words count: Int) -> String {
        (0..<count).map { _ in rng.pick(words) }.joined(separator: " ")
    }

    static func phone(_ rng: inout SeededRandom) -> String {
        "+33 4 " + (0..<4).map { _ in String(rng.int(10...99)) }.joined(separator: " ")
    }

    static func customer(_ rng: inout SeededRandom) -> Customer {
        var generator = RandomMessages(seed: rng.next())
        let surname = rng.pick(surnames)
        let name = "\(rng.pick(names)) \(surname)"
        return Customer(fields: [
            ("id", .text(generator.recordID())),
            ("name", .text(name)),
            ("segment", .text(rng.pick(["A", "B", "C"]))),
            ("relationship_level", .text(rng.pick(["basic", "reactive", "responsible", "proactive", "partnership"]))),
            ("programme", .text(rng.pick(["prospection", "development", "recovery", "loyalty"]))),
            ("status", .text(rng.pick(["prospect", "active", "at_risk", "lapsed"]))),
            ("territory", .text(rng.pick(["lyon-nord", "lyon-sud", "villeurbanne", "ouest-lyonnais"]))),
            ("owner", .text(rng.pick(["claire", "marc", "sophie", "karim", "julie"]))),
            ("phone", .text(phone(&rng))),
            ("email", .text("contact@\(surname.lowercased())-\(rng.int(1...999)).fr")),
            ("address", .text("\(rng.int(1...120)) \(rng.pick(streets))")),
            ("city", .text(rng.pick(cities))),
            ("lifetime_value", .number(Double(rng.int(500...400_000)))),
            (
                "tags",
                .stringSet((0..<rng.int(0...3)).map { _ in rng.pick(["b2b", "vip", "export", "seasonal", "new"]) })
            ),
            ("notes", .text(sentence(&rng, words: rng.int(5...30)))),
        ])
    }

    /// The new value of an edited field.
    static func edit(_ field: String, of customer: Customer, _ rng: inout SeededRandom) -> Value {
        switch field {
        case "status": .text(rng.pick(["prospect", "active", "at_risk", "lapsed"]))
        case "phone": .text(phone(&rng))
        case "tags":
            .stringSet(
                (customer.fields.first { $0.0 == "tags" }?.1.setItems ?? []) + [
                    rng.pick(["vip", "export", "seasonal"])
                ]
            )
        case "email": .text("sales@\(rng.pick(surnames).lowercased())-\(rng.int(1...999)).fr")
        case "notes":
            .text(
                (customer.fields.first { $0.0 == "notes" }?.1.stringValue ?? "") + ". "
                    + sentence(&rng, words: rng.int(3...12))
            )
        case "relationship_level": .text(rng.pick(["basic", "reactive", "responsible", "proactive", "partnership"]))
        case "programme": .text(rng.pick(["prospection", "development", "recovery", "loyalty"]))
        case "segment": .text(rng.pick(["A", "B", "C"]))
        case "lifetime_value": .number(Double(rng.int(500...400_000)))
        default: .text(rng.pick(cities))
        }
    }

    /// Plain JSON of a whole record, as a naive sync would send it.
    static func plainJSON(_ customer: Customer) -> String {
        func quote(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        let members = customer.fields.map { name, value -> String in
            let json: String
            switch value {
            case .null: json = "null"
            case .number(let n): json = Value.format(n)
            case .bool(let b): json = b ? "true" : "false"
            case .text(let s), .date(let s): json = quote(s)
            case .set(let items): json = "[" + items.map(quote).joined(separator: ",") + "]"
            }
            return "\(quote(name)):\(json)"
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    @Test func bytesPerChangedField() throws {
        var rng = SeededRandom(seed: 20_261_128)
        var customers = (0..<2_000).map { _ in Self.customer(&rng) }
        let editable = [
            "status", "status", "phone", "phone", "tags", "email", "notes", "relationship_level",
            "programme", "segment", "lifetime_value", "city",
        ]
        let codec = MessageCodec()
        let replica: UInt32 = 7
        var counter: UInt64 = 1_200
        var clock = HybridLogicalClock()
        var wallMillis: UInt64 = 1_764_316_800_000

        var changedFields = 0
        var binaryBytes = 0
        var jsonDeflateBytes = 0
        var ourBytes = 0
        var plainBytes = 0
        for _ in 0..<10 {
            var push = Relais_V1_PushRequest()
            push.replica = replica
            push.epoch = 1
            push.schemaVersion = 3
            var plainBatch: [String] = []
            for _ in 0..<1_000 {
                let index = rng.int(0...(customers.count - 1))
                var customer = customers[index]
                let count = rng.chance(0.6) ? 1 : 2
                var names: [String] = []
                while names.count < count {
                    let name = rng.pick(editable)
                    if !names.contains(name) { names.append(name) }
                }
                counter += 1
                wallMillis += UInt64(rng.int(200...30_000))
                var write = Relais_V1_RecordWrite()
                write.collection = "customers"
                write.recordID = customer.fields[0].1.stringValue ?? ""
                // A realistic context: the hub, this replica and one or two colleagues.
                var context = VersionVector([
                    ReplicaID.hub: UInt64(rng.int(1...400)), ReplicaID(replica): counter - UInt64(rng.int(1...50)),
                ])
                for _ in 0..<rng.int(0...2) { context[ReplicaID(UInt32(rng.int(1...60)))] = UInt64(rng.int(1...5_000)) }
                write.context = Relais_V1_VersionVector(context)
                write.dot = Relais_V1_Dot(Dot(replica: ReplicaID(replica), counter: counter))
                write.hlc = clock.now(physicalMillis: wallMillis).rawValue
                for name in names {
                    let value = Self.edit(name, of: customer, &rng)
                    write.fields.append(Relais_V1_FieldValue(field: name, value: value))
                    if let slot = customer.fields.firstIndex(where: { $0.0 == name }) {
                        customer.fields[slot].1 = value
                    }
                }
                customers[index] = customer
                changedFields += names.count
                push.writes.append(write)
                plainBatch.append(Self.plainJSON(customer))
            }
            ourBytes += try codec.encode(push, format: .protobuf, encoding: .deflate).count
            binaryBytes += try codec.encode(push, format: .protobuf).count
            jsonDeflateBytes += try codec.encode(push, format: .json, encoding: .deflate).count
            plainBytes += ("[" + plainBatch.joined(separator: ",") + "]").utf8.count
        }
        let ours = Double(ourBytes) / Double(changedFields)
        let plain = Double(plainBytes) / Double(changedFields)
        print(
            """
            Wire size, 10,000 customer edits (\(changedFields) changed fields), 10 batches of 1,000 writes:
              PushRequest, protobuf + deflate 6: \(ourBytes) bytes, \(Self.rounded(ours)) bytes per changed field
              whole records as plain JSON:       \(plainBytes) bytes, \(Self.rounded(plain)) bytes per changed field
              ratio: \(Self.rounded(plain / ours))× smaller
              (for reference: the PushRequests uncompressed \(Self.rounded(Double(binaryBytes) / Double(changedFields))), \
            as JSON + deflate \(Self.rounded(Double(jsonDeflateBytes) / Double(changedFields))) bytes per changed field)
            """
        )
        #expect(ourBytes < plainBytes)
    }

    static func rounded(_ x: Double) -> String {
        let tenths = (x * 10).rounded() / 10
        return String(tenths)
    }
}
