import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// Who sees and writes what: rep, manager and admin × own territory, other territory, child records;
/// revocations when a customer moves; bootstrap when a user's territories change.
struct HubAccessTests {
    /// A north customer with a contact, a south customer with an interaction, made by an admin device.
    struct World {
        var north = Wire.uuid()
        var northContact = Wire.uuid()
        var south = Wire.uuid()
        var southInteraction = Wire.uuid()
    }

    func makeWorld(_ hub: HubFixture) async throws -> (World, TestDevice) {
        var admin = try await hub.enrollDevice("root", role: .admin, territories: [])
        let world = World()
        let results = try await hub.push(
            admin,
            [
                Wire.customer(
                    id: world.north, replica: admin.replica, counter: admin.nextCounter(), territory: "north"),
                Wire.write(
                    "contacts", id: world.northContact, replica: admin.replica, counter: admin.nextCounter(),
                    fields: ["customer_id": .text(world.north), "name": .text("Anne")]),
                Wire.customer(
                    id: world.south, replica: admin.replica, counter: admin.nextCounter(), territory: "south"),
                Wire.write(
                    "interactions", id: world.southInteraction, replica: admin.replica, counter: admin.nextCounter(),
                    fields: ["customer_id": .text(world.south), "kind": .text("complaint"), "at": .date("2026-11-20")]),
            ])
        #expect(results.allSatisfy { $0.status == .applied })
        return (world, admin)
    }

