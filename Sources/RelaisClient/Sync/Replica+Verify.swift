import Logging
import RelaisCore
public import RelaisProtocol
import RelaisSQLite

/// What a verification of this replica against the hub found (Protocol/README.md section 14).
public struct VerificationResult: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        /// The replica held exactly the hub's view.
        case equal
        /// Records differed; they were pulled again and the replica now holds the hub's view.
        case repaired
        /// Records still differ after the repair.
        case unrepaired
    }

    /// A record found different.
    public typealias Difference = DigestReconciliation.Difference

    public var outcome: Outcome
    /// The live records the replica held of its view when the check began.
    public var records: Int
    /// The records found different at the first comparison.
    public var differences: [Difference]
    /// Of those, the records the repair fixed.
    public var repaired: Int
    /// The records still different after the repair.
    public var remaining: [Difference]
    /// Digest requests made (0: the view's digest matched at once).
    public var requests: Int
    /// Protobuf bytes of the digest exchange, requests and answers, before compression.
    public var bytes: Int
}

/// When a sync checks the replica against the hub's digest.
public enum VerificationMode: Sendable, Hashable {
    /// After every sync whose last page carries the hub's digest, unless writes are in flight (the
    /// default). A failure to verify never fails the sync.
    case everySync
    /// Never.
    case off
    /// Always (`relais verify`): from the hub's ranges when the last page carries no digest; a failure
    /// to verify fails the sync.
    case full
}

extension Replica {
    /// The digest of every live record this replica holds as the hub confirmed it (Protocol/README.md
    /// section 14): equal to the hub's digest of the user's view when the replica holds exactly it.
    public func viewDigest() throws -> DigestSum {
        try store.viewDigestSum()
    }

    /// ``viewDigest()`` read in shares of at most `entriesPerShare` records, by worker threads from
    /// `parallelRecords` records of a collection on, and from the digest entries' total (tests: every
    /// way must give the same digest).
    func viewDigestWays(entriesPerShare: Int, parallelRecords: Int) throws -> (shared: DigestSum, index: DigestSum) {
        let index = try store.digestIndex()
        return (
            try store.viewDigestSum(entriesPerShare: entriesPerShare, parallelRecords: parallelRecords),
            index.total
        )
    }

    /// Checks the replica against the hub's view and repairs what differs (Protocol/README.md section
    /// 14): compares the view's digest (`hubDigest`, from the sync's last page; `nil` asks the hub),
    /// narrows a difference down over ranges of record positions, pulls the differing records again
    /// whole and removes those the hub does not hold, up to three rounds; then reports the outcome to
    /// the hub. Pending writes are never touched.
    func verifyView(transport: any SyncTransport, token: String, hubDigest: DigestSum?, full: Bool) async throws
        -> VerificationResult
    {
        // The common case first: the whole view's digest, no index kept.
        let total = try store.viewDigestSum()
        var result = VerificationResult(
            outcome: .equal, records: Int(total.count), differences: [], repaired: 0, remaining: [], requests: 0,
            bytes: 0)
        if let hubDigest, hubDigest == total {
            try await report(result, full: full, transport: transport, token: token)
            return result
        }
        var index = try store.digestIndex()
        let schemaVersion = UInt32(schema.version)
        let hubEpoch = try store.hubEpoch
        // The ranges are the hub's as it stands now, not as of this laptop's cursor: a record it
        // changed since is not a difference (the next pull brings it), only newer. Its repair tells
        // (the record comes back with a sequence past the cursor).
        let cursor = try store.cursor
        var newer = Set<String>()
        var first = true
        for round in 1...3 {
            var bytes = 0
            let reconciliation = try await DigestReconciliation.run(local: index) { ranges in
                var request = Relais_V1_DigestRequest()
                request.ranges = ranges.map(\.wire)
                request.schemaVersion = schemaVersion
                request.hubEpoch = hubEpoch
                let response = try await transport.digest(request, token: token)
                bytes += try request.protobufBytes().count + response.protobufBytes().count
                return response.ranges
            }
            result.requests += reconciliation.requests
            result.bytes += bytes
            if first {
                result.differences = reconciliation.differences
                first = false
            }
            result.remaining = reconciliation.differences
            if reconciliation.differences.isEmpty || round == 3 { break }
            newer.formUnion(
                try await repair(reconciliation.differences, after: cursor, transport: transport, token: token))
            index = try store.digestIndex()
        }
        result.differences.removeAll { newer.contains("\($0.collection)/\($0.id)") }
        result.remaining.removeAll { newer.contains("\($0.collection)/\($0.id)") }
        let firstKeys = Set(result.differences.map { "\($0.collection)/\($0.id)" })
        let stillKeys = Set(result.remaining.map { "\($0.collection)/\($0.id)" })
        result.repaired = firstKeys.subtracting(stillKeys).count
        result.outcome = result.differences.isEmpty ? .equal : result.remaining.isEmpty ? .repaired : .unrepaired
        if !result.differences.isEmpty {
            store.logger.notice(
                "verify: the replica differed from the hub's view",
                metadata: [
                    "relais.differing": "\(result.differences.count)", "relais.repaired": "\(result.repaired)",
                    "relais.outcome": "\(result.outcome.rawValue)",
                ])
        }
        try await report(result, full: full, transport: transport, token: token)
        return result
    }

