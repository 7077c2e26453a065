import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

/// The `relais-hub` tool's contract (DESIGN §8): outputs, JSON keys and exit codes.
struct HubCommandLineTests {
    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// `serve` takes each setting from its flag, else its RELAIS_* variable, else the --config file;
    /// a malformed value or an unknown file key is a usage error (exit 2) that names it.
    @Test(.timeLimit(.minutes(2))) func serveSettingsComeFromFlagsThenEnvironmentThenFile() async throws {
        let folder = try TemporaryFolder(prefix: "serve-config")
        defer { folder.remove() }
        let data = folder.path + "/data"
        #expect(try await HubProcess.run(["init", "--data", data]).status == 0)
        func write(_ name: String, _ json: String) throws -> String {
            let path = folder.path + "/" + name
            try json.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        // The file alone.
        let good = try write(
            "good.json", #"{"data": "\#(data)", "host": "127.0.0.1", "purgeInterval": 60, "warmReports": false}"#)
        let fromFile = try await HubProcess.start(store: ["--config", good])
        #expect(fromFile.url.hasPrefix("http://127.0.0.1:"))
        fromFile.stop()
        // The variable wins over the file (whose folder holds no store).
        let elsewhere = try write("elsewhere.json", #"{"data": "\#(folder.path)/none"}"#)
        let fromEnvironment = try await HubProcess.start(
            store: ["--config", elsewhere], environment: ["RELAIS_DATA": data])
        fromEnvironment.stop()
        #expect(try await HubProcess.run(["serve", "--config", elsewhere, "--port", "0"]).status == 1)
        // The flag wins over the variable.
        let fromFlag = try await HubProcess.start(
            store: ["--data", data], environment: ["RELAIS_DATA": folder.path + "/none"])
        fromFlag.stop()

        // Refusals, each naming what is wrong.
        let unknown = try write("unknown.json", #"{"data": "\#(data)", "prot": 7420, "tls": {"crt": "x"}}"#)
        let typo = try await HubProcess.run(["serve", "--config", unknown])
        #expect(typo.status == 2 && typo.stderr.contains("prot, tls.crt"))
        let result = try await ChildProcess.run(
            BuiltExecutable.url("relais-hub"), ["serve", "--config", good],
            environment: ProcessInfo.processInfo.environment.merging(["RELAIS_PORT": "seventy"]) { _, new in new })
        #expect(result.status == 2 && result.stderr.contains("port") && result.stderr.contains("seventy"))
        let notABool = try await ChildProcess.run(
            BuiltExecutable.url("relais-hub"), ["serve", "--config", good],
            environment: ProcessInfo.processInfo.environment.merging(["RELAIS_WARM_REPORTS": "maybe"]) { _, new in new }
        )
        #expect(
            notABool.status == 2 && notABool.stderr.contains("warmReports") && notABool.stderr.contains("maybe"),
            "\(notABool.stderr)")
        let nothing = try await HubProcess.run(["serve"])
        #expect(nothing.status == 2 && nothing.stderr.contains("RELAIS_DATA"))
        let malformed = try write("malformed.json", "{ not json")
        #expect(try await HubProcess.run(["serve", "--config", malformed]).status == 2)
        // Deploy's example names only fields the hub reads (it fails later, on its certificate, which
        // is not on this machine).
        let example = BuiltExecutable.packageRoot.appendingPathComponent("Deploy/relais-hub.example.json").path
        let deployed = try await HubProcess.run(["serve", "--config", example])
        #expect(deployed.status == 2 && deployed.stderr.contains("tls.cert: cannot read"), "\(deployed.stderr)")
        #expect(!deployed.stderr.contains("unknown settings"))
        // A certificate that is not there, or a key that is not a key: a usage error naming it, and
        // nothing started.
        let absent = try await HubProcess.run([
            "serve", "--data", folder.path, "--tls-cert", folder.path + "/absent.pem", "--tls-key",
            folder.path + "/absent-key.pem",
        ])
        #expect(absent.status == 2 && absent.stderr.contains("tls.cert"), "\(absent.stderr)")
        let garbage = try write("garbage.pem", "not a certificate")
        let unreadable = try await HubProcess.run([
            "serve", "--data", folder.path, "--tls-cert", garbage, "--tls-key", garbage,
        ])
        #expect(unreadable.status == 2 && unreadable.stderr.contains("tls.cert"), "\(unreadable.stderr)")
    }

    /// The edge settings (timeouts, connection cap, rate limits) come from flags, RELAIS_* variables and
    /// the --config file like every other, and the hub applies them; a malformed one is a usage error.
    @Test(.timeLimit(.minutes(2))) func serveEdgeSettingsComeFromFlagsEnvironmentAndFile() async throws {
        let folder = try TemporaryFolder(prefix: "serve-edges")
        defer { folder.remove() }
        let data = folder.path + "/data"
        #expect(try await HubProcess.run(["init", "--data", data]).status == 0)
        // The file: a 0.3 s header timeout closes a silent connection (the default would wait 10 s).
        let path = folder.path + "/edges.json"
        try #"{"data": "\#(data)", "headerTimeout": 0.3, "syncRate": 0}"#.write(
            toFile: path, atomically: true, encoding: .utf8)
        let fromFile = try await HubProcess.start(store: ["--config", path])
        #expect(try await RawSocket(port: fromFile.port).closed(within: 5))
        fromFile.stop()
        // A variable: one refused enrollment a minute per address, then 429 with Retry-After.
        let fromEnvironment = try await HubProcess.start(
            store: ["--data", data], environment: ["RELAIS_ENROLL_RATE": "1"])
        let guess =
            "POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n"
            + #"{"code": "AAAA-BBBB-CCCC-0"}"#
        let first = try await RawSocket(port: fromEnvironment.port).exchange(guess)
        #expect(first.hasPrefix("HTTP/1.1 403"), "\(first.prefix(200))")
        let second = try await RawSocket(port: fromEnvironment.port).exchange(guess)
        #expect(
            second.hasPrefix("HTTP/1.1 429") && second.lowercased().contains("retry-after: "), "\(second.prefix(300))")
        fromEnvironment.stop()
        // A flag: one connection at most; the next is closed at once, the first still served.
        let fromFlag = try await HubProcess.start(store: ["--data", data, "--max-connections", "1"])
        let held = try RawSocket(port: fromFlag.port)
        #expect(try await held.exchange("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        #expect(try await RawSocket(port: fromFlag.port).closed(within: 5))
        #expect(try await held.exchange("GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        fromFlag.stop()
        // Malformed values, each named.
        let zero = try await HubProcess.run(["serve", "--data", data, "--max-connections", "0"])
        #expect(zero.status == 2 && zero.stderr.contains("maxConnections"), "\(zero.stderr)")
        let result = try await ChildProcess.run(
            BuiltExecutable.url("relais-hub"), ["serve", "--data", data],
            environment: ProcessInfo.processInfo.environment.merging(["RELAIS_IDLE_TIMEOUT": "soon"]) { _, new in new })
        #expect(result.status == 2 && result.stderr.contains("idleTimeout") && result.stderr.contains("soon"))
        let negative = try await HubProcess.run(["serve", "--data", data, "--token-grace-days=-1"])
        #expect(negative.status == 2 && negative.stderr.contains("tokenGraceDays"), "\(negative.stderr)")
    }

    /// The device token's lifetime comes from the settings: a laptop enrolled with a hub serving
    /// `RELAIS_DEVICE_TOKEN_DAYS=2` holds a token that expires two days after it was issued, and
    /// rotates it after one; with `--device-token-days 0` tokens never expire (and are not rotated).
    @Test(.timeLimit(.minutes(2))) func theDeviceTokenLifetimeComesFromTheSettings() async throws {
        let folder = try TemporaryFolder(prefix: "serve-tokens")
        defer { folder.remove() }
        let data = folder.path + "/data"
        #expect(try await HubProcess.run(["init", "--data", data]).status == 0)
        func code() async throws -> String {
            let added = try await HubProcess.run(["user", "code", "claire", "--data", data, "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any]
            return try #require(object?["enrollment_code"] as? String, "\(added)")
        }
        _ = try await HubProcess.run(["user", "add", "claire", "--role", "rep", "--territory", "north", "--data", data])
        for (arguments, environment, lifetime) in [
            ([String](), ["RELAIS_DEVICE_TOKEN_DAYS": "2"], Int64(2 * 86_400_000)),
            (["--device-token-days", "0"], [:], 0),
        ] {
            let hub = try await HubProcess.start(store: ["--data", data] + arguments, environment: environment)
            let path = folder.file("claire-\(lifetime).relais")
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            _ = try await Replica.enroll(hub: hub.url, code: try await code(), path: path)
            hub.stop()
            let state = try Connection(path: path, mode: .readOnly)
            let expires = try #require(
                try state.scalar("SELECT value FROM _relais_state WHERE key = 'token_expires_at'")?.int64Value)
            let rotate = try #require(
                try state.scalar("SELECT value FROM _relais_state WHERE key = 'token_rotate_at'")?.int64Value)
            if lifetime == 0 {
                #expect(expires == 0 && rotate == 0)
            } else {
                #expect(expires - rotate == lifetime / 2)
                #expect(expires >= before + lifetime && expires < before + lifetime + 60_000)
            }
        }
    }

    /// `--metrics-port` moves `/metrics` to its own listener (on 127.0.0.1 unless `--metrics-host`
    /// says otherwise): the sync port, which faces the laptops, answers it 404.
    @Test func metricsCanHaveTheirOwnAddress() async throws {
        let folder = try TemporaryFolder(prefix: "serve-metrics")
        defer { folder.remove() }
        let data = folder.path + "/data"
        #expect(try await HubProcess.run(["init", "--data", data]).status == 0)
        let metricsPort = try LoopbackPort.free()
        let hub = try await HubProcess.start(store: ["--data", data, "--metrics-port", String(metricsPort)])
        defer { hub.stop() }
        let onSyncPort = try await RawSocket(port: hub.port).exchange(
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(onSyncPort.hasPrefix("HTTP/1.1 404"), "\(onSyncPort.prefix(200))")
        var own = ""
        _ = try await eventually(within: .seconds(5), every: .milliseconds(100)) {
            own =
                (try? await RawSocket(port: metricsPort).exchange("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
                ?? ""
            return own.hasPrefix("HTTP/1.1 200")
        }
        #expect(own.hasPrefix("HTTP/1.1 200") && own.contains("relais_"), "\(own.prefix(300))")
        let alone = try await HubProcess.run(["serve", "--data", data, "--metrics-host", "127.0.0.1"])
        #expect(alone.status == 2 && alone.stderr.contains("--metrics-port"), "\(alone.stderr)")
    }

    /// Both tools name their release, so that an office can tell which binary a laptop or the
    /// server runs before an upgrade (Deploy/README.md, "Upgrading").
    @Test func bothToolsPrintTheirVersion() async throws {
        for tool in ["relais", "relais-hub"] {
            let result = try await ChildProcess.run(BuiltExecutable.url(tool), ["--version"])
            #expect(result.status == 0)
            #expect(result.stdout == "\(tool) \(RelaisVersion.release) (wire protocol v1)\n")
        }
    }

    @Test func initUserDeviceExport() async throws {
        let folder = try TemporaryFolder(prefix: "cli")
        defer { folder.remove() }
        let data = folder.path + "/new/data"
        let initialized = try await HubProcess.run(["init", "--data", data, "--json"])
        #expect(initialized.status == 0)
        let token = try #require((try json(initialized.stdout) as? [String: Any])?["admin_token"] as? String)
        #expect(token.hasPrefix("rlt_"))
        // A folder that already holds a store is refused.
        let again = try await HubProcess.run(["init", "--data", data])
        #expect(again.status == 1)
        #expect(again.stderr.hasPrefix("relais-hub: ") && again.stderr.split(separator: "\n").count == 1)

        let added = try await HubProcess.run([
            "user", "add", "claire", "--role", "rep", "--territory", "north", "--data", data, "--json",
        ])
        #expect(added.status == 0)
        let object = try #require(try json(added.stdout) as? [String: Any])
        #expect(object["user"] as? String == "claire")
        let code = try #require(object["enrollment_code"] as? String)
        #expect(try await HubProcess.run(["user", "add", "claire", "--role", "rep", "--data", data]).status == 1)

        // Enroll through the library on the same file, then list and revoke with the tool.
        let store = try SQLiteHubStore(folder: data, create: false)
        let hub = HubService(store: store, logger: HubLogging.standardError(label: "test"))
        let device = try await hub.enroll(Wire.enroll(code, name: "Claire's laptop"))
        _ = try await hub.push(
            Wire.push(device.replica, [Wire.customer(id: Wire.uuid(), replica: device.replica, counter: 1)]),
            from: try await hub.authenticate(token: device.token))
        await store.close()

        let listed = try await HubProcess.run(["device", "list", "--data", data, "--json"])
        #expect(listed.status == 0)
        let devices = try #require(try json(listed.stdout) as? [[String: Any]])
        #expect(devices.count == 1)
        #expect(devices.first?["user"] as? String == "claire")
        #expect(devices.first?["name"] as? String == "Claire's laptop")
        #expect(devices.first?["status"] as? String == "active")
        #expect(devices.first?["highest_counter"] as? Int == 1)

        let export = try await HubProcess.run(["export", "--user", "claire", "--data", data, "--json"])
        #expect(export.status == 0)
        let exported = try #require(try json(export.stdout) as? [String: Any])
        #expect((exported["customers"] as? [[String: Any]])?.first?["name"] as? String == "Café Müller")
        #expect((exported["contacts"] as? [Any])?.isEmpty == true)

        #expect(try await HubProcess.run(["device", "revoke", String(device.replica), "--data", data]).status == 0)
        #expect(try await HubProcess.run(["device", "revoke", "999", "--data", data]).status == 3)
        #expect(try await HubProcess.run(["export", "--user", "nobody", "--data", data, "--json"]).status == 3)
    }

    /// `token issue|list|revoke` and `user disable|enable` on a store a running hub serves: the hub
    /// refuses a revoked token (through `relais admin`) and a disabled user's device at their next
    /// request; `token list` never prints a token; a wrong id is one line on stderr and a non-zero exit.
    @Test(.timeLimit(.minutes(2))) func tokensAndDisabledUsersWhileTheHubServes() async throws {
        let folder = try TemporaryFolder(prefix: "tokens")
        defer { folder.remove() }
        let data = folder.path + "/data"
        let initialized = try await HubProcess.run(["init", "--data", data, "--json"])
        let first = try #require((try json(initialized.stdout) as? [String: Any])?["admin_token"] as? String)
        let issued = try await HubProcess.run(["token", "issue", "--user", "admin", "--data", data, "--json"])
        #expect(issued.status == 0, "\(issued.stderr)")
        let object = try #require(try json(issued.stdout) as? [String: Any])
        let second = try #require(object["token"] as? String)
        let id = try #require(object["id"] as? String)
        #expect(second.hasPrefix("rlt_") && id == APIToken.id(ofToken: second) && id.count == 12)
        let plain = try await HubProcess.run(["token", "issue", "--user", "admin", "--data", data])
        #expect(plain.status == 0 && plain.stdout.contains("rlt_"))
        #expect(try await HubProcess.run(["token", "issue", "--user", "nobody", "--data", data]).status == 3)
        let added = try await HubProcess.run([
            "user", "add", "claire", "--role", "rep", "--territory", "north", "--data", data, "--json",
        ])
        let code = try #require((try json(added.stdout) as? [String: Any])?["enrollment_code"] as? String)
        let spare = try await HubProcess.run(["user", "code", "claire", "--data", data]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let rep = try await HubProcess.run(["token", "issue", "--user", "claire", "--data", data])
        #expect(rep.status == 5 && rep.stderr.split(separator: "\n").count == 1, "\(rep.stderr)")

        // Listed: ids, users, times and statuses; never a token, nor a whole hash.
        let listed = try await HubProcess.run(["token", "list", "--data", data])
        let listedJSON = try await HubProcess.run(["token", "list", "--data", data, "--json"])
        for output in [listed.stdout, listedJSON.stdout] {
            #expect(!output.contains("rlt_") && !output.contains(Secrets.hash(second)), "\(output)")
            #expect(output.contains(id) && output.contains(APIToken.id(ofToken: first)))
        }
        let rows = try #require(try json(listedJSON.stdout) as? [[String: Any]])
        #expect(
            rows.count == 3
                && rows.allSatisfy { $0["status"] as? String == "active" && $0["user"] as? String == "admin" })
        #expect(rows.allSatisfy { ($0["created_at"] as? String)?.hasSuffix("Z") == true })

        let hub = try await HubProcess.start(data: data)
        defer { hub.stop() }
        let tokenFile = folder.path + "/token"
        try second.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        func adminList() async throws -> Int32 {
            try await ChildProcess.run(
                BuiltExecutable.url("relais"),
                ["admin", "conflicts", "list", "--hub", hub.url, "--token-file", tokenFile]
            ).status
        }
        #expect(try await adminList() == 0)
        let revoked = try await HubProcess.run(["token", "revoke", id, "--data", data])
        #expect(revoked.status == 0 && revoked.stdout.contains(id), "\(revoked.stderr)")
        #expect(try await adminList() == 5)
        let again = try await HubProcess.run(["token", "revoke", id, "--data", data])
        #expect(again.status == 0 && again.stdout.contains("already revoked"))
        let statuses = try #require(
            try json(try await HubProcess.run(["token", "list", "--data", data, "--json"]).stdout) as? [[String: Any]])
        #expect(statuses.filter { $0["status"] as? String == "revoked" }.map { $0["id"] as? String } == [id])
        for wrong in ["000000000000", "xyz", "abc"] {
            let refused = try await HubProcess.run(["token", "revoke", wrong, "--data", data])
            #expect(refused.status != 0 && refused.stdout.isEmpty, "\(wrong)")
            #expect(
                refused.stderr.hasPrefix("relais-hub: ") && refused.stderr.split(separator: "\n").count == 1,
                "\(wrong): \(refused.stderr)")
        }
        #expect(try await HubProcess.run(["token", "revoke", "000000000000", "--data", data]).status == 3)

        // Disabled while the hub serves: the laptop's next push gets 401, the spare code enrolls
        // nothing, and no new code is issued until the user is enabled again.
        try await WireClient.with(url: hub.url) { client in
            let device = try await client.enroll(code)
            func push(_ counter: UInt64) async throws -> Int {
                do {
                    _ = try await client.push(
                        device.token,
                        Wire.push(
                            device.replica, [Wire.customer(id: Wire.uuid(), replica: device.replica, counter: counter)])
                    )
                    return 200
                } catch let failure as WireClient.Failure {
                    return failure.status
                }
            }
            #expect(try await push(1) == 200)
            let disabled = try await HubProcess.run(["user", "disable", "claire", "--data", data])
            #expect(
                disabled.status == 0 && disabled.stdout.contains("1 device"), "\(disabled.stdout)\(disabled.stderr)")
            #expect(try await push(2) == 401)
            await #expect(throws: WireClient.Failure.self) { try await client.enroll(spare) }
        }
        let refusedCode = try await HubProcess.run(["user", "code", "claire", "--data", data])
        #expect(refusedCode.status == 1 && refusedCode.stderr.contains("disabled"), "\(refusedCode.stderr)")
        let users = try #require(
            try json(try await HubProcess.run(["user", "list", "--data", data, "--json"]).stdout) as? [[String: Any]])
        #expect(users.first { $0["name"] as? String == "claire" }?["status"] as? String == "disabled")
        #expect(try await HubProcess.run(["user", "disable", "nobody", "--data", data]).status == 3)
        #expect(try await HubProcess.run(["user", "enable", "claire", "--data", data]).status == 0)
        #expect(try await HubProcess.run(["user", "code", "claire", "--data", data]).status == 0)
    }

