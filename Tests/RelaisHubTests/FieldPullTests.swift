import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// Field-level pull (docs/SYNC.md "Pull"): with `since`, the start of the device's pull, the hub sends
/// only the fields changed after it, and still everything a device stopping between any two pages
/// needs while records are re-sequenced, revived, moved and revoked.
struct FieldPullTests {
    /// What a device holds, as a replica applying pages does: the fields a page carries replace the
    /// ones held, the others are kept; a tombstone removes the record, a revocation the record and its
    /// children.
    struct Held: Equatable {
        var records: [String: [String: Value]] = [:]

        mutating func apply(_ page: Relais_V1_PullResponse) throws {
            for record in page.records {
                let key = "\(record.collection)/\(record.recordID)"
                if record.deleted {
                    records[key] = nil
                    continue
                }
                var fields = records[key] ?? [:]
                for version in record.fields { fields[version.field] = try Value(version.value) }
                records[key] = fields
            }
            for revocation in page.revocations { revoke(revocation.collection, revocation.recordID) }
        }

        private mutating func revoke(_ collection: String, _ id: String) {
            records["\(collection)/\(id)"] = nil
            guard collection == "customers" else { return }
            for (key, fields) in records where key.hasPrefix("contacts/") && fields["customer_id"] == .text(id) {
                records[key] = nil
            }
        }
    }

    /// A device that pulls as the replica does: the start of its pull is kept until it applies a page
    /// with `more` false.
    struct Puller {
        var device: TestDevice
        var since: UInt64 = 0
        var held = Held()

        /// Pulls at most `limit` pages (all when `nil`); `sendsSince` false pulls as an older client.
        mutating func pull(
            _ hub: HubFixture, limit: Int? = nil, pageSize: UInt32 = 0, sendsSince: Bool = true
        ) async throws -> [Relais_V1_PullResponse] {
            var pages: [Relais_V1_PullResponse] = []
            while limit.map({ pages.count < $0 }) ?? true {
                let page = try await hub.service.pull(
                    Wire.pull(
                        cursor: device.cursor, counter: device.counter, pageSize: pageSize,
                        since: sendsSince ? since : nil),
                    from: device.principal)
                #expect(!page.bootstrapRequired)
                pages.append(page)
                try held.apply(page)
                device.cursor = page.nextCursor
                if !page.more {
                    since = page.nextCursor
                    break
                }
            }
            return pages
        }
    }

    private func vector(_ hub: HubFixture, _ id: String, in collection: String = "customers") async throws
        -> VersionVector
    {
        try await hub.store.read { tx in try await tx.record(collection: collection, id: id)?.state.vector } ?? .empty
    }

    @Test func aPullSendsOnlyTheFieldsChangedSinceItsStart() async throws {
        try await HubFixture.with { hub in
            var writer = try await hub.enrollDevice("walt", role: .manager, territories: ["north", "south"])
            var reader = Puller(device: try await hub.enrollDevice("rita", territories: ["north"]))
            let id = Wire.uuid()
            _ = try await hub.push(
                writer,
                [
                    Wire.customer(
                        id: id, replica: writer.replica, counter: writer.nextCounter(),
                        extra: ["phone": .text("1"), "city": .text("Lyon")])
                ])
            let first = try await reader.pull(hub)
            #expect(first.records.first?.fieldNames == ["city", "name", "phone", "territory"])
            _ = try await hub.push(
                writer,
                [
                    Wire.write(
                        id: id, replica: writer.replica, counter: writer.nextCounter(), fields: ["phone": .text("2")],
                        context: try await vector(hub, id))
                ])
            let second = try await reader.pull(hub)
            #expect(second.records.map(\.fieldNames) == [["phone"]])
            #expect(second.records.first?.value("phone") == .text("2"))
            #expect(reader.held.records["customers/\(id)"]?["city"] == .text("Lyon"))

            // An older client (no `since`) still gets every field.
            var old = Puller(device: try await hub.enrollDevice("rita", territories: ["north"], newUser: false))
            _ = try await old.pull(hub, sendsSince: false)
            _ = try await hub.push(
                writer,
                [
                    Wire.write(
                        id: id, replica: writer.replica, counter: writer.nextCounter(), fields: ["phone": .text("3")],
                        context: try await vector(hub, id))
                ])
            let whole = try await old.pull(hub, sendsSince: false)
            #expect(whole.records.map(\.fieldNames) == [["city", "name", "phone", "territory"]])
        }
    }

