import Foundation

/// The tests' one temporary folder: `$TMPDIR/relais-<prefix>-<uuid>`, created at once and deleted by
/// ``remove()`` (or by ``with(prefix:_:)`` when its body ends, however it ends).
///
/// ```swift
/// let folder = try TemporaryFolder(prefix: "crash")
/// defer { folder.remove() }
/// let path = folder.file("replica.db")
/// ```
public struct TemporaryFolder: Sendable {
    /// The folder's path.
    public let path: String

    /// Creates `$TMPDIR/relais-<prefix>-<uuid>`.
    public init(prefix: String = "test") throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("relais-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Deletes the folder and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Runs `body` with a fresh folder and deletes it afterwards, whatever happens.
    public static func with<T>(prefix: String = "test", _ body: (TemporaryFolder) async throws -> T) async throws -> T {
        let folder = try TemporaryFolder(prefix: prefix)
        defer { folder.remove() }
        return try await body(folder)
    }
}

/// The name `Tests/RelaisHubTests/HubStoreTests.swift` still uses; that file is being reworked for the
/// PostgreSQL store. Remove this alias once it says ``TemporaryFolder``.
public typealias HubTemporaryFolder = TemporaryFolder
