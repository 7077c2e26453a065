import Foundation
import RelaisCore
import RelaisTesting
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The scenario of issue 6, through the built executables as a user would run them: a hub, three
/// laptops in two territories, offline edits, syncs, conflicts and an admin decision.
@Suite(.serialized)
struct EndToEndTests {
    /// Where an office keeps its hub: one hub on a data folder, or two hubs on one PostgreSQL database
    /// behind an nginx that balances every request round-robin between them.
    enum Setup: String, Sendable, CustomTestStringConvertible {
        case sqlite
        case twoHubsOnPostgres

        var testDescription: String { rawValue }
    }

    /// One office: a hub store, its running hubs (behind a balancer for two), and enrolled laptops.
    final class Office {
        let folder: TemporaryFolder
        /// `--data DIR` or `--postgres URL`, as every `relais-hub` command takes it.
        var store: [String]
        var hubs: [HubProcess]
        let balancer: Balancer?
        let database: ScenarioDatabase?
        let adminToken: String

        /// The URL laptops and admins use: the balancer's, or the one hub's.
        var url: String { balancer?.url ?? hubs[0].url }

        private init(
            folder: TemporaryFolder, store: [String], hubs: [HubProcess], balancer: Balancer?,
            database: ScenarioDatabase?,
            adminToken: String
        ) {
            self.folder = folder
            self.store = store
            self.hubs = hubs
            self.balancer = balancer
            self.database = database
            self.adminToken = adminToken
        }

        static func open(_ setup: Setup = .sqlite) async throws -> Office {
            let folder = try TemporaryFolder(prefix: "e2e")
            var database: ScenarioDatabase?
            let store: [String]
            switch setup {
            case .sqlite:
                store = ["--data", folder.path + "/hub"]
            case .twoHubsOnPostgres:
                let created = try await ScenarioDatabase.create()
                database = created
                store = ["--postgres", created.url]
            }
            let initialized = try await Tools.run("relais-hub", ["init"] + store + ["--json"], in: folder.path)
            guard initialized.status == 0, let token = try initialized.object()["admin_token"] as? String else {
                throw HubProcessError(message: "init failed: \(initialized)")
            }
            var hubs = [try await HubProcess.start(store: store, in: folder.path)]
            var balancer: Balancer?
            if setup == .twoHubsOnPostgres {
                hubs.append(try await HubProcess.start(store: store, in: folder.path))
                balancer = try await Balancer.start(
                    upstreams: hubs.map { "127.0.0.1:\($0.port)" }, in: folder.path + "/nginx")
            }
            return Office(
                folder: folder, store: store, hubs: hubs, balancer: balancer, database: database, adminToken: token)
        }

        /// Stops every hub (the balancer, if any, stays up and answers 502).
        func stopHubs() {
            for hub in hubs { hub.stop() }
        }

        /// Starts every hub again on its port.
        func restartHubs() async throws {
            var restarted: [HubProcess] = []
            for hub in hubs {
                restarted.append(try await HubProcess.start(store: store, in: folder.path, port: hub.port))
            }
            hubs = restarted
        }

        /// Stops the hubs and the balancer, drops the database, removes the folder.
        func close() async {
            stopHubs()
            balancer?.stop()
            await database?.drop()
            folder.remove()
        }

        /// Adds a user and enrolls a laptop for them; returns the replica file's path.
        func enroll(_ user: String, role: String = "rep", territories: [String]) async throws -> String {
            var arguments = ["user", "add", user, "--role", role] + store + ["--json"]
            for territory in territories { arguments += ["--territory", territory] }
            let added = try await Tools.run("relais-hub", arguments, in: folder.path)
            let code = try #require(try added.object()["enrollment_code"] as? String, "\(added)")
            let db = "\(folder.path)/\(user).relais"
            let enrolled = try await Tools.run(
                "relais", ["enroll", "--hub", url, "--code", code, "--db", db], in: folder.path)
            #expect(enrolled.status == 0, "\(enrolled)")
            return db
        }

        func relais(_ arguments: [String], db: String) async throws -> ToolResult {
            try await Tools.run("relais", arguments + ["--db", db], in: folder.path)
        }

        /// `relais sync --json`, expecting success.
        @discardableResult
        func sync(_ db: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
            let result = try await relais(["sync", "--json"], db: db)
            #expect(result.status == 0, "\(result)", sourceLocation: sourceLocation)
            return try result.object()
        }