    /// Bug 1 with field-level pull: a record changed before the device read the page covering that
    /// change, and again after, brings both changes on the later page (judged at the pull's start).
    @Test func aRecordChangedAgainBetweenPagesBringsItsEarlierChange() async throws {
        try await HubFixture.with { hub in
            var writer = try await hub.enrollDevice("walt", role: .manager, territories: ["north"])
            var reader = Puller(device: try await hub.enrollDevice("rita", territories: ["north"]))
            let a = Wire.uuid()
            let b = Wire.uuid()
            _ = try await hub.push(
                writer,
                [
                    Wire.customer(id: a, replica: writer.replica, counter: writer.nextCounter()),
                    Wire.customer(id: b, replica: writer.replica, counter: writer.nextCounter()),
                ])
            _ = try await reader.pull(hub)
            let start = reader.since
            // a's city at start+1, b's at start+2, a's phone at start+3: a moved past b.
            for (id, fields) in [
                (a, ["city": Value.text("Lyon")]), (b, ["city": .text("Metz")]), (a, ["phone": .text("7")]),
            ] {
                _ = try await hub.push(
                    writer,
                    [
                        Wire.write(
                            id: id, replica: writer.replica, counter: writer.nextCounter(), fields: fields,
                            context: try await vector(hub, id))
                    ])
            }
            // The first page (one record) covers a's city change, but holds b: a is past it.
            let page = try await reader.pull(hub, limit: 1, pageSize: 1)
            #expect(page.records.map(\.recordID) == [b])
            #expect(page.last?.more == true)
            let rest = try await reader.pull(hub, pageSize: 1)
            #expect(reader.since > start)
            let again = try #require(rest.records.first { $0.recordID == a })
            #expect(again.fieldNames == ["city", "phone"])
            #expect(reader.held.records["customers/\(a)"]?["city"] == .text("Lyon"))
            #expect(reader.held.records["customers/\(b)"]?["city"] == .text("Metz"))
        }
    }

    /// A record moved out of the user's territories, then changed again where it went, before the
    /// device read the page covering the move, is still revoked (judged at the pull's start).
    @Test func aRecordMovedAwayAndChangedAgainBetweenPagesIsRevoked() async throws {
        try await HubFixture.with { hub in
            var manager = try await hub.enrollDevice("marc", role: .manager, territories: ["north", "south"])
            var reader = Puller(device: try await hub.enrollDevice("rita", territories: ["north"]))
            let moved = Wire.uuid()
            let other = Wire.uuid()
            _ = try await hub.push(
                manager,
                [
                    Wire.customer(id: moved, replica: manager.replica, counter: manager.nextCounter()),
                    Wire.customer(id: other, replica: manager.replica, counter: manager.nextCounter()),
                ])
            _ = try await reader.pull(hub)
            #expect(reader.held.records.count == 2)
            // Moved away at start+1, the other changed at start+2, the moved one changed again in the
            // south at start+3: the first page (one record) holds the other one and ends at start+2.
            for (id, fields) in [
                (moved, ["territory": Value.text("south")]), (other, ["city": .text("Lyon")]),
                (moved, ["phone": .text("9")]),
            ] {
                _ = try await hub.push(
                    manager,
                    [
                        Wire.write(
                            id: id, replica: manager.replica, counter: manager.nextCounter(), fields: fields,
                            context: try await vector(hub, id))
                    ])
            }
            let page = try await reader.pull(hub, limit: 1, pageSize: 1)
            #expect(page.records.map(\.recordID) == [other])
            #expect(page.revocations.isEmpty)
            #expect(reader.device.cursor > reader.since)
            let rest = try await reader.pull(hub, pageSize: 1)
            #expect(rest.revocations.map(\.recordID) == [moved])
            #expect(reader.held.records.keys.sorted() == ["customers/\(other)"])
        }
    }

