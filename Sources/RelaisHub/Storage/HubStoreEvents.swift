public import RelaisCore

// The events a hub store keeps for admins: the event log and, among it, the audit log of admin actions.

/// Something an admin should know: a fork, a clamped clock, a device enrolled, revoked or renewed.
public struct HubEvent: Sendable, Hashable {
    /// The kind of event.
    public struct Kind: RawRepresentable, Sendable, Hashable {
        /// The name the store keeps, in snake case (`device_enrolled`).
        public var rawValue: String
        /// The kind named `rawValue`.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A device enrolled with a one-time code.
        public static let deviceEnrolled = Kind(rawValue: "device_enrolled")
        /// An admin revoked a device, and with it every replica of its lineage.
        public static let deviceRevoked = Kind(rawValue: "device_revoked")
        /// A forked device was given a new replica number (the event's `replica`).
        public static let deviceRenewed = Kind(rawValue: "device_renewed")
        /// A replica pushed a write other than the one the hub holds for the same dot.
        public static let replicaForked = Kind(rawValue: "replica_forked")
        /// A replica's counter went backwards (a restored backup or a copied file).
        public static let counterBackwards = Kind(rawValue: "counter_backwards")
        /// Writes of a push were stamped too far ahead of the hub's clock, and clamped.
        public static let clockSkewClamped = Kind(rawValue: "clock_skew_clamped")
        /// An admin resolved a conflict report.
        public static let conflictResolved = Kind(rawValue: "conflict_resolved")
        /// A user's role or territories changed.
        public static let userChanged = Kind(rawValue: "user_changed")
        /// An admin disabled a user: their devices, codes, API tokens and sessions were revoked.
        public static let userDisabled = Kind(rawValue: "user_disabled")
        /// An admin enabled a disabled user again.
        public static let userEnabled = Kind(rawValue: "user_enabled")
        /// An admin API token was issued (the event names its id, never the token).
        public static let apiTokenIssued = Kind(rawValue: "api_token_issued")
        /// An admin API token was revoked.
        public static let apiTokenRevoked = Kind(rawValue: "api_token_revoked")
        /// A tombstone purge removed records.
        public static let tombstonesPurged = Kind(rawValue: "tombstones_purged")
        /// The hub epoch was renewed (a restore from a backup): laptops push again what the hub lacks.
        public static let hubEpochRenewed = Kind(rawValue: "hub_epoch_renewed")
        /// A data schema was recorded or applied (`relais-hub schema apply`): laptops migrate at their
        /// next sync.
        public static let schemaApplied = Kind(rawValue: "schema_applied")
        /// A manager confirmed a programme or a status the reports proposed (docs/CRM.md).
        public static let proposalConfirmed = Kind(rawValue: "proposal_confirmed")
        /// The hub wrote customers' lifetime values and segments computed from orders and the pipeline.
        public static let valuesUpdated = Kind(rawValue: "values_updated")
        /// An admin asked for a device (its whole lineage) to be wiped at its next contact.
        public static let deviceWipeRequested = Kind(rawValue: "device_wipe_requested")
        /// A device marked for wipe pushed what it could, reported, and erased its replica.
        public static let deviceWiped = Kind(rawValue: "device_wiped")
    }

    /// The event's number, assigned by the store when it is inserted (ids grow); 0 until then.
    public var id: Int64
    /// When it happened, in milliseconds since 1970.
    public var at: UInt64
    /// What happened.
    public var kind: Kind
    /// The device's replica it concerns; `nil` when it concerns none.
    public var replica: ReplicaID?
    /// The user it concerns: the device's, the changed one, or the admin who acted; `nil` for none.
    public var user: String?
    /// A sentence for people: never a secret or a field value.
    public var detail: String

    /// An event; `id` is left to the store.
    public init(id: Int64 = 0, at: UInt64, kind: Kind, replica: ReplicaID? = nil, user: String? = nil, detail: String) {
        self.id = id
        self.at = at
        self.kind = kind
        self.replica = replica
        self.user = user
        self.detail = detail
    }
}