        /// `relais get --json` as an object, or nil when not found (exit 3).
        func get(_ collection: String, _ id: String, db: String) async throws -> [String: Any]? {
            let result = try await relais(["get", collection, id, "--json"], db: db)
            if result.status == 3 { return nil }
            #expect(result.status == 0, "\(result)")
            return try result.object()
        }

        /// The admin API's conflicts on one record.
        func conflicts(recordID: String) async throws -> [[String: Any]] {
            var request = URLRequest(url: URL(string: "\(url)/v1/admin/conflicts?limit=1000")!)
            request.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization")
            let (body, _) = try await URLSession.shared.data(for: request)
            let all = try #require(
                try JSONSerialization.jsonObject(with: body) as? [[String: Any]],
                "\(String(decoding: body, as: UTF8.self))")
            return all.filter { $0["record_id"] as? String == recordID }
        }

        func resolve(_ id: String, pick: Int, reason: String) async throws -> Int {
            var request = URLRequest(url: URL(string: "\(url)/v1/admin/conflicts/\(id)/resolve")!)
            request.httpMethod = "POST"
            request.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization")
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: ["pick": pick, "reason": reason])
            let (_, response) = try await URLSession.shared.data(for: request)
            return (response as? HTTPURLResponse)?.statusCode ?? 0
        }

        deinit {
            stopHubs()
            balancer?.stop()
        }
    }

    @Test func aWeekOfOfflineWorkConverges() async throws {
        let office = try await Office.open(.sqlite)
        do {
            try await Self.aWeekOfOfflineWork(office)
        } catch {
            await office.close()
            throw error
        }
        await office.close()
    }

    /// The same week with two hubs on one PostgreSQL database behind nginx: any request may land on
    /// either hub, and both served some.
    @Test(.enabled(if: Services.severalHubs, Services.skipReason))
    func aWeekOfOfflineWorkConvergesOnTwoHubsBehindABalancer() async throws {
        let office = try await Office.open(.twoHubsOnPostgres)
        do {
            try await Self.aWeekOfOfflineWork(office)
            let served = Set(try #require(office.balancer).upstreamsServed())
            #expect(served.isSuperset(of: office.hubs.map { "127.0.0.1:\($0.port)" }), "\(served)")
        } catch {
            await office.close()
            throw error
        }
        await office.close()
    }

    /// Half the week on a SQLite hub; `relais-hub migrate` copies it into PostgreSQL; the other half
    /// on a hub on PostgreSQL, with the laptops' files, tokens and cursors unchanged.
    @Test(.enabled(if: Services.severalHubs, Services.skipReason))
    func aWeekBegunOnSQLiteEndsOnPostgreSQLAfterAMigration() async throws {
        let office = try await Office.open(.sqlite)
        let database = try await ScenarioDatabase.create()
        do {
            try await Self.aWeekOfOfflineWork(office) { office in
                let data = office.store[1]
                office.stopHubs()
                let epoch = try await Tools.run(
                    "relais-hub", ["epoch", "show", "--data", data], in: office.folder.path)
                let migrated = try await Tools.run(
                    "relais-hub", ["migrate", "--from", data, "--to", database.url, "--json"], in: office.folder.path)
                #expect(migrated.status == 0, "\(migrated)")
                let tables = try #require(try migrated.object()["tables"] as? [String: Int])
                #expect(
                    tables["devices"] == 3 && (tables["records"] ?? 0) >= 1 && (tables["conflicts"] ?? 0) >= 1,
                    "\(tables)")
                // A second copy into the same database is refused: it holds a store now.
                let again = try await Tools.run(
                    "relais-hub", ["migrate", "--from", data, "--to", database.url], in: office.folder.path)
                #expect(again.status == 1 && again.stderr.split(separator: "\n").count == 1, "\(again)")
                // The same hub on another store, not a restore: the laptops keep its hub epoch.
                let copied = try await Tools.run(
                    "relais-hub", ["epoch", "show", "--postgres", database.url], in: office.folder.path)
                #expect(epoch.status == 0 && !epoch.stdout.isEmpty && copied.stdout == epoch.stdout, "\(copied)")
                office.store = ["--postgres", database.url]
                try await office.restartHubs()
            }
        } catch {
            await office.close()
            await database.drop()
            throw error
        }
        await office.close()
        await database.drop()
    }

    static func aWeekOfOfflineWork(_ office: Office, midway: (Office) async throws -> Void = { _ in }) async throws {
        // 1. Two reps of the north and one rep of the south.
        let ana = try await office.enroll("ana", territories: ["north"])
        let ben = try await office.enroll("ben", territories: ["north"])
        let chloe = try await office.enroll("chloe", territories: ["south"])

        // 2. A customer created by Ana reaches Ben, not Chloe.
        let added = try await office.relais(
            [
                "add", "customers", "name=Boulangerie Martin", "territory=north", "status=active", "city=Lille",
                "--json",
            ], db: ana)
        #expect(added.status == 0, "\(added)")
        let id = try #require(try added.object()["id"] as? String)
        let first = try await office.sync(ana)
        #expect(first["pushed"] as? Int == 1)
        for db in [ben, chloe] { try await office.sync(db) }
        #expect(try await office.get("customers", id, db: ben)?["name"] as? String == "Boulangerie Martin")
        #expect(
            try await office.get("customers", id, db: chloe) == nil, "a southern rep must not see a northern customer")

        // 3. Concurrent edits of different fields merge.
        #expect(try await office.relais(["set", "customers", id, "phone=+33 3 20 00 00 01"], db: ana).status == 0)
        #expect(try await office.relais(["set", "customers", id, "email=contact@martin.example"], db: ben).status == 0)
        for db in [ana, ben, ana] { try await office.sync(db) }
        for db in [ana, ben] {
            let record = try #require(try await office.get("customers", id, db: db))
            #expect(record["phone"] as? String == "+33 3 20 00 00 01")
            #expect(record["email"] as? String == "contact@martin.example")
        }
        #expect(try await office.conflicts(recordID: id).isEmpty, "different fields never conflict")

        // 4. Concurrent edits of one field: one report, both values kept.
        #expect(try await office.relais(["set", "customers", id, "city=Roubaix"], db: ana).status == 0)
        #expect(try await office.relais(["set", "customers", id, "city=Tourcoing"], db: ben).status == 0)
        try await office.sync(ana)
        let raised = try await office.sync(ben)
        #expect(raised["conflicts"] as? Int == 1)
        try await office.sync(ana)
        let cityReports = try await office.conflicts(recordID: id).filter { $0["field"] as? String == "city" }
        #expect(cityReports.count == 1)
        let report = try #require(cityReports.first)
        let values = try #require(report["values"] as? [[String: Any]])
        #expect(Set(values.compactMap { $0["value"] as? String }) == ["Roubaix", "Tourcoing"])
        #expect(report["rule"] as? String == "lww")
        #expect(report["status"] as? String == "auto-resolved")
        let chosen = try #require(report["chosen"] as? String)
        let anaCity = try await office.get("customers", id, db: ana)?["city"] as? String
        let benCity = try await office.get("customers", id, db: ben)?["city"] as? String
        #expect(anaCity == chosen && benCity == chosen)

        try await midway(office)

        // 5. The admin reinstates the losing value; it reaches both laptops.
        let loser = try #require(values.firstIndex { $0["value"] as? String != chosen })
        let losing = try #require(values[loser]["value"] as? String)
        #expect(
            try await office.resolve(try #require(report["id"] as? String), pick: loser, reason: "customer confirmed")
                == 200)
        for db in [ana, ben] {
            try await office.sync(db)
            #expect(try await office.get("customers", id, db: db)?["city"] as? String == losing)
        }

        // 6. An edit made with plain SQL in the replica file syncs.
        let sql = try await Tools.run(
            "sqlite3", [ana, "UPDATE customers SET phone = '+33 3 20 99 99 99' WHERE id = '\(id)';"],
            in: office.folder.path)
        #expect(sql.status == 0, "\(sql)")
        #expect(try await office.sync(ana)["pushed"] as? Int == 1)
        try await office.sync(ben)
        #expect(try await office.get("customers", id, db: ben)?["phone"] as? String == "+33 3 20 99 99 99")

        // 7. Tags edited on both sides union.
        #expect(try await office.relais(["set", "customers", id, "tags=bakery,organic"], db: ana).status == 0)
        #expect(try await office.relais(["set", "customers", id, "tags=bakery,delivery"], db: ben).status == 0)
        for db in [ana, ben, ana] { try await office.sync(db) }
        for db in [ana, ben] {
            #expect(
                try await office.get("customers", id, db: db)?["tags"] as? [String] == [
                    "bakery", "delivery", "organic",
                ])
        }

        // 8. A delete concurrent with an update keeps the record and reports it.
        #expect(try await office.relais(["delete", "customers", id], db: ana).status == 0)
        #expect(try await office.relais(["set", "customers", id, "status=at_risk"], db: ben).status == 0)
        for db in [ana, ben, ana, ben] { try await office.sync(db) }
        for db in [ana, ben] {
            #expect(
                try await office.get("customers", id, db: db)?["status"] as? String == "at_risk",
                "the update wins over the delete")
        }
        #expect(try await office.conflicts(recordID: id).contains { $0["rule"] as? String == "delete-update" })

        // 9. With the hub down, writes stay pending and go through later.
        office.stopHubs()
        #expect(
            try await office.relais(["set", "customers", id, "notes=Asked for a tasting day."], db: ana).status == 0)
        let offline = try await office.relais(["sync", "--json"], db: ana)
        #expect(offline.status == 4, "\(offline)")
        #expect(offline.stderr.contains("hub unreachable"), "\(offline.stderr)")
        #expect(try await office.relais(["status", "--json"], db: ana).object()["pending"] as? Int == 1)
        try await office.restartHubs()
        #expect(try await office.sync(ana)["pushed"] as? Int == 1)
        #expect(try await office.relais(["status", "--json"], db: ana).object()["pending"] as? Int == 0)

        // Everyone synced twice with no new edits: every laptop holds exactly the hub's view.
        for db in [ana, ben, chloe, ana, ben, chloe] { try await office.sync(db) }
        for (user, db) in [("ana", ana), ("ben", ben), ("chloe", chloe)] {
            let laptop = try await office.relais(["export", "--json"], db: db)
            let hubView = try await Tools.run(
                "relais-hub", ["export", "--user", user] + office.store + ["--json"], in: office.folder.path)
            #expect(laptop.status == 0 && hubView.status == 0)
            #expect(laptop.stdout == hubView.stdout, "\(user)'s laptop differs from the hub's view")
        }
    }

    /// 10. The `--json` shapes of DESIGN §8.
    @Test func jsonShapesFollowTheContract() async throws {
        let office = try await Office.open()
        defer { office.folder.remove() }
        let ana = try await office.enroll("ana", territories: ["north"])

        let added = try await office.relais(
            ["add", "customers", "name=Garage du Nord", "territory=north", "tags=b,a", "--json"], db: ana)
        let id = try #require(try added.object()["id"] as? String)
        #expect(UUID(uuidString: id) != nil)

        let sync = try await office.sync(ana)
        #expect(Set(sync.keys).isSuperset(of: ["pushed", "pulled", "conflicts", "rejected"]))

        let status = try await office.relais(["status", "--json"], db: ana).object()
        #expect(Set(status.keys).isSuperset(of: ["replica", "pending", "cursor", "last_sync"]))
        #expect(status["pending"] as? Int == 0)

        let record = try #require(try await office.get("customers", id, db: ana))
        #expect(record["id"] as? String == id)
        #expect(record["tags"] as? [String] == ["a", "b"], "a set is a sorted array")
        #expect(record["phone"] == nil, "a record omits null fields")

        let list = try await office.relais(["list", "customers", "--where", "territory=north", "--json"], db: ana)
        #expect((try list.json() as? [[String: Any]])?.count == 1)

        let export = try await office.relais(["export", "--json"], db: ana).object()
        #expect(Set(export.keys) == Set(Schema.crm.collectionNames), "one key per collection of the schema")
        #expect((export["customers"] as? [[String: Any]])?.first?["id"] as? String == id)

        let conflicts = try await office.relais(["conflicts", "--json"], db: ana)
        #expect(conflicts.status == 0)
        #expect(try conflicts.json() is [Any], "conflicts prints an array")

        let missing = try await office.relais(["get", "customers", UUID().uuidString.lowercased()], db: ana)
        #expect(missing.status == 3)
        #expect(!missing.stderr.isEmpty && missing.stderr.split(separator: "\n").count == 1, "one line on stderr")

        let usage = try await office.relais(["add"], db: ana)
        #expect(usage.status == 2)
    }
}
