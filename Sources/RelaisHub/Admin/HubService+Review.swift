import Foundation
public import RelaisCore

/// A page of conflict reports and how many match in all.
public struct ConflictPage: Sendable, Hashable {
    /// How many reports match the filters.
    public var total: Int
    /// The reports of the page, newest first.
    public var reports: [ConflictReport]
    /// The name of the customer each report's record belongs to (the record itself, or the customer
    /// its parent field names), by report id; absent when the hub no longer holds it.
    public var customerNames: [String: String] = [:]
}

/// A conflict report with what an admin needs to decide it: the record now, the field's recent
/// versions, and the other reports on the same field.
public struct ConflictDetail: Sendable, Hashable {
    /// The report.
    public var report: ConflictReport
    /// The record as the hub holds it now; `nil` once purged.
    public var record: StoredRecord?
    /// The field's recent versions (every accepted write that carried it, or deleted the record),
    /// newest first. For a `delete-update` report, every write on the record.
    public var history: [FieldVersion]
    /// Other reports on the same record and field, newest first (at most 20).
    public var earlierConflicts: [ConflictReport]
}

/// One version of a field in its history: a write the hub accepted, with who, which device and when,
/// and what became of it.
public struct FieldVersion: Sendable, Hashable {
    /// The write.
    public var entry: HistoryEntry
    /// The value it wrote to the field; `nil` for a delete (or, for a record-level history, a write
    /// that did not carry the field).
    public var value: Value?
    /// The device's name (`hub` for the hub's own writes); `nil` when the device is unknown.
    public var device: String?
    /// The reports in which this version competed, newest first.
    public var conflictIDs: [String]
    /// Whether the merge rule chose this version's value in the latest of those reports; `nil` when it
    /// competed in none.
    public var chosenByRule: Bool?
    /// Whether this is the version whose value the record holds now.
    public var current: Bool
}

/// How a bulk resolve picks a value for each report.
public enum BulkStrategy: Sendable, Hashable {
    /// The competing value with the latest HLC.
    case newest
    /// The competing value with the earliest HLC.
    case oldest
    /// The value written by this user; reports where they wrote none are skipped.
    case pickUser(String)

    /// Parses `newest`, `oldest` or `pick-user:NAME` / `pick-user NAME`.
    public init?(text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch trimmed {
        case "newest": self = .newest
        case "oldest": self = .oldest
        default:
            for prefix in ["pick-user:", "pick-user "] where trimmed.hasPrefix(prefix) {
                let name = String(trimmed.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
                if !name.isEmpty {
                    self = .pickUser(name)
                    return
                }
            }
            return nil
        }
    }

    /// The index of the value this strategy keeps, if any.
    func pick(_ conflict: Conflict) -> Int? {
        let indexed = conflict.values.enumerated()
        switch self {
        case .newest: return indexed.max { $0.element.hlc < $1.element.hlc }?.offset
        case .oldest: return indexed.min { $0.element.hlc < $1.element.hlc }?.offset
        case .pickUser(let name): return indexed.last { $0.element.author == name }?.offset
        }
    }
}

/// What the dashboard shows.
public struct AdminDashboard: Sendable {
    /// Open reports.
    public var open: Int
    /// Every report.
    public var total: Int
    /// Reports per merge rule, most first.
    public var byRule: [(String, Int)]
    /// Reports per salesperson who wrote a competing value, most first.
    public var byUser: [(String, Int)]
    /// Reports per ISO week (`2026-W48`), latest first.
    public var byWeek: [(String, Int)]
    /// Active devices with the largest sync lag (changes not yet pulled), largest first.
    public var lags: [(device: Device, lag: UInt64)]
    /// Devices an admin asked to wipe, newest request first: waiting for their next contact, or wiped.
    public var wipes: [Device] = []
    /// Each device's last verification report, by replica.
    public var verifications: [ReplicaID: DeviceVerification] = [:]
}

extension HubEvent.Kind {
    /// An admin signed in to the admin pages.
    public static let adminSignedIn = HubEvent.Kind(rawValue: "admin_signed_in")
    /// An admin resolved many reports at once.
    public static let conflictsBulkResolved = HubEvent.Kind(rawValue: "conflicts_bulk_resolved")
    /// The kinds that make the audit log of admin actions.
    public static let auditKinds: Set<HubEvent.Kind> = [
        .adminSignedIn, .conflictResolved, .conflictsBulkResolved, .deviceRevoked, .userChanged, .userDisabled,
        .userEnabled, .apiTokenIssued, .apiTokenRevoked, .deviceWipeRequested,
    ]
}

extension HubService {
    /// How many reports a bulk resolve reads at a time.
    static let bulkPageSize = 500

