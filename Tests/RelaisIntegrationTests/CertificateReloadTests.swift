import Foundation
import RelaisTesting
import Testing

/// `relais-hub serve --tls-cert … --tls-key …` reads its certificate again on SIGHUP, as a renewal
/// script expects (Deploy/README.md, "TLS"), without a restart; a laptop follows a new CA with
/// `relais trust`.
struct CertificateReloadTests {
    @Test(.enabled(if: Services.opensslPath != nil, "needs openssl"))
    func sighupReloadsTheCertificateWithoutARestart() async throws {
        let folder = try TemporaryFolder(prefix: "tls-reload")
        defer { folder.remove() }
        let old = folder.path + "/old"
        let renewed = folder.path + "/renewed"
        for path in [old, renewed] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        let oldPair = try await TestCA.make(in: old)
        let renewedPair = try await TestCA.make(in: renewed)

        // The hub serves copies of the old pair, which a renewal overwrites in place.
        let certificate = folder.path + "/hub.pem"
        let key = folder.path + "/hub-key.pem"
        try FileManager.default.copyItem(atPath: oldPair.certificate, toPath: certificate)
        try FileManager.default.copyItem(atPath: oldPair.key, toPath: key)
        let data = folder.path + "/hub"
        let initialized = try await Tools.run("relais-hub", ["init", "--data", data, "--json"], in: folder.path)
        let token = try #require(try initialized.object()["admin_token"] as? String, "\(initialized)")
        let hub = try await HubProcess.start(
            store: ["--data", data, "--tls-cert", certificate, "--tls-key", key], in: folder.path)
        defer { hub.stop() }
        #expect(hub.url.hasPrefix("https://"))

        /// Whether the admin API answers over a new connection that trusts only `ca`.
        func answers(trusting ca: String) async throws -> Bool {
            let listed = try await Tools.run(
                "relais", ["admin", "conflicts", "list", "--hub", hub.url, "--token", token, "--ca-file", ca],
                in: folder.path)
            return listed.status == 0
        }
        #expect(try await answers(trusting: old + "/ca.pem"))
        #expect(try await !answers(trusting: renewed + "/ca.pem"))

        // A laptop enrolled on the old CA.
        let added = try await Tools.run(
            "relais-hub", ["user", "add", "claire", "--role", "rep", "--territory", "north", "--data", data, "--json"],
            in: folder.path)
        let code = try #require(try added.object()["enrollment_code"] as? String, "\(added)")
        let enrolled = try await Tools.run(
            "relais", ["enroll", "--hub", hub.url, "--code", code, "--db", "claire.relais", "--ca-file", "old/ca.pem"],
            in: folder.path)
        #expect(enrolled.status == 0, "\(enrolled)")

        try FileManager.default.removeItem(atPath: certificate)
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.copyItem(atPath: renewedPair.certificate, toPath: certificate)
        try FileManager.default.copyItem(atPath: renewedPair.key, toPath: key)
        hub.signal(SIGHUP)
        let reloaded = try await eventually(within: .seconds(30), every: .milliseconds(100)) {
            try await answers(trusting: renewed + "/ca.pem")
        }
        #expect(reloaded, "the hub still presents the old certificate after SIGHUP")
        #expect(try await !answers(trusting: old + "/ca.pem"))
        #expect(hub.isRunning)

        // The laptop no longer trusts the hub (exit 4, writes kept) until it is told the new CA.
        let refused = try await Tools.run("relais", ["sync", "--db", "claire.relais"], in: folder.path)
        #expect(refused.status == 4, "\(refused)")
        let trusted = try await Tools.run(
            "relais", ["trust", "--ca-file", "renewed/ca.pem", "--db", "claire.relais"], in: folder.path)
        #expect(trusted.status == 0, "\(trusted)")
        let synced = try await Tools.run("relais", ["sync", "--db", "claire.relais"], in: folder.path)
        #expect(synced.status == 0, "\(synced)")
    }
}
