import Logging
import RelaisCore
public import RelaisProtocol

extension HubService {
    /// A wire write converted for the merge engine, with its digest.
    struct IncomingWrite: Sendable {
        var write: RecordWrite
        var digest: [UInt8]
    }

    /// What a push transaction decided.
    private enum PushDecision: Sendable {
        case answered([Relais_V1_WriteResult], head: UInt64, counts: PushCounts)
        case forked(String)
    }

    struct PushCounts: Sendable {
        var applied = 0
        var conflict = 0
        var rejected = 0
        var clamped = 0
        var rules: [String] = []
    }

    /// Applies one push batch (docs/SYNC.md "Push") and answers each write.
    ///
    /// The whole batch is one transaction: replays are answered from the stored results, new writes
    /// are authorized, clamped and merged, and their results and the replica's highest counter are
    /// stored; the answer comes once that is durable. Concurrent pushes share commits (see
    /// ``SQLiteHubStore``).
    ///
    /// - Throws: ``HubError/replicaForked`` when a write's dot is known with another digest, or its
    ///   counter is at most the highest the hub holds without a stored result (nothing is applied;
    ///   an admin event is logged), or when the batch names another epoch than the replica's (0 is
    ///   taken as the current one); ``HubError/forbidden`` when `request.replica` is not the
    ///   token's; ``HubError/deviceRevoked``.
    public func push(_ request: Relais_V1_PushRequest, from principal: Principal) async throws -> Relais_V1_PushResponse
    {
        guard let replica = principal.replica else {
            throw HubError.forbidden.with("An admin API token cannot push; enroll a device.")
        }
        if principal.renewed { throw HubError.replicaForked }
        guard request.replica == replica.rawValue else {
            throw HubError.forbidden.with(
                "The batch names replica \(request.replica); this token's replica is \(replica.rawValue).")
        }
        try await checkSchemaVersion(request.schemaVersion)
        let hubEpoch = try await checkHubEpoch(request.hubEpoch, replica: replica)
        var incoming: [IncomingWrite] = []
        incoming.reserveCapacity(request.writes.count)
        for wire in request.writes {
            incoming.append(
                IncomingWrite(
                    write: try RecordWrite(wire: wire, author: principal.user),
                    digest: Secrets.digest(try codec.serialize(wire, format: .protobuf))))
        }
        let writes = incoming
        let user = principal.user
        let epoch = request.epoch
        let maxSkew = configuration.maxSkewMillis
        let decision = try await store.write { tx -> PushDecision in
            let now = self.now()
            guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
            var highestCounter = device.highestCounter
            guard device.revokedAt == nil else { throw HubError.deviceRevoked }
            guard device.renewedTo == nil else { throw HubError.replicaForked }
            // A batch stamped under another epoch of this replica comes from an older identity.
            guard epoch == 0 || epoch == device.epoch else { throw HubError.replicaForked }
            guard let account = try await tx.user(named: device.user) else { throw HubError.unauthorized }

            // History: replays, forks and counters going backwards, before anything is applied.
            var stored: [Int: StoredWriteResult] = [:]
            let known = try await tx.writeResults(replica: replica, counters: writes.map(\.write.dot.counter))
            for (index, item) in writes.enumerated() {
                let dot = item.write.dot
                if let result = known[dot.counter] {
                    guard result.digest == item.digest else {
                        let detail =
                            "replica \(replica.rawValue) sent a different write for dot \(dot): its history forked"
                        try await tx.insertEvent(
                            HubEvent(at: now, kind: .replicaForked, replica: replica, user: user, detail: detail))
                        return .forked(detail)
                    }
                    stored[index] = result
                } else if dot.counter <= device.highestCounter {
                    let detail =
                        "replica \(replica.rawValue) sent counter \(dot.counter), at most the \(device.highestCounter) "
                        + "already held: it went backwards (restored backup or copied file)"
                    try await tx.insertEvent(
                        HubEvent(at: now, kind: .counterBackwards, replica: replica, user: user, detail: detail))
                    return .forked(detail)
                }
            }

            // Every record the batch touches, and the customers its children name, locked before the
            // first sequence is taken (which locks the head until commit): two hubs then never wait
            // for each other in a cycle.
            try await tx.lockRecords(self.recordKeys(writes.map(\.write)))

            let access = Access(role: account.role, territories: Set(account.territories))
            var counts = PushCounts()
            var results: [Relais_V1_WriteResult] = []
            results.reserveCapacity(writes.count)
            for (index, item) in writes.enumerated() {
                if let result = stored[index] {
                    results.append(Relais_V1_WriteResult(result))
                    continue
                }
                var write = item.write
                let check = HybridLogicalClock.clamp(write.hlc, physicalMillis: now, maxSkewMillis: maxSkew)
                if check.clamped {
                    write.hlc = check.hlc
                    counts.clamped += 1
                }
                let outcome = try await self.applyWrite(
                    write, writer: Writer(role: account.role, access: access, clamped: check.clamped), tx: tx, now: now)
                let result: StoredWriteResult
                switch outcome {
                case .applied:
                    counts.applied += 1
                    result = StoredWriteResult(dot: write.dot, digest: item.digest, status: .applied)
                case .conflict(let ids, let rules):
                    counts.conflict += 1
                    counts.rules += rules
                    result = StoredWriteResult(dot: write.dot, digest: item.digest, status: .conflict, conflictIDs: ids)
                case .rejected(let code, let reason):
                    counts.rejected += 1
                    result = StoredWriteResult(
                        dot: write.dot, digest: item.digest, status: .rejected, code: code.rawValue,
                        reason: Self.storable(reason))
                }
                try await tx.insertWriteResult(result)
                results.append(Relais_V1_WriteResult(result))
                highestCounter = max(highestCounter, write.dot.counter)
            }
            if counts.clamped > 0 {
                try await tx.insertEvent(
                    HubEvent(
                        at: now, kind: .clockSkewClamped, replica: replica, user: user,
                        detail:
                            "\(counts.clamped) write(s) stamped more than \(maxSkew / 1000) s ahead of the hub's clock were clamped"
                    ))
            }
            try await tx.recordPush(
                replica: replica, highestCounter: highestCounter, clampedWrites: Int64(counts.clamped), seenAt: now)
            return .answered(results, head: try await tx.meta().head, counts: counts)
        }
        switch decision {
        case .forked(let detail):
            logger.warning(
                "replica forked", metadata: ["relais.replica": "\(replica.rawValue)", "relais.detail": "\(detail)"])
            throw HubError.replicaForked
        case .answered(let results, let head, let counts):
            metrics.recordWrites(
                applied: counts.applied, conflict: counts.conflict, rejected: counts.rejected, clamped: counts.clamped,
                conflictRules: counts.rules)
            var response = Relais_V1_PushResponse()
            response.results = results
            response.head = head
            response.hubEpoch = hubEpoch
            return response
        }
    }
}

