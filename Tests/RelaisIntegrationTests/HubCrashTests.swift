import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Synchronization
import Testing

/// DESIGN §9.4: the hub killed with SIGKILL mid-push loses no acknowledged write and applies
/// nothing twice.
struct HubCrashTests {
    @Test(.timeLimit(.minutes(5))) func sigkillMidPushLosesNothingAndAppliesNothingTwice() async throws {
        let folder = try TemporaryFolder(prefix: "crash")
        defer { folder.remove() }
        let data = folder.path + "/data"
        let initialized = try await HubProcess.run(["init", "--data", data, "--json"])
        #expect(initialized.status == 0)
        #expect(initialized.stdout.contains("admin_token"))
        var codes: [String] = []
        for index in 0..<6 {
            let added = try await HubProcess.run([
                "user", "add", "rep\(index)", "--role", "rep", "--territory", "north", "--data", data, "--json",
            ])
            #expect(added.status == 0)
            let object = try JSONSerialization.jsonObject(with: Data(added.stdout.utf8)) as? [String: Any]
            codes.append(try #require(object?["enrollment_code"] as? String))
        }

        // Each device pushes batches of 25 new customers, one after the other, until the hub dies.
        struct Sent: Sendable {
            var request: Relais_V1_PushRequest
            var answer: Relais_V1_PushResponse?
        }
        let first = try await HubProcess.start(data: data)
        let enrolled = try await WireClient.with(url: first.url) { client in
            var devices: [Relais_V1_EnrollResponse] = []
            for code in codes { devices.append(try await client.enroll(code)) }
            return devices
        }
        final class Progress: Sendable {
            let acknowledged = Atomic<Int>(0)
        }
        let progress = Progress()
        let sent = try await WireClient.with(url: first.url, connections: 8) { client in
            try await withThrowingTaskGroup(of: [Sent].self) { group in
                for device in enrolled {
                    group.addTask {
                        var log: [Sent] = []
                        var counter: UInt64 = 0
                        for _ in 0..<400 {
                            var writes: [Relais_V1_RecordWrite] = []
                            for _ in 0..<25 {
                                counter += 1
                                writes.append(Wire.customer(id: Wire.uuid(), replica: device.replica, counter: counter))
                            }
                            let request = Wire.push(device.replica, writes)
                            do {
                                let answer = try await client.push(device.token, request)
                                log.append(Sent(request: request, answer: answer))
                                progress.acknowledged.add(1, ordering: .relaxed)
                            } catch {
                                log.append(Sent(request: request, answer: nil))  // in flight when the hub died
                                return log
                            }
                        }
                        return log
                    }
                }
                group.addTask {
                    while progress.acknowledged.load(ordering: .relaxed) < 40 {
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    try await first.kill(SIGKILL)
                    return []
                }
                var all: [Sent] = []
                for try await log in group { all += log }
                return all
            }
        }
        let acknowledged = sent.filter { $0.answer != nil }
        #expect(acknowledged.count >= 40)
        #expect(sent.count > acknowledged.count)  // some pushes were cut by the kill

        // Restart and replay everything: acknowledged batches answer the same; cut ones now apply.
        let second = try await HubProcess.start(data: data)
        try await WireClient.with(url: second.url) { client in
            for item in sent {
                let token = enrolled.first { $0.replica == item.request.replica }!.token
                let answer = try await client.push(token, item.request)
                if let original = item.answer {
                    #expect(answer.results == original.results)
                }
                #expect(answer.results.allSatisfy { $0.status == .applied })
            }
        }
        // SIGTERM is a graceful shutdown: the process exits on its own, with status 0.
        try await second.kill(SIGTERM)
        #expect(second.process.poll() == SpawnedProcess.Termination(status: 0, signalled: false))

        // Every write is held exactly once: one sequence number per customer created.
        let store = try SQLiteHubStore(folder: data, create: false)
        let writes = sent.reduce(0) { $0 + $1.request.writes.count }
        let (head, held) = try await store.read { tx -> (UInt64, Int) in
            var count = 0
            try await tx.forEachLiveRecord { _ in count += 1 }
            return (try await tx.meta().head, count)
        }
        await store.close()
        #expect(held == writes)
        #expect(head == UInt64(writes))
        print(
            "crash test: \(acknowledged.count) batches acknowledged before SIGKILL, \(sent.count - acknowledged.count) cut; \(writes) writes held once each"
        )
    }
}
