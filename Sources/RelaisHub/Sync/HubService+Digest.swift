import Crypto
import Foundation
import Logging
import RelaisCore
public import RelaisProtocol
import SwiftProtobuf
import Synchronization

/// View digests (Protocol/README.md section 14): what a device checks its copy against, the ranges
/// it narrows a difference with, the records it repairs, and the report it sends.
extension HubService {
    /// `record` with its view digest set from its state (``StoredRecord/digest``): `nil` for a
    /// tombstone or a collection the schema does not know. Every record write goes through it.
    func digested(_ record: StoredRecord) -> StoredRecord {
        var record = record
        record.digest = digest(of: record.state)
        return record
    }

    /// The view digest of a live record's state, each field's value under its rule.
    func digest(of state: RecordState) -> RecordDigest? {
        guard !state.isDeleted, let collection = schema.collection(state.collection) else { return nil }
        var encoder = RecordDigestEncoder()
        for (name, field) in state.fields {
            guard let schemaField = collection.field(name) else { continue }
            encoder.field(name, field.value(rule: schemaField.rule))
        }
        return encoder.digest(
            collection: state.collection, id: state.id,
            vector: state.vector.sortedEntries.map { ($0.replica.rawValue, $0.counter) })
    }

    /// The digest of the view of user `name` as it stands now (for checks and tools).
    public func viewDigest(user name: String) async throws -> DigestSum {
        try await store.read { tx in
            guard let user = try await tx.user(named: name) else {
                throw HubError.notFound.with("There is no user \(name).")
            }
            return try await self.viewDigest(scopes: Self.viewScopes(user), tx: tx)
        }
    }

