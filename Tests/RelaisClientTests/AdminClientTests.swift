import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisTesting
import Testing

/// ``AdminClient`` against a live hub on loopback: conflicts made by two real replicas, listed,
/// shown and resolved through the admin API, and its errors.
struct AdminClientTests {
    /// Two reps edit one customer while both are offline: `status` (a `manual` field) gives an open
    /// report, `phone` (`lww`) an auto-resolved one.
    static func twoConflicts(_ hub: HubFixture, _ url: String, _ folder: TemporaryFolder) async throws
        -> (open: String, auto: String, customer: String)
    {
        let claire = try await Replica.enroll(
            hub: url, code: try await hub.addUser("claire", role: .rep, territories: ["north"]),
            path: folder.file("claire.db"), deviceName: "claire's laptop")
        let marc = try await Replica.enroll(
            hub: url, code: try await hub.addUser("marc", role: .rep, territories: ["north"]),
            path: folder.file("marc.db"), deviceName: "marc's laptop")
        let id = try await claire.add(
            customer, ["name": .text("Acme"), "territory": .text("north"), "status": .text("active")])
        _ = try await claire.sync()
        _ = try await marc.sync()
        try await claire.set(customer, id: id, ["status": .text("at_risk"), "phone": .text("01 23")])
        try await marc.set(customer, id: id, ["status": .text("lapsed"), "phone": .text("01 24")])
        _ = try await claire.sync()
        _ = try await marc.sync()
        let reports = try await hub.service.conflicts()
        let open = try #require(reports.first { $0.conflict.field == "status" })
        let auto = try #require(reports.first { $0.conflict.field == "phone" })
        #expect(open.status == .open && auto.status == .autoResolved)
        return (open.id, auto.id, id)
    }

    @Test func listsShowsAndResolves() async throws {
        try await HubFixture.with { hub in
            let folder = try TemporaryFolder(prefix: "admin-client")
            defer { folder.remove() }
            try await hub.live { url in
                let made = try await Self.twoConflicts(hub, url, folder)
                let admin = AdminClient(hub: url + "/", token: hub.adminToken)

                // Every status unless filtered; a filter keeps only its status.
                #expect(Set(try await admin.allConflicts().map(\.id)) == [made.open, made.auto])
                let open = try await admin.allConflicts(status: .open)
                #expect(open.map(\.id) == [made.open])
                #expect(try await admin.allConflicts(status: .autoResolved).map(\.id) == [made.auto])
                #expect(try await admin.allConflicts(status: .resolved).isEmpty)
                // Pages: one at a time, and all of them read by allConflicts.
                #expect(try await admin.conflicts(limit: 1).count == 1)
                #expect(try await admin.conflicts(limit: 1, offset: 1).count == 1)
                #expect(try await admin.conflicts(limit: 1, offset: 2).isEmpty)
                #expect(try await admin.allConflicts(pageSize: 1).count == 2)

                let report = try #require(open.first)
                #expect(report.collection == customer && report.recordID == made.customer && report.field == "status")
                #expect(report.rule == "manual" && report.territory == "north" && report.resolution == nil)
                #expect(report.values.map(\.user) == ["claire", "marc"])
                #expect(report.values.map(\.value) == [.string("at_risk"), .string("lapsed")])
                #expect(report.base == .string("active"))

                // One report with the record now and the field's history, newest first.
                let detail = try await admin.conflict(id: made.open)
                #expect(detail.conflict == report)
                #expect(detail.record?.fields["name"] == .string("Acme"))
                #expect(detail.history.map(\.user).prefix(2) == ["marc", "claire"])
                #expect(detail.history.first?.device == "marc's laptop" && detail.history.first?.current == true)

                // Reinstating claire's value: the report is resolved and the record holds the value.
                let resolved = try await admin.resolve(id: made.open, .pick(0), reason: "called the customer")
                #expect(resolved.id == made.open && resolved.status == .resolved)
                #expect(resolved.resolution?.value == .string("at_risk"))
                #expect(resolved.resolution?.reason == "called the customer" && resolved.resolution?.by == "admin")
                #expect(try await hub.service.conflict(id: made.open).resolution?.value == .text("at_risk"))
                #expect(try await admin.conflict(id: made.open).record?.fields["status"] == .string("at_risk"))
                #expect(try await admin.allConflicts(status: .resolved).map(\.id) == [made.open])

                // A merged value overturns the rule's choice on the auto-resolved report.
                let merged = try await admin.resolve(id: made.auto, .value(.string("01 25")))
                #expect(merged.status == .resolved && merged.resolution?.value == .string("01 25"))
            }
        }
    }