    @Test func aStartAfterTheCursorIsRefused() async throws {
        try await HubFixture.with { hub in
            let reader = try await hub.enrollDevice("rita", territories: ["north"])
            await #expect(throws: HubError.self) {
                _ = try await hub.service.pull(Wire.pull(cursor: 0, since: 1), from: reader.principal)
            }
            let invalid = Wire.pull(cursor: 3, since: 4)
            #expect(throws: ProtocolError.self) { try invalid.validate(limits: ProtocolLimits()) }
        }
    }

    /// Property: devices stopping between any two pages (random page sizes and stops) while records are
    /// created, changed, re-sequenced, deleted, revived and moved between territories (with their
    /// contacts) end, once they pull to the end, holding exactly what a fresh device of the same user
    /// pulls. Writes carry the hub's vector as context, or none (concurrent writes, conflicts).
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func devicesStoppingBetweenAnyTwoPagesHoldTheHubsView(seed: UInt64) async throws {
        try await HubFixture.with { hub in
            var random = SeededRandom(seed: seed)
            var manager = try await hub.enrollDevice("marc", role: .manager, territories: ["north", "south"])
            var rep = try await hub.enrollDevice("walt", territories: ["north"])
            var readers = [
                Puller(device: try await hub.enrollDevice("rita", territories: ["north"])),
                Puller(device: try await hub.enrollDevice("rita", territories: ["north"], newUser: false)),
                Puller(device: try await hub.enrollDevice("sonia", territories: ["south"])),
                Puller(device: try await hub.enrollDevice("mona", role: .manager, territories: ["north", "south"])),
            ]
            var customers: [String] = []
            var contacts: [String] = []
            for _ in 0..<60 {
                switch random.int(0...9) {
                case 0, 1:
                    let id = Wire.uuid()
                    customers.append(id)
                    _ = try await hub.push(
                        manager,
                        [
                            Wire.customer(
                                id: id, replica: manager.replica, counter: manager.nextCounter(),
                                territory: random.pick(["north", "south"]),
                                extra: ["city": .text("c\(random.int(0...99))")])
                        ])
                case 2 where !customers.isEmpty:
                    let id = Wire.uuid()
                    contacts.append(id)
                    _ = try await hub.push(
                        manager,
                        [
                            Wire.write(
                                "contacts", id: id, replica: manager.replica, counter: manager.nextCounter(),
                                fields: ["customer_id": .text(random.pick(customers)), "name": .text("n\(seed)")])
                        ])
                case 3 where !customers.isEmpty, 4 where !customers.isEmpty:
                    // An edit (by the rep: refused when the customer is in the south), seen or concurrent.
                    let id = random.pick(customers)
                    let byRep = random.chance(0.4)
                    let context = random.chance(0.7) ? try await vector(hub, id) : .empty
                    var fields: [String: Value] = [:]
                    for field in ["phone", "city", "email", "name"] where random.chance(0.5) {
                        fields[field] = .text("\(field)\(random.int(0...999))")
                    }
                    if fields.isEmpty { fields["phone"] = .text("p\(random.int(0...999))") }
                    if byRep {
                        _ = try await hub.push(
                            rep,
                            [
                                Wire.write(
                                    id: id, replica: rep.replica, counter: rep.nextCounter(), fields: fields,
                                    context: context)
                            ])
                    } else {
                        _ = try await hub.push(
                            manager,
                            [
                                Wire.write(
                                    id: id, replica: manager.replica, counter: manager.nextCounter(), fields: fields,
                                    context: context)
                            ])
                    }
                case 5 where !customers.isEmpty:
                    // A move to the other territory (children follow).
                    let id = random.pick(customers)
                    let context = try await vector(hub, id)
                    _ = try await hub.push(
                        manager,
                        [
                            Wire.write(
                                id: id, replica: manager.replica, counter: manager.nextCounter(),
                                fields: ["territory": .text(random.pick(["north", "south"]))], context: context)
                        ])
                case 6 where !customers.isEmpty || !contacts.isEmpty:
                    // A delete that saw everything (or a contact's), later maybe revived by an edit.
                    let contact = !contacts.isEmpty && random.chance(0.3)
                    let collection = contact ? "contacts" : "customers"
                    let id = contact ? random.pick(contacts) : random.pick(customers)
                    let context = try await vector(hub, id, in: collection)
                    _ = try await hub.push(
                        manager,
                        [
                            Wire.write(
                                collection, id: id, replica: manager.replica, counter: manager.nextCounter(),
                                delete: true, context: context)
                        ])
                default:
                    // A reader pulls a few pages, stopping between two of them.
                    let index = random.int(0...(readers.count - 1))
                    _ = try await readers[index].pull(
                        hub, limit: random.int(1...3), pageSize: UInt32(random.int(1...3)))
                }
            }
            for index in readers.indices {
                _ = try await readers[index].pull(hub, pageSize: UInt32(random.int(1...4)))
                let user = readers[index].device.principal.user
                let role = readers[index].device.principal.role
                var fresh = Puller(device: try await hub.enrollDevice(user, role: role, newUser: false))
                _ = try await fresh.pull(hub)
                #expect(readers[index].held == fresh.held, "seed \(seed), reader \(index) (\(user))")
            }
        }
    }
}
