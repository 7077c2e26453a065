import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol

/// Small fixed scenarios distilled from failing simulation schedules (docs/RELIABILITY.md "Bugs
/// found"). Each returns the broken invariants, empty when the bug stays fixed.
public enum SimRegressions {
    /// Every scenario, named by the bug it guards (docs/RELIABILITY.md "Bugs found"), in the order the
    /// bugs were found: `relais-sim --regressions` and `SimulationTests` both run this list.
    public static let all: [(bug: String, run: @Sendable () async throws -> [String])] = [
        ("bug 1: a record that moved past a pull page", concurrentEditsReachEveryone),
        ("bug 2: a copied replica's renewal", cloneEditsSurviveTheCopysRenewal),
        ("bug 3: tombstones at cursor 0 after a lost push answer", firstPushWithALostAnswerStillGetsDeletes),
        ("bug 4: a delete on a laptop restored from a backup", restoredBackupDeleteReachesTheHub),
        ("bug 5: a revived record reaching its deleter", aRevivedRecordReachesItsDeleterWhole),
        ("bug 8: a snapshot older than the laptop's own writes", aSnapshotOlderThanOwnWritesLeavesThemShown),
        ("bug 9: an edit that changed nothing", anEditThatChangedNothingLeavesNoStaleState),
        ("a copy made before the first sync", aCopyMadeBeforeTheFirstSyncEndsWithTheHubsRecords),
    ]

    /// The violations of the scenario named `bug` in ``all`` (a missing name is one).
    public static func run(_ bug: String) async throws -> [String] {
        guard let scenario = all.first(where: { $0.bug == bug }) else { return ["no regression scenario \(bug)"] }
        return try await scenario.run()
    }

    /// Two laptops edit the same contact offline: one sets `phone`, the other `phone` and `email`; a
    /// third adds a customer in between. Pulling one record per page, every laptop must end with the
    /// hub's record, `email` included (bug 1: the hub sent only fields changed after the page's cursor,
    /// and a record that moved past a page before the device read it lost the older changes).
    public static func concurrentEditsReachEveryone() async throws -> [String] {
        try await HubFixture.with(clock: TestClock()) { hub in
            try await hub.live { url in
                let replicas = try await northReps(3, hub: hub, url: url, clockStep: 1000)
                let customer = try await replicas[0].add(
                    "customers", ["name": .text("Acme"), "territory": .text("north")])
                let contact = try await replicas[0].add(
                    "contacts", ["customer_id": .text(customer), "name": .text("Ann")])
                var options = SyncOptions()
                options.pageSize = 1
                for replica in replicas { _ = try await replica.sync(options: options) }
                try await replicas[2].set("contacts", id: contact, ["phone": .text("222")])
                try await replicas[1].set("contacts", id: contact, ["phone": .text("111"), "email": .text("ann@acme")])
                _ = try await replicas[1].sync(options: options)
                _ = try await replicas[0].add("customers", ["name": .text("Bolt"), "territory": .text("north")])
                _ = try await replicas[0].sync(options: options)
                for _ in 0..<2 {
                    for replica in replicas { _ = try await replica.sync(options: options) }
                }
                return try await differences(replicas, hub: hub)
            }
        }
    }