    /// The fingerprint of what a record's digest depends on in the schema: its version, and each
    /// collection's fields with their types and rules. Stored digests computed under another one are
    /// not used (``storedDigestsCurrent(_:)``) and are computed again (``backfillDigests(batch:)``).
    var digestSchema: String {
        var text = "\(schema.version)"
        for collection in schema.collections.sorted(by: { $0.name < $1.name }) {
            text += "|\(collection.name)"
            for field in collection.fields.sorted(by: { $0.name < $1.name }) {
                text += ";\(field.name):\(field.type):\(field.rule)"
            }
        }
        return SHA256.hash(data: Array(text.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether the stored digests were computed under this schema (checked in the store once, then
    /// remembered): when not, views are digested from the records' states until the backfill at start
    /// has computed them again.
    nonisolated(nonsending) func storedDigestsCurrent(_ tx: any HubReadTransaction) async throws -> Bool {
        if digestSchemaChecked.withLock({ $0 }) { return true }
        guard try await tx.digestSchema() == digestSchema else { return false }
        digestSchemaChecked.withLock { $0 = true }
        return true
    }

    /// Makes the stored digests usable by this schema: when they were computed under another one (or
    /// before the store recorded which), forgets them all, to be computed from the records' states
    /// until ``backfillDigests(batch:)`` has stored them again. Run before serving (`relais-hub serve`
    /// runs it with the backfill at start); until then, views are digested from the states.
    public func prepareDigests() async throws {
        let schema = digestSchema
        if try await store.read({ tx in try await tx.digestSchema() }) != schema {
            let previous = try await store.write { tx -> String?? in
                // Under the write lock: another hub may have done it meanwhile.
                let previous = try await tx.digestSchema()
                guard previous != schema else { return .none }
                try await tx.resetDigests(schema: schema)
                return .some(previous)
            }
            switch previous {
            case .some(.some):
                logger.notice("stored view digests forgotten: computed under another schema; storing them again")
            case .some(.none):
                // A new store, or one from before the schema was kept: its digests (if any) are redone.
                logger.info("view digests: the schema they are computed under is recorded")
            case .none:
                break
            }
        }
        digestSchemaChecked.withLock { $0 = true }
    }

    /// Stores the digest of every live record without one (written before digests, or whose stored
    /// digest was computed under another schema: they are all forgotten first), a thousand at a time,
    /// so that views are digested from stored values only. Safe beside pushes: a record changed
    /// meanwhile keeps the digest its write stored. Returns how many it stored.
    @discardableResult
    public func backfillDigests(batch: Int = 1000) async throws -> Int {
        try await prepareDigests()
        var after: RecordKey?
        var stored = 0
        while true {
            let start = after
            let rows = try await store.read { tx in try await tx.undigestedRecords(after: start, limit: batch) }
            guard let last = rows.last else { return stored }
            var digests: [(row: StoredRecordRow, digest: [UInt8])] = []
            for row in rows {
                if let digest = digest(of: try row.decoded().state) { digests.append((row, digest.stored)) }
            }
            let found = digests
            try await store.write { tx in
                for (row, digest) in found {
                    try await tx.setDigest(collection: row.collection, id: row.id, seq: row.seq, digest: digest)
                }
            }
            stored += found.count
            after = RecordKey(collection: last.collection, id: last.id)
        }
    }

    /// The scopes a user's view holds (`nil`: everything).
    static func viewScopes(_ user: HubUser) -> Set<String>? {
        user.role.seesEverything ? nil : Set(user.territories)
    }

    /// Calls `body` with the digest of every live record of the view, computing it from the state
    /// for a row written before digests.
    nonisolated(nonsending) func forEachDigest(
        scopes: Set<String>?, keys: Bool, tx: any HubReadTransaction,
        _ body: (DigestRow, RecordDigest) throws -> Void
    ) async throws {
        let stored = try await storedDigestsCurrent(tx)
        try await tx.forEachDigestRow(scopes: scopes, keys: keys, stored: stored) { row in
            if let bytes = row.digest, let digest = RecordDigest(stored: bytes) {
                try body(row, digest)
            } else if let state = row.state {
                let (decoded, _) = try state.withUnsafeBytes {
                    try RecordCodec.decode($0, collection: row.collection, id: row.id)
                }
                if let digest = self.digest(of: decoded) { try body(row, digest) }
            }
        }
    }

    /// The digest of a whole view: a pull's last page carries it.
    nonisolated(nonsending) func viewDigest(scopes: Set<String>?, tx: any HubReadTransaction) async throws -> DigestSum
    {
        var sum = DigestSum()
        if try await storedDigestsCurrent(tx) {
            // The stored digests summed by the store; the records without one digested from their state.
            let stored = try await tx.sumStoredDigests(scopes: scopes) { row in
                guard let state = row.state else { return }
                let (decoded, _) = try state.withUnsafeBytes {
                    try RecordCodec.decode($0, collection: row.collection, id: row.id)
                }
                if let digest = self.digest(of: decoded) { sum.add(digest.hash) }
            }
            sum.merge(DigestSum(count: stored.count, hash: RecordHash(high: stored.high, low: stored.low)))
            return sum
        }
        try await forEachDigest(scopes: scopes, keys: false, tx: tx) { _, digest in sum.add(digest.hash) }
        return sum
    }

    /// The digest of a whole view at `head` (the transaction's snapshot stands at it), from the
    /// cache when a pull of the same visibility read it at the same head.
    ///
    /// Why the head determines the digest: every write of a record takes a new sequence and the head
    /// moves with it, in commit order (on PostgreSQL too: ``PostgresHubTransaction/nextSequence()``),
    /// so two snapshots at one head hold the same records. What changes a record without a sequence
    /// changes no digest: storing a backfilled digest (equal to the state's), purging tombstones. A
    /// restored store starts a new epoch, part of the key, and a new data schema (its version is part
    /// of the key) digests the same records differently.
    nonisolated(nonsending) func viewDigest(
        scopes: Set<String>?, head: UInt64, epoch: String, tx: any HubReadTransaction
    ) async throws -> DigestSum {
        let key = ViewDigestCache.Key(scopes: scopes, head: head, epoch: epoch, schema: schema.version)
        if let cached = viewDigests[key] { return cached }
        let sum = try await viewDigest(scopes: scopes, tx: tx)
        viewDigests[key] = sum
        return sum
    }

    /// A view's records by position, to answer ranges.
    nonisolated(nonsending) func viewIndex(scopes: Set<String>?, tx: any HubReadTransaction) async throws -> DigestIndex
    {
        var entries: [DigestEntry] = []
        try await forEachDigest(scopes: scopes, keys: true, tx: tx) { row, digest in
            entries.append(DigestEntry(collection: row.collection, id: row.id, digest: digest))
        }
        return DigestIndex(entries)
    }

    /// The device's user, checked as a pull checks it.
    private nonisolated(nonsending) func verifyingUser(_ replica: ReplicaID, tx: any HubReadTransaction) async throws
        -> HubUser
    {
        guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
        guard device.revokedAt == nil else { throw HubError.deviceRevoked }
        guard device.renewedTo == nil else { throw HubError.replicaForked }
        guard let user = try await tx.user(named: device.user) else { throw HubError.unauthorized }
        return user
    }

    private func verifyingReplica(_ principal: Principal, schemaVersion: UInt32, hubEpoch: String) async throws
        -> ReplicaID
    {
        guard let replica = principal.replica else {
            throw HubError.forbidden.with("An admin API token holds no replica to verify; enroll a device.")
        }
        if principal.renewed { throw HubError.replicaForked }
        if principal.wipeRequested { throw HubError.wipeRequested }
        try await checkSchemaVersion(schemaVersion)
        _ = try await checkHubEpoch(hubEpoch, replica: replica)
        return replica
    }

    /// `POST /v1/digest`: the digests of ranges of the token's user's view as it stands now, each with
    /// its sub-ranges' digests or, for a small range, its records' hashes.
    public func digest(_ request: Relais_V1_DigestRequest, from principal: Principal) async throws
        -> Relais_V1_DigestResponse
    {
        let replica = try await verifyingReplica(
            principal, schemaVersion: request.schemaVersion, hubEpoch: request.hubEpoch)
        guard request.ranges.count <= DigestRange.maximumPerRequest else {
            throw HubError.badRequest.with(
                "A digest request asks for at most \(DigestRange.maximumPerRequest) ranges (\(request.ranges.count) asked)."
            )
        }
        var ranges: [DigestRange] = []
        for (index, wire) in request.ranges.enumerated() {
            guard let range = DigestRange(wire) else {
                throw HubError.badRequest.with(
                    "ranges[\(index)]: level \(wire.level) and prefix \(wire.prefix) are not a range (level 0 to 15, prefix below 16^level)."
                )
            }
            ranges.append(range)
        }
        let asked = ranges
        return try await store.read { tx in
            let user = try await self.verifyingUser(replica, tx: tx)
            let head = try await tx.meta().head
            let index = try await self.viewIndex(scopes: Self.viewScopes(user), tx: tx)
            var response = Relais_V1_DigestResponse()
            response.ranges = asked.map { index.answer($0) }
            response.head = head
            return response
        }
    }

    /// `POST /v1/records`: records of the token's user's view by key, whole, own writes included; the
    /// others (deleted, unknown, not visible) listed as absent. Once the records written pass the page
    /// byte budget (``ProtocolLimits/maxPageBytes``; at least one is written), the keys left are not
    /// answered, neither sent nor listed: the client asks for them again.
    public func records(_ request: Relais_V1_RecordsRequest, from principal: Principal) async throws
        -> Relais_V1_RecordsResponse
    {
        let replica = try await verifyingReplica(
            principal, schemaVersion: request.schemaVersion, hubEpoch: request.hubEpoch)
        let limit = configuration.limits.pageSize(requested: 0)
        guard request.keys.count <= limit else {
            throw HubError.badRequest.with(
                "A records request asks for at most \(limit) records (\(request.keys.count) asked).")
        }
        let page = try await store.read { tx -> ([UInt8], [Relais_V1_RecordKey]) in
            let user = try await self.verifyingUser(replica, tx: tx)
            let head = try await tx.meta().head
            let access = Access(role: user.role, territories: Set(user.territories))
            var writer = PullPageWriter()
            // Cursor and `since` 0, counter 0: every field, the device's own writes included.
            let device = PullPageWriter.Device(
                replica: replica, counter: 0, cursor: 0, since: 0, access: access, compactDots: false)
            var absent: [Relais_V1_RecordKey] = []
            for key in request.keys {
                if writer.byteCount >= self.configuration.limits.maxPageBytes { break }
                let id = key.recordID.lowercased()
                var written = false
                if let record = try await tx.record(collection: key.collection, id: id), !record.state.isDeleted,
                    access.sees(scope: record.scope)
                {
                    let row = StoredRecordRow(
                        collection: record.collection, id: record.id, seq: record.seq, wholeSince: record.wholeSince,
                        scope: record.scope, parentID: record.parentID, deletedAt: record.deletedAt,
                        state: RecordCodec.encode(record.state, fields: record.fields))
                    written = try writer.record(row, for: device, moves: [:], schema: self.schema)
                }
                if !written { absent.append(key) }
            }
            return (writer.finish(nextCursor: 0, more: false, head: head), absent)
        }
        let decoded = try Relais_V1_PullResponse(serializedBytes: page.0)
        var response = Relais_V1_RecordsResponse()
        response.records = decoded.records
        response.absent = page.1
        response.head = decoded.head
        return response
    }

    /// `POST /v1/verification`: keeps what the device found (``DeviceVerification``) for the
    /// dashboard, `relais-hub device list` and `/metrics`.
    public func reportVerification(_ report: Relais_V1_VerificationReport, from principal: Principal) async throws
        -> Relais_V1_VerificationReportResponse
    {
        guard let replica = principal.replica else {
            throw HubError.forbidden.with("An admin API token holds no replica to report on.")
        }
        let now = self.now()
        let verification = try Self.verification(report, replica: replica, now: now)
        try await store.write { tx in
            guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
            guard device.revokedAt == nil else { throw HubError.deviceRevoked }
            try await tx.recordVerification(verification)
        }
        metrics.recordVerification(verification)
        var response = Relais_V1_VerificationReportResponse()
        response.recordedAt = now
        return response
    }

    /// The most records a verification report may count (a view is far smaller; larger counts are refused).
    static let maximumReportedRecords: UInt64 = 1_000_000_000

    /// A report as the hub keeps it: made when the device says (never later than `now`; `now` when
    /// it does not say).
    static func verification(_ report: Relais_V1_VerificationReport, replica: ReplicaID, now: UInt64) throws
        -> DeviceVerification
    {
        let outcome: DeviceVerification.Outcome
        switch report.outcome {
        case .equal: outcome = .equal
        case .repaired: outcome = .repaired
        case .unrepaired: outcome = .unrepaired
        default:
            throw HubError.badRequest.with("outcome must be OUTCOME_EQUAL, OUTCOME_REPAIRED or OUTCOME_UNREPAIRED.")
        }
        guard report.records <= Self.maximumReportedRecords, report.differing <= Self.maximumReportedRecords else {
            throw HubError.badRequest.with("A report counts at most \(Self.maximumReportedRecords) records.")
        }
        guard report.repaired <= report.differing else {
            throw HubError.badRequest.with(
                "repaired (\(report.repaired)) is more than differing (\(report.differing)).")
        }
        return DeviceVerification(
            replica: replica, at: report.checkedAt == 0 ? now : min(report.checkedAt, now), outcome: outcome,
            records: report.records, differing: report.differing, repaired: report.repaired, full: report.full)
    }
}

/// The digests of the views pulls read lately (Protocol/README.md section 14): a device that syncs
/// with nothing new gets its view's digest without the hub reading the view again.
final class ViewDigestCache: Sendable {
    struct Key: Hashable {
        /// Sorted territories; `nil` for everything.
        var scopes: [String]?
        var head: UInt64
        var epoch: String
        /// The data schema's version.
        var schema: Int

        init(scopes: Set<String>?, head: UInt64, epoch: String, schema: Int) {
            self.scopes = scopes?.sorted()
            self.head = head
            self.epoch = epoch
            self.schema = schema
        }
    }

    /// Views kept; past it the oldest heads go first.
    static let capacity = 256

    private let entries = Mutex<[Key: DigestSum]>([:])

    subscript(key: Key) -> DigestSum? {
        get { entries.withLock { $0[key] } }
        set {
            entries.withLock { entries in
                entries[key] = newValue
                if entries.count > Self.capacity {
                    // Digests at older heads serve no pull again once a newer one is cached.
                    let cut = entries.keys.map(\.head).sorted()[entries.count - Self.capacity / 2]
                    entries = entries.filter { $0.key.head >= cut }
                }
            }
        }
    }
}
