import Foundation
import RelaisClient
import RelaisCore
import RelaisHub

/// Small fixed scenarios distilled from failing simulation schedules (docs/RELIABILITY.md "Bugs
/// found"). Each returns the broken invariants, empty when the bug stays fixed.
public enum SimRegressions {
    /// Two laptops edit the same contact offline: one sets `phone`, the other `phone` and `email`; a
    /// third adds a customer in between. Pulling one record per page, every laptop must end with the
    /// hub's record, `email` included (bug 1: the hub sent only fields changed after the page's cursor,
    /// and a record that moved past a page before the device read it lost the older changes).
    public static func concurrentEditsReachEveryone() async throws -> [String] {
        try await HubFixture.with(clock: HubTestClock()) { hub in
            try await hub.live { url in
                let folder = hub.folder.path
                var replicas: [Replica] = []
                for index in 0..<3 {
                    let code = try await hub.addUser("u\(index)", role: .rep, territories: ["north"])
                    let clock = SimClock(1_795_856_400_000 + UInt64(index) * 1000)
                    let ids = ClientIDSequence(start: UInt64(index + 1) << 32)
                    replicas.append(
                        try await Replica.enroll(
                            hub: url, code: code, path: "\(folder)/r\(index).relais", deviceName: "r\(index)",
                            configuration: Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() })))
                }
                let customer = try await replicas[0].add("customers", ["name": .text("Acme"), "territory": .text("north")])
                let contact = try await replicas[0].add("contacts", ["customer_id": .text(customer), "name": .text("Ann")])
                var options = SyncOptions()
                options.pageSize = 1
                for replica in replicas { _ = try await replica.sync(options: options) }
                try await replicas[2].set("contacts", id: contact, ["phone": .text("222")])
                try await replicas[1].set("contacts", id: contact, ["phone": .text("111"), "email": .text("ann@acme")])
                _ = try await replicas[1].sync(options: options)
                _ = try await replicas[0].add("customers", ["name": .text("Bolt"), "territory": .text("north")])
                _ = try await replicas[0].sync(options: options)
                for _ in 0..<2 {
                    for replica in replicas { _ = try await replica.sync(options: options) }
                }
                var violations: [String] = []
                for (index, replica) in replicas.enumerated() {
                    let local = try await replica.export()
                    let expected = Data(try await hub.service.exportJSON(user: "u\(index)"))
                    if local != expected {
                        violations.append("laptop \(index) differs from the hub:" + Simulation.difference(local, expected))
                    }
                }
                return violations
            }
        }
    }
}