    /// Reports matching `query`: the page it asks for, and the total. Filters and paging run in the
    /// store: only the page is read.
    public func reviewConflicts(_ query: ConflictFilter) async throws -> ConflictPage {
        let filter = query
        let schema = self.schema
        return try await store.read { tx in
            var page = ConflictPage(total: try await tx.conflictCount(filter), reports: try await tx.conflicts(filter))
            for report in page.reports {
                page.customerNames[report.id] = try await Self.customerName(
                    collection: report.conflict.collection, id: report.conflict.recordID, schema: schema, tx: tx)
            }
            return page
        }
    }

    /// The name of the customer the record `collection`/`id` belongs to, when the hub holds it.
    public func customerName(collection: String, id: String) async throws -> String? {
        let schema = self.schema
        return try await store.read { tx in
            try await Self.customerName(collection: collection, id: id, schema: schema, tx: tx)
        }
    }

    /// The name of the customer a record belongs to: the root of its parent chain (a collection whose
    /// visibility is its own territory), its `name` field.
    nonisolated(nonsending) static func customerName(
        collection: String, id: String, schema: Schema, tx: any HubReadTransaction
    ) async throws -> String? {
        var collection = collection
        var id = id
        for _ in 0..<4 {
            guard let declared = schema.collection(collection),
                let record = try await tx.record(collection: collection, id: id)
            else { return nil }
            switch declared.visibility {
            case .territory:
                guard let field = declared.field("name"), case .text(let name) = record.state.value(of: field) else {
                    return nil
                }
                return name
            case .parent(let field, let parent):
                guard let reference = declared.field(field),
                    case .text(let parentID) = record.state.value(of: reference)
                else { return nil }
                collection = parent
                id = parentID
            }
        }
        return nil
    }

    /// How many versions of a field a conflict detail shows by default.
    public static let defaultHistoryLimit = 20

    /// One report with the record now, the field's last `historyLimit` versions, and the field's other reports.
    ///
    /// - Throws: ``HubError/notFound``.
    public func conflictDetail(id: String, historyLimit: Int = HubService.defaultHistoryLimit) async throws
        -> ConflictDetail
    {
        let schema = self.schema
        return try await store.read { tx in
            guard let report = try await tx.conflict(id: id) else {
                throw HubError.notFound.with("No conflict report `\(id)`.")
            }
            let conflict = report.conflict
            let record = try await tx.record(collection: conflict.collection, id: conflict.recordID)
            let related = try await tx.conflicts(
                ConflictFilter(collection: conflict.collection, recordID: conflict.recordID, limit: 200)
            )
            .filter { $0.conflict.field == conflict.field }
            let entries = try await tx.history(
                collection: conflict.collection, recordID: conflict.recordID, field: conflict.field,
                limit: max(0, historyLimit))
            let names = Dictionary(
                try await tx.devices().map { ($0.replica, $0.name) }, uniquingKeysWith: { first, _ in first })
            let fieldSchema = conflict.field.flatMap { schema.collection(conflict.collection)?.field($0) }
            let now: Value? = record.flatMap { record in
                record.state.isDeleted ? nil : fieldSchema.map { record.state.value(of: $0) }
            }
            var currentFound = false
            let history = entries.map { entry -> FieldVersion in
                let value: Value? = entry.deleted ? nil : conflict.field.flatMap { entry.fields[$0] }
                // Reports are newest first: the first one naming this write's dot is the latest.
                let competed = related.filter { $0.conflict.values.contains { $0.dot == entry.dot } }
                let chosen = competed.first.map { report in
                    report.conflict.values.contains {
                        $0.dot == entry.dot && !$0.deleted && $0.value == report.conflict.chosen
                    }
                }
                var current = false
                if !currentFound, let record {
                    if conflict.field == nil || entry.deleted {
                        current = entry.deleted == record.state.isDeleted
                    } else {
                        current = !record.state.isDeleted && value == now
                    }
                    currentFound = current
                }
                return FieldVersion(
                    entry: entry, value: value, device: entry.dot.replica == .hub ? "hub" : names[entry.dot.replica],
                    conflictIDs: competed.map(\.id), chosenByRule: chosen, current: current)
            }
            return ConflictDetail(
                report: report, record: record, history: history,
                earlierConflicts: Array(related.filter { $0.id != id }.prefix(20)))
        }
    }

