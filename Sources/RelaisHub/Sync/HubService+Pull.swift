import RelaisCore
public import RelaisProtocol

extension HubService {
    private enum PullDecision: Sendable {
        case page(Relais_V1_PullResponse, scopeVersion: Int64, rotateToken: Bool)
        case bootstrap(head: UInt64)
        case forked(held: UInt64)
    }

    /// Serves one page of changes visible to the token's user (docs/SYNC.md "Pull").
    ///
    /// The page is read from one snapshot; then the request's cursor is recorded as the device's
    /// acknowledged cursor (and, for cursor 0, the scope version it bootstraps under).
    ///
    /// - Throws: ``HubError/replicaForked`` when `request.counter` is below the highest counter the
    ///   hub holds for the replica (a restored or cloned replica).
    public func pull(_ request: Relais_V1_PullRequest, from principal: Principal) async throws -> Relais_V1_PullResponse
    {
        guard let replica = principal.replica else {
            throw HubError.forbidden.with("An admin API token cannot pull; enroll a device.")
        }
        if principal.renewed { throw HubError.replicaForked }
        // A device marked for wipe is served nothing more; it pushes, reports and erases.
        if principal.wipeRequested { throw HubError.wipeRequested }
        try checkSchemaVersion(request.schemaVersion)
        let hubEpoch = try await checkHubEpoch(request.hubEpoch, replica: replica)
        let pageSize = configuration.limits.pageSize(requested: request.pageSize)
        // The start of the device's pull; `nil` for a client that predates it (whole records).
        let since: UInt64? = request.hasSince ? request.since : nil
        if let since, since > request.cursor {
            throw HubError.badRequest.with("since (\(since)) is after cursor (\(request.cursor)).")
        }
        let decision = try await store.read { tx -> PullDecision in
            guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
            guard device.revokedAt == nil else { throw HubError.deviceRevoked }
            guard device.renewedTo == nil else { throw HubError.replicaForked }
            guard let user = try await tx.user(named: device.user) else { throw HubError.unauthorized }
            if request.counter < device.highestCounter { return .forked(held: device.highestCounter) }
            let meta = try await tx.meta()
            if request.cursor != 0,
                device.scopeVersion != user.scopeVersion || request.cursor < meta.purgeHorizon
                    || request.cursor > meta.head
            {
                return .bootstrap(head: meta.head)
            }
            // The moves a revocation is judged by are purged up to the horizon: a pull started below it
            // starts again from 0.
            if let since, since != 0, since < meta.purgeHorizon { return .bootstrap(head: meta.head) }
            let page = try await self.page(
                after: request.cursor, since: since, size: pageSize, user: user, replica: replica,
                counter: request.echoOwnWrites ? 0 : request.counter, head: meta.head, tx: tx)
            return .page(page, scopeVersion: user.scopeVersion, rotateToken: self.tokenDue(device, at: self.now()))
        }
        let now = self.now()
        switch decision {
        case .forked(let held):
            _ = try await store.write { tx in
                try await tx.insertEvent(
                    HubEvent(
                        at: now, kind: .counterBackwards, replica: replica, user: principal.user,
                        detail: "replica \(replica.rawValue) pulled with counter \(request.counter), below the "
                            + "\(held) already held: restored from a backup or copied"))
            }
            throw HubError.replicaForked
        case .bootstrap(let head):
            var response = Relais_V1_PullResponse()
            response.bootstrapRequired = true
            response.nextCursor = 0
            response.head = head
            response.hubEpoch = hubEpoch
            return response
        case .page(var response, let scopeVersion, let rotateToken):
            response.hubEpoch = hubEpoch
            response.rotateToken = rotateToken
            let cursor = request.cursor
            // A device that sends `since` acknowledges its pull's start: the moves after it are kept
            // until the pull ends (its revocations are judged by them).
            let acknowledged = since ?? cursor
            try await store.write { tx in
                try await tx.acknowledgePull(
                    replica: replica, cursor: acknowledged, scopeVersion: cursor == 0 ? scopeVersion : nil,
                    seenAt: now)
            }
            return response
        }
    }

