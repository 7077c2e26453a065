import Foundation
import RelaisCore
import RelaisTesting
import Testing

@testable import RelaisClient

/// The `relais` tool's contract (DESIGN §8): output shapes and exit codes, run as a user would.
struct ClientCommandLineTests {
    /// The built `relais` executable.
    static var toolPath: String { BuiltExecutable.path("relais") }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func run(_ arguments: [String]) async throws -> Run {
        let result = try await ChildProcess.run(URL(fileURLWithPath: Self.toolPath), arguments)
        return Run(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    @Test func recordCommandsAndExitCodes() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.toolPath), "build relais first")
        try await withReplica { replica, folder, _ in
            let db = folder.file("replica.db")
            let added = try await run([
                "add", "customers", "name=Café", "territory=north", "tags=b,a", "lifetime_value=", "--db", db, "--json",
            ])
            #expect(added.status == 0)
            let id = try #require((try json(added.stdout) as? [String: Any])?["id"] as? String)
            #expect(try await replica.get("customers", id: id)?["tags"] == .set(["a", "b"]))

            #expect(try await run(["set", "customers", id, "phone=0102", "--db", db]).status == 0)
            let got = try await run(["get", "customers", id, "--db", db, "--json"])
            let record = try #require(try json(got.stdout) as? [String: Any])
            #expect(record["phone"] as? String == "0102")
            #expect(record["tags"] as? [String] == ["a", "b"])
            #expect(record["lifetime_value"] == nil)

            let missing = try await run(["get", "customers", "00000000-0000-4000-8000-999999999999", "--db", db])
            #expect(missing.status == 3)
            #expect(missing.stderr.split(separator: "\n").count == 1)

            let list = try await run(["list", "customers", "--where", "territory=north", "--db", db, "--json"])
            #expect((try json(list.stdout) as? [Any])?.count == 1)
            let table = try await run(["customer", "list", "--db", db])
            #expect(table.stdout.hasPrefix("id  "))
            #expect(table.stdout.contains("Café"))

            #expect(try await run(["add", "customers", "name", "--db", db]).status == 2)
            #expect(try await run(["add", "customers", "name=X", "--db", db]).status == 1)  // territory missing
            #expect(try await run(["frobnicate", "--db", db]).status == 2)

            let status = try await run(["status", "--db", db, "--json"])
            let fields = try #require(try json(status.stdout) as? [String: Any])
            #expect(fields["pending"] as? Int == 1)
            #expect(fields["replica"] as? Int == 7)
            #expect(fields["cursor"] as? Int == 0)
            #expect(fields["last_sync"] is NSNull)
            #expect(!status.stdout.contains("secret-token"))

            let export = try await run(["export", "--db", db, "--json"])
            #expect(export.stdout == String(decoding: try await replica.export(), as: UTF8.self) + "\n")

            // The hub at 127.0.0.1:1 refuses connections: exit 4, the writes stay pending.
            let sync = try await run(["sync", "--db", db])
            #expect(sync.status == 4)
            #expect(sync.stderr.contains("hub unreachable: 1 write kept pending"))
            #expect(try await replica.pendingCount() == 1)
        }
    }

    @Test func importReportsBadLinesAndImportsNothing() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.toolPath), "build relais first")
        try await withReplica { replica, folder, _ in
            let file = folder.file("customers.csv")
            try "name,territory,lifetime_value\nA,north,\nB,,\nC,north,lots\n".write(
                toFile: file, atomically: true, encoding: .utf8)
            let bad = try await run(["import", "customers", file, "--csv", "--db", folder.file("replica.db")])
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("line 3"))
            #expect(bad.stderr.contains("line 4"))
            #expect(try await replica.list("customers").isEmpty)
        }
    }
}