    /// Asks the hub for the records a snapshot left because this laptop held them ahead of it, and
    /// puts them in as the hub holds them (docs/RELIABILITY.md, bug 10); pending writes stay on top.
    /// A failure leaves them to the next sync and does not fail this one.
    func refetchRecordsKeptBySnapshot(transport: any SyncTransport, token: String) async throws {
        let keys = try store.recordsToRefetch()
        guard !keys.isEmpty else { return }
        do {
            _ = try await repair(
                keys.map { .init(collection: $0.collection, id: $0.id, kind: .changed) }, after: 0,
                transport: transport, token: token)
            try store.forgetRecordsToRefetch()
        } catch {
            store.logger.notice(
                "sync: the records a snapshot left could not be asked for again; the next sync will",
                metadata: ["relais.records": "\(keys.count)", "relais.error": "\(error)"])
        }
    }

    /// Pulls the differing records again, a page size at a time, and applies them. Returns the keys
    /// (`collection/id`) of those the hub changed after `cursor`.
    private func repair(
        _ differences: [VerificationResult.Difference], after cursor: UInt64, transport: any SyncTransport,
        token: String
    ) async throws -> Set<String> {
        var newer = Set<String>()
        let keys = differences.map { difference -> Relais_V1_RecordKey in
            var key = Relais_V1_RecordKey()
            key.collection = difference.collection
            key.recordID = difference.id
            return key
        }
        // At most a page of records per request, the protocol's limit on both sides. The hub answers
        // fewer when their bytes pass its page budget: the keys it left are asked again.
        let perRequest = ProtocolLimits().maxPageSize
        var waiting = keys[...]
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(perRequest))
            var request = Relais_V1_RecordsRequest()
            request.keys = batch
            request.schemaVersion = UInt32(schema.version)
            request.hubEpoch = try store.hubEpoch
            let response = try await transport.records(request, token: token)
            _ = try store.applyRepair(records: response.records, absent: response.absent)
            for record in response.records where record.seq > cursor {
                newer.insert("\(record.collection)/\(record.recordID)")
            }
            func name(_ collection: String, _ id: String) -> String { collection + "/" + id.lowercased() }
            let answered = Set(
                response.records.map { name($0.collection, $0.recordID) }
                    + response.absent.map { name($0.collection, $0.recordID) })
            let left = batch.filter { !answered.contains(name($0.collection, $0.recordID)) }
            guard left.count < batch.count else {
                throw SyncError(.protocolFailure, "the hub answered none of the \(batch.count) records asked")
            }
            waiting = (left + waiting.dropFirst(batch.count))[...]
        }
        return newer
    }

    /// Sends the report (section 14.5), or keeps it for the next pull when it only says that a
    /// sync's check found the copy equal: that costs no request.
    private func report(_ result: VerificationResult, full: Bool, transport: any SyncTransport, token: String)
        async throws
    {
        var report = Relais_V1_VerificationReport()
        report.checkedAt = store.wallMillis()
        switch result.outcome {
        case .equal: report.outcome = .equal
        case .repaired: report.outcome = .repaired
        case .unrepaired: report.outcome = .unrepaired
        }
        report.records = UInt64(result.records)
        report.differing = UInt64(result.differences.count)
        report.repaired = UInt64(result.repaired)
        report.full = full
        let bytes = try report.protobufBytes()
        if result.outcome == .equal, !full {
            try store.syncWrite { try store.setState("verification_report", .blob(bytes)) }
            return
        }
        _ = try await transport.reportVerification(report, token: token)
        try store.syncWrite { try store.setState("verification_report", .null) }
    }

    /// The report kept for the next pull (``report(_:full:transport:token:)``), if any.
    func pendingVerificationReport() throws -> Relais_V1_VerificationReport? {
        guard case .blob(let bytes)? = try store.state("verification_report") else { return nil }
        return try? Relais_V1_VerificationReport(protobufBytes: bytes)
    }

    /// Forgets the kept report once a pull carried it to the hub.
    func reportDelivered() throws {
        try store.syncWrite { try store.setState("verification_report", .null) }
    }
}