    @Test func errorsAreTypedLikeASync() async throws {
        try await HubFixture.with { hub in
            let folder = try TemporaryFolder(prefix: "admin-client")
            defer { folder.remove() }
            let rep = try await hub.addUser("claire", role: .rep, territories: ["north"])
            try await hub.live { url in
                let admin = AdminClient(hub: url, token: hub.adminToken)
                // An unknown report: not found (404).
                await #expect { try await admin.conflict(id: "no-such-report") } throws: {
                    ($0 as? SyncError)?.code == .notFound && ($0 as? SyncError)?.httpStatus == 404
                }
                await #expect { try await admin.resolve(id: "no-such-report", .pick(0)) } throws: {
                    ($0 as? SyncError)?.code == .notFound
                }
                // A token the hub does not know: authentication refused (401).
                let stranger = AdminClient(hub: url, token: "not-a-token")
                await #expect { try await stranger.allConflicts() } throws: {
                    ($0 as? SyncError)?.code == .authenticationRefused && ($0 as? SyncError)?.httpStatus == 401
                }
                // A device's token is not an admin's: forbidden (403).
                let replica = try await Replica.enroll(hub: url, code: rep, path: folder.file("claire.db"))
                let device = AdminClient(hub: url, token: try #require(try await replica.identity()).token)
                await #expect { try await device.allConflicts() } throws: {
                    ($0 as? SyncError)?.code == .forbidden && ($0 as? SyncError)?.httpStatus == 403
                }
            }
            // Nothing listens there any more: unreachable, with no HTTP status.
            let gone = AdminClient(hub: "http://127.0.0.1:9", token: hub.adminToken)
            await #expect { try await gone.allConflicts() } throws: {
                ($0 as? SyncError)?.code == .hubUnreachable && ($0 as? SyncError)?.httpStatus == nil
            }
        }
    }

    /// The JSON the admin API serves decodes and encodes back to the same object, nulls and absent
    /// keys included (`relais admin … --json` prints it so).
    @Test func reportsEncodeBackToTheHubsJSON() throws {
        let served = #"""
            {"base":null,"chosen":["a","b/c"],"collection":"customers","created_at":"2026-11-28T09:00:00.000Z",\#
            "field":null,"id":"r1","record_id":"c1","resolution":{"at":"2026-11-29T10:00:00.000Z","by":"admin",\#
            "deleted":true,"reason":"","value":null},"rule":"delete-update","status":"resolved","territory":null,\#
            "values":[{"counter":3,"deleted":true,"hlc":117684633600000000,"hlc_time":"2026-11-28T08:00:00.000Z",\#
            "replica":2,"user":"claire","value":null},{"counter":4,"hlc":117684633600065536,\#
            "hlc_time":"2026-11-28T08:00:00.001Z","replica":3,"user":"marc","value":1.5}]}
            """#
        let decoded = try JSONDecoder().decode(AdminConflict.self, from: Data(served.utf8))
        #expect(decoded.field == nil && decoded.values[0].deleted && !decoded.values[1].deleted)
        #expect(decoded.values[1].value == .number(1.5) && decoded.resolution?.deleted == true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: try encoder.encode(decoded), as: UTF8.self) == served)
    }
}
