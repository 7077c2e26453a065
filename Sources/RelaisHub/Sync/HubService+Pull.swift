import RelaisCore
public import RelaisProtocol
import SwiftProtobuf

extension HubService {
    private enum PullDecision: Sendable {
        case page([UInt8], scopeVersion: Int64, rotateToken: Bool, digest: DigestSum?)
        case bootstrap(head: UInt64)
        case forked(held: UInt64)
    }

    /// Every field the hub writes in a pull page, by protobuf message name (the page is written
    /// field by field, not by swift-protobuf: docs/PERFORMANCE.md, "pages").
    public static var pullPageFields: [String: [Int]] { PullPageWriter.writtenFields }

    /// Serves one page of changes visible to the token's user (docs/SYNC.md "Pull"), as a message:
    /// ``pullEncoded(_:from:)`` decoded.
    public func pull(_ request: Relais_V1_PullRequest, from principal: Principal) async throws -> Relais_V1_PullResponse
    {
        let bytes = try await pullEncoded(request, from: principal)
        do {
            return try Relais_V1_PullResponse(serializedBytes: bytes)
        } catch {
            throw HubError.internal.with("A pull page could not be read back: \(error).")
        }
    }

    /// Serves one page of changes visible to the token's user (docs/SYNC.md "Pull"): the protobuf
    /// bytes of its `PullResponse`, written straight from the stored records (``PullPageWriter``).
    ///
    /// The page is read from one snapshot; then the request's cursor is recorded as the device's
    /// acknowledged cursor (and, for cursor 0, the scope version it bootstraps under).
    ///
    /// - Throws: ``HubError/replicaForked`` when `request.counter` is below the highest counter the
    ///   hub holds for the replica (a restored or cloned replica).
    public func pullEncoded(_ request: Relais_V1_PullRequest, from principal: Principal) async throws -> [UInt8] {
        guard let replica = principal.replica else {
            throw HubError.forbidden.with("An admin API token cannot pull; enroll a device.")
        }
        if principal.renewed { throw HubError.replicaForked }
        // A device marked for wipe is served nothing more; it pushes, reports and erases.
        if principal.wipeRequested { throw HubError.wipeRequested }
        try await checkSchemaVersion(request.schemaVersion)
        let hubEpoch = try await checkHubEpoch(request.hubEpoch, replica: replica)
        let pageSize = configuration.limits.pageSize(requested: request.pageSize)
        // The start of the device's pull; `nil` for a client that predates it (whole records).
        let since: UInt64? = request.hasSince ? request.since : nil
        if let since, since > request.cursor {
            throw HubError.badRequest.with("since (\(since)) is after cursor (\(request.cursor)).")
        }
        // A check the device made at the end of its last sync, kept with the acknowledged cursor.
        // An unreadable report is dropped, never a reason to refuse the pull (the client would resend it).
        let verification =
            request.hasVerification
            ? try? Self.verification(request.verification, replica: replica, now: self.now()) : nil
        let decision = try await store.read { tx -> PullDecision in
            guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
            guard device.revokedAt == nil else { throw HubError.deviceRevoked }
            guard device.renewedTo == nil else { throw HubError.replicaForked }
            guard let user = try await tx.user(named: device.user) else { throw HubError.unauthorized }
            if request.counter < device.highestCounter { return .forked(held: device.highestCounter) }
            let meta = try await tx.meta()
            // A pull that started at 0 goes on below the horizon: sent back to 0, a bootstrap by pages
            // would stop at the same page at every sync (a record it received earlier and whose delete
            // a purge for age took meanwhile is left to the check at the end of the sync). A pull from
            // elsewhere, or an older client's (no `since`), is sent back to 0.
            if request.cursor != 0,
                device.scopeVersion != user.scopeVersion || request.cursor > meta.head
                    || (request.cursor < meta.purgeHorizon && since != 0)
            {
                return .bootstrap(head: meta.head)
            }
            // The moves a revocation is judged by, and tombstones, are purged up to `purgedUpTo` (every
            // device that had synced was past them): a pull started below it (after a snapshot a purge
            // overtook, or from a file restored from a backup) starts again from 0.
            if let since, since != 0, since < meta.purgedUpTo { return .bootstrap(head: meta.head) }
            let page = try await self.page(
                after: request.cursor, since: since, size: pageSize, user: user, replica: replica,
                counter: request.echoOwnWrites ? 0 : request.counter, head: meta.head,
                compactDots: request.compactDots, tx: tx)
            // The last page of a pull: the digest of the view at its cursor, from the same snapshot
            // (Protocol/README.md section 14).
            let digest =
                page.more
                ? nil
                : try await self.viewDigest(
                    scopes: Self.viewScopes(user), head: meta.head, epoch: hubEpoch, tx: tx)
            return .page(
                page.bytes, scopeVersion: user.scopeVersion, rotateToken: self.tokenDue(device, at: self.now()),
                digest: digest)
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
            return try codec.serialize(response, format: .protobuf)
        case .page(let page, let scopeVersion, let rotateToken, let digest):
            // Fields 7 to 9 follow the page's own: the bytes stay in field-number order.
            var writer = ProtobufWriter(capacity: page.count + hubEpoch.utf8.count + 40)
            writer.append(page)
            writer.string(7, hubEpoch)
            writer.bool(8, rotateToken)
            if let digest {
                let mark = writer.beginMessage(9)
                writer.uint64(1, digest.count)
                digest.xor.bytes.withUnsafeBytes { writer.lengthDelimited(2, $0) }
                writer.endMessage(mark)
            }
            let cursor = request.cursor
            // A device that sends `since` acknowledges its pull's start: the moves after it are kept
            // until the pull ends (its revocations are judged by them).
            let acknowledged = since ?? cursor
            try await store.write { tx in
                try await tx.acknowledgePull(
                    replica: replica, cursor: acknowledged, scopeVersion: cursor == 0 ? scopeVersion : nil,
                    seenAt: now)
                if let verification { try await tx.recordVerification(verification) }
            }
            if let verification { metrics.recordVerification(verification) }
            return writer.bytes
        }
    }

