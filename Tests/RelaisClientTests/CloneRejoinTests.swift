import Foundation
import RelaisCore
import RelaisHub
import RelaisSQLite
import RelaisTesting
import Testing

@testable import RelaisClient

/// A file copied while it held unsent writes creating a record, the original then adding fields to
/// that record, and both files enrolled again (`relais enroll --rejoin`) under new replica numbers:
/// every copy ends holding the hub's record, whatever order they sync in (docs/RELIABILITY.md, bug 10).
struct CloneRejoinTests {
    @Test(arguments: [[0, 1, 0, 1], [1, 0, 1, 0], [0, 0, 1, 1, 0, 1], [1, 1, 0, 0, 1, 0]])
    func aCloneAndItsOriginalRejoinedConverge(order: [Int]) async throws {
        var configuration = HubService.Configuration()
        configuration.snapshotStaleAfterChanges = 0  // a snapshot for every head a bootstrap asks at
        try await HubFixture.with(configuration: configuration) { hub in
            let code = try await hub.addUser("paul", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "clone-rejoin")
            defer { folder.remove() }
            try await hub.live { url in
                var options = SyncOptions()
                options.verification = .off
                let originalPath = folder.file("original.db")
                let original = try await Replica.enroll(hub: url, code: code, path: originalPath)
                _ = try await original.sync(options: options)
                let id = try await original.add(customer, acme("Created offline"))
                // The copy, with the unsent creation in it.
                let clonePath = folder.file("clone.db")
                let raw = try Connection(path: originalPath)
                try raw.execute("VACUUM INTO '\(clonePath)'")
                try raw.close()
                try FileManager.default.copyItem(atPath: originalPath + ".token", toPath: clonePath + ".token")
                let clone = try Replica.open(path: clonePath)
                try await original.set(customer, id: id, ["tags": .set(["vip"]), "status": .text("at_risk")])
                // Both enroll again, each with a new code.
                try await original.rejoin(
                    code: try await hub.service.issueEnrollmentCode(for: "paul"), deviceName: "original")
                try await clone.rejoin(
                    code: try await hub.service.issueEnrollmentCode(for: "paul"), deviceName: "clone")
                let replicas = [original, clone]
                for index in order {
                    _ = try await replicas[index].sync(options: options)
                    // A laptop enrolled now: the hub builds its view's snapshot at this moment.
                    let fresh = try await Replica.enroll(
                        hub: url, code: try await hub.service.issueEnrollmentCode(for: "paul"),
                        path: folder.file("fresh-\(UUID().uuidString).db"))
                    _ = try await fresh.sync(options: options)
                }
                for _ in 0..<2 { for replica in replicas { _ = try await replica.sync(options: options) } }
                let expected = try await hub.service.exportJSON(user: "paul")
                for (index, replica) in replicas.enumerated() {
                    #expect(try await replica.get(customer, id: id)?["tags"] == .set(["vip"]), "replica \(index)")
                    #expect(try await replica.export() == Data(expected), "replica \(index)")
                }
            }
        }
    }
}
