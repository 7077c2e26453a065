public import Foundation
public import RelaisCore

extension Replica {
    /// What a replica reads from its environment: the wall clock (for HLC times) and record ids.
    /// Tests inject fixed ones.
    public struct Configuration: Sendable {
        /// Milliseconds since 1970-01-01T00:00:00Z.
        public var wallClock: @Sendable () -> UInt64
        /// A new record id.
        public var makeID: @Sendable () -> UUID
        /// A ceiling on the replica file's size in bytes (`PRAGMA max_page_count`), or `nil` for none.
        /// An edit that would grow the file past it is refused with ``ReplicaError/Code/storageFull``
        /// and nothing is saved; a sync that cannot save a pulled page stops with
        /// ``SyncError/Code/storageFull`` and keeps every pending write. A ceiling below the file's
        /// current size holds it at that size.
        public var maxFileBytes: Int64?

        /// The system clock and random UUIDs unless told otherwise.
        public init(
            wallClock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) },
            makeID: @escaping @Sendable () -> UUID = { UUID() },
            maxFileBytes: Int64? = nil
        ) {
            self.wallClock = wallClock
            self.makeID = makeID
            self.maxFileBytes = maxFileBytes
        }
    }

    /// One record as the replica shows it: the hub-confirmed state with the pending writes on top.
    public struct Record: Sendable, Hashable {
        /// The collection.
        public var collection: String
        /// The record id (a lowercase UUID).
        public var id: String
        /// Every field of the collection; absent values are `.null`.
        public var values: [String: Value]

        /// Creates a record value.
        public init(collection: String, id: String, values: [String: Value]) {
            self.collection = collection
            self.id = id
            self.values = values
        }

        /// The value of `field` (`.null` when unset).
        public subscript(field: String) -> Value { values[field] ?? .null }
    }

    /// A write that will never be applied, kept visible with the reason.
    public struct RejectedWrite: Sendable, Hashable {
        /// The row number in the rejected list.
        public var id: Int64
        /// The collection and record written.
        public var collection: String
        /// The record id.
        public var recordID: String
        /// Whether the write deleted the record.
        public var isDelete: Bool
        /// The values the write tried to set, as text.
        public var values: [String: String]
        /// The stable code (`outside_territory`, `invalid_value`, `hub_only_field`, …).
        public var code: String
        /// Why, for a person.
        public var reason: String
        /// `hub` when the hub refused it (or revoked its record), `local` when local validation did.
        public var source: String
        /// When it was rejected (ISO 8601).
        public var rejectedAt: String
    }

    /// A conflict report the hub raised on one of this replica's writes.
    public struct SeenConflict: Sendable, Hashable {
        /// The report id on the hub (admins look it up with `relais admin conflicts show`).
        public var id: String
        /// The record the write touched.
        public var collection: String
        /// The record id.
        public var recordID: String
        /// The write's dot.
        public var dot: Dot
        /// When the push answer arrived (ISO 8601).
        public var seenAt: String
    }

    /// Where the replica stands.
    public struct Status: Sendable, Hashable {
        /// The replica number (0 before enrollment).
        public var replica: UInt32
        /// The epoch (bumped by each renewal).
        public var epoch: UInt32
        /// Pending writes, not yet acknowledged by the hub.
        public var pending: Int
        /// Pending writes sent and waiting for an answer.
        public var inFlight: Int
        /// Writes refused, in the rejected list.
        public var rejected: Int
        /// Conflict reports raised on this replica's writes.
        public var conflicts: Int
        /// The stored pull cursor.
        public var cursor: UInt64
        /// When the last sync finished (milliseconds since 1970), if ever.
        public var lastSyncMillis: UInt64?
        /// The hub's URL, once enrolled.
        public var hub: String?
        /// The user the device belongs to.
        public var user: String?
        /// The user's role.
        public var role: String?
        /// The territories the user sees.
        public var territories: [String]
        /// The highest counter stamped.
        public var counter: UInt64
        /// The schema version of the file.
        public var schemaVersion: Int
        /// A bootstrap is in progress (its sweep runs after its last page).
        public var bootstrapping: Bool
        /// When the device token expires (milliseconds since 1970), as the hub said when it issued it;
        /// nil when the hub's tokens do not expire or it did not say.
        public var tokenExpiresMillis: UInt64? = nil
        /// Whether the token file beside the replica file holds this replica's token.
        public var hasToken = false
    }

    /// The format of a bulk import.
    public enum ImportFormat: String, Sendable, CaseIterable {
        /// Comma-separated values with a header line naming the fields (`id` optional).
        case csv
        /// One JSON object per line.
        case jsonl
    }

    /// The device's identity as the hub gave it at enrollment.
    public struct Identity: Sendable, Hashable {
        /// The hub's base URL.
        public var hub: String
        /// The replica number.
        public var replica: UInt32
        /// The epoch.
        public var epoch: UInt32
        /// The bearer token. A secret: never logged, never printed.
        public var token: String
        /// The user.
        public var user: String
        /// `rep`, `manager` or `admin`.
        public var role: String
        /// The user's territories.
        public var territories: [String]

        /// Creates an identity.
        public init(
            hub: String, replica: UInt32, epoch: UInt32, token: String, user: String, role: String,
            territories: [String]
        ) {
            self.hub = hub
            self.replica = replica
            self.epoch = epoch
            self.token = token
            self.user = user
            self.role = role
            self.territories = territories
        }
    }
}
