import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import SwiftProtobuf
import Testing

/// Real HTTP on loopback: end to end, many devices at once, and a paged bootstrap. The rates of the
/// same paths are `relais-bench`'s (`ingest`, `bootstrap`; docs/PERFORMANCE.md), not the tests'.
struct HubLiveTests {
    @Test func endToEndOverLoopback() async throws {
        try await HubFixture.with { hub in
            let claireCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let bobCode = try await hub.addUser("bob", role: .rep, territories: ["north"])
            try await hub.live { url in
                #expect(url.hasPrefix("http://127.0.0.1:"))
                try await WireClient.with(url: url) { client in
                    let claire = try await client.enroll(claireCode)
                    let bob = try await client.enroll(bobCode)
                    let id = Wire.uuid()
                    let pushed = try await client.push(
                        claire.token,
                        Wire.push(claire.replica, [Wire.customer(id: id, replica: claire.replica, counter: 1)]))
                    #expect(pushed.results.map(\.status) == [.applied])
                    let page = try await client.pull(bob.token, Wire.pull(cursor: 0))
                    #expect(page.records.map(\.recordID) == [id])
                    #expect(!page.more)
                }
            }
        }
    }

    /// Enrolls `count` rep devices at the service level; returns (replica, token).
    static func enrollMany(_ hub: HubFixture, count: Int) async throws -> [(replica: UInt32, token: String)] {
        var devices: [(UInt32, String)] = []
        for index in 0..<count {
            let code = try await hub.addUser("rep\(index)", role: .rep, territories: ["north"])
            let response = try await hub.service.enroll(Wire.enroll(code))
            devices.append((response.replica, response.token))
        }
        return devices
    }

    /// Each device pushes `writes` new customers in `batches` batches, all devices at once.
    static func pushConcurrently(
        _ client: WireClient, devices: [(replica: UInt32, token: String)], writes: Int, batches: Int
    ) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for device in devices {
                group.addTask {
                    var counter: UInt64 = 0
                    var applied = 0
                    let perBatch = writes / batches
                    for _ in 0..<batches {
                        var batch: [Relais_V1_RecordWrite] = []
                        for _ in 0..<perBatch {
                            counter += 1
                            batch.append(
                                Wire.customer(
                                    id: Wire.uuid(), replica: device.replica, counter: counter,
                                    extra: ["phone": .text("+33 1 23 45 67 \(counter)")]))
                        }
                        let response = try await client.push(device.token, Wire.push(device.replica, batch))
                        applied += response.results.filter { $0.status == .applied }.count
                    }
                    return applied
                }
            }
            var total = 0
            for try await applied in group { total += applied }
            return total
        }
    }

    @Test func fiftyDevicesPushingAtOnceShareCommits() async throws {
        try await HubFixture.with(store: .sqlite) { hub in
            let devices = try await Self.enrollMany(hub, count: 50)
            let before = hub.store.statistics()
            let applied = try await hub.live { url in
                try await WireClient.with(url: url, connections: 50) { client in
                    try await Self.pushConcurrently(client, devices: devices, writes: 20, batches: 2)
                }
            }
            #expect(applied == 1000)
            let after = hub.store.statistics()
            let transactions = after.transactions - before.transactions
            let commits = after.commits - before.commits
            #expect(commits < transactions)
            #expect(after.largestGroup > 1)
            #expect(try await hub.store.read { try await $0.meta().head } == 1000)
            let export = try await hub.service.export(user: "rep0")
            #expect(export["customers"]?.count == 1000)
            for device in try await hub.service.devices() {
                #expect(device.highestCounter == 20)
            }
        }
    }

    /// A bootstrap over HTTP: a rep pulls a territory of more records than a page holds, page after
    /// page, and receives every record once, in sequence order, until the page that says no more.
    @Test func bootstrapOverHTTPDeliversEveryRecordOnceInOrder() async throws {
        let count = 2_500
        try await HubFixture.with { hub in
            var admin = try await hub.enrollDevice("root", role: .admin, territories: [])
            var pushed = 0
            while pushed < count {
                var batch: [Relais_V1_RecordWrite] = []
                for _ in 0..<min(1000, count - pushed) {
                    batch.append(
                        Wire.customer(
                            id: Wire.uuid(), replica: admin.replica, counter: admin.nextCounter(),
                            extra: ["city": .text("Lyon"), "tags": .set(["a", "b"])]))
                }
                _ = try await hub.push(admin, batch)
                pushed += batch.count
            }
            let code = try await hub.addUser("claire", role: .rep, territories: ["north", "south"])
            let (seqs, pages) = try await hub.live { url in
                try await WireClient.with(url: url) { client in
                    let device = try await client.enroll(code)
                    var cursor: UInt64 = 0
                    var seqs: [UInt64] = []
                    var pages = 0
                    while true {
                        let page = try await client.pull(device.token, Wire.pull(cursor: cursor))
                        pages += 1
                        seqs += page.records.map(\.seq)
                        cursor = page.nextCursor
                        if !page.more { break }
                    }
                    return (seqs, pages)
                }
            }
            #expect(seqs.count == count)
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
            #expect(pages > 1)
        }
    }
}
