import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import SwiftProtobuf
import Testing

/// Every endpoint and error through the router (HummingbirdTesting `.router`).
struct HubRouterTests {
    static let codec = MessageCodec()

    /// Runs `body` with a router test client on a fresh hub.
    func withRouter(_ body: @escaping @Sendable (HubFixture, any TestClientProtocol) async throws -> Void) async throws
    {
        try await HubFixture.with { hub in
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in try await body(hub, client) }
        }
    }

    struct Answer {
        var status: Int
        var headers: HTTPFields
        var body: [UInt8]

        var errorCode: String? {
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let error = object["error"] as? [String: Any]
            else { return nil }
            return error["code"] as? String
        }

        func message<M: SwiftProtobuf.Message>(_ type: M.Type) throws -> M {
            try HubRouterTests.codec.decode(
                type, from: body, contentType: headers[.contentType], contentEncoding: headers[.contentEncoding])
        }

        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }
    }

    static func send(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method = .post, _ path: String, token: String? = nil,
        body: [UInt8] = [], contentType: String? = "application/x-protobuf", contentEncoding: String? = nil,
        acceptEncoding: String? = nil
    ) async throws -> Answer {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let contentType { headers[.contentType] = contentType }
        if let contentEncoding { headers[.contentEncoding] = contentEncoding }
        if let acceptEncoding { headers[.acceptEncoding] = acceptEncoding }
        return try await client.execute(
            uri: path, method: method, headers: headers,
            body: body.isEmpty && method == .get ? nil : ByteBuffer(bytes: body)
        ) { response in
            Answer(
                status: Int(response.status.code), headers: response.headers,
                body: Array(response.body.readableBytesView))
        }
    }

    static func send<M: SwiftProtobuf.Message>(
        _ client: any TestClientProtocol, _ path: String, _ message: M, token: String? = nil,
        format: WireFormat = .protobuf,
        encoding: ContentEncoding = .identity, acceptEncoding: String? = nil
    ) async throws -> Answer {
        try await send(
            client, .post, path, token: token, body: try codec.encode(message, format: format, encoding: encoding),
            contentType: format.contentType, contentEncoding: encoding.headerValue, acceptEncoding: acceptEncoding)
    }

    /// Enrolls a user's device over HTTP.
    static func enroll(
        _ hub: HubFixture, _ client: any TestClientProtocol, _ user: String, territories: [String] = ["north"],
        role: Role = .rep
    )
        async throws -> Relais_V1_EnrollResponse
    {
        let code = try await hub.addUser(user, role: role, territories: territories)
        let answer = try await send(client, "/v1/enroll", Wire.enroll(code))
        #expect(answer.status == 200)
        return try answer.message(Relais_V1_EnrollResponse.self)
    }

    @Test func enrollPushPullOverHTTP() async throws {
        try await withRouter { hub, client in
            let claire = try await Self.enroll(hub, client, "claire")
            let bob = try await Self.enroll(hub, client, "bob")
            let id = Wire.uuid()
            let push = try await Self.send(
                client, "/v1/push",
                Wire.push(claire.replica, [Wire.customer(id: id, replica: claire.replica, counter: 1)]),
                token: claire.token, encoding: .deflate)
            #expect(push.status == 200)
            #expect(try push.message(Relais_V1_PushResponse.self).results.map(\.status) == [.applied])
            // JSON works too, and pull answers deflated when asked.
            let pull = try await Self.send(
                client, "/v1/pull", Wire.pull(cursor: 0), token: bob.token, format: .json, acceptEncoding: "deflate")
            #expect(pull.status == 200)
            #expect(pull.headers[.contentEncoding] == "deflate")
            #expect(pull.headers[.contentType] == "application/json")
            let page = try pull.message(Relais_V1_PullResponse.self)
            #expect(page.records.map(\.recordID) == [id])
            let plain = try await Self.send(client, "/v1/pull", Wire.pull(cursor: 0), token: bob.token)
            #expect(plain.headers[.contentEncoding] == nil)
            // Renew over HTTP.
            var renew = Relais_V1_ReplicaRenewRequest()
            renew.reason = "test"
            let renewed = try await Self.send(client, "/v1/replica/renew", renew, token: claire.token)
            #expect(renewed.status == 200)
            #expect(try renewed.message(Relais_V1_ReplicaRenewResponse.self).replica > bob.replica)
        }
    }

    @Test func authenticationErrors() async throws {
        try await withRouter { hub, client in
            let claire = try await Self.enroll(hub, client, "claire")
            let empty = Wire.push(claire.replica, [])
            #expect(try await Self.send(client, "/v1/push", empty).errorCode == "unauthorized")
            let bad = try await Self.send(client, "/v1/push", empty, token: "rlt_wrong")
            #expect(bad.status == 401 && bad.errorCode == "unauthorized")
            let wrongReplica = try await Self.send(
                client, "/v1/push", Wire.push(claire.replica + 7, []), token: claire.token)
            #expect(wrongReplica.status == 403 && wrongReplica.errorCode == "forbidden")
            try await hub.service.revokeDevice(ReplicaID(claire.replica))
            let revoked = try await Self.send(client, "/v1/pull", Wire.pull(cursor: 0), token: claire.token)
            #expect(revoked.status == 401 && revoked.errorCode == "device_revoked")
            let code = try await Self.send(client, "/v1/enroll", Wire.enroll("AAAA-BBBB-CCCC-DDDD"))
            #expect(code.status == 403 && code.errorCode == "invalid_enrollment_code")
            // The admin API needs an admin.
            let bob = try await Self.enroll(hub, client, "bob")
            let forbidden = try await Self.send(client, .get, "/v1/admin/conflicts", token: bob.token, contentType: nil)
            #expect(forbidden.status == 403)
            let unknown = try await Self.send(client, .get, "/v1/nowhere", token: bob.token, contentType: nil)
            #expect(unknown.status == 404 && unknown.errorCode == "not_found")
            let wrongMethod = try await Self.send(client, .get, "/v1/push", token: bob.token, contentType: nil)
            #expect(wrongMethod.status == 405 && wrongMethod.errorCode == "method_not_allowed")
            // The body is a relais.v1.Error (code at the top level), the same also under "error".
            let error = try #require(wrongMethod.json as? [String: Any])
            #expect(error["code"] as? String == "method_not_allowed")
            #expect(
                try Self.codec.decode(Relais_V1_Error.self, from: wrongMethod.body, format: .json, encoding: .identity)
                    .code
                    == "method_not_allowed")
        }
    }

    @Test func storeFailuresAreAnsweredWithTheWireCodesAndNoDetail() {
        let busy = HubError(answering: HubStoreError.unavailable.with("The store is closed."))
        #expect(busy.code == .unavailable && busy.httpStatus == 503 && busy.message == "The store is closed.")
        let full = HubError(answering: HubStoreError.storageFull)
        #expect(full.code == .storageFull && full.httpStatus == 507 && full.code.rawValue == "storage_full")
        for failure in [HubStoreError.failed, .exists, .missing, .tooNew, .badLocation] {
            let answer = HubError(answering: failure.with("/srv/relais/hub.sqlite is damaged", ["path": "/srv"]))
            #expect(answer.code == .internal && answer.httpStatus == 500 && answer.message == HubError.internal.message)
        }
    }

    @Test func badBodiesGet4xxAndWriteNothing() async throws {
        try await withRouter { hub, client in
            let claire = try await Self.enroll(hub, client, "claire")
            func push(_ body: [UInt8], type: String? = "application/x-protobuf", encoding: String? = nil) async throws
                -> Answer
            {
                try await Self.send(
                    client, .post, "/v1/push", token: claire.token, body: body, contentType: type,
                    contentEncoding: encoding)
            }
            // Malformed protobuf.
            let malformed = try await push([0xFF, 0xFF, 0xFF, 0x01])
            #expect(malformed.status == 400 && malformed.errorCode == "malformed_body")
            // Unknown content type and encoding.
            #expect(try await push([1], type: "text/plain").status == 415)
            #expect(try await push([1], encoding: "br").status == 415)
            // A deflate bomb: 64 MiB of zeros in a few KiB.
            let bomb = try ContentEncoding.deflate.compress([UInt8](repeating: 0, count: 80 << 20), level: 9)
            let bombAnswer = try await push(bomb, encoding: "deflate")
            #expect(bombAnswer.status == 413)
            // Oversized body (counted as it streams in).
            let huge = [UInt8](repeating: 0x41, count: (8 << 20) + 1)
            #expect(try await push(huge).status == 413)
            // Corrupt deflate stream.
            #expect(try await push([0x78, 0x9C, 0xFF, 0xFF, 0x00], encoding: "deflate").status == 400)
            // Duplicate JSON key.
            let duplicate = Array(#"{"replica": 1, "replica": 1}"#.utf8)
            let dup = try await push(duplicate, type: "application/json")
            #expect(dup.status == 400 && dup.errorCode == "duplicate_json_key")
            // A write with no dot.
            var noDot = Wire.push(claire.replica, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 1)])
            noDot.writes[0].clearDot()
            #expect(try await Self.send(client, "/v1/push", noDot, token: claire.token).status == 400)
            #expect(try await hub.store.read { try await $0.meta().head } == 0)

            // An unknown JSON field is ignored.
            let id = Wire.uuid()
            let json = """
                {"replica": \(claire.replica), "schemaVersion": \(Schema.crm.version), "futureField": {"x": 1}, "writes": [{"collection": "customers",
                 "recordId": "\(id)", "dot": {"replica": \(claire.replica), "counter": "1"}, "hlc": "1",
                 "fields": [{"field": "name", "value": {"text": "A"}}, {"field": "territory", "value": {"text": "north"}}]}]}
                """
            let accepted = try await push(Array(json.utf8), type: "application/json")
            #expect(accepted.status == 200)
            #expect(try accepted.message(Relais_V1_PushResponse.self).results.map(\.status) == [.applied])
        }
    }

    @Test func perWriteRejectionsOverHTTP() async throws {
        try await withRouter { hub, client in
            let claire = try await Self.enroll(hub, client, "claire")
            let writes = [
                Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 1, territory: "south"),
                Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 2, extra: ["segment": .text("A")]),
                Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 3, extra: ["email": .number(3)]),
            ]
            let answer = try await Self.send(client, "/v1/push", Wire.push(claire.replica, writes), token: claire.token)
            let results = try answer.message(Relais_V1_PushResponse.self).results
            #expect(results.map(\.code) == ["outside_territory", "hub_only_field", "invalid_value"])
            #expect(results.allSatisfy { $0.status == .rejected && !$0.reason.isEmpty })
        }
    }

    @Test func adminConflictAPI() async throws {
        try await withRouter { hub, client in
            let claire = try await Self.enroll(hub, client, "claire")
            let bob = try await Self.enroll(hub, client, "bob")
            let id = Wire.uuid()
            _ = try await Self.send(
                client, "/v1/push",
                Wire.push(claire.replica, [Wire.customer(id: id, replica: claire.replica, counter: 1)]),
                token: claire.token)
            let seen = VersionVector([ReplicaID(claire.replica): 1])
            _ = try await Self.send(
                client, "/v1/push",
                Wire.push(
                    claire.replica,
                    [
                        Wire.write(
                            id: id, replica: claire.replica, counter: 2, fields: ["programme": .text("loyalty")],
                            context: seen, hlc: 1_000_000 << 16)
                    ]),
                token: claire.token)
            _ = try await Self.send(
                client, "/v1/push",
                Wire.push(
                    bob.replica,
                    [
                        Wire.write(
                            id: id, replica: bob.replica, counter: 1, fields: ["programme": .text("recovery")],
                            context: seen, hlc: 1_000_001 << 16)
                    ]),
                token: bob.token)

            let list = try await Self.send(
                client, .get, "/v1/admin/conflicts?status=open", token: hub.adminToken, contentType: nil)
            #expect(list.status == 200)
            let reports = try #require(list.json as? [[String: Any]])
            #expect(reports.count == 1)
            let report = try #require(reports.first)
            #expect(report["status"] as? String == "open")
            #expect(report["field"] as? String == "programme")
            #expect(report["record_id"] as? String == id)
            let values = try #require(report["values"] as? [[String: Any]])
            #expect(values.map { $0["value"] as? String } == ["loyalty", "recovery"])
            #expect(values.map { $0["user"] as? String } == ["claire", "bob"])
            #expect(report["resolution"] is NSNull)
            let reportID = try #require(report["id"] as? String)

            let shown = try await Self.send(
                client, .get, "/v1/admin/conflicts/\(reportID)", token: hub.adminToken, contentType: nil)
            #expect((shown.json as? [String: Any])?["id"] as? String == reportID)
            #expect(
                try await Self.send(client, .get, "/v1/admin/conflicts/nope", token: hub.adminToken, contentType: nil)
                    .status == 404)
            #expect(
                try await Self.send(
                    client, .get, "/v1/admin/conflicts?status=weird", token: hub.adminToken, contentType: nil
                ).status == 400)

            let badPick = try await Self.send(
                client, .post, "/v1/admin/conflicts/\(reportID)/resolve", token: hub.adminToken,
                body: Array(#"{"pick": 9, "reason": "x"}"#.utf8), contentType: "application/json")
            #expect(badPick.status == 400)
            let both = try await Self.send(
                client, .post, "/v1/admin/conflicts/\(reportID)/resolve", token: hub.adminToken,
                body: Array(#"{"pick": 0, "value": "loyalty"}"#.utf8), contentType: "application/json")
            #expect(both.status == 400)
            let resolved = try await Self.send(
                client, .post, "/v1/admin/conflicts/\(reportID)/resolve", token: hub.adminToken,
                body: Array(#"{"pick": 1, "reason": "agreed with the manager"}"#.utf8), contentType: "application/json")
            #expect(resolved.status == 200)
            let after = try #require(resolved.json as? [String: Any])
            #expect(after["status"] as? String == "resolved")
            let resolution = try #require(after["resolution"] as? [String: Any])
            #expect(resolution["by"] as? String == "admin" && resolution["value"] as? String == "recovery")
            #expect(resolution["reason"] as? String == "agreed with the manager")
            let unfiltered = try await Self.send(
                client, .get, "/v1/admin/conflicts", token: hub.adminToken, contentType: nil)
            #expect((unfiltered.json as? [Any])?.count == 1)
        }
    }

    @Test func adminDevicesAndEvents() async throws {
        try await withRouter { hub, client in
            let claire = try await Self.enroll(hub, client, "claire")
            let listed = try await Self.send(client, .get, "/v1/admin/devices", token: hub.adminToken, contentType: nil)
            let devices = try #require(listed.json as? [[String: Any]])
            #expect(devices.map { $0["user"] as? String } == ["claire"])
            #expect(devices.first?["status"] as? String == "active")
            let revoked = try await Self.send(
                client, .post, "/v1/admin/devices/\(claire.replica)/revoke", token: hub.adminToken, contentType: nil)
            #expect(revoked.status == 200 && (revoked.json as? [String: Any])?["status"] as? String == "revoked")
            #expect(
                try await Self.send(client, "/v1/pull", Wire.pull(cursor: 0), token: claire.token).errorCode
                    == "device_revoked")
            #expect(
                try await Self.send(
                    client, .post, "/v1/admin/devices/999/revoke", token: hub.adminToken, contentType: nil
                ).status == 404)
            let events = try await Self.send(
                client, .get, "/v1/admin/events?limit=10", token: hub.adminToken, contentType: nil)
            let kinds = try #require(events.json as? [[String: Any]]).map { $0["kind"] as? String }
            #expect(kinds == ["device_revoked", "device_enrolled", "schema_applied"])
        }
    }

    /// A device whose writes from `unsent_from` on already reached the hub (a copy of its file pushed
    /// them) is refused the snapshot, which would hold what it then replays; from the next counter on,
    /// or naming none, it is served. A value that is not a counter is a bad request.
    @Test func aSnapshotIsRefusedWhenTheHubHoldsTheWritesNamedUnsent() async throws {
        try await withRouter { hub, client in
            let claire = try await Self.enroll(hub, client, "claire")
            let writes = (1...2).map { Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: $0) }
            let push = try await Self.send(client, "/v1/push", Wire.push(claire.replica, writes), token: claire.token)
            #expect(push.status == 200)
            func snapshot(_ query: String) async throws -> Answer {
                try await Self.send(
                    client, .get, "/v1/snapshot?schema_version=\(Schema.crm.version)" + query, token: claire.token,
                    contentType: nil)
            }
            for counter in [1, 2] {
                let refused = try await snapshot("&unsent_from=\(counter)")
                #expect(refused.status == 404)
                #expect(refused.errorCode == "snapshot_unavailable")
            }
            let served = try await snapshot("&unsent_from=3")
            #expect(served.status == 200)
            #expect(served.headers[HTTPFields.Element.Name("Relais-Snapshot-Cursor")!] == "2")
            #expect(try await snapshot("").status == 200)
            for bad in ["-1", "two", ""] {
                let answer = try await snapshot("&unsent_from=\(bad)")
                #expect(answer.status == 400)
                #expect(answer.errorCode == "bad_request")
            }
        }
    }

    /// A snapshot file gone from the hub's folder between the pick and the open (a newer build
    /// replaced it, or something cleaned the folder) is built again and served, not answered as an
    /// unknown method.
    @Test func aSnapshotFileGoneFromTheFolderIsBuiltAgainAndServed() async throws {
        try await withRouter { hub, client in
            let claire = try await Self.enroll(hub, client, "claire")
            let writes = (1...2).map { Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: $0) }
            #expect(
                try await Self.send(client, "/v1/push", Wire.push(claire.replica, writes), token: claire.token).status
                    == 200)
            func snapshot() async throws -> Answer {
                try await Self.send(
                    client, .get, "/v1/snapshot?schema_version=\(Schema.crm.version)", token: claire.token,
                    contentType: nil)
            }
            let first = try await snapshot()
            #expect(first.status == 200)
            let folder = try #require(hub.service.configuration.snapshotFolder)
            let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".snapshot") }
            #expect(files.count == 1)
            for file in files { try FileManager.default.removeItem(atPath: folder + "/" + file) }

            let again = try await snapshot()
            #expect(again.status == 200, "\(again.status) \(again.errorCode ?? "")")
            #expect(again.body.count > 0 && again.headers[.contentLength] == String(again.body.count))
            #expect(again.headers[HTTPFields.Element.Name("Relais-Snapshot-Cursor")!] == "2")
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".snapshot") }.count
                    == 1)
            // Two downloads, two snapshots served: the miss counts none.
            let metrics = try await Self.send(client, .get, "/metrics", contentType: nil)
            #expect(String(decoding: metrics.body, as: UTF8.self).contains("relais_snapshots_served_total 2\n"))
        }
    }

    /// PostgreSQL refuses a NUL character in text, so none may reach its text columns from a request:
    /// an identifier holding one is refused whole, and a value or reason holding one is a rejected
    /// write, not a failed push that the laptop would retry for ever. On both stores, the same
    /// answers.
    @Test func aNulCharacterFromALaptopIsRefusedClearlyOnEveryStore() async throws {
        try await withRouter { hub, client in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let badName = try await Self.send(client, "/v1/enroll", Wire.enroll(code, name: "lap\u{0}top"))
            #expect(badName.status == 400 && badName.errorCode == "invalid_message")
            let claire = try await Self.send(client, "/v1/enroll", Wire.enroll(code)).message(
                Relais_V1_EnrollResponse.self)
            let admin = try await Self.enroll(hub, client, "olga", territories: [], role: .admin)

            let badID = try await Self.send(
                client, "/v1/push",
                Wire.push(
                    claire.replica, [Wire.customer(id: "\u{0}" + Wire.uuid(), replica: claire.replica, counter: 1)]),
                token: claire.token)
            #expect(badID.status == 400 && badID.errorCode == "invalid_message")

            let customer = Wire.uuid()
            let answer = try await Self.send(
                client, "/v1/push",
                Wire.push(
                    claire.replica,
                    [
                        // A territory she does not hold, named with a NUL: the reason quotes it.
                        Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 1, territory: "nor\u{0}th"),
                        // A value outside the field's list, and a reference that is no id.
                        Wire.customer(
                            id: Wire.uuid(), replica: claire.replica, counter: 2,
                            extra: ["status": .text("act\u{0}ive")]),
                        Wire.write(
                            "contacts", id: Wire.uuid(), replica: claire.replica, counter: 3,
                            fields: ["customer_id": .text("x\u{0}y"), "name": .text("Anna")]),
                        Wire.customer(id: customer, replica: claire.replica, counter: 4),
                    ]),
                token: claire.token)
            #expect(answer.status == 200, "\(answer.status) \(answer.errorCode ?? "")")
            let results = try answer.message(Relais_V1_PushResponse.self).results
            #expect(results.map(\.status) == [.rejected, .rejected, .rejected, .applied])
            #expect(results.allSatisfy { !$0.reason.contains("\u{0}") })
            #expect(results.first?.reason.contains("nor\\u0000th") == true, "\(results.first?.reason ?? "")")

            // An admin sees every territory: a territory named with a NUL is refused as a value.
            let byAdmin = try await Self.send(
                client, "/v1/push",
                Wire.push(
                    admin.replica,
                    [
                        Wire.customer(id: Wire.uuid(), replica: admin.replica, counter: 1, territory: "nor\u{0}th"),
                        Wire.customer(id: Wire.uuid(), replica: admin.replica, counter: 2),
                    ]),
                token: admin.token)
            #expect(byAdmin.status == 200, "\(byAdmin.status) \(byAdmin.errorCode ?? "")")
            let adminResults = try byAdmin.message(Relais_V1_PushResponse.self).results
            #expect(adminResults.map(\.status) == [.rejected, .applied])
            #expect(adminResults.first?.code == "invalid_value", "\(adminResults.first?.code ?? "")")

            // The hub took what was valid, and the laptop goes on.
            let stored = try await hub.store.read { try await $0.record(collection: "customers", id: customer) }
            #expect(stored?.state.isDeleted == false)
            let next = try await Self.send(
                client, "/v1/push",
                Wire.push(claire.replica, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 5)]),
                token: claire.token)
            #expect(try next.message(Relais_V1_PushResponse.self).results.map(\.status) == [.applied])

            // A renewal's reason is the administrators' log text: the laptop renews all the same.
            var renew = Relais_V1_ReplicaRenewRequest()
            renew.reason = "restored\u{0}from a backup"
            renew.counter = 5
            let renewed = try await Self.send(client, "/v1/replica/renew", renew, token: claire.token)
            #expect(renewed.status == 200, "\(renewed.status) \(renewed.errorCode ?? "")")
            let events = try await hub.store.read { try await $0.events(kinds: [.deviceRenewed], limit: 5) }
            #expect(events.contains { $0.detail.contains("restored\\u0000from a backup") })
        }
    }

    @Test func healthAndMetrics() async throws {
        try await withRouter { hub, client in
            let health = try await Self.send(client, .get, "/v1/health", contentType: nil)
            #expect(health.status == 200)
            #expect((health.json as? [String: Any])?["status"] as? String == "ok")
            let claire = try await Self.enroll(hub, client, "claire")
            _ = try await Self.send(
                client, "/v1/push",
                Wire.push(claire.replica, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 1)]),
                token: claire.token)
            let metrics = try await Self.send(client, .get, "/metrics", contentType: nil)
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(metrics.status == 200)
            #expect(text.contains(#"relais_writes_total{outcome="applied"} 1"#))
            #expect(text.contains("relais_http_requests_total"))
            #expect(text.contains(#"relais_device_lag{replica="\#(claire.replica)"}"#))
            #expect(text.contains("relais_open_conflicts 0"))
            // What the alert rules of Deploy/prometheus read.
            #expect(
                text.contains(#"relais_device_last_seen_timestamp_seconds{replica="\#(claire.replica)",user="claire"}"#)
            )
            #expect(text.contains("relais_store_size_bytes "))
            #expect(text.contains("relais_store_size_bytes 0\n") == false)
            if hub.storeKind == .sqlite { #expect(text.contains("relais_store_available_bytes ")) }
        }
    }
}
