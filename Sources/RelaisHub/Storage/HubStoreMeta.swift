public import RelaisCore

// A hub store's singleton state and its commit figures.

/// The hub's singleton state.
public struct HubMeta: Sendable, Hashable {
    /// The highest sequence handed out.
    public var head: UInt64
    /// The highest sequence of a tombstone purged for age: a device whose cursor (not 0) is below
    /// it must bootstrap.
    public var purgeHorizon: UInt64
    /// The highest sequence of a tombstone or a move any purge removed, for age or once every device
    /// that had synced acknowledged it (at least ``purgeHorizon``): a snapshot whose cursor is below
    /// it is not served, and a pull whose start (`since`, not 0) is below it must bootstrap.
    public var purgedUpTo: UInt64
    /// The hub replica's (0) last counter, for admins' writes.
    public var hubCounter: UInt64
    /// The hub's HLC, for admins' writes.
    public var hubClock: HLC
    /// The next replica number to hand out.
    public var nextReplica: UInt32

    /// The state; `purgedUpTo` is raised to `purgeHorizon` when below it.
    public init(
        head: UInt64, purgeHorizon: UInt64, purgedUpTo: UInt64 = 0, hubCounter: UInt64, hubClock: HLC,
        nextReplica: UInt32
    ) {
        self.head = head
        self.purgeHorizon = purgeHorizon
        self.purgedUpTo = max(purgedUpTo, purgeHorizon)
        self.hubCounter = hubCounter
        self.hubClock = hubClock
        self.nextReplica = nextReplica
    }
}

/// A data schema as the store keeps it: every version applied stays, the highest is in force.
public struct StoredSchema: Sendable, Hashable {
    /// The schema's version.
    public var version: Int
    /// The schema file's text, exactly as applied (what `GET /v1/schema` serves).
    public var definition: String
    /// When it was applied, in milliseconds since 1970.
    public var appliedAt: UInt64

    /// A stored schema.
    public init(version: Int, definition: String, appliedAt: UInt64) {
        self.version = version
        self.definition = definition
        self.appliedAt = appliedAt
    }
}

/// Figures about how the store commits: group commit shows as fewer commits than transactions.
public struct HubStoreStatistics: Sendable, Hashable {
    /// Write transactions run (each a savepoint inside a shared commit).
    public var transactions: Int
    /// Commits (each one `fsync`).
    public var commits: Int
    /// The most transactions that shared one commit.
    public var largestGroup: Int
    /// Checkpoints of the embedded store's write-ahead log run off the writer's thread (0 for
    /// PostgreSQL).
    public var backgroundCheckpoints: Int

    /// Figures, 0 unless given.
    public init(transactions: Int = 0, commits: Int = 0, largestGroup: Int = 0, backgroundCheckpoints: Int = 0) {
        self.transactions = transactions
        self.commits = commits
        self.largestGroup = largestGroup
        self.backgroundCheckpoints = backgroundCheckpoints
    }
}
