public import Foundation
public import RelaisClient
import RelaisCore
import Synchronization

/// Deterministic record ids: `00000000-0000-4000-8000-000000000001`, `...002`, …
public final class ClientIDSequence: Sendable {
    private let next: Mutex<UInt64>

    /// Starts at `start`.
    public init(start: UInt64 = 1) { next = Mutex(start) }

    /// The next id.
    public func make() -> UUID {
        let n = next.withLock { value -> UInt64 in
            defer { value += 1 }
            return value
        }
        return UUID(uuidString: String(format: "00000000-0000-4000-8000-%012llx", n))!
    }
}

extension Replica.Configuration {
    /// A configuration reading a test clock and an id sequence.
    public static func testing(clock: TestClock, ids: ClientIDSequence = ClientIDSequence())
        -> Replica.Configuration
    {
        Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() })
    }
}

/// A replica in a fresh folder, with a test clock and deterministic ids, removed afterwards.
public func withReplica<T>(
    replica number: UInt32 = 7, role: String = "rep",
    _ body: (Replica, TemporaryFolder, TestClock) async throws -> T
) async throws -> T {
    try await TemporaryFolder.with { folder in
        let clock = TestClock()
        let replica = try Replica.open(path: folder.file("replica.db"), configuration: .testing(clock: clock))
        try await replica.setIdentity(
            Replica.Identity(
                hub: "http://127.0.0.1:1", replica: number, epoch: 1, token: "secret-token", user: "claire",
                role: role, territories: ["north"]))
        return try await body(replica, folder, clock)
    }
}
