import Crypto
import Foundation

/// Which records a snapshot holds: everything (an admin's view), or the records of some territories
/// (a rep's or a manager's); with the schema version it was built for.
public struct SnapshotView: Sendable, Hashable {
    /// Whether the view holds every record.
    public var everything: Bool
    /// The territories whose records it holds (empty for everything): sorted, without duplicates.
    public var territories: [String]
    /// The schema version.
    public var schemaVersion: Int

    /// The view of `access` under `schemaVersion`.
    public init(access: Access, schemaVersion: Int) {
        everything = access.role.seesEverything
        territories = everything ? [] : access.territories.sorted()
        self.schemaVersion = schemaVersion
    }

    /// A short stable name for files and logs: SHA-256 of the view, 16 hex digits.
    public var key: String {
        let text = "v\(schemaVersion)\n" + (everything ? "*" : territories.joined(separator: "\n"))
        return SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// What a user of that view sees (the role only decides everything or territories).
    var access: Access {
        Access(role: everything ? .admin : .rep, territories: Set(territories))
    }
}

/// A snapshot built and ready to serve: a replica file of one view, compressed with zlib.
public struct HubSnapshot: Sendable, Hashable {
    /// The view it holds.
    public var view: SnapshotView
    /// The compressed file.
    public var path: String
    /// The cursor it stands at: every change up to it is in.
    public var cursor: UInt64
    /// SHA-256 of the compressed file, in hex: its `ETag`.
    public var digest: String
    /// The compressed file's size.
    public var bytes: Int64
    /// The replica file's size once inflated.
    public var inflatedBytes: Int64
    /// Records (and tombstones) it holds.
    public var records: Int
    /// When it was built, in milliseconds since 1970.
    public var builtAt: UInt64
}
