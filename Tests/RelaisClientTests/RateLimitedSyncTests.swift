import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisTesting
import Synchronization
import Testing

/// A hub that answers `429 rate_limited` with `Retry-After`: the laptop waits as long as it is told,
/// keeps its pending writes, and says plainly why it stopped when it gives up.
struct RateLimitedSyncTests {
    /// Runs `body` with a live hub whose sync limit is 2 requests a minute per device, on `clock`, and
    /// a replica enrolled against it.
    func withLimitedHub(
        clock: TestClock, _ body: @escaping @Sendable (Replica) async throws -> Void
    ) async throws {
        try await HubFixture.with { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            try await hub.live(edges: HubServer.Edges(syncRate: RateLimit(perMinute: 2), clock: clock)) { url in
                try await TemporaryFolder.with { folder in
                    let replica = try await Replica.enroll(hub: url, code: code, path: folder.file("claire.db"))
                    try await body(replica)
                }
            }
        }
    }

    /// The second sync in the same minute is refused with `Retry-After: 30`: the laptop waits those
    /// 30 s (here, moves the hub's limit clock) rather than its own short back-off, then succeeds.
    @Test func aSyncWaitsAsLongAsTheHubAsks() async throws {
        let clock = TestClock()
        try await withLimitedHub(clock: clock) { replica in
            _ = try await replica.add("customers", ["name": .text("Acme"), "territory": .text("north")])
            var byPages = SyncOptions()
            byPages.snapshots = false  // no snapshot request: a push and a pull are the minute's two
            _ = try await replica.sync(options: byPages)
            _ = try await replica.add("customers", ["name": .text("Bistro"), "territory": .text("north")])
            let waits = Mutex<[Duration]>([])
            var options = SyncOptions()
            options.sleep = { delay in
                waits.withLock { $0.append(delay) }
                clock.advance(byMillis: UInt64(delay.components.seconds) * 1000)
            }
            _ = try await replica.sync(options: options)
            #expect(try await replica.pendingCount() == 0)
            let waited = waits.withLock { $0 }
            #expect(!waited.isEmpty && waited.allSatisfy { $0 >= .seconds(30) }, "\(waited)")
        }
    }

    /// A hub asking for a longer wait than the laptop will sit through: the sync stops at once with an
    /// error that says the hub is limiting requests, when to try again and how many writes are kept.
    @Test func aSyncThatGivesUpKeepsItsWritesAndSaysWhy() async throws {
        let clock = TestClock()
        try await withLimitedHub(clock: clock) { replica in
            var options = SyncOptions()
            options.retry.maxRetryAfter = .seconds(10)
            options.snapshots = false
            options.sleep = { _ in Issue.record("the laptop should not wait past maxRetryAfter") }
            _ = try await replica.add("customers", ["name": .text("Acme"), "territory": .text("north")])
            _ = try await replica.sync(options: options)  // a push and a pull: the two requests of the minute
            _ = try await replica.add("customers", ["name": .text("Bistro"), "territory": .text("north")])
            let failure = await #expect(throws: SyncError.self) { try await replica.sync(options: options) }
            #expect(failure?.isRateLimited == true && failure?.isTransient == true)
            #expect(failure?.retryAfter.map { $0 >= .seconds(20) } == true)
            #expect(failure?.pending == 1)
            let text = failure.map(String.init(describing:)) ?? ""
            #expect(
                text.contains("limiting") && text.contains("1 write kept pending") && text.contains("try again in"),
                "\(text)")
            #expect(try await replica.pendingCount() == 1)
        }
    }
}