    /// A replica file copied onto a second laptop: the original edits a contact and syncs; the copy,
    /// which never saw that edit, deletes the contact and syncs (the hub finds the fork, the copy
    /// renews and re-issues its delete). The original's edit must survive: the delete was concurrent
    /// with it (bug 2: the re-issued delete's context took the hub's entries for the shared old replica
    /// number and silently superseded the original's edit).
    public static func cloneEditsSurviveTheCopysRenewal() async throws -> [String] {
        try await HubFixture.with(clock: TestClock()) { hub in
            try await hub.live { url in
                let folder = hub.folder.path
                let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
                let clock = TestClock(millis: 1_795_856_400_000)
                let ids = ClientIDSequence(start: 1)
                let configuration = Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() })
                let original = try await Replica.enroll(
                    hub: url, code: code, path: "\(folder)/original.relais", deviceName: "original",
                    configuration: configuration)
                let customer = try await original.add(
                    "customers", ["name": .text("Acme"), "territory": .text("north")])
                let contact = try await original.add(
                    "contacts", ["customer_id": .text(customer), "name": .text("Ann")])
                _ = try await original.sync()
                try Simulation.copyDatabase(from: "\(folder)/original.relais", to: "\(folder)/copy.relais")
                let copyIDs = ClientIDSequence(start: 1 << 32)
                let copy = try Replica.open(
                    path: "\(folder)/copy.relais", create: false,
                    configuration: Replica.Configuration(wallClock: { clock.now() }, makeID: { copyIDs.make() }))
                clock.advance(byMillis: 1000)
                try await original.set("contacts", id: contact, ["name": .text("Ann Original")])
                _ = try await original.sync()
                clock.advance(byMillis: 1000)
                try await copy.delete("contacts", id: contact)
                _ = try await copy.sync()
                _ = try await original.sync()
                _ = try await copy.sync()
                let everything = String(decoding: try await hub.service.exportJSON(user: "admin"), as: UTF8.self)
                var violations: [String] = []
                if !everything.contains("Ann Original") {
                    violations.append(
                        "the original's edit `Ann Original` is lost after the copy's renewal: \(everything)")
                }
                for (name, replica) in [("original", original), ("copy", copy)] {
                    let local = try await replica.export()
                    let expected = Data(try await hub.service.exportJSON(user: "claire"))
                    if local != expected {
                        violations.append("\(name) differs from the hub:" + Simulation.difference(local, expected))
                    }
                }
                return violations
            }
        }
    }

    /// A laptop creates a customer; its first push is applied but the answer is lost, so it has never
    /// pulled (cursor 0). Another laptop deletes the customer. When the first laptop syncs, it must
    /// remove the customer too (bug 3: the hub sent no tombstones at cursor 0, "a fresh replica has
    /// nothing to delete", and the customer lived on, on that laptop only).
    public static func firstPushWithALostAnswerStillGetsDeletes() async throws -> [String] {
        try await HubFixture.with(clock: TestClock()) { hub in
            try await hub.live { url in
                let replicas = try await northReps(2, hub: hub, url: url, clockStep: 0)
                let id = try await replicas[0].add("customers", ["name": .text("Acme"), "territory": .text("north")])
                var lossy = SimNetworkFaults()
                lossy.dropResponse = 1
                let transport = SimFaultTransport(base: HTTPSyncTransport(hub: url), faults: lossy, seed: 1)
                _ = try? await replicas[0].sync(transport: transport)
                _ = try await replicas[1].sync()
                try await replicas[1].delete("customers", id: id)
                _ = try await replicas[1].sync()
                transport.setFaults(SimNetworkFaults())
                _ = try await replicas[0].sync(transport: transport)
                return try await differences(replicas, hub: hub)
            }
        }
    }

    /// Bug 8 (docs/RELIABILITY.md): a laptop at cursor 0 pushed a contact's new name and a delete,
    /// took a snapshot built before them, and its pull after it was dropped; the snapshot must not
    /// show it the old name and the deleted contact, which it edits next. Replays the schedule that
    /// found it (seed 7, schedule 38, `mixed`).
    public static func aSnapshotOlderThanOwnWritesLeavesThemShown() async throws -> [String] {
        try await SimSchedule.run(seed: 7, schedule: 38).violations
    }

    /// Bug 9 (docs/RELIABILITY.md): a laptop sets a customer's status to the value it has (nothing
    /// changes, nothing is captured); another laptop then sets the phone, which the first pulls; the
    /// first then edits the notes. Its copy must keep the phone (the capture trigger had kept the
    /// confirmed row of the edit that changed nothing, and the notes edit took that stale row as the
    /// record's confirmed state). Found by the deletes kind (seed 20261205, schedule 214).
    public static func anEditThatChangedNothingLeavesNoStaleState() async throws -> [String] {
        try await HubFixture.with(clock: TestClock()) { hub in
            try await hub.live { url in
                let replicas = try await northReps(2, hub: hub, url: url, clockStep: 1000)
                let id = try await replicas[0].add(
                    "customers", ["name": .text("Acme"), "territory": .text("north"), "status": .text("active")])
                for replica in replicas { _ = try await replica.sync() }
                try await replicas[1].set("customers", id: id, ["status": .text("active")])
                try await replicas[0].set("customers", id: id, ["phone": .text("0102")])
                _ = try await replicas[0].sync()
                _ = try await replicas[1].sync()
                try await replicas[1].set("customers", id: id, ["notes": .text("visited")])
                for replica in replicas + replicas { _ = try await replica.sync() }
                return try await differences(replicas, hub: hub)
            }
        }
    }

    /// Bug 4 (docs/RELIABILITY.md): a laptop restored from a backup taken after it created a contact
    /// and before the creation was pushed (the original file pushed it afterwards) deleted that contact:
    /// the delete folded into the still-pending creation and was dropped as "never on the hub", and the
    /// hub, which had the creation, kept the contact for everyone else. Replays the soak schedule that
    /// found it (seed 1, schedule 5831, `backupRestore`).
    public static func restoredBackupDeleteReachesTheHub() async throws -> [String] {
        try await SimSchedule.run(seed: 1, schedule: 5831).violations
    }

    /// A contact created on laptop 0, deleted there and elsewhere, revived by laptop 1's concurrent
    /// edit, then edited again; laptop 0 pulls one record per page, so the page that carries the
    /// contact starts after the revival. Laptop 0 must get the contact whole, its own earlier fields
    /// included (bug 5: the hub left out a device's own writes unless the record was revived after the
    /// page's cursor, and laptop 0, which had removed the contact, ended with a row missing them).
    public static func aRevivedRecordReachesItsDeleterWhole() async throws -> [String] {
        try await HubFixture.with(clock: TestClock()) { hub in
            try await hub.live { url in
                let replicas = try await northReps(3, hub: hub, url: url, clockStep: 1000)
                var options = SyncOptions()
                options.pageSize = 1
                let customer = try await replicas[0].add(
                    "customers", ["name": .text("Acme"), "territory": .text("north")])
                let contact = try await replicas[0].add(
                    "contacts", ["customer_id": .text(customer), "name": .text("Ann"), "phone": .text("111")])
                for replica in replicas { _ = try await replica.sync(options: options) }
                // Laptop 1 edits offline; laptops 2 and 0 delete, and laptop 0 pulls the tombstone.
                try await replicas[1].set("contacts", id: contact, ["email": .text("ann@acme")])
                try await replicas[2].delete("contacts", id: contact)
                _ = try await replicas[2].sync(options: options)
                try await replicas[0].delete("contacts", id: contact)
                _ = try await replicas[0].sync(options: options)
                // The concurrent edit revives the contact; another customer and another edit follow.
                _ = try await replicas[1].sync(options: options)
                _ = try await replicas[1].add("customers", ["name": .text("Bolt"), "territory": .text("north")])
                try await replicas[1].set("contacts", id: contact, ["role": .text("buyer")])
                _ = try await replicas[1].sync(options: options)
                for _ in 0..<2 {
                    for replica in replicas { _ = try await replica.sync(options: options) }
                }
                return try await differences(replicas, hub: hub)
            }
        }
    }

    /// A laptop's file copied before its first sync: the original pushes; another rep changes one of
    /// those records and deletes another; then the copy syncs for the first time, sending again writes
    /// the hub already holds. It must end with the hub's records, the other rep's change and not the
    /// deleted record, with nothing for the check to repair. (A snapshot taken before those pushes
    /// laid the replayed writes over the hub's later state and kept the deleted record: seed 20261213,
    /// schedules 8588 and 1334, on a change withdrawn for it; docs/PERFORMANCE.md, sixth set.)
    public static func aCopyMadeBeforeTheFirstSyncEndsWithTheHubsRecords() async throws -> [String] {
        try await HubFixture.with(clock: TestClock()) { hub in
            try await hub.live { url in
                let folder = hub.folder.path
                let claire = try await hub.addUser("claire", role: .rep, territories: ["north"])
                let remiCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
                let clock = TestClock(millis: 1_795_856_400_000)
                let ids = ClientIDSequence(start: 1)
                let original = try await Replica.enroll(
                    hub: url, code: claire, path: "\(folder)/original.relais", deviceName: "original",
                    configuration: Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() }))
                let acme = try await original.add("customers", ["name": .text("Acme"), "territory": .text("north")])
                let ann = try await original.add(
                    "contacts", ["customer_id": .text(acme), "name": .text("Ann"), "email": .text("ann@old")])
                let bolt = try await original.add("customers", ["name": .text("Bolt"), "territory": .text("north")])
                try Simulation.copyDatabase(from: "\(folder)/original.relais", to: "\(folder)/copy.relais")
                let copyIDs = ClientIDSequence(start: 1 << 32)
                let copy = try Replica.open(
                    path: "\(folder)/copy.relais", create: false,
                    configuration: Replica.Configuration(wallClock: { clock.now() }, makeID: { copyIDs.make() }))
                // The others bootstrap by pages: the copy's request builds the view's first snapshot,
                // which then holds everything below.
                var byPages = SyncOptions()
                byPages.snapshots = false
                _ = try await original.sync(options: byPages)
                clock.advance(byMillis: 1000)
                let remiIDs = ClientIDSequence(start: 2 << 32)
                let remi = try await Replica.enroll(
                    hub: url, code: remiCode, path: "\(folder)/remi.relais", deviceName: "remi",
                    configuration: Replica.Configuration(wallClock: { clock.now() }, makeID: { remiIDs.make() }))
                _ = try await remi.sync(options: byPages)
                try await remi.set("contacts", id: ann, ["email": .text("ann@new")])
                try await remi.delete("customers", id: bolt)
                _ = try await remi.sync(options: byPages)
                clock.advance(byMillis: 1000)
                let result = try await copy.sync()
                var violations: [String] = []
                if let check = result.verification, !check.differences.isEmpty {
                    violations.append(
                        "the copy's first sync left records the check repaired: "
                            + check.differences.map { "\($0.collection)/\($0.id) (\($0.kind.rawValue))" }
                            .joined(separator: ", "))
                }
                let local = try await copy.export()
                let expected = Data(try await hub.service.exportJSON(user: "claire"))
                if local != expected {
                    violations.append("the copy differs from the hub:" + Simulation.difference(local, expected))
                }
                return violations
            }
        }
    }

    /// Enrolls `count` reps of territory north (`u0`, `u1`…), each with its own seeded clock (`clockStep`
    /// milliseconds apart) and its own record-ID sequence.
    private static func northReps(_ count: Int, hub: HubFixture, url: String, clockStep: UInt64) async throws
        -> [Replica]
    {
        var replicas: [Replica] = []
        for index in 0..<count {
            let code = try await hub.addUser("u\(index)", role: .rep, territories: ["north"])
            let clock = TestClock(millis: 1_795_856_400_000 + UInt64(index) * clockStep)
            let ids = ClientIDSequence(start: UInt64(index + 1) << 32)
            replicas.append(
                try await Replica.enroll(
                    hub: url, code: code, path: "\(hub.folder.path)/r\(index).relais", deviceName: "r\(index)",
                    configuration: Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() })))
        }
        return replicas
    }

    /// Each laptop whose export differs from the hub's export for its user (`u0`, `u1`…).
    private static func differences(_ replicas: [Replica], hub: HubFixture) async throws -> [String] {
        var violations: [String] = []
        for (index, replica) in replicas.enumerated() {
            let local = try await replica.export()
            let expected = Data(try await hub.service.exportJSON(user: "u\(index)"))
            if local != expected {
                violations.append("laptop \(index) differs from the hub:" + Simulation.difference(local, expected))
            }
        }
        return violations
    }
}