    @Test func usageErrorsAndUnavailableFeatures() async throws {
        let usage = try await HubProcess.run(["user", "add", "x", "--role", "boss", "--data", "/tmp/none"])
        #expect(usage.status == 2)
        #expect(try await HubProcess.run(["serve"]).status == 2)
        #expect(try await HubProcess.run(["frobnicate"]).status == 2)
        // A malformed or unreachable --postgres URL: one line on stderr, exit code 1, at once.
        for url in ["mysql://localhost/relais", "postgres://", "postgres://relais@127.0.0.1:1/relais"] {
            let postgres = try await HubProcess.run(["device", "list", "--postgres", url])
            #expect(postgres.status == 1, "\(url): \(postgres.stderr)")
            #expect(
                postgres.stderr.hasPrefix("relais-hub: ") && postgres.stderr.split(separator: "\n").count == 1,
                "\(url): \(postgres.stderr)")
            #expect(!postgres.stderr.contains("secret"))
        }
        let missing = try await HubProcess.run([
            "device", "list", "--data", "/tmp/relais-no-such-store-\(UUID().uuidString)",
        ])
        #expect(missing.status == 1)
        let help = try await HubProcess.run(["--help"])
        #expect(help.status == 0)
        for command in ["init", "serve", "user", "device", "token", "export", "demo"] {
            #expect(help.stdout.contains(command))
        }
        let serveHelp = try await HubProcess.run(["serve", "--help"])
        #expect(serveHelp.stdout.contains("--tls-cert") && serveHelp.stdout.contains("--port"))
    }
}