    /// Resolves a report as an admin tool does: refuses with ``HubError/conflict`` (409), writing
    /// nothing, when the report is already `resolved` and `overturn` is false, or when the record's
    /// version (its sequence, ``StoredRecord/seq``) is not `expectedVersion` — the form was stale.
    /// Without `expectedVersion` (a script, `relais admin conflicts resolve` without
    /// `--record-version`) it also refuses when a device wrote the record after the report in a
    /// write the report does not list (``writtenSince(_:_:tx:)``), as a bulk resolve skips such a
    /// report: the admin decided without seeing that write. Giving the version decides over it.
    @discardableResult
    public func reviewResolve(
        id: String, decision: Decision, reason: String, by admin: String, expectedVersion: UInt64?, overturn: Bool
    ) async throws -> ConflictReport {
        let now = self.now()
        return try await store.write { tx in
            try await self.resolveConflict(
                id: id, decision: decision, reason: reason, by: admin, tx: tx, now: now
            ) { report, record in
                if expectedVersion == nil, try await Self.writtenSince(report, record, tx: tx) {
                    throw HubError.conflict.with(
                        "A device wrote this record after the report (record version \(record.seq)), which the report does not list; nothing was written. Look at the record again, then resolve with record version \(record.seq) to decide over that write."
                    )
                }
                if report.status == .resolved && !overturn {
                    throw HubError.conflict.with(
                        "Conflict \(id) was already resolved by \(report.resolution?.by ?? "an admin"); reload it to see the decision."
                    )
                }
                if let expectedVersion, record.seq != expectedVersion {
                    throw HubError.conflict.with(
                        "The record changed since the form was shown (version \(expectedVersion), now \(record.seq)); nothing was written. Reload and decide again."
                    )
                }
            }
        }
    }

    /// What a bulk resolve did.
    public struct BulkResult: Sendable, Hashable {
        /// The reports resolved.
        public var resolved: [String]
        /// Reports matching the filter that the strategy could not decide (no value by that user), whose
        /// record the hub no longer holds (purged), or whose record a device wrote after the report, a
        /// write not listed in it (``writtenSince(_:_:tx:)``).
        public var skipped: [String]
    }

