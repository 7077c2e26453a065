import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// The admin review API (`/v1/admin`): every filter, pagination with a total, detail, resolve and
/// its refusals (no token, rep token, stale form, already resolved), bulk resolve, exports, audit log.
struct AdminReviewTests {
    static func withRouter(
        _ body: @escaping @Sendable (HubFixture, any TestClientProtocol, ReviewSeed.Seeded) async throws -> Void
    )
        async throws
    {
        try await HubFixture.with(clock: TestClock()) { hub in
            let seeded = try await ReviewSeed.seed(hub)
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in try await body(hub, client, seeded) }
        }
    }

    static func get(_ client: any TestClientProtocol, _ path: String, token: String?) async throws
        -> HubRouterTests.Answer
    {
        try await HubRouterTests.send(client, .get, path, token: token, contentType: nil)
    }

    static func post(_ client: any TestClientProtocol, _ path: String, token: String?, json: String) async throws
        -> HubRouterTests.Answer
    {
        try await HubRouterTests.send(
            client, .post, path, token: token, body: Array(json.utf8), contentType: "application/json")
    }

    static func ids(_ answer: HubRouterTests.Answer) -> Set<String> {
        Set(((answer.json as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String })
    }

    /// The version vector the hub holds for customer `id`: the context of a write made having seen
    /// every write on it.
    static func vector(_ hub: HubFixture, _ id: String) async throws -> VersionVector {
        try #require(try await hub.store.read { tx in try await tx.record(collection: "customers", id: id) }).state
            .vector
    }

    /// `device` sets the status of customer `id` with `context`, `offset` milliseconds after the test
    /// clock's now; returns the hub's answer.
    static func setStatus(
        _ hub: HubFixture, _ device: inout TestDevice, _ id: String, _ status: String, context: VersionVector,
        offset: UInt64 = 0
    ) async throws -> Relais_V1_WriteResult? {
        let now = try #require(hub.clock).millisecondsSince1970()
        return try await hub.push(
            device,
            [
                Wire.write(
                    id: id, replica: device.replica, counter: device.nextCounter(), fields: ["status": .text(status)],
                    context: context, hlc: HLC(physicalMillis: now + offset).rawValue)
            ]
        ).first
    }

    @Test func everyFilterAndPagination() async throws {
        try await Self.withRouter { hub, client, s in
            let token = hub.adminToken
            let all = try await Self.get(client, "/v1/admin/conflicts", token: token)
            #expect(all.status == 200)
            #expect(Self.ids(all) == [s.north, s.south, s.phone])
            #expect(all.headers[HTTPFields.Element.Name("X-Total-Count")!] == "3")
            #expect(
                Self.ids(try await Self.get(client, "/v1/admin/conflicts?status=open", token: token)) == [
                    s.north, s.south,
                ])
            #expect(
                Self.ids(try await Self.get(client, "/v1/admin/conflicts?status=auto-resolved", token: token)) == [
                    s.phone
                ])
            #expect(Self.ids(try await Self.get(client, "/v1/admin/conflicts?rule=lww", token: token)) == [s.phone])
            #expect(
                Self.ids(try await Self.get(client, "/v1/admin/conflicts?rule=manual", token: token)) == [
                    s.north, s.south,
                ])
            #expect(Self.ids(try await Self.get(client, "/v1/admin/conflicts?user=bob", token: token)) == [s.north])
            #expect(
                Self.ids(try await Self.get(client, "/v1/admin/conflicts?user=erin", token: token)) == [
                    s.south, s.phone,
                ])
            #expect(
                Self.ids(try await Self.get(client, "/v1/admin/conflicts?territory=south", token: token)) == [
                    s.south, s.phone,
                ])
            #expect(Self.ids(try await Self.get(client, "/v1/admin/conflicts?field=phone", token: token)) == [s.phone])
            #expect(
                Self.ids(try await Self.get(client, "/v1/admin/conflicts?collection=contacts", token: token)).isEmpty)
            let day1 = AdminTime.iso8601(s.day1).prefix(10)
            let day9 = AdminTime.iso8601(s.day9).prefix(10)
            #expect(Self.ids(try await Self.get(client, "/v1/admin/conflicts?to=\(day1)", token: token)) == [s.north])
            #expect(
                Self.ids(try await Self.get(client, "/v1/admin/conflicts?from=\(day9)", token: token)) == [
                    s.south, s.phone,
                ])
            #expect(
                Self.ids(
                    try await Self.get(
                        client, "/v1/admin/conflicts?from=\(day9)&territory=south&rule=manual", token: token))
                    == [s.south])
            // Pages: newest first, the total stays.
            let first = try await Self.get(client, "/v1/admin/conflicts?limit=2", token: token)
            let second = try await Self.get(client, "/v1/admin/conflicts?limit=2&offset=2", token: token)
            #expect((first.json as? [Any])?.count == 2 && (second.json as? [Any])?.count == 1)
            #expect(second.headers[HTTPFields.Element.Name("X-Total-Count")!] == "3")
            #expect(Self.ids(first).union(Self.ids(second)) == [s.north, s.south, s.phone])
            #expect(Self.ids(second) == [s.north])
            for bad in ["status=weird", "from=yesterday", "limit=0", "offset=-1"] {
                #expect(try await Self.get(client, "/v1/admin/conflicts?\(bad)", token: token).status == 400)
            }
        }
    }

    @Test func refusalsWithoutAnAdminToken() async throws {
        try await Self.withRouter { hub, client, s in
            let rep = try await hub.enrollDevice("fred")
            for path in [
                "/v1/admin/conflicts", "/v1/admin/conflicts/\(s.north)", "/v1/admin/export?format=csv",
                "/v1/admin/audit",
            ] {
                #expect(try await Self.get(client, path, token: nil).status == 401)
                #expect(try await Self.get(client, path, token: "not-a-token").status == 401)
                #expect(try await Self.get(client, path, token: rep.token).status == 403)
            }
            for (path, body) in [
                ("/v1/admin/conflicts/\(s.north)/resolve", #"{"pick": 0, "reason": "x"}"#),
                ("/v1/admin/conflicts/bulk-resolve", #"{"strategy": "newest", "reason": "x"}"#),
            ] {
                #expect(try await Self.post(client, path, token: nil, json: body).status == 401)
                #expect(try await Self.post(client, path, token: rep.token, json: body).status == 403)
            }
            #expect(try await hub.service.conflict(id: s.north).status == .open)
            #expect(try await hub.service.conflict(id: s.south).status == .open)
        }
    }

    @Test func detailThenResolveAndStaleForms() async throws {
        try await Self.withRouter { hub, client, s in
            let token = hub.adminToken
            let shown = try await Self.get(client, "/v1/admin/conflicts/\(s.north)", token: token)
            #expect(shown.status == 200)
            let detail = try #require(shown.json as? [String: Any])
            let values = try #require(detail["values"] as? [[String: Any]])
            #expect(values.map { $0["user"] as? String } == ["claire", "bob"])
            #expect(values.allSatisfy { ($0["hlc_time"] as? String)?.hasSuffix("Z") == true && $0["replica"] is Int })
            let record = try #require(detail["record"] as? [String: Any])
            let version = try #require((record["version"] as? NSNumber)?.uint64Value)
            #expect((record["fields"] as? [String: Any])?["territory"] as? String == "north")
            #expect(detail["history"] is [Any])

            // The record changed since the form was shown: 409, nothing written.
            let stale = try await Self.post(
                client, "/v1/admin/conflicts/\(s.north)/resolve", token: token,
                json: #"{"pick": 0, "reason": "visit report", "record_version": \#(version - 1)}"#)
            #expect(stale.status == 409)
            #expect(stale.errorCode == "conflict")
            #expect(try await hub.service.conflict(id: s.north).status == .open)

            let resolved = try await Self.post(
                client, "/v1/admin/conflicts/\(s.north)/resolve", token: token,
                json: #"{"pick": 0, "reason": "visit report", "record_version": \#(version)}"#)
            #expect(resolved.status == 200)
            let report = try await hub.service.conflict(id: s.north)
            #expect(report.status == .resolved && report.resolution?.value == .text("at_risk"))
            let after = try #require(
                try await Self.get(client, "/v1/admin/conflicts/\(s.north)", token: token).json as? [String: Any])
            #expect(
                ((after["record"] as? [String: Any])?["fields"] as? [String: Any])?["status"] as? String == "at_risk")

            // Already resolved: 409 unless the admin overturns on purpose.
            let again = try await Self.post(
                client, "/v1/admin/conflicts/\(s.north)/resolve", token: token,
                json: #"{"pick": 1, "reason": "second thoughts"}"#)
            #expect(again.status == 409)
            #expect(try await hub.service.conflict(id: s.north).resolution?.value == .text("at_risk"))
            let overturned = try await Self.post(
                client, "/v1/admin/conflicts/\(s.north)/resolve", token: token,
                json: #"{"value": "active", "reason": "manager call", "overturn": true}"#)
            #expect(overturned.status == 200)
            #expect(try await hub.service.conflict(id: s.north).resolution?.value == .text("active"))
            #expect(
                try await Self.post(
                    client, "/v1/admin/conflicts/\(s.south)/resolve", token: token, json: #"{"value": "sleepy"}"#
                )
                .status == 400)
            #expect(try await Self.get(client, "/v1/admin/conflicts/nope", token: token).status == 404)
        }
    }

    @Test func bulkResolveByFilterAndStrategy() async throws {
        try await Self.withRouter { hub, client, s in
            let token = hub.adminToken
            #expect(
                try await Self.post(
                    client, "/v1/admin/conflicts/bulk-resolve", token: token, json: #"{"strategy": "newest"}"#
                )
                .status == 400)
            #expect(
                try await Self.post(
                    client, "/v1/admin/conflicts/bulk-resolve", token: token,
                    json: #"{"strategy": "random", "reason": "x"}"#
                ).status == 400)
            // A stale count (two matched when the admin looked, one now): 409, nothing written.
            let stale = try await Self.post(
                client, "/v1/admin/conflicts/bulk-resolve", token: token,
                json:
                    #"{"strategy": "oldest", "reason": "x", "territory": "south", "rule": "manual", "expected_count": 2}"#
            )
            #expect(stale.status == 409)
            #expect(try await hub.service.conflict(id: s.south).status == .open)
            let answer = try await Self.post(
                client, "/v1/admin/conflicts/bulk-resolve", token: token,
                json:
                    #"{"strategy": "oldest", "reason": "south clean-up", "territory": "south", "rule": "manual", "field": "status", "expected_count": 1}"#
            )
            #expect(answer.status == 200)
            #expect((answer.json as? [String: Any])?["resolved"] as? [String] == [s.south])
            let south = try await hub.service.conflict(id: s.south)
            #expect(south.status == .resolved && south.resolution?.value == .text("lapsed"))
            #expect(try await hub.service.conflict(id: s.north).status == .open)
            #expect(try await hub.service.conflict(id: s.phone).status == .autoResolved)
            let byUser = try await Self.post(
                client, "/v1/admin/conflicts/bulk-resolve", token: token,
                json: #"{"strategy": "pick-user:bob", "reason": "bob knows"}"#)
            #expect((byUser.json as? [String: Any])?["resolved"] as? [String] == [s.north])
            #expect(try await hub.service.conflict(id: s.north).resolution?.value == .text("active"))
        }
    }

    @Test func exportsAndAuditLog() async throws {
        try await Self.withRouter { hub, client, s in
            let token = hub.adminToken
            let csv = try await Self.get(client, "/v1/admin/export?format=csv&territory=south", token: token)
            #expect(csv.status == 200)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = String(decoding: csv.body, as: UTF8.self).split(separator: "\r\n")
            #expect(lines.count == 3)
            #expect(lines.first?.hasPrefix("id,created_at,status,collection,record_id,field,rule,territory") == true)
            #expect(
                lines.dropFirst().contains {
                    $0.hasPrefix(s.phone) && $0.contains("01 24") && $0.contains("auto-resolved")
                })
            #expect(lines.dropFirst().contains { $0.hasPrefix(s.south) && $0.contains("lapsed") })
            let json = try await Self.get(client, "/v1/admin/export?format=json", token: token)
            #expect(Self.ids(json) == [s.north, s.south, s.phone])
            #expect(try await Self.get(client, "/v1/admin/export?format=xml", token: token).status == 400)

            _ = try await Self.post(
                client, "/v1/admin/conflicts/\(s.north)/resolve", token: token, json: #"{"pick": 1, "reason": "call"}"#)
            _ = try await Self.post(
                client, "/v1/admin/conflicts/bulk-resolve", token: token,
                json: #"{"strategy": "newest", "reason": "sweep"}"#)
            let audit = try #require(
                try await Self.get(client, "/v1/admin/audit", token: token).json as? [[String: Any]])
            let kinds = audit.compactMap { $0["kind"] as? String }
            #expect(kinds.prefix(3) == ["conflicts_bulk_resolved", "conflict_resolved", "conflict_resolved"])
            #expect(audit.first?["user"] as? String == "admin")
            #expect((audit.first?["detail"] as? String)?.contains("sweep") == true)
            #expect(!kinds.contains("device_enrolled"))
        }
    }

    /// An export larger than its page of 500 streams every matching report once, newest first, and
    /// leaves out reports raised after it began.
    @Test func exportsStreamEveryReportOnceAcrossPages() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            let count = 1_234
            try await hub.store.write { tx throws in
                for index in 0..<count {
                    try await tx.insertConflict(
                        HubStoreOperationTests.report(
                            String(format: "r%05d", index), at: clock.millisecondsSince1970() - UInt64(index)))
                }
            }
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in
                let json = try await Self.get(client, "/v1/admin/export?format=json", token: hub.adminToken)
                let ids = ((json.json as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
                #expect(ids.count == count && ids == (0..<count).map { String(format: "r%05d", $0) })
                let csv = try await Self.get(client, "/v1/admin/export?format=csv&user=a", token: hub.adminToken)
                let lines = String(decoding: csv.body, as: UTF8.self).split(separator: "\r\n")
                #expect(lines.count == count + 1 && lines.filter { $0.hasPrefix("id,") }.count == 1)
                // Raised after the export began (a clock ahead): not in it.
                try await hub.store.write { tx throws in
                    try await tx.insertConflict(
                        HubStoreOperationTests.report("later", at: clock.millisecondsSince1970() + 60_000))
                }
                let again = try await Self.get(client, "/v1/admin/export?format=json", token: hub.adminToken)
                #expect(Self.ids(again).count == count && !Self.ids(again).contains("later"))
            }
        }
    }

    @Test func dashboardFiguresAndLargestSyncLag() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            let s = try await ReviewSeed.seed(hub)
            // Claire pulls everything she sees (twice: the acknowledged cursor is the request's).
            var claire = try await hub.enrollDevice("claire", newUser: false)
            _ = try await hub.pullAll(&claire)
            _ = try await hub.pullAll(&claire)
            _ = try await hub.service.resolveConflict(id: s.north, decision: .pick(0), reason: "x", by: "admin")
            let figures = try await hub.service.dashboard()
            #expect(figures.open == 1 && figures.total == 3)
            #expect(figures.byRule.map { "\($0.0)=\($0.1)" } == ["manual=2", "lww=1"])
            #expect(figures.byUser.map { "\($0.0)=\($0.1)" } == ["dave=2", "erin=2", "bob=1", "claire=1"])
            #expect(figures.byWeek.count == 2 && figures.byWeek.map(\.1) == [2, 1])
            #expect(figures.byWeek.allSatisfy { $0.0.contains("-W") })
            let lags = figures.lags.map(\.lag)
            #expect(lags == lags.sorted(by: >))
            let head = try await hub.store.read { tx in try await tx.meta().head }
            // Devices that never pulled lag by the whole head; claire's new laptop only by the resolution.
            #expect(figures.lags.first?.lag == head)
            let claireLag = try #require(figures.lags.first { $0.device.replica.rawValue == claire.replica }?.lag)
            #expect(claireLag < head && claireLag >= 1)
            #expect(try await hub.service.dashboard(lagLimit: 2).lags.count == 2)
        }
    }

    /// `POST /v1/admin/conflicts/ID/resolve` (the web form's and `relais admin conflicts resolve`'s
    /// call): overturning a delete with the update side of a `delete-update` report writes the
    /// record back.
    @Test func overturningADeleteWithTheUpdateSideBringsTheRecordBack() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let (id, deleted) = try await ReviewSeed.deleteUpdate(hub, &claire, &bob)
            let reportID = try #require(deleted.first?.conflictIds.first)
            let values = try await hub.service.conflict(id: reportID).conflict.values
            let deleteSide = try #require(values.firstIndex { $0.deleted })
            let updateSide = try #require(values.firstIndex { !$0.deleted })
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in
                let path = "/v1/admin/conflicts/\(reportID)/resolve"
                let removed = try await Self.post(
                    client, path, token: hub.adminToken, json: #"{"pick": \#(deleteSide), "reason": "duplicate"}"#)
                #expect(removed.status == 200)
                #expect(try await hub.service.export(user: "claire")["customers"] == nil)
                let restored = try await Self.post(
                    client, path, token: hub.adminToken,
                    json: #"{"pick": \#(updateSide), "reason": "not a duplicate", "overturn": true}"#)
                #expect(restored.status == 200)
                #expect((restored.json as? [String: Any])?["status"] as? String == "resolved")
            }
            let atHub = try #require(try await hub.service.export(user: "claire")["customers"]?.first { $0.id == id })
            #expect(atHub.values["phone"] == .text("01"))
            let back = try #require(try await hub.pullAll(&claire).records.first { $0.recordID == id })
            #expect(!back.deleted && back.value("phone") == .text("01"))
        }
    }

    @Test func bulkResolveSkipsAReportWhoseRecordWasPurged() async throws {
        let clock = TestClock()
        try await HubFixture.with(clock: clock) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let gone = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            let kept = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            // The first record is deleted by someone who saw both sides, then purged past retention.
            let record = try await hub.service.conflict(id: gone).conflict.recordID
            let vector = try await Self.vector(hub, record)
            let deleted = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: record, replica: claire.replica, counter: claire.nextCounter(), delete: true,
                        context: vector)
                ])
            #expect(deleted.first?.status == .applied)
            clock.advance(byMillis: 91 * 24 * 3600 * 1000)
            #expect(try await hub.service.purgeTombstones().expired == 1)
            let result = try await hub.service.bulkResolve(
                ConflictFilter(rule: "manual"), strategy: .newest, reason: "sweep", by: "admin", expectedCount: 2)
            #expect(result.resolved == [kept] && result.skipped == [gone])
            #expect(try await hub.service.conflict(id: kept).status == .resolved)
            #expect(try await hub.service.conflict(id: gone).status == .open)
        }
    }

    /// A value written after a report by someone who had seen both sides is not replaced by a bulk
    /// resolve, whose admin chose a strategy without seeing it: the report is skipped. An office write
    /// since (an earlier decision) does not stop a bulk overturn.
    @Test func bulkResolveSkipsAReportWhoseFieldWasWrittenSince() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let settled = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            let open = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            let id = try await hub.service.conflict(id: settled).conflict.recordID
            let written = try await Self.setStatus(hub, &claire, id, "active", context: try await Self.vector(hub, id))
            #expect(written?.status == .applied && written?.conflictIds.isEmpty == true)

            let result = try await hub.service.bulkResolve(
                ConflictFilter(rule: "manual"), strategy: .oldest, reason: "sweep", by: "admin", expectedCount: 2)
            #expect(result.resolved == [open] && result.skipped == [settled])
            #expect(try await hub.service.conflict(id: settled).status == .open)
            let held = try #require(try await hub.service.export(user: "claire")["customers"]?.first { $0.id == id })
            #expect(held.values["status"] == .text("active"))

            let overturned = try await hub.service.bulkResolve(
                ConflictFilter(status: .resolved, rule: "manual"), strategy: .newest, reason: "again", by: "admin")
            #expect(overturned.resolved == [open] && overturned.skipped.isEmpty)
            #expect(try await hub.service.conflict(id: open).resolution?.value == .text("lapsed"))
        }
    }

    /// A later write still counts once a resolution of another report has superseded it: the report
    /// stays skipped in every later bulk resolve, and the values decided since stand.
    @Test func aSkippedReportStaysSkippedOnceItsLaterWriteIsSuperseded() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let first = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            let id = try await hub.service.conflict(id: first).conflict.recordID
            let seen = try await Self.vector(hub, id)
            // Claire decides, having seen both; bob, not having seen her decision, writes another value.
            let decided = try await Self.setStatus(hub, &claire, id, "active", context: seen)
            #expect(decided?.conflictIds.isEmpty == true)
            let other = try await Self.setStatus(hub, &bob, id, "prospect", context: seen, offset: 1000)
            let second = try #require(other?.conflictIds.first)

            let run = try await hub.service.bulkResolve(
                ConflictFilter(rule: "manual"), strategy: .oldest, reason: "sweep", by: "admin")
            #expect(run.resolved == [second] && run.skipped == [first])
            let again = try await hub.service.bulkResolve(
                ConflictFilter(rule: "manual"), strategy: .oldest, reason: "sweep", by: "admin")
            #expect(again.resolved.isEmpty && again.skipped == [first])
            let held = try #require(try await hub.service.export(user: "claire")["customers"]?.first { $0.id == id })
            #expect(held.values["status"] == .text("active"))
        }
    }
    /// A single resolve without the record's version (a script, the command line without
    /// `--record-version`) refuses, as a bulk resolve skips, a report whose record a salesperson wrote
    /// after it; given the version the admin saw, it decides over that write.
    @Test func aResolveWithoutTheRecordVersionRefusesOverALaterWrite() async throws {
        try await Self.withRouter { hub, client, _ in
            var claire = try await hub.enrollDevice("dana")
            var bob = try await hub.enrollDevice("eli")
            let report = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            let id = try await hub.service.conflict(id: report).conflict.recordID
            let written = try await Self.setStatus(hub, &claire, id, "active", context: try await Self.vector(hub, id))
            #expect(written?.status == .applied && written?.conflictIds.isEmpty == true)

            let path = "/v1/admin/conflicts/\(report)/resolve"
            let refused = try await Self.post(client, path, token: hub.adminToken, json: #"{"pick": 0, "reason": "x"}"#)
            #expect(refused.status == 409)
            #expect(try await hub.service.conflict(id: report).status == .open)
            var held = try #require(try await hub.service.export(user: "dana")["customers"]?.first { $0.id == id })
            #expect(held.values["status"] == .text("active"))

            let version = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: id) }
            )
            .seq
            let decided = try await Self.post(
                client, path, token: hub.adminToken,
                json: #"{"pick": 0, "reason": "seen", "record_version": \#(version)}"#)
            #expect(decided.status == 200)
            held = try #require(try await hub.service.export(user: "dana")["customers"]?.first { $0.id == id })
            #expect(held.values["status"] == .text("at_risk"))
        }
    }

    /// Deciding a field of a record deleted since keeps it deleted: the decision stays with the
    /// report, and nothing brings the record back over the delete.
    @Test func aFieldDecisionOnADeletedRecordKeepsItDeleted() async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            var claire = try await hub.enrollDevice("claire")
            var bob = try await hub.enrollDevice("bob")
            let report = try await ReviewSeed.conflict(
                hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("lapsed"))
            let id = try await hub.service.conflict(id: report).conflict.recordID
            let deleted = try await hub.push(
                claire,
                [
                    Wire.write(
                        id: id, replica: claire.replica, counter: claire.nextCounter(), delete: true,
                        context: try await Self.vector(hub, id),
                        hlc: HLC(physicalMillis: try #require(hub.clock).millisecondsSince1970()).rawValue)
                ])
            #expect(deleted.first?.status == .applied)
            let version = try #require(
                try await hub.store.read { try await $0.record(collection: "customers", id: id) }
            )
            .seq
            let resolved = try await hub.service.reviewResolve(
                id: report, decision: .pick(1), reason: "seen", by: "admin", expectedVersion: version, overturn: false)
            #expect(resolved.status == .resolved && resolved.resolution?.value == .text("lapsed"))
            let record = try #require(try await hub.store.read { try await $0.record(collection: "customers", id: id) })
            #expect(record.state.isDeleted && record.seq == version)
            #expect(try await hub.service.export(user: "claire")["customers"]?.contains { $0.id == id } != true)
        }
    }
}