    /// Builds one page from a snapshot.
    ///
    /// Two candidate streams, both in sequence order: records visible now, and records that moved
    /// out of the user's scopes (revocation candidates). Each was read up to `size + 1` rows, so each
    /// is complete up to its last row's sequence; the page covers candidates up to the lower of the
    /// two bounds, and stops early once it holds `size` records and revocations.
    ///
    /// `since`: the start of the device's pull (docs/SYNC.md "Pull"): what the device holds is judged
    /// there, not at the cursor. `nil` (an older client): whole records, revocations judged at the cursor.
    nonisolated(nonsending) func page(
        after cursor: UInt64, since: UInt64?, size: Int, user: HubUser, replica: ReplicaID, counter: UInt64,
        head: UInt64, tx: any HubReadTransaction
    ) async throws -> Relais_V1_PullResponse {
        let access = Access(role: user.role, territories: Set(user.territories))
        let scopes: Set<String>? = access.role.seesEverything ? nil : access.territories
        // Where the device's holdings are judged: the pull's start, or the cursor for an older client.
        let basis = since ?? cursor
        let visible = try await tx.records(after: cursor, scopes: scopes, limit: size + 1)
        var movedAway: [StoredRecord] = []
        if let scopes, cursor != 0 {
            movedAway = try await tx.movedAway(after: cursor, movedAfter: basis, scopes: scopes, limit: size + 1)
        }
        var bound = UInt64.max
        if visible.count > size, let last = visible.last { bound = min(bound, last.seq) }
        if movedAway.count > size, let last = movedAway.last { bound = min(bound, last.seq) }

        enum Candidate {
            case visible(StoredRecord)
            case away(StoredRecord)
            var seq: UInt64 {
                switch self {
                case .visible(let r), .away(let r): r.seq
                }
            }
        }
        let candidates = (visible.map(Candidate.visible) + movedAway.map(Candidate.away))
            .filter { $0.seq <= bound }
            .sorted { $0.seq < $1.seq }

        // The first move after the cursor of every candidate that may need one, in one store call: a
        // record's scope at the cursor (whole or not, revoked or not) depends on it.
        var moveKeys: [RecordKey] = []
        var awayKeys: [RecordKey] = []
        if !access.role.seesEverything, cursor != 0 {
            for candidate in candidates {
                switch candidate {
                case .visible(let record) where record.wholeSince <= basis && !record.state.isDeleted && basis != 0:
                    moveKeys.append(RecordKey(collection: record.collection, id: record.id))
                case .away(let record):
                    if since == nil {
                        moveKeys.append(RecordKey(collection: record.collection, id: record.id))
                    } else {
                        awayKeys.append(RecordKey(collection: record.collection, id: record.id))
                    }
                default: break
                }
            }
        }
        let moves = try await tx.firstMoves(of: moveKeys, after: basis)
        // Every move since the pull's start of each revocation candidate: the device may hold the record
        // if one of them started or ended in a scope the user sees.
        let awayMoves = try await tx.moves(of: awayKeys, after: basis)

        var response = Relais_V1_PullResponse()
        response.head = head
        var emitted = 0
        var lastSeq = cursor
        var stoppedEarly = false
        for (index, candidate) in candidates.enumerated() {
            if emitted == size {
                stoppedEarly = index < candidates.count
                break
            }
            lastSeq = candidate.seq
            switch candidate {
            case .visible(let record):
                if let version = recordVersion(
                    record, after: cursor, since: since, access: access, replica: replica, counter: counter,
                    moves: moves)
                {
                    response.records.append(version)
                    emitted += 1
                }
            case .away(let record):
                // Moved away after `basis`, so it has a move (the lookups covered every such record).
                let key = RecordKey(collection: record.collection, id: record.id)
                let mayHold: Bool
                if since == nil {
                    mayHold = access.sees(scope: moves[key]?.fromScope)
                } else {
                    mayHold = (awayMoves[key] ?? []).contains {
                        access.sees(scope: $0.fromScope) || access.sees(scope: $0.toScope)
                    }
                }
                if mayHold {
                    var revocation = Relais_V1_Revocation()
                    revocation.collection = record.collection
                    revocation.recordID = record.id
                    response.revocations.append(revocation)
                    emitted += 1
                }
            }
        }
        if stoppedEarly {
            response.nextCursor = lastSeq
            response.more = true
        } else if bound != UInt64.max {
            response.nextCursor = bound
            response.more = true
        } else {
            response.nextCursor = max(head, cursor)
            response.more = false
        }
        return response
    }

