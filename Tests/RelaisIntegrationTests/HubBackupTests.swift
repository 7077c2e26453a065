import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Synchronization
import Testing

/// `relais-hub backup` and `restore` through the built executable: a backup taken while devices
/// push holds every write acknowledged before it began and nothing by half; restored into a data
/// folder, it serves.
struct HubBackupTests {
    /// A command that exits leaves its commits in the write-ahead log, not yet in the main file: the
    /// backup holds them.
    @Test func aBackupOfAStoppedHubHoldsWhatItsLogHolds() async throws {
        let folder = try TemporaryFolder(prefix: "backup")
        defer { folder.remove() }
        let data = folder.path + "/data"
        #expect(try await HubProcess.run(["init", "--data", data]).status == 0)
        #expect(
            try await HubProcess.run(["user", "add", "claire", "--role", "rep", "--territory", "north", "--data", data])
                .status == 0)
        let file = folder.path + "/hub.sqlite.backup"
        let backup = try await HubProcess.run(["backup", "--data", data, "--to", file])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(try await HubProcess.run(["restore", "--from", file, "--data", folder.path + "/restored"]).status == 0)
        let store = try SQLiteHubStore(folder: folder.path + "/restored", create: false)
        let users = try await store.read { tx in try await tx.users().map(\.name) }
        await store.close()
        #expect(users == ["admin", "claire"])
    }

    @Test(.timeLimit(.minutes(5))) func aBackupTakenWhilePushesContinueRestoresAndServes() async throws {
        let folder = try TemporaryFolder(prefix: "backup")
        defer { folder.remove() }
        let data = folder.path + "/data"
        #expect(try await HubProcess.run(["init", "--data", data, "--json"]).status == 0)
        var codes: [String] = []
        for index in 0..<4 {
            let added = try await HubProcess.run([
                "user", "add", "rep\(index)", "--role", "rep", "--territory", "north", "--data", data, "--json",
            ])
            let object = try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any]
            codes.append(try #require(object?["enrollment_code"] as? String))
        }
        let hub = try await HubProcess.start(data: data)
        defer { hub.stop() }

        // Four devices push batches of 20 new customers; once 10 batches have been acknowledged, two
        // backups are taken one after the other while the pushes go on.
        final class Log: Sendable {
            let acknowledged = Mutex<[String]>([])  // ids, in the order their pushes were answered
            let batches = Atomic<Int>(0)
            let backedUp = Atomic<Bool>(false)
        }
        let log = Log()
        let (backups, enrolled) = try await WireClient.with(url: hub.url, connections: 8) { client in
            var devices: [Relais_V1_EnrollResponse] = []
            for code in codes { devices.append(try await client.enroll(code)) }
            let enrolled = devices
            let backups = try await withThrowingTaskGroup(of: [(before: Int, file: String)].self) { group in
                for device in enrolled {
                    group.addTask {
                        var counter: UInt64 = 0
                        // Until both backups are taken, and three batches more.
                        var after = 0
                        while after < 3 {
                            if log.backedUp.load(ordering: .relaxed) { after += 1 }
                            var writes: [Relais_V1_RecordWrite] = []
                            for _ in 0..<20 {
                                counter += 1
                                writes.append(Wire.customer(id: Wire.uuid(), replica: device.replica, counter: counter))
                            }
                            let answer = try await client.push(device.token, Wire.push(device.replica, writes))
                            #expect(answer.results.allSatisfy { $0.status == .applied })
                            log.acknowledged.withLock { $0 += writes.map(\.recordID) }
                            log.batches.add(1, ordering: .relaxed)
                        }
                        return []
                    }
                }
                group.addTask {
                    while log.batches.load(ordering: .relaxed) < 10 { try await Task.sleep(for: .milliseconds(5)) }
                    var taken: [(before: Int, file: String)] = []
                    for index in 0..<2 {
                        let before = log.acknowledged.withLock { $0.count }
                        let file = folder.path + "/hub-\(index).sqlite"
                        let backup = try await HubProcess.run(["backup", "--data", data, "--to", file, "--json"])
                        #expect(backup.status == 0, "\(backup.stderr)")
                        taken.append((before, file))
                    }
                    log.backedUp.store(true, ordering: .relaxed)
                    return taken
                }
                var all: [(before: Int, file: String)] = []
                for try await taken in group { all += taken }
                return all
            }
            return (backups, enrolled)
        }
        let acknowledged = log.acknowledged.withLock { $0 }
        #expect(backups.count == 2)
        // Pushes were acknowledged before, between and after the backups.
        #expect(backups.map(\.before).allSatisfy { $0 > 0 && $0 < acknowledged.count })

        for (index, backup) in backups.enumerated() {
            // Restored into a fresh folder: every write acknowledged before the backup began is there,
            // every record there is one that was pushed, and one sequence was taken per record.
            let restoredData = folder.path + "/restored-\(index)"
            let restored = try await HubProcess.run([
                "restore", "--from", backup.file, "--data", restoredData, "--json",
            ])
            #expect(restored.status == 0, "\(restored.stderr)")
            let store = try SQLiteHubStore(folder: restoredData, create: false)
            let (head, ids) = try await store.read { tx -> (UInt64, Set<String>) in
                var ids: Set<String> = []
                try await tx.forEachLiveRecord { ids.insert($0.id) }
                return (try await tx.meta().head, ids)
            }
            await store.close()
            #expect(ids.isSuperset(of: acknowledged.prefix(backup.before)))
            #expect(ids.isSubset(of: Set(acknowledged)))
            #expect(head == UInt64(ids.count))
            // The restored hub serves: a device enrolled before the backup pulls from it.
            let served = try await HubProcess.start(data: restoredData)
            let page = try await WireClient.with(url: served.url) { client in
                try await client.pull(enrolled[0].token, Wire.pull(cursor: 0, counter: UInt64(acknowledged.count)))
            }
            #expect(!page.records.isEmpty && page.records.allSatisfy { ids.contains($0.recordID) })
            served.stop()
        }

        // A backup never overwrites a file, and a restore never replaces a store unasked.
        let again = try await HubProcess.run(["backup", "--data", data, "--to", backups[0].file])
        #expect(again.status == 1 && again.stderr.contains("already exists"))
        let over = try await HubProcess.run(["restore", "--from", backups[0].file, "--data", data])
        #expect(over.status == 1 && over.stderr.contains("--replace"))
    }
}
