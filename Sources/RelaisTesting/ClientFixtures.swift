public import Foundation
public import RelaisClient
import RelaisCore
import Synchronization

/// A wall clock for replicas that a test sets and advances by hand.
public final class ClientTestClock: Sendable {
    private let millis: Mutex<UInt64>

    /// A clock at `millis` since 1970 (default: 2026-11-28T09:00:00Z).
    public init(millis: UInt64 = 1_795_856_400_000) {
        self.millis = Mutex(millis)
    }

    /// The current time in milliseconds since 1970.
    public func now() -> UInt64 { millis.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(byMillis delta: UInt64) { millis.withLock { $0 += delta } }
}

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

/// A fresh temporary folder for replica files, deleted by ``remove()``.
public struct ClientTemporaryFolder: Sendable {
    /// The folder's path.
    public let path: String

    /// Creates `/tmp/relais-<prefix>-<uuid>`.
    public init(prefix: String = "client") throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("relais-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Deletes the folder and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Runs `body` with a fresh folder and deletes it afterwards, whatever happens.
    public static func with<T>(_ body: (ClientTemporaryFolder) async throws -> T) async throws -> T {
        let folder = try ClientTemporaryFolder()
        defer { folder.remove() }
        return try await body(folder)
    }
}

extension Replica.Configuration {
    /// A configuration reading a test clock and an id sequence.
    public static func testing(clock: ClientTestClock, ids: ClientIDSequence = ClientIDSequence())
        -> Replica.Configuration
    {
        Replica.Configuration(wallClock: { clock.now() }, makeID: { ids.make() })
    }
}