    /// The version of `record` a device at `cursor`, in a pull started at `since`, needs, or `nil`
    /// when it needs nothing.
    ///
    /// `moves`: the first move after `since` (or `cursor` when `since` is `nil`) of the page's records
    /// (``HubReadTransaction/firstMoves(of:after:)``).
    private func recordVersion(
        _ record: StoredRecord, after cursor: UInt64, since: UInt64?, access: Access, replica: ReplicaID,
        counter: UInt64, moves: [RecordKey: ScopeMove]
    ) -> Relais_V1_RecordVersion? {
        guard let collection = schema.collection(record.collection) else { return nil }
        var version = Relais_V1_RecordVersion()
        version.collection = record.collection
        version.recordID = record.id
        version.vector = Relais_V1_VersionVector(record.state.vector)
        version.seq = record.seq
        if record.state.isDeleted {
            // A fresh replica (cursor 0) has nothing to delete, unless it wrote to the record itself: a
            // device whose first push was applied but whose answer was lost still holds what it created
            // (docs/RELIABILITY.md, bug 3).
            guard cursor != 0 || record.state.vector[replica] > 0 else { return nil }
            version.deleted = true
            return version
        }
        // Whole: the device may not hold the record at the pull's start (`basis`): a fresh generation
        // (0), a record revived, kept against a delete or moved since, or one whose scope then was not
        // the user's. Otherwise only the fields changed after `since`: the device holds every change up
        // to its pull's start (docs/SYNC.md, "The pull invariant").
        let basis = since ?? cursor
        var whole = basis == 0 || record.wholeSince > basis
        if !whole, !access.role.seesEverything {
            // The record's scope at `basis`: where its first later move started from, or where it is.
            let scopeAtBasis: String?
            if let move = moves[RecordKey(collection: record.collection, id: record.id)] {
                scopeAtBasis = move.fromScope
            } else {
                scopeAtBasis = record.scope
            }
            whole = !access.sees(scope: scopeAtBasis)
        }
        for field in collection.fields {
            guard let state = record.state.fields[field.name], let latest = state.latest else { continue }
            let meta = record.fields[field.name] ?? FieldMeta(seq: record.seq)
            if !whole {
                // Fields changed at or before the pull's start are held by the device. Fields changed
                // after it are sent even when changed at or before the cursor: the record may have moved
                // past the page that covered their change before the device read that page, and then
                // the device never got them (docs/RELIABILITY.md, bug 1). An older client (no `since`)
                // gets every field.
                if let since, meta.seq <= since { continue }
                // Own writes are not echoed: the device holds them already, unless the record was
                // ever revived, lost a delete or moved between scopes (`wholeSince` set): the device
                // may have removed it, and the page that covered the revival may have been read after
                // the record moved past it (bug 5), so such a record's own writes are always sent.
                if record.wholeSince == 0, state.siblings.count == 1, latest.dot.replica == replica,
                    latest.dot.counter <= counter, !meta.clamped
                {
                    continue
                }
            }
            version.fields.append(
                Relais_V1_FieldVersion(
                    field: field.name, value: state.value(rule: field.rule), dot: latest.dot, hlc: latest.hlc))
        }
        return version.fields.isEmpty ? nil : version
    }
}
