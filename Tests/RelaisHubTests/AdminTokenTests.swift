import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisHub
import RelaisTesting
import Testing

/// Admin API tokens: issued to admins only, listed by id without the secret, revoked at once
/// (docs/SECURITY.md, "Admin tokens").
struct AdminTokenTests {
    @Test func aRevokedTokenIsRefusedAtTheNextRequestAndOthersKeepWorking() async throws {
        try await HubFixture.with { hub in
            _ = try await hub.service.addUser("alice", role: .admin, territories: [])
            let alice = try await hub.service.issueAPIToken(for: "alice")
            let spare = try await hub.service.issueAPIToken(for: "alice")
            let app = Application(router: HubServer.router(service: hub.service))
            try await app.test(.router) { client in
                func status(_ token: String) async throws -> Int {
                    try await HubRouterTests.send(client, .get, "/v1/admin/conflicts", token: token).status
                }
                #expect(try await status(alice) == 200)

                let tokens = try await hub.service.apiTokens()
                // The hub's own first token, then alice's two; an id never shows the token.
                #expect(tokens.count == 3)
                for token in tokens {
                    #expect(token.id.count == 12)
                    #expect(!alice.contains(token.id) && !spare.contains(token.id))
                }
                let id = try #require(tokens.first { $0.tokenHash == Secrets.hash(alice) }?.id)
                let revoked = try await hub.service.revokeAPIToken(id: id)
                #expect(revoked.revokedAt != nil && revoked.user == "alice")
                #expect(try await status(alice) == 401)
                #expect(try await status(spare) == 200)
                #expect(try await status(hub.adminToken) == 200)
                // Revoking again changes nothing.
                #expect(try await hub.service.revokeAPIToken(id: id.uppercased()).revokedAt == revoked.revokedAt)
            }
        }
    }

    @Test func tokensGoToAdminsOnlyAndAnIdMustNameExactlyOne() async throws {
        try await HubFixture.with { hub in
            _ = try await hub.addUser("claire", role: .rep, territories: ["north"])
            await #expect(throws: HubError.forbidden) { try await hub.service.issueAPIToken(for: "claire") }
            await #expect(throws: HubError.notFound) { try await hub.service.issueAPIToken(for: "nobody") }
            await #expect(throws: HubError.badRequest) { try await hub.service.revokeAPIToken(id: "abc") }
            await #expect(throws: HubError.badRequest) { try await hub.service.revokeAPIToken(id: "not-hex-at-all") }
            await #expect(throws: HubError.notFound) { try await hub.service.revokeAPIToken(id: "0000000000") }
            #expect(try await hub.service.apiTokens().allSatisfy { $0.revokedAt == nil })
        }
    }
}