    /// Resolves every open report matching `query` (the page is ignored) by `strategy`, in one
    /// transaction: all or nothing.
    ///
    /// - Parameter expectedCount: How many reports matched when the admin looked (the form's count).
    ///   When given and no longer true, throws ``HubError/conflict`` (409) and writes nothing: the form
    ///   was stale.
    public func bulkResolve(
        _ query: ConflictFilter, strategy: BulkStrategy, reason: String, by admin: String, expectedCount: Int? = nil
    ) async throws -> BulkResult {
        var query = query
        if query.status == nil { query.status = .open }
        let now = self.now()
        let scan = query
        return try await store.write { tx in
            var filter = scan
            // No push raises or changes a report from here to the commit (PostgreSQL: pushes run
            // alongside), so the count checked is the set resolved, page after page.
            try await tx.lockRecords([])
            let count = try await tx.conflictCount(filter)
            if let expectedCount, expectedCount != count {
                throw HubError.conflict.with(
                    "The matching conflicts changed since the list was shown (\(expectedCount) then, \(count) now); nothing was changed. Reload the list and decide again."
                )
            }
            // A page at a time, oldest first, so that memory stays bounded however many match. The
            // filter asks for open reports, so a resolved one leaves it; skipped ones stay, and the
            // next page starts after them.
            // Processed reports (resolved or skipped) are all older than the unprocessed ones, which are
            // therefore always the first `remaining` of the list (newest first), whether a resolved
            // report leaves the filter (status open) or stays in it (status resolved).
            var result = BulkResult(resolved: [], skipped: [])
            while true {
                let remaining = count - result.resolved.count - result.skipped.count
                guard remaining > 0 else { break }
                filter.offset = max(0, remaining - Self.bulkPageSize)
                filter.limit = min(Self.bulkPageSize, remaining)
                let page = try await tx.conflicts(filter)
                guard !page.isEmpty else { break }
                for report in page.reversed() {
                    // A report whose record was purged can never be resolved: skipped, so that it does
                    // not block every later bulk resolve matching it.
                    guard let index = strategy.pick(report.conflict),
                        let record = try await tx.record(
                            collection: report.conflict.collection, id: report.conflict.recordID),
                        try await !Self.writtenSince(report, record, tx: tx)
                    else {
                        result.skipped.append(report.id)
                        continue
                    }
                    _ = try await self.resolveConflict(
                        id: report.id, decision: .pick(index), reason: reason, by: admin, tx: tx, now: now)
                    result.resolved.append(report.id)
                }
            }
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .conflictsBulkResolved, user: admin,
                    detail:
                        "\(result.resolved.count) conflict(s) resolved in bulk, \(result.skipped.count) skipped: \(reason)"
                ))
            return result
        }
    }

    /// Whether a device wrote the record after `report` a write it does not list: for a field report a
    /// value of its field or a delete, for a `delete-update` report any write. Such a write was made
    /// after the report, most often by someone who had seen both sides, and the admin choosing a
    /// strategy for many reports has not seen it: a bulk resolve skips the report rather than write
    /// over it (docs/ADMIN.md "Bulk resolve"). Writes of the office (an earlier resolution being
    /// overturned, an office edit) don't count.
    ///
    /// Read in the record's write history (accepted after the report's sequence), so that a later
    /// write that has itself been superseded since, by a resolution of another report, still counts;
    /// and in the values the record holds (a later HLC than every listed value), for a history purged
    /// meanwhile.
    nonisolated(nonsending) static func writtenSince(
        _ report: ConflictReport, _ record: StoredRecord, tx: any HubTransaction
    ) async throws -> Bool {
        let conflict = report.conflict
        let listed = Set(conflict.values.map(\.dot))
        func unlisted(_ dot: Dot) -> Bool { dot.replica != .hub && !listed.contains(dot) }
        let limit = 1_000
        let history = try await tx.history(
            collection: conflict.collection, recordID: conflict.recordID, field: conflict.field, limit: limit)
        let since = history.prefix { $0.seq > report.seq }
        // A record written more than `limit` times since: a device has surely written it.
        if since.count == limit || since.contains(where: { unlisted($0.dot) }) { return true }
        guard let newest = conflict.values.map(\.hlc).max() else { return false }
        let state = record.state
        let fields = conflict.field.map { state.fields[$0].map { [$0] } ?? [] } ?? Array(state.fields.values)
        if fields.contains(where: { $0.siblings.contains { unlisted($0.dot) && $0.hlc > newest } }) { return true }
        guard let tombstone = state.tombstone else { return false }
        return ([tombstone] + tombstone.concurrent).contains { unlisted($0.dot) && $0.hlc > newest }
    }

    /// The audit log: admin actions (sign-in, resolve, bulk resolve, device revoke, user changes, users
    /// disabled and enabled, API tokens issued and revoked), newest first.
    public func auditLog(limit: Int = 200) async throws -> [HubEvent] {
        try await store.read { tx in try await tx.events(kinds: HubEvent.Kind.auditKinds, limit: limit) }
    }

    /// Records an admin action in the audit log.
    public func recordAudit(_ kind: HubEvent.Kind, user: String, detail: String) async throws {
        let now = self.now()
        try await store.write { tx in
            _ = try await tx.insertEvent(HubEvent(at: now, kind: kind, user: user, detail: detail))
        }
    }

    /// The dashboard's figures.
    public func dashboard(lagLimit: Int = 10) async throws -> AdminDashboard {
        try await store.read { tx in
            var rules: [String: Int] = [:]
            var users: [String: Int] = [:]
            var weeks: [String: Int] = [:]
            var open = 0
            var total = 0
            var calendar = Calendar(identifier: .iso8601)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            // Streamed: the figures are counted as the reports go by, never all held at once.
            try await tx.forEachConflict(ConflictFilter()) { report in
                total += 1
                if report.status == .open { open += 1 }
                rules[report.conflict.rule, default: 0] += 1
                for author in Set(report.conflict.values.map(\.author)) { users[author, default: 0] += 1 }
                let date = Date(timeIntervalSince1970: Double(report.createdAt) / 1000)
                let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
                let week = String(format: "%04d-W%02d", parts.yearForWeekOfYear ?? 0, parts.weekOfYear ?? 0)
                weeks[week, default: 0] += 1
            }
            let head = try await tx.meta().head
            let devices = try await tx.devices()
            // One row per wiped device: the replica that reported (or, still waiting, the lineage's newest).
            let wipes = Dictionary(grouping: devices.filter { $0.wipeRequestedAt != nil }, by: \.lineage).values
                .compactMap { line in line.first { $0.wipedAt != nil } ?? line.max { $0.createdAt < $1.createdAt } }
                .sorted {
                    ($0.wipeRequestedAt ?? 0, $0.replica.rawValue) > ($1.wipeRequestedAt ?? 0, $1.replica.rawValue)
                }
            let lags = devices.filter(\.isActive).map { device in
                (device: device, lag: head >= device.acknowledgedCursor ? head - device.acknowledgedCursor : 0)
            }.sorted { $0.lag > $1.lag }
            func ranked(_ counts: [String: Int]) -> [(String, Int)] {
                counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map {
                    ($0.key, $0.value)
                }
            }
            let verifications = Dictionary(
                try await tx.verifications().map { ($0.replica, $0) }, uniquingKeysWith: { a, _ in a })
            return AdminDashboard(
                open: open, total: total, byRule: ranked(rules),
                byUser: ranked(users), byWeek: weeks.sorted { $0.key > $1.key }.map { ($0.key, $0.value) },
                lags: Array(lags.prefix(lagLimit)), wipes: wipes, verifications: verifications)
        }
    }
}
