import Foundation
import RelaisTesting
import Testing

/// Deploy/nginx/relais.conf as an office runs it: nginx terminates TLS on a certificate of the
/// firm's own CA and spreads requests over two hubs on one PostgreSQL database; laptops enrolled
/// with `--ca-file` sync through it over HTTPS.
@Suite(.serialized)
struct NginxTLSTests {
    @Test(.enabled(if: Services.severalHubs && Services.opensslPath != nil, Services.skipReason))
    func laptopsSyncThroughNginxOverHTTPSWithTheFirmsCA() async throws {
        let folder = try TemporaryFolder(prefix: "nginx-tls")
        let database = try await ScenarioDatabase.create()
        var hubs: [HubProcess] = []
        var balancer: Balancer?
        defer {
            for hub in hubs { hub.stop() }
            balancer?.stop()
            folder.remove()
        }
        do {
            let ca = try await TestCA.make(in: folder.path)
            let store = ["--postgres", database.url]
            let initialized = try await Tools.run("relais-hub", ["init"] + store + ["--json"], in: folder.path)
            #expect(initialized.status == 0, "\(initialized)")
            hubs = [
                try await HubProcess.start(store: store, in: folder.path),
                try await HubProcess.start(store: store, in: folder.path),
            ]
            let nginx = try await Balancer.start(
                upstreams: hubs.map { "127.0.0.1:\($0.port)" }, in: folder.path + "/nginx",
                tls: (certificate: ca.certificate, key: ca.key))
            balancer = nginx
            #expect(nginx.url.hasPrefix("https://"))

            func code(for user: String) async throws -> String {
                let added = try await Tools.run(
                    "relais-hub", ["user", "add", user, "--role", "rep", "--territory", "north"] + store + ["--json"],
                    in: folder.path)
                return try #require(try added.object()["enrollment_code"] as? String, "\(added)")
            }

            // Without the firm's CA the certificate is refused: exit 4, and no file is made.
            let claireCode = try await code(for: "claire")
            let refused = try await Tools.run(
                "relais", ["enroll", "--hub", nginx.url, "--code", claireCode, "--db", "untrusted.relais"],
                in: folder.path)
            #expect(refused.status == 4, "\(refused)")
            #expect(!FileManager.default.fileExists(atPath: folder.path + "/untrusted.relais"))

            // With it (a relative path, kept absolute in the file), enrollment and syncs go through.
            var laptops: [String] = []
            for (user, userCode) in [("claire", claireCode), ("marc", try await code(for: "marc"))] {
                let db = "\(user).relais"
                let enrolled = try await Tools.run(
                    "relais", ["enroll", "--hub", nginx.url, "--code", userCode, "--db", db, "--ca-file", "ca.pem"],
                    in: folder.path)
                #expect(enrolled.status == 0, "\(enrolled)")
                laptops.append(db)
            }
            let added = try await Tools.run(
                "relais", ["add", "customers", "name=Boulangerie Martin", "territory=north", "--db", laptops[0]],
                in: folder.path)
            #expect(added.status == 0, "\(added)")
            let id = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            // From another folder: the CA file's path was kept absolute.
            for db in laptops + laptops {
                let synced = try await Tools.run(
                    "relais", ["sync", "--json", "--db", folder.path + "/" + db], in: "/")
                #expect(synced.status == 0, "\(synced)")
            }
            let got = try await Tools.run(
                "relais", ["get", "customers", id, "--json", "--db", laptops[1]], in: folder.path)
            #expect(got.status == 0, "\(got)")
            #expect(try got.object()["name"] as? String == "Boulangerie Martin")

            // Every request went through nginx, and both hubs served some.
            let served = Set(nginx.upstreamsServed())
            #expect(served.isSuperset(of: hubs.map { "127.0.0.1:\($0.port)" }), "\(served)")
        } catch {
            await database.drop()
            throw error
        }
        await database.drop()
    }
}