    /// Builds one page from a snapshot: the protobuf bytes of its `PullResponse` without the hub epoch
    /// and the rotation flag, which the request adds (fields 7 and 8, after the page's own).
    ///
    /// Two candidate streams, both in sequence order: records visible now, and records that moved
    /// out of the user's scopes (revocation candidates). Each was read up to `size + 1` rows, so each
    /// is complete up to its last row's sequence; the page covers candidates up to the lower of the
    /// two bounds, and stops early once it holds `size` records and revocations.
    ///
    /// `since`: the start of the device's pull (docs/SYNC.md "Pull"): what the device holds is judged
    /// there, not at the cursor. `nil` (an older client): whole records, revocations judged at the cursor.
    /// `compactDots`: the device reads a field's dot and HLC time from its record when the field
    /// carries none (Protocol/README.md section 7.2).
    nonisolated(nonsending) func page(
        after cursor: UInt64, since: UInt64?, size: Int, user: HubUser, replica: ReplicaID, counter: UInt64,
        head: UInt64, compactDots: Bool = false, tx: any HubReadTransaction
    ) async throws -> (bytes: [UInt8], more: Bool) {
        let access = Access(role: user.role, territories: Set(user.territories))
        let scopes: Set<String>? = access.role.seesEverything ? nil : access.territories
        // Where the device's holdings are judged: the pull's start, or the cursor for an older client.
        let basis = since ?? cursor
        let visible = try await tx.recordRows(after: cursor, scopes: scopes, limit: size + 1)
        var movedAway: [StoredRecord] = []
        if let scopes, cursor != 0 {
            movedAway = try await tx.movedAway(after: cursor, movedAfter: basis, scopes: scopes, limit: size + 1)
        }
        var bound = UInt64.max
        if visible.count > size, let last = visible.last { bound = min(bound, last.seq) }
        if movedAway.count > size, let last = movedAway.last { bound = min(bound, last.seq) }

        enum Candidate {
            case visible(StoredRecordRow)
            case away(StoredRecord)
            var seq: UInt64 {
                switch self {
                case .visible(let r): r.seq
                case .away(let r): r.seq
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
                case .visible(let row) where row.wholeSince <= basis && basis != 0:
                    if try !RecordCodec.isDeleted(row.state) {
                        moveKeys.append(RecordKey(collection: row.collection, id: row.id))
                    }
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

        var writer = PullPageWriter()
        let device = PullPageWriter.Device(
            replica: replica, counter: counter, cursor: cursor, since: since, access: access,
            compactDots: compactDots)
        var emitted = 0
        var lastSeq = cursor
        var stoppedEarly = false
        let byteBudget = configuration.limits.maxPageBytes
        for (index, candidate) in candidates.enumerated() {
            if emitted == size || (emitted > 0 && writer.byteCount >= byteBudget) {
                stoppedEarly = index < candidates.count
                break
            }
            lastSeq = candidate.seq
            switch candidate {
            case .visible(let row):
                if try writer.record(row, for: device, moves: moves, schema: schema) { emitted += 1 }
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
                    writer.revocation(collection: record.collection, id: record.id)
                    emitted += 1
                }
            }
        }
        let nextCursor: UInt64
        let more: Bool
        if stoppedEarly {
            (nextCursor, more) = (lastSeq, true)
        } else if bound != UInt64.max {
            (nextCursor, more) = (bound, true)
        } else {
            (nextCursor, more) = (max(head, cursor), false)
        }
        return (writer.finish(nextCursor: nextCursor, more: more, head: head), more)
    }
}