    @Test func visibilityMatrix() async throws {
        try await HubFixture.with { hub in
            let (world, _) = try await makeWorld(hub)
            var rep = try await hub.enrollDevice("claire", role: .rep, territories: ["north"])
            var manager = try await hub.enrollDevice("marc", role: .manager, territories: ["north", "south"])
            var admin = try await hub.enrollDevice("ada", role: .admin, territories: [])
            var east = try await hub.enrollDevice("eve", role: .rep, territories: ["east"])
            #expect(Set(try await hub.pullAll(&rep).records.map(\.recordID)) == [world.north, world.northContact])
            #expect(
                Set(try await hub.pullAll(&manager).records.map(\.recordID))
                    == [world.north, world.northContact, world.south, world.southInteraction])
            #expect(try await hub.pullAll(&admin).records.count == 4)
            #expect(try await hub.pullAll(&east).records.isEmpty)
            // The exports agree with what was pulled.
            let export = try await hub.service.export(user: "claire")
            #expect(export["customers"]?.map(\.id) == [world.north])
            #expect(export["contacts"]?.map(\.id) == [world.northContact])
            #expect(export["interactions"] == nil)
        }
    }

    @Test func writesOutsideTheTerritoryAreRejected() async throws {
        try await HubFixture.with { hub in
            let (world, _) = try await makeWorld(hub)
            var rep = try await hub.enrollDevice("claire", role: .rep, territories: ["north"])
            let results = try await hub.push(
                rep,
                [
                    // Another territory's customer, new or existing.
                    Wire.customer(
                        id: Wire.uuid(), replica: rep.replica, counter: rep.nextCounter(), territory: "south"),
                    Wire.write(
                        id: world.south, replica: rep.replica, counter: rep.nextCounter(), fields: ["phone": .text("1")]
                    ),
                    // A child of another territory's customer.
                    Wire.write(
                        "contacts", id: Wire.uuid(), replica: rep.replica, counter: rep.nextCounter(),
                        fields: ["customer_id": .text(world.south), "name": .text("Spy")]),
                    Wire.write(
                        "interactions", id: world.southInteraction, replica: rep.replica, counter: rep.nextCounter(),
                        fields: ["summary": .text("x")]),
                    // Moving its own contact under a south customer.
                    Wire.write(
                        "contacts", id: world.northContact, replica: rep.replica, counter: rep.nextCounter(),
                        fields: ["customer_id": .text(world.south)]),
                    // Deleting another territory's customer.
                    Wire.write(id: world.south, replica: rep.replica, counter: rep.nextCounter(), delete: true),
                    // A hub-only field.
                    Wire.write(
                        id: world.north, replica: rep.replica, counter: rep.nextCounter(),
                        fields: ["segment": .text("A")]),
                    // Its own territory: fine.
                    Wire.write(
                        id: world.north, replica: rep.replica, counter: rep.nextCounter(),
                        fields: ["phone": .text("0102")]),
                ])
            #expect(results.map(\.code) == Array(repeating: "outside_territory", count: 6) + ["hub_only_field", ""])
            #expect(results.last?.status == .applied)
            let south = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: world.south) })
            #expect(south.state.isDeleted == false && south.state.fields["phone"] == nil)
        }
    }

    @Test func managersMoveCustomersBetweenTheirTerritoriesOnly() async throws {
        try await HubFixture.with { hub in
            let (world, _) = try await makeWorld(hub)
            var manager = try await hub.enrollDevice("marc", role: .manager, territories: ["north", "south"])
            var rep = try await hub.enrollDevice("claire", role: .rep, territories: ["north", "south"])
            let repResults = try await hub.push(
                rep,
                [
                    Wire.write(
                        id: world.north, replica: rep.replica, counter: rep.nextCounter(),
                        fields: ["territory": .text("south")])
                ])
            #expect(repResults.map(\.code) == ["not_allowed"])
            let results = try await hub.push(
                manager,
                [
                    Wire.write(
                        id: world.north, replica: manager.replica, counter: manager.nextCounter(),
                        fields: ["territory": .text("east")]),
                    Wire.write(
                        id: world.north, replica: manager.replica, counter: manager.nextCounter(),
                        fields: ["segment": .text("A")]),
                    Wire.write(
                        id: world.north, replica: manager.replica, counter: manager.nextCounter(),
                        fields: ["territory": .text("south")],
                        context: VersionVector([ReplicaID(1): 4])),
                ])
            #expect(results.map(\.status) == [.rejected, .applied, .applied])
            #expect(results[0].code == "outside_territory")
            // The contact followed its customer.
            let contact = try #require(
                try await hub.store.read { try await $0.record(collection: "contacts", id: world.northContact) })
            #expect(contact.scope == "south")
        }
    }

    /// Two managers move one customer concurrently: the record's territory is the merge's value (the
    /// newer move; the other stays in the report), and the customer and its children are scoped where
    /// that value says, whichever move reached the hub last.
    @Test func concurrentMovesScopeTheRecordByTheMergedTerritory() async throws {
        try await HubFixture.with { hub in
            let (world, _) = try await makeWorld(hub)
            let everywhere = ["north", "south", "east"]
            let first = try await hub.enrollDevice("marc", role: .manager, territories: everywhere)
            let second = try await hub.enrollDevice("mia", role: .manager, territories: everywhere)
            var south = try await hub.enrollDevice("sam", role: .rep, territories: ["south"])
            var east = try await hub.enrollDevice("eve", role: .rep, territories: ["east"])
            let seen = VersionVector([ReplicaID(1): 4])
            let later = HLC(physicalMillis: 1_795_856_400_000, logical: 0).rawValue
            let earlier = HLC(physicalMillis: 1_795_856_300_000, logical: 0).rawValue
            // The newer move reaches the hub first; the older one, made offline, second.
            let toSouth = try await hub.push(
                first,
                [
                    Wire.write(
                        id: world.north, replica: first.replica, counter: 1, fields: ["territory": .text("south")],
                        context: seen, hlc: later)
                ])
            let toEast = try await hub.push(
                second,
                [
                    Wire.write(
                        id: world.north, replica: second.replica, counter: 1, fields: ["territory": .text("east")],
                        context: seen, hlc: earlier)
                ])
            #expect(toSouth.map(\.status) == [.applied])
            #expect(toEast.map(\.status) == [.conflict])
            let (customer, contact) = try await hub.store.read { tx in
                (
                    try await tx.record(collection: "customers", id: world.north),
                    try await tx.record(collection: "contacts", id: world.northContact)
                )
            }
            let territory = try #require(hub.service.schema.collection("customers")?.field("territory"))
            #expect(customer?.state.value(of: territory) == .text("south"))
            #expect(customer?.scope == "south")
            #expect(contact?.scope == "south")
            let southPulled = Set(try await hub.pullAll(&south).records.map(\.recordID))
            #expect(southPulled.isSuperset(of: [world.north, world.northContact]))
            #expect(try await hub.pullAll(&east).records.isEmpty)

            // The same for a contact given to another customer (`customer_id`, last writer wins): the
            // later write, south's customer, decides where it is seen, though it reached the hub first.
            let reassigned = try await hub.push(
                first,
                [
                    Wire.write(
                        "contacts", id: world.northContact, replica: first.replica, counter: 2,
                        fields: ["customer_id": .text(world.south)], context: seen, hlc: later + 1)
                ])
            let keptOn = try await hub.push(
                second,
                [
                    Wire.write(
                        "contacts", id: world.northContact, replica: second.replica, counter: 2,
                        fields: ["customer_id": .text(world.north)], context: seen, hlc: earlier + 1)
                ])
            #expect(reassigned.map(\.status) == [.applied] && keptOn.count == 1)
            let moved = try await hub.store.read { try await $0.record(collection: "contacts", id: world.northContact) }
            #expect(moved?.parentID == world.south.lowercased())
            #expect(moved?.scope == "south")
        }
    }

    @Test func movingACustomerRevokesItAndItsChildren() async throws {
        try await HubFixture.with { hub in
            let (world, _) = try await makeWorld(hub)
            var north = try await hub.enrollDevice("claire", role: .rep, territories: ["north"])
            var south = try await hub.enrollDevice("sam", role: .rep, territories: ["south"])
            var manager = try await hub.enrollDevice("marc", role: .manager, territories: ["north", "south"])
            _ = try await hub.pullAll(&north)
            _ = try await hub.pullAll(&south)
            _ = try await hub.pullAll(&manager)
            let results = try await hub.push(
                manager,
                [
                    Wire.write(
                        id: world.north, replica: manager.replica, counter: manager.nextCounter(),
                        fields: ["territory": .text("south")], context: VersionVector([ReplicaID(1): 4]))
                ])
            #expect(results.map(\.status) == [.applied])

            let northPages = try await hub.pullAll(&north)
            #expect(Set(northPages.revocations.map(\.recordID)) == [world.north, world.northContact])
            #expect(northPages.records.isEmpty)
            // The south rep gets both records whole.
            let southPages = try await hub.pullAll(&south)
            #expect(Set(southPages.records.map(\.recordID)) == [world.north, world.northContact])
            let customer = try #require(southPages.records.first { $0.recordID == world.north })
            #expect(customer.fieldNames == ["name", "territory"])
            #expect(southPages.revocations.isEmpty)
            // The manager, who sees both, gets no revocation. A moved record's own writes are echoed
            // (a device that lost sight of it removed it), so its territory write comes back too.
            let managerPages = try await hub.pullAll(&manager)
            #expect(managerPages.revocations.isEmpty)
            #expect(managerPages.records.first { $0.recordID == world.north }?.fieldNames == ["name", "territory"])
            // Writes by the north rep on the moved record are now refused.
            let late = try await hub.push(
                north,
                [
                    Wire.write(
                        id: world.north, replica: north.replica, counter: north.nextCounter(),
                        fields: ["phone": .text("9")])
                ])
            #expect(late.map(\.code) == ["outside_territory"])
        }
    }

    /// A contact that reaches the hub before its customer (in an earlier batch, or earlier in the
    /// same one) has no territory until the customer arrives; then it takes the customer's.
    @Test func childrenThatArriveBeforeTheirCustomerFollowIt() async throws {
        try await HubFixture.with { hub in
            var admin = try await hub.enrollDevice("root", role: .admin, territories: [])
            let (early, earlyContact, same, sameContact) = (Wire.uuid(), Wire.uuid(), Wire.uuid(), Wire.uuid())
            let first = try await hub.push(
                admin,
                [
                    Wire.write(
                        "contacts", id: earlyContact, replica: admin.replica, counter: admin.nextCounter(),
                        fields: ["customer_id": .text(early), "name": .text("Early")])
                ])
            #expect(first.map(\.status) == [.applied])
            let second = try await hub.push(
                admin,
                [
                    Wire.customer(id: early, replica: admin.replica, counter: admin.nextCounter(), territory: "north"),
                    Wire.write(
                        "contacts", id: sameContact, replica: admin.replica, counter: admin.nextCounter(),
                        fields: ["customer_id": .text(same), "name": .text("Same batch")]),
                    Wire.customer(id: same, replica: admin.replica, counter: admin.nextCounter(), territory: "north"),
                ])
            #expect(second.map(\.status) == [.applied, .applied, .applied])
            for id in [earlyContact, sameContact] {
                let contact = try #require(
                    try await hub.store.read { try await $0.record(collection: "contacts", id: id) })
                #expect(contact.scope == "north")
            }
            var rep = try await hub.enrollDevice("claire", role: .rep, territories: ["north"])
            #expect(
                Set(try await hub.pullAll(&rep).records.map(\.recordID)) == [early, earlyContact, same, sameContact])
        }
    }

    /// A customer deleted and purged leaves its contacts and interactions behind. Creating a customer
    /// with its id again, in a territory its writer sees, must not carry those records into that
    /// territory: a writer adopts only children it may see (or children that never had a territory).
    @Test func reusingAPurgedCustomersIDDoesNotCaptureItsChildren() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            let (world, made) = try await makeWorld(hub)
            var admin = made
            let deleted = try await hub.push(
                admin,
                [
                    Wire.write(
                        id: world.north, replica: admin.replica, counter: admin.nextCounter(), delete: true,
                        context: VersionVector([ReplicaID(admin.replica): 1]))
                ])
            #expect(deleted.map(\.status) == [.applied])
            clock.advance(byMillis: 91 * 24 * 3600 * 1000)
            #expect(try await hub.service.purgeTombstones().expired == 1)
            #expect(try await hub.store.read { try await $0.record(collection: "customers", id: world.north) } == nil)

            var sam = try await hub.enrollDevice("sam", role: .rep, territories: ["south"])
            let taken = try await hub.push(
                sam,
                [Wire.customer(id: world.north, replica: sam.replica, counter: sam.nextCounter(), territory: "south")])
            #expect(taken.map(\.status) == [.applied])
            let contact = try #require(
                try await hub.store.read { try await $0.record(collection: "contacts", id: world.northContact) })
            #expect(contact.scope == "north")
            let pulled = try await hub.pullAll(&sam).records.map(\.recordID)
            #expect(!pulled.contains(world.northContact))
            #expect(pulled.contains(world.north))
        }
    }

    @Test func changedTerritoriesRequireABootstrap() async throws {
        try await HubFixture.with { hub in
            let (world, _) = try await makeWorld(hub)
            var rep = try await hub.enrollDevice("claire", role: .rep, territories: ["north"])
            _ = try await hub.pullAll(&rep)
            #expect(rep.cursor > 0)
            try await hub.service.updateUser("claire", territories: ["north", "south"])
            let rep2 = try await hub.service.authenticate(token: rep.token)
            rep.principal = rep2
            let answer = try await hub.service.pull(Wire.pull(cursor: rep.cursor), from: rep.principal)
            #expect(answer.bootstrapRequired)
            #expect(answer.records.isEmpty)
            rep.cursor = 0
            let pages = try await hub.pullAll(&rep)
            #expect(pages.allSatisfy { !$0.bootstrapRequired })
            #expect(
                Set(pages.records.map(\.recordID)) == [
                    world.north, world.northContact, world.south, world.southInteraction,
                ])
            // Having bootstrapped, the device pulls incrementally again.
            let next = try await hub.service.pull(Wire.pull(cursor: rep.cursor), from: rep.principal)
            #expect(!next.bootstrapRequired)
        }
    }

    @Test func revokedDeviceAndAPITokenAreRefused() async throws {
        try await HubFixture.with { hub in
            let rep = try await hub.enrollDevice("claire")
            try await hub.service.revokeDevice(ReplicaID(rep.replica))
            await #expect(throws: HubError.deviceRevoked) { _ = try await hub.service.authenticate(token: rep.token) }
            await #expect(throws: HubError.deviceRevoked) {
                _ = try await hub.push(rep, [Wire.customer(id: Wire.uuid(), replica: rep.replica, counter: 1)])
            }
            await #expect(throws: HubError.unauthorized) { _ = try await hub.service.authenticate(token: "rlt_nope") }
            let admin = try await hub.service.authenticate(token: hub.adminToken)
            #expect(admin.role == .admin && admin.replica == nil)
            await #expect(throws: HubError.forbidden) {
                _ = try await hub.service.pull(Wire.pull(cursor: 0), from: admin)
            }
            // Pushing as another replica than the token's.
            let other = try await hub.enrollDevice("bob")
            await #expect(throws: HubError.forbidden) {
                _ = try await hub.service.push(Wire.push(rep.replica, []), from: other.principal)
            }
        }
    }

    /// Guessing enrollment codes costs the store no write: a wrong, used or expired code is refused
    /// after a read, and the store's write statistics do not move.
    @Test func aWrongEnrollmentCodeCostsNoWrite() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            _ = try await hub.service.enroll(Wire.enroll(code))
            let expiring = try await hub.service.issueEnrollmentCode(for: "claire")
            clock.advance(byMillis: 8 * 86_400_000)
            let before = hub.store.statistics()
            for guess in ["AAAA-BBBB-CCCC", code, expiring] {
                await #expect(throws: HubError.invalidEnrollmentCode) {
                    try await hub.service.enroll(Wire.enroll(guess))
                }
            }
            #expect(hub.store.statistics() == before)
        }
    }

    /// A rejoin names the file's earlier replica numbers; the hub answers the highest counter it
    /// holds of each that is the same user's (0 for one it does not know) and leaves another user's
    /// out, so that the laptop puts none of its writes back. More than 64 numbers are refused.
    @Test func aRejoinIsToldWhatTheHubHoldsOfEachEarlierNumber() async throws {
        try await HubFixture.with { hub in
            var claire = try await hub.enrollDevice("claire")
            let bob = try await hub.enrollDevice("bob")
            let pushed = try await hub.service.push(
                Wire.push(
                    claire.replica,
                    [
                        Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter()),
                        Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: claire.nextCounter()),
                    ]), from: claire.principal)
            #expect(pushed.results.map(\.status) == [.applied, .applied])
            let unknown: UInt32 = 9_999
            var request = Wire.enroll(try await hub.service.issueEnrollmentCode(for: "claire"))
            request.previousReplica = unknown + 1
            request.earlierReplicas = [claire.replica, bob.replica, unknown, claire.replica]
            let answer = try await hub.service.enroll(request)
            #expect(answer.previousCounter == 0)
            // In number order, each once.
            #expect(
                answer.earlierCounters.map { "\($0.replica): \($0.counter)" } == [
                    "\(claire.replica): 2", "\(unknown): 0",
                ])

            var tooMany = Wire.enroll(try await hub.service.issueEnrollmentCode(for: "claire"))
            tooMany.earlierReplicas = Array(1...65)
            await #expect(throws: HubError.self) { _ = try await hub.service.enroll(tooMany) }
        }
    }

    /// A code already used answers again, the same, the enrollment that used it, when the request
    /// carries the same attempt within ten minutes and the device it made never synced since (that
    /// answer was lost): the same replica number and token, one device. Another attempt, none, a
    /// device that has synced, or a late attempt get `invalid_enrollment_code`; a rejoin is
    /// answered again the same way, and only with the same old replica.
    @Test func aLostEnrollmentAnswerIsGivenAgainToTheSameAttemptOnly() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            var request = Wire.enroll(code, name: "Claire's laptop")
            request.attempt = String(repeating: "a1", count: 16)
            let lost = try await hub.service.enroll(request)
            clock.advance(byMillis: 9 * 60 * 1000)
            let again = try await hub.service.enroll(request)
            #expect(again == lost)
            var claire = TestDevice(
                replica: again.replica, token: again.token,
                principal: try await hub.service.authenticate(token: again.token))
            #expect(try await hub.store.read { try await $0.devices() }.count == 1)

            var other = request
            other.attempt = String(repeating: "b2", count: 16)
            var none = request
            none.attempt = ""
            for refused in [other, none] {
                await #expect(throws: HubError.invalidEnrollmentCode) { _ = try await hub.service.enroll(refused) }
            }
            // Once the device has synced, its answer is known to have arrived: no more.
            _ = try await hub.pullAll(&claire)
            await #expect(throws: HubError.invalidEnrollmentCode) { _ = try await hub.service.enroll(request) }
            #expect(try await hub.service.authenticate(token: again.token).replica == ReplicaID(again.replica))

            // Too late: ten minutes after the code was used, the same attempt is refused.
            var late = Wire.enroll(try await hub.service.issueEnrollmentCode(for: "claire"))
            late.attempt = String(repeating: "d4", count: 16)
            _ = try await hub.service.enroll(late)
            clock.advance(byMillis: 10 * 60 * 1000)
            await #expect(throws: HubError.invalidEnrollmentCode) { _ = try await hub.service.enroll(late) }
            // And the housekeeping then forgets the sealed tokens of codes used that long ago.
            func sealed(_ code: String) async throws -> String? {
                try await hub.store.read { try await $0.enrollment(codeHash: Secrets.hashEnrollmentCode(code)) }?
                    .sealedToken
            }
            #expect(try await sealed(late.code) != nil)
            try await hub.service.purgeTombstones()
            #expect(try await sealed(late.code) == nil)
            #expect(try await sealed(code) == nil)

            // A rejoin whose answer was lost: the same new replica, the old one renewed into it once;
            // the same attempt naming another old replica is refused, and renews nothing.
            let rejoinCode = try await hub.service.issueEnrollmentCode(for: "claire")
            var rejoin = Wire.enroll(rejoinCode)
            rejoin.previousReplica = again.replica
            rejoin.attempt = String(repeating: "c3", count: 16)
            let first = try await hub.service.enroll(rejoin)
            #expect(try await hub.service.enroll(rejoin) == first)
            #expect(first.replica != again.replica)
            var elsewhere = rejoin
            // The late enrollment's device: neither the first nor the rejoined one.
            elsewhere.previousReplica =
                try await hub.store.read { try await $0.devices() }.map(\.replica.rawValue).first {
                    $0 != again.replica && $0 != first.replica
                } ?? 0
            await #expect(throws: HubError.invalidEnrollmentCode) { _ = try await hub.service.enroll(elsewhere) }
            let devices = try await hub.store.read { try await $0.devices() }
            #expect(devices.first { $0.replica.rawValue == again.replica }?.renewedTo == ReplicaID(first.replica))
            #expect(devices.allSatisfy { $0.replica.rawValue == again.replica || $0.renewedTo == nil })
            // A second rejoin from the same old replica (the first one's answers all lost, a new code):
            // the old replica is already renewed, and the second one is answered again all the same.
            var secondRejoin = Wire.enroll(try await hub.service.issueEnrollmentCode(for: "claire"))
            secondRejoin.previousReplica = again.replica
            secondRejoin.attempt = String(repeating: "g7", count: 16)
            let secondAnswer = try await hub.service.enroll(secondRejoin)
            #expect(try await hub.service.enroll(secondRejoin) == secondAnswer)
            let events = try await hub.store.read { try await $0.events(kinds: [.deviceEnrolled], limit: 20) }
            #expect(events.filter { $0.detail.contains("the same answer sent again") }.count == 3)

            // An attempt too short to be a secret is refused before the hub looks at the code.
            var short = Wire.enroll(try await hub.service.issueEnrollmentCode(for: "claire"))
            short.attempt = "1234"
            #expect(throws: ProtocolError.self) { try short.validate(limits: ProtocolLimits()) }
        }
    }

    /// Two attempts of one enrollment that both reach the hub at once (the first one slow, the second
    /// sent after the laptop gave up waiting) get one device and one token.
    @Test func twoAttemptsOfOneEnrollmentAtOnceGetOneDevice() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            var request = Wire.enroll(code)
            request.attempt = String(repeating: "e5", count: 16)
            async let one = hub.service.enroll(request)
            async let two = hub.service.enroll(request)
            let answers = try await [one, two]
            #expect(answers[0] == answers[1])
            #expect(try await hub.store.read { try await $0.devices() }.count == 1)
            #expect(
                try await hub.service.authenticate(token: answers[0].token).replica == ReplicaID(answers[0].replica))
        }
    }

    /// A sealed token opens with its attempt only.
    @Test func aSealedTokenOpensWithItsAttemptOnly() throws {
        let attempt = String(repeating: "f6", count: 16)
        let sealed = try Secrets.sealToken("rlt_secret", attempt: attempt)
        #expect(!sealed.contains("rlt_secret"))
        #expect(Secrets.openToken(sealed, attempt: attempt) == "rlt_secret")
        #expect(Secrets.openToken(sealed, attempt: String(repeating: "f7", count: 16)) == nil)
        #expect(Secrets.openToken("not base64 at all", attempt: attempt) == nil)
    }

    @Test func enrollmentCodesWorkOnceAndExpire() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let first = try await hub.service.enroll(Wire.enroll(code))
            #expect(
                first.user == "claire" && first.role == "rep" && first.territories == ["north"] && first.replica >= 1)
            await #expect(throws: HubError.invalidEnrollmentCode) {
                _ = try await hub.service.enroll(Wire.enroll(code))
            }
            let late = try await hub.service.issueEnrollmentCode(for: "claire")
            clock.advance(byMillis: 7 * 24 * 3600 * 1000 + 1)
            await #expect(throws: HubError.invalidEnrollmentCode) {
                _ = try await hub.service.enroll(Wire.enroll(late))
            }
            await #expect(throws: HubError.invalidEnrollmentCode) {
                _ = try await hub.service.enroll(Wire.enroll("NOPE-NOPE"))
            }
            // Codes are compared without case and dashes; only their hash is stored.
            let another = try await hub.service.issueEnrollmentCode(for: "claire")
            let typed = another.lowercased().replacingOccurrences(of: "-", with: " ")
            #expect(try await hub.service.enroll(Wire.enroll(typed)).user == "claire")
            let stored = try await hub.store.read {
                try await $0.enrollment(codeHash: Secrets.hashEnrollmentCode(another))
            }
            #expect(stored?.codeHash != another && stored?.usedAt != nil)
        }
    }
}
