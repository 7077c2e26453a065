import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

/// The field's recent history on a conflict's detail (`GET /v1/admin/conflicts/ID`, docs/ADMIN.md):
/// one row per accepted write, from devices and from admin resolutions, newest first, limited, and
/// gone with a purged record.
struct AdminHistoryTests {
    static func detail(_ client: any TestClientProtocol, _ id: String, token: String, query: String = "") async throws
        -> [String: Any]
    {
        let answer = try await AdminReviewTests.get(client, "/v1/admin/conflicts/\(id)\(query)", token: token)
        #expect(answer.status == 200)
        return try #require(answer.json as? [String: Any])
    }

    static func history(_ detail: [String: Any]) throws -> [[String: Any]] {
        try #require(detail["history"] as? [[String: Any]])
    }

    static func seqs(_ history: [[String: Any]]) -> [UInt64] {
        history.compactMap { ($0["seq"] as? NSNumber)?.uint64Value }
    }

    @Test func historyOfTwoDevicesThenAResolution() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let conflictID = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            // A write of another field only is not in this field's history.
            let recordID = try await hub.service.conflict(id: conflictID).conflict.recordID
            let seen = VersionVector([ReplicaID(claire.replica): 2, ReplicaID(bob.replica): 1])
            _ = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: recordID, replica: claire.replica, counter: claire.nextCounter(),
                        fields: ["phone": .text("01 02")], context: seen)
                ])
            let (claireReplica, bobReplica) = (claire.replica, bob.replica)
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in
                let token = hub.adminToken
                let detail = try await Self.detail(client, conflictID, token: token)
                let history = try Self.history(detail)
                // Claire's creation did not carry `status`: only the two competing writes did.
                #expect(history.map { $0["value"] as? String } == ["lapsed", "at_risk"])
                #expect(history.map { $0["user"] as? String } == ["bob", "claire"])
                #expect(history.map { $0["device"] as? String } == ["bob's laptop", "claire's laptop"])
                #expect(history.map { ($0["replica"] as? NSNumber)?.uint32Value } == [bobReplica, claireReplica])
                #expect(history.map { ($0["counter"] as? NSNumber)?.uint64Value } == [1, 2])
                let seqs = Self.seqs(history)
                #expect(seqs.count == 2 && seqs == seqs.sorted(by: >))
                #expect(history.allSatisfy { ($0["hlc_time"] as? String)?.hasSuffix("Z") == true })
                #expect(history.allSatisfy { ($0["received_at"] as? String)?.hasSuffix("Z") == true })
                #expect(history.allSatisfy { $0["deleted"] as? Bool == false })
                // Both competing writes name the report; the rule's choice is marked, and is the current value.
                #expect(history.allSatisfy { ($0["conflicts"] as? [String]) == [conflictID] })
                let chosen = try #require(detail["chosen"] as? String)
                for version in history {
                    #expect(version["chosen_by_rule"] as? Bool == (version["value"] as? String == chosen))
                    #expect(version["current"] as? Bool == (version["value"] as? String == chosen))
                }
                let current = (detail["record"] as? [String: Any])?["fields"] as? [String: Any]
                #expect(current?["status"] as? String == chosen)

                // The admin reinstates the value the rule did not keep: a hub write, newest in the history.
                let losing = chosen == "at_risk" ? 1 : 0
                let resolved = try await AdminReviewTests.post(
                    client, "/v1/admin/conflicts/\(conflictID)/resolve", token: token,
                    json: #"{"pick": \#(losing), "reason": "checked with the customer"}"#)
                #expect(resolved.status == 200)
                let reinstated = losing == 0 ? "at_risk" : "lapsed"
                let after = try Self.history(try await Self.detail(client, conflictID, token: token))
                #expect(after.map { $0["value"] as? String } == [reinstated, "lapsed", "at_risk"])
                #expect(after.first?["user"] as? String == "admin")
                #expect((after.first?["replica"] as? NSNumber)?.uint32Value == 0)
                #expect(after.first?["device"] as? String == "hub")
                #expect(after.first?["chosen_by_rule"] is NSNull)
                #expect(after.map { $0["current"] as? Bool } == [true, false, false])
                #expect(Self.seqs(after) == Self.seqs(after).sorted(by: >))
                #expect(Self.seqs(after).dropFirst().elementsEqual(seqs))

                // No other report on the field.
                #expect(
                    ((try await Self.detail(client, conflictID, token: token))["earlier_conflicts"] as? [Any])?.isEmpty
                        == true)
            }
        }
    }

    @Test func historyIsLimitedNewestFirst() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let conflictID = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            let report = try await hub.service.conflict(id: conflictID)
            let recordID = report.conflict.recordID
            // Claire then edits the status 25 more times, each edit seeing the previous one.
            var context = try #require(
                try await hub.store.read { tx in try await tx.record(collection: "customers", id: recordID) }
            ).state.vector
            for step in 1...25 {
                let counter = claire.nextCounter()
                let results = try await hub.push(
                    claire,
                    [
                        Wire.write(
                            id: recordID, replica: claire.replica, counter: counter,
                            fields: [
                                "status": .text(step % 2 == 0 ? "active" : "prospect"), "notes": .text("call \(step)"),
                            ],
                            context: context)
                    ])
                #expect(results.first?.status == .applied)
                context.add(Dot(replica: ReplicaID(claire.replica), counter: counter))
            }
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in
                let token = hub.adminToken
                let history = try Self.history(try await Self.detail(client, conflictID, token: token))
                #expect(history.count == HubService.defaultHistoryLimit)
                #expect(Self.seqs(history) == Self.seqs(history).sorted(by: >))
                // The newest first: edit 25 (prospect), then 24 (active)…
                #expect(history.prefix(3).map { $0["value"] as? String } == ["prospect", "active", "prospect"])
                #expect(history.first?["current"] as? Bool == true)
                #expect(history.dropFirst().allSatisfy { $0["current"] as? Bool == false })
                let five = try Self.history(
                    try await Self.detail(client, conflictID, token: token, query: "?history=5"))
                #expect(five.count == 5 && Self.seqs(five) == Array(Self.seqs(history).prefix(5)))
                let all = try Self.history(
                    try await Self.detail(client, conflictID, token: token, query: "?history=100"))
                #expect(all.count == 27)
                #expect(all.suffix(2).map { $0["user"] as? String } == ["bob", "claire"])
                // An empty value, as a form with the field left blank sends it: the default.
                let blank = try Self.history(
                    try await Self.detail(client, conflictID, token: token, query: "?history="))
                #expect(Self.seqs(blank) == Self.seqs(history))
                for bad in ["0", "501", "many", "-3"] {
                    let answer = try await AdminReviewTests.get(
                        client, "/v1/admin/conflicts/\(conflictID)?history=\(bad)", token: token)
                    #expect(answer.status == 400)
                }
            }
            // The service gives the same, with the device's name.
            let detail = try await hub.service.conflictDetail(id: conflictID, historyLimit: 3)
            #expect(detail.history.map(\.value) == [.text("prospect"), .text("active"), .text("prospect")])
            #expect(detail.history.allSatisfy { $0.device == "claire's laptop" && $0.entry.user == "claire" })
        }
    }

    @Test func aDeleteIsInTheHistoryAndPurgeForgetsIt() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            var claire = try await hub.enrollDevice("claire")
            let id = Wire.uuid()
            _ = try await hub.push(
                claire, [Wire.customer(id: id, replica: claire.replica, counter: claire.nextCounter())])
            _ = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: id, replica: claire.replica, counter: claire.nextCounter(), delete: true,
                        context: VersionVector([ReplicaID(claire.replica): 1]))
                ])
            let rows = try await hub.store.read { tx in
                try await tx.history(collection: "customers", recordID: id, field: "name", limit: 10)
            }
            #expect(rows.map(\.deleted) == [true, false])
            #expect(rows.last?.fields["name"] == .text("Café Müller"))
            #expect(rows.map(\.dot.counter) == [2, 1])
            // Past retention the tombstone is purged, and its history with it.
            clock.advance(byMillis: 91 * 24 * 3600 * 1000)
            let purged = try await hub.service.purgeTombstones()
            #expect(purged.expired == 1)
            let left = try await hub.store.read { tx in
                (
                    try await tx.record(collection: "customers", id: id),
                    try await tx.history(collection: "customers", recordID: id, field: nil, limit: 10)
                )
            }
            #expect(left.0 == nil)
            #expect(left.1.isEmpty)
        }
    }

    @Test func historyRowsKeepEveryValueExactly() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            let tricky: [String: Value] = [
                "notes": .text("He said \"hi\" \\ back\nthen\u{1}\tcafé 😀"), "lifetime_value": .number(1234.5e-7),
                "tags": .set(["a\"b", "vip"]), "phone": .null, "name": .text(""), "big": .number(1e300),
                "flag": .bool(true),
                "when": .date("2026-11-28T09:30:00Z"),
            ]
            let entry = HistoryEntry(
                seq: 7, collection: "customers", recordID: "r1", dot: Dot(replica: ReplicaID(3), counter: 9),
                hlc: HLC(physicalMillis: 1_700_000_000_000, logical: 2), user: "claire", at: 1_700_000_000_500,
                fields: tricky, deleted: false)
            let other = HistoryEntry(
                seq: 8, collection: "customers", recordID: "r1", dot: Dot(replica: ReplicaID(3), counter: 10),
                hlc: HLC(physicalMillis: 1_700_000_001_000), user: "claire", at: 1_700_000_001_000,
                fields: ["city": .text("Lyon")], deleted: false)
            try await hub.store.write { tx in
                try await tx.insertHistory(entry)
                try await tx.insertHistory(other)
            }
            let read = try await hub.store.read { tx in
                (
                    try await tx.history(collection: "customers", recordID: "r1", field: "notes", limit: 10),
                    try await tx.history(collection: "customers", recordID: "r1", field: "phone", limit: 10),
                    try await tx.history(collection: "customers", recordID: "r1", field: nil, limit: 10),
                    try await tx.history(collection: "customers", recordID: "r1", field: "email", limit: 10)
                )
            }
            #expect(read.0 == [entry])
            // A field written as null is in its history.
            #expect(read.1 == [entry])
            #expect(read.2 == [other, entry])
            #expect(read.3.isEmpty)
        }
    }

    @Test func aFileOfTheFirstVersionGainsTheHistoryTable() async throws {
        let folder = try TemporaryFolder(prefix: "history")
        defer { folder.remove() }
        let store = try SQLiteHubStore(folder: folder.path + "/x", create: true)
        try await store.write { tx in _ = try await tx.nextSequence() }
        await store.close()
        // Back to what a hub of the first session left: no history table, version 1.
        do {
            let connection = try Connection(path: folder.path + "/x/hub.sqlite")
            try connection.execute("DROP TABLE write_history; DELETE FROM migrations WHERE version = 2")
            try connection.setUserVersion(1)
        }
        let reopened = try SQLiteHubStore(folder: folder.path + "/x", create: false)
        let entry = HistoryEntry(
            seq: 1, collection: "customers", recordID: "r", dot: Dot(replica: ReplicaID(1), counter: 1),
            hlc: HLC(physicalMillis: 1),
            user: "claire", at: 1, fields: ["city": .text("Lyon")], deleted: false)
        try await reopened.write { tx in try await tx.insertHistory(entry) }
        let read = try await reopened.read { tx in
            (
                try await tx.meta().head,
                try await tx.history(collection: "customers", recordID: "r", field: "city", limit: 5)
            )
        }
        await reopened.close()
        #expect(read.0 == 1)
        #expect(read.1 == [entry])
        let connection = try Connection(path: folder.path + "/x/hub.sqlite")
        #expect(try connection.userVersion() == 2)
    }
}