extension HubService {
    /// Returns the hub epoch, once it checked that `known` (the epoch the client holds; empty when it
    /// holds none) is it.
    ///
    /// - Throws: ``HubError/hubRestored(hubEpoch:counter:)`` with the highest counter the hub holds for
    ///   `replica`, when the client names another epoch: the hub was restored since (docs/SYNC.md
    ///   "A restored hub"). ``HubError/deviceRevoked`` first, for a revoked device.
    func checkHubEpoch(_ known: String, replica: ReplicaID) async throws -> String {
        let hubEpoch = try await self.hubEpoch()
        guard !known.isEmpty, known != hubEpoch else { return hubEpoch }
        let counter = try await store.read { tx -> UInt64 in
            guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
            guard device.revokedAt == nil else { throw HubError.deviceRevoked }
            return device.highestCounter
        }
        throw HubError.hubRestored(hubEpoch: hubEpoch, counter: counter)
    }

    /// The records `writes` touch: their own, and their visibility parents named in their fields.
    func recordKeys(_ writes: [RecordWrite]) -> [RecordKey] {
        var keys: Set<RecordKey> = []
        for write in writes {
            guard let collection = schema.collection(write.collection) else { continue }
            keys.insert(RecordKey(collection: collection.name, id: write.recordID.lowercased()))
            // A reference that is no id is refused by the write's validation, and is no key to lock.
            if case .parent(let field, let parentCollection) = collection.visibility,
                let parent = write.fieldValues[field]?.stringValue, FieldType.isUUID(parent)
            {
                keys.insert(RecordKey(collection: parentCollection, id: parent.lowercased()))
            }
        }
        return keys.sorted()
    }
}

extension Relais_V1_WriteResult {
    init(_ result: StoredWriteResult) {
        self.init()
        dot = Relais_V1_Dot(result.dot)
        switch result.status {
        case .applied: status = .applied
        case .conflict: status = .conflict
        case .rejected: status = .rejected
        }
        conflictIds = result.conflictIDs
        code = result.code
        reason = result.reason
    }
}

extension RecordWrite {
    /// The core write carried by a wire write; `author` comes from the token, never the client.
    init(wire: Relais_V1_RecordWrite, author: String) throws(ProtocolError) {
        let change: Change
        if wire.delete {
            change = .delete
        } else {
            var values: [String: Value] = [:]
            for field in wire.fields {
                values[field.field] = try Value(field.value)
            }
            change = .upsert(values)
        }
        self.init(
            collection: wire.collection, recordID: wire.recordID, context: try VersionVector(wire.context),
            dot: Dot(wire.dot), hlc: HLC(wire: wire.hlc), author: author, change: change)
    }
}
