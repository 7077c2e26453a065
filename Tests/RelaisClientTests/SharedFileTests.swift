import Foundation
import RelaisCore
import RelaisHub
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// One replica file written by several processes at once (docs/SYNC.md "One file, several
/// processes"): `relais agent` runs for days while `relais set`, `relais import` or the `sqlite3`
/// shell write the same file. Each `Replica` here has its own connection, as each process would.
///
/// The invariant: every write stamped by any of them stays a pending write of its own, under a
/// counter no other write has, until the hub acknowledges it.
struct SharedFileTests {
    @Test func writersTakingTurnsKeepEveryWrite() async throws {
        let folder = try TemporaryFolder(prefix: "shared-file")
        defer { folder.remove() }
        let path = folder.file("claire.db")
        // The long-lived one (the agent) opens first and holds the file's counter in memory.
        let agent = try Replica.open(path: path)
        let tool = try Replica.open(path: path)

        let byTool = try await tool.add(customer, acme("Added by relais add"))
        let byAgent = try await agent.add(customer, acme("Added through the agent's program"))
        // An edit with plain SQL, stamped by the next transaction of whichever writer comes first.
        let raw = try rawConnection(path)
        try raw.execute("UPDATE customers SET city = 'Lyon' WHERE id = ?", [.text(byTool)])
        try raw.close()
        try await tool.set(customer, id: byAgent, ["phone": .text("+33 1 00 00 00 00")])
        try await agent.set(customer, id: byTool, ["phone": .text("+33 2 00 00 00 00")])

        for replica in [agent, tool] {
            let writes = try await replica.pendingWrites()
            // Each record's writes coalesce into one open write; no record lost its own.
            #expect(Set(writes.map(\.recordID)) == [byTool, byAgent])
            #expect(Set(writes.map(\.counter)).count == writes.count)
            let toolWrite = try #require(writes.first { $0.recordID == byTool })
            #expect(toolWrite.fields["name"] == .text("Added by relais add"))
            #expect(toolWrite.fields["city"] == .text("Lyon"))
            #expect(toolWrite.fields["phone"] == .text("+33 2 00 00 00 00"))
            let agentWrite = try #require(writes.first { $0.recordID == byAgent })
            #expect(agentWrite.fields["phone"] == .text("+33 1 00 00 00 00"))
        }
        #expect(try await agent.status().counter == 2)
        #expect(try await tool.status().counter == 2)
    }

    /// A stored counter behind the pending writes (an older program, which kept its counter in memory,
    /// wrote it back): new writes take counters after every pending one, and the file keeps working.
    @Test func aStoredCounterBehindThePendingWritesIsCaughtUp() async throws {
        let folder = try TemporaryFolder(prefix: "shared-file-behind")
        defer { folder.remove() }
        let path = folder.file("claire.db")
        let replica = try Replica.open(path: path)
        let first = try await replica.add(customer, acme("First"))
        let second = try await replica.add(customer, acme("Second"))
        let raw = try rawConnection(path)
        try raw.execute("UPDATE _relais_state SET value = 0 WHERE key = 'counter'")
        try raw.execute("UPDATE customers SET city = 'Lyon' WHERE id = ?", [.text(first)])
        try raw.close()
        let third = try await replica.add(customer, acme("Third"))
        let writes = try await replica.pendingWrites()
        #expect(writes.map(\.recordID) == [first, second, third])
        #expect(writes.map(\.counter) == [1, 2, 3])
        #expect(writes.first?.fields["city"] == .text("Lyon"))
    }

    /// Against a live hub: what the other process stamped reaches the hub through the agent's sync,
    /// and the agent's pull does not claim a counter lower than the one the hub just took (which
    /// the hub answers as a copied file: a new replica number and a full pull).
    @Test func theAgentPushesWhatAnotherProcessStampedAndStaysTheSameReplica() async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "shared-file-live")
            defer { folder.remove() }
            let path = folder.file("claire.db")
            try await hub.live { url in
                let agent = try await Replica.enroll(hub: url, code: code, path: path, deviceName: "claire")
                let first = try await agent.add(customer, acme("Before"))
                _ = try await agent.sync()
                let number = try #require(try await agent.identity()?.replica)

                let tool = try Replica.open(path: path, create: false)
                let byTool = try await tool.add(customer, acme("Typed with relais add"))
                let raw = try rawConnection(path)
                try raw.execute("UPDATE customers SET city = 'Lille' WHERE id = ?", [.text(first)])
                try raw.close()
                let byAgent = try await agent.add(customer, acme("Typed in the app"))

                let result = try await agent.sync()
                #expect(result.pushed == 3)
                #expect(result.rejected == 0)
                #expect(try await agent.identity()?.replica == number)
                #expect(try await agent.pendingCount() == 0)
                let names = try await hub.service.export(user: "claire")[customer, default: []]
                    .compactMap { $0.values["name"] }
                #expect(Set(names) == [.text("Before"), .text("Typed with relais add"), .text("Typed in the app")])
                let onHub = try await hub.service.exportJSON(user: "claire")
                #expect(try await agent.export() == Data(onHub))
                #expect(try await tool.get(customer, id: byTool) != nil)
                #expect(try await tool.get(customer, id: byAgent) != nil)
            }
        }
    }

    /// Another process moved the file to a newer schema: a long-lived writer stamps the edits of the
    /// new tables under it, rather than dropping them as edits of a collection it does not know.
    @Test func aWriterTakesTheSchemaAnotherProcessMovedTheFileTo() async throws {
        let folder = try TemporaryFolder(prefix: "shared-file-schema")
        defer { folder.remove() }
        let path = folder.file("claire.db")
        let agent = try Replica.open(path: path, schema: .crmVersion1)
        let acmeID = try await agent.add(customer, acme())
        let tool = try Replica.open(path: path, schema: .crmVersion1)
        try await tool.adopt(.crm)
        #expect(tool.schema.version == 2)

        let taskID = UUID().uuidString.lowercased()
        let raw = try rawConnection(path)
        try raw.execute(
            "INSERT INTO tasks(id, customer_id, due_on, kind) VALUES (?, ?, '2027-01-15', 'visit')",
            [.text(taskID), .text(acmeID)])
        try raw.close()
        // The agent's next transaction stamps the capture.
        try await agent.set(customer, id: acmeID, ["city": .text("Nantes")])
        #expect(agent.schema.version == 2)
        let task = try #require(try await agent.pendingWrites().first { $0.recordID == taskID })
        #expect(task.collection == "tasks")
        #expect(task.fields["kind"] == .text("visit"))
        #expect(try await agent.rejected().isEmpty)
    }
}
