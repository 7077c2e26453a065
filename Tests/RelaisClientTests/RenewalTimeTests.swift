import Foundation
import RelaisCore
import RelaisHub
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// A write re-issued by a renewal keeps the time it was typed at: a later edit that another
/// salesperson made having seen it is not overwritten by the re-send (docs/SYNC.md "Rollback and
/// clones").
struct RenewalTimeTests {
    @Test func aReissuedWriteDoesNotBeatALaterEditMadeOverIt() async throws {
        try await HubFixture.with { hub in
            let folder = try TemporaryFolder(prefix: "renewal-time")
            defer { folder.remove() }
            try await hub.live { url in
                var options = SyncOptions()
                options.verification = .off
                let laptopPath = folder.file("laptop.db")
                let laptop = try await Replica.enroll(
                    hub: url, code: try await hub.addUser("paul", role: .rep, territories: ["north"]),
                    path: laptopPath)
                let other = try await Replica.enroll(
                    hub: url, code: try await hub.addUser("mia", role: .rep, territories: ["north"]),
                    path: folder.file("other.db"))
                let id = try await laptop.add(customer, acme())
                let second = try await laptop.add(customer, acme("Beta"))
                _ = try await laptop.sync(options: options)
                _ = try await other.sync(options: options)

                // Paul sets the status; a copy of his file (a restored backup, a cloned disk) sends it.
                try await laptop.set(customer, id: id, ["status": .text("active")])
                let copyPath = folder.file("copy.db")
                let raw = try Connection(path: laptopPath)
                try raw.execute("VACUUM INTO '\(copyPath)'")
                try raw.close()
                try FileManager.default.copyItem(atPath: laptopPath + ".token", toPath: copyPath + ".token")
                let copy = try Replica.open(path: copyPath)
                _ = try await copy.sync(options: options)

                // Mia sees "active" and, later, decides "lapsed".
                _ = try await other.sync(options: options)
                #expect(try await other.get(customer, id: id)?["status"] == .text("active"))
                try await Task.sleep(for: .milliseconds(20))
                try await other.set(customer, id: id, ["status": .text("lapsed")])
                _ = try await other.sync(options: options)

                // The copy and Paul's laptop each write under the same next counter: Paul's push is
                // told his number forked, he renews, and his pending writes, the status among them,
                // are sent again under a new number.
                try await copy.set(customer, id: id, ["phone": .text("+33 1 00 00 00 01")])
                _ = try await copy.sync(options: options)
                try await laptop.set(customer, id: second, ["city": .text("Lyon")])
                for _ in 0..<3 { _ = try await laptop.sync(options: options) }
                let (renewed, copied) = (try await laptop.status(), try await copy.status())
                #expect(renewed.epoch > 1 && renewed.replica != copied.replica)

                // Mia's decision, made after Paul's value and having seen it, stands.
                let held = try #require(try await hub.service.export(user: "mia")["customers"]?.first { $0.id == id })
                #expect(held.values["status"] == .text("lapsed"))
                let beta = try await hub.service.export(user: "mia")["customers"]?.first { $0.id == second }
                #expect(beta?.values["city"] == .text("Lyon"))
                _ = try await other.sync(options: options)
                #expect(try await other.get(customer, id: id)?["status"] == .text("lapsed"))
            }
        }
    }

    /// A renewal keeps each pending write's time and whether it was in flight: a write that may be on
    /// the hub is not merged into by a later edit (which would give it a fresh time).
    @Test func aRenewalKeepsTimesAndInFlightMarks() async throws {
        try await withReplica { replica, _, _ in
            let sent = try await replica.add(customer, acme("Sent"))
            let unsent = try await replica.add(customer, acme("Unsent"))
            func rows() async throws -> [String] {
                try await replica.withStore { store in
                    var found: [String] = []
                    try store.db.query("SELECT record_id, hlc, in_flight FROM _relais_pending ORDER BY counter") {
                        found.append("\($0.text(at: 0) ?? "") \($0.int64(at: 1)) \($0.int64(at: 2))")
                    }
                    return found
                }
            }
            try await replica.withStore { store in
                try store.db.execute("UPDATE _relais_pending SET in_flight = 1 WHERE record_id = ?", [.text(sent)])
            }
            let before = try await rows()
            try await replica.withStore { store in
                try store.syncWrite { try store.renew(replica: 77, epoch: 2, token: "t", hubEpoch: "e") }
            }
            #expect(try await rows() == before)
            // An edit of the sent record starts a write of its own; the unsent one takes edits in.
            try await replica.set(customer, id: sent, ["phone": .text("+33 1 04")])
            try await replica.set(customer, id: unsent, ["phone": .text("+33 1 05")])
            let after = try await rows()
            #expect(after.count == 3 && Array(after.prefix(1)) == Array(before.prefix(1)))
        }
    }
}
