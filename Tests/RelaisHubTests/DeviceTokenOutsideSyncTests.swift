import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// A device token on the routes outside a device's sync (the reports, the admin API, the admin
/// pages' sign-in) is held to what push and pull hold it to (docs/SECURITY.md): a device marked for
/// wipe is served nothing, a replaced token only renews, a revoked device is refused.
struct DeviceTokenOutsideSyncTests {
    static let reports = [
        "/v1/reports/value-at-risk", "/v1/reports/complaints", "/v1/reports/relationship-levels",
        "/v1/reports/retention",
    ]
    static let adminAPI = ["/v1/admin/devices", "/v1/admin/events", "/v1/admin/conflicts", "/v1/admin/audit"]

    /// A manager's laptop and an admin's laptop, and the hub's router.
    static func withOffice(
        _ body:
            @escaping @Sendable (HubFixture, any TestClientProtocol, _ manager: TestDevice, _ admin: TestDevice)
            async throws -> Void
    ) async throws {
        try await HubFixture.with(clock: TestClock()) { hub in
            let manager = try await hub.enrollDevice("marc", role: .manager, territories: ["north"])
            let admin = try await hub.enrollDevice("ada", role: .admin, territories: [])
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in try await body(hub, client, manager, admin) }
        }
    }

    static func get(_ client: any TestClientProtocol, _ path: String, token: String) async throws
        -> HubRouterTests.Answer
    {
        try await AdminReviewTests.get(client, path, token: token)
    }

    @Test func aDeviceMarkedForWipeIsServedNoReportNorAdminAPINorSignIn() async throws {
        try await Self.withOffice { hub, client, manager, admin in
            for path in Self.reports {
                #expect(try await Self.get(client, path, token: manager.token).status == 200, "\(path)")
            }
            for path in Self.adminAPI {
                #expect(try await Self.get(client, path, token: admin.token).status == 200, "\(path)")
            }
            try await hub.service.requestWipe(ReplicaID(manager.replica))
            try await hub.service.requestWipe(ReplicaID(admin.replica))

            for path in Self.reports {
                let answer = try await Self.get(client, path, token: manager.token)
                #expect(answer.status == 410 && answer.errorCode == "wipe_requested", "\(path)")
            }
            for path in Self.reports + Self.adminAPI {
                let answer = try await Self.get(client, path, token: admin.token)
                #expect(answer.status == 410 && answer.errorCode == "wipe_requested", "\(path)")
            }
            // Nor may it act: the manager's laptop is not revoked by the admin's.
            let revoke = try await AdminReviewTests.post(
                client, "/v1/admin/devices/\(manager.replica)/revoke", token: admin.token, json: "{}")
            #expect(revoke.status == 410 && revoke.errorCode == "wipe_requested")
            #expect(try await hub.service.devices().first { $0.replica.rawValue == manager.replica }?.revokedAt == nil)
            // Nor open a web session.
            for token in [manager.token, admin.token] {
                let signed = try await ManagerPagesTests.signIn(client, token: token)
                #expect(signed.status == 410 && signed.cookies["relais_admin"] == nil)
            }
            // The admin's API token is another thing: it still works.
            #expect(try await Self.get(client, "/v1/admin/devices", token: hub.adminToken).status == 200)
        }
    }

    @Test func aReplacedTokenOnlyRenewsOutsideSyncToo() async throws {
        try await Self.withOffice { hub, client, manager, admin in
            var request = Relais_V1_ReplicaRenewRequest()
            request.reason = "replica_forked"
            let newManager = try await hub.service.renew(request, from: manager.principal)
            let newAdmin = try await hub.service.renew(request, from: admin.principal)

            for path in Self.reports {
                let answer = try await Self.get(client, path, token: manager.token)
                #expect(answer.status == 409 && answer.errorCode == "replica_forked", "\(path)")
                #expect(try await Self.get(client, path, token: newManager.token).status == 200, "\(path)")
            }
            for path in Self.adminAPI {
                let answer = try await Self.get(client, path, token: admin.token)
                #expect(answer.status == 409 && answer.errorCode == "replica_forked", "\(path)")
                #expect(try await Self.get(client, path, token: newAdmin.token).status == 200, "\(path)")
            }
            for token in [manager.token, admin.token] {
                let signed = try await ManagerPagesTests.signIn(client, token: token)
                #expect(signed.status == 409 && signed.cookies["relais_admin"] == nil)
            }
            #expect(try await ManagerPagesTests.signIn(client, token: newManager.token).status == 303)

            // A revoked device is refused as well (authentication already refuses it).
            try await hub.service.revokeDevice(ReplicaID(newManager.replica))
            let revoked = try await Self.get(client, "/v1/reports/complaints", token: newManager.token)
            #expect(revoked.status == 401 && revoked.errorCode == "device_revoked")
        }
    }
}
