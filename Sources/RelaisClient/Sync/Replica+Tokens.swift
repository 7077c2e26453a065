import Foundation
import Logging
import RelaisCore
import RelaisProtocol
import RelaisSQLite

// The device token's life on the laptop (docs/SECURITY.md "Device tokens"): rotated during a sync
// once the hub says so, enrolled again with `relais enroll --rejoin` when it expired; and remote
// wipe ("Remote wipe").

extension ReplicaStore {
    /// Stores when the token expires and when it becomes due for rotation (0 and 0: a hub whose
    /// tokens do not expire), in the caller's transaction. Informative: the hub
    /// says when to rotate, by its own clock, in its pull answers.
    func setTokenTimes(expiresAt: UInt64, rotateAt: UInt64) throws {
        try setState("token_expires_at", .integer(Int64(clamping: expiresAt)))
        try setState("token_rotate_at", .integer(Int64(clamping: rotateAt)))
    }

    /// Whether a pull answer said the token is due for rotation and it was not rotated since.
    var tokenRotationDue: Bool {
        get throws { try stateInt("token_rotate_due") == 1 }
    }

    /// Records that the token is due (a pull answer's `rotate_token`), or no longer is.
    func setTokenRotationDue(_ due: Bool) throws {
        try setState("token_rotate_due", .integer(due ? 1 : 0))
    }
}

extension Replica {
    /// Asks the hub for a new token when a pull answer said the current one is due
    /// (`rotate_token`, by the hub's clock), and returns the token to use. Best effort: a refusal
    /// that the push or pull with the current token would meet as well (revoked, expired, forked,
    /// unreachable) is left to them, and the rotation is asked again at the next sync; a hub that
    /// does not rotate, or says it is not due, clears the flag.
    ///
    /// The new token is written to the token file, then its times and the cleared flag to the
    /// replica file. An answer lost on the way leaves the laptop with the replaced token, which still
    /// renews (a new replica, its pending writes re-stamped) for the hub's grace window.
    func rotateTokenIfDue(transport: any SyncTransport, token: String) async throws -> String {
        guard try store.tokenRotationDue else { return token }
        do {
            let response = try await transport.rotateToken(token: token)
            try store.tokenFile.write(replica: UInt32(try store.stateInt("replica") ?? 0), token: response.token)
            try store.syncWrite(durable: true) {
                try store.setTokenTimes(expiresAt: response.tokenExpiresAt, rotateAt: response.tokenRotateAt)
                try store.setTokenRotationDue(false)
                try store.rememberHubEpoch(response.hubEpoch)
            }
            store.logger.debug("sync: the device token was rotated")
            return response.token
        } catch let error as SyncError where [.notFound, .protocolFailure, .forbidden].contains(error.code) {
            // A hub (or a transport) that does not rotate tokens, or says this one is not due.
            store.logger.debug("sync: token not rotated", metadata: ["relais.error": "\(error.message)"])
            try store.syncWrite { try store.setTokenRotationDue(false) }
            return token
        } catch let error as SyncError {
            store.logger.debug("sync: token rotation refused", metadata: ["relais.error": "\(error.message)"])
            return token
        }
    }

    /// Enrolls this file again with a new one-time `code` (`relais enroll --rejoin`): after its token
    /// expired, after the hub was restored from a backup taken before the laptop enrolled, or after
    /// its device was revoked by mistake.
    ///
    /// The file keeps its records, conflict reports and rejected writes. The hub gives a new replica
    /// number and token; every pending write is re-stamped under it, as a renewal does (docs/SYNC.md
    /// "Rollback and clones"), and so is every acknowledged write of the last 30 days that the hub
    /// no longer holds (a restored hub: it says, in `previous_counter`, up to which counter it holds
    /// the old replica's writes, and in `earlier_counters` the same for the file's earlier numbers,
    /// whose lost writes go first). Then the next sync pulls the whole view again and pushes them.
    ///
    /// - Parameter hub: The hub's address; the one the file was enrolled with unless given.
    /// - Returns: how many acknowledged writes go back in the queue.
    /// - Throws: ``SyncError`` (`authenticationRefused` for a bad code, `forbidden` when the hub knows
    ///   this file's replica as another user's); ``SyncError/Code/notEnrolled`` for a file never enrolled.
    @discardableResult
    public func rejoin(code: String, hub: String? = nil, deviceName: String, transport: (any SyncTransport)? = nil)
        async throws -> Int
    {
        guard let identity = try identity() else {
            throw SyncError(.notEnrolled, "\(path) was never enrolled: run `relais enroll` without --rejoin")
        }
        let hub = hub ?? identity.hub
        let transport = try transport ?? HTTPSyncTransport(hub: hub, security: try hubSecurity())
        var request = Relais_V1_EnrollRequest()
        request.code = code
        request.deviceName = deviceName
        request.schemaVersion = UInt32(schema.version)
        request.previousReplica = identity.replica
        let earlierNumbers = try store.earlierReplicas()
        let maxEarlier = ProtocolLimits.default.maxEarlierReplicas
        if earlierNumbers.count > maxEarlier {
            // Renewed more than 64 times within the 30 days acknowledged writes are kept: the oldest
            // numbers' writes cannot be asked about, and a restored hub that lacks them will not get
            // them back from this file.
            store.logger.warning(
                "rejoin: this file held more earlier replica numbers than the hub answers for; the oldest are not named",
                metadata: ["relais.earlier_replicas": "\(earlierNumbers.count)"])
        }
        request.earlierReplicas = Array(earlierNumbers.suffix(maxEarlier))
        let response = try await Self.sendEnrollment(request, transport: transport)
        let restored = try store.write {
            let ours = try store.hubEpoch
            let lost =
                try store.db.scalar(
                    "SELECT count(*) FROM _relais_acknowledged WHERE replica = ? AND counter > ?",
                    [.integer(Int64(identity.replica)), .integer(Int64(clamping: response.previousCounter))]
                )?.int64Value ?? 0
            var restored = 0
            let hubRestored = !ours.isEmpty && ours != response.hubEpoch
            if lost > 0 || hubRestored {
                // The hub lacks acknowledged writes of the old replica (it was restored): put them
                // back under their old dots first, then re-stamp everything with the pending writes.
                restored = try store.beginHubRestore(hubEpoch: response.hubEpoch, counter: response.previousCounter)
            }
            // And, ahead of them, those of the file's earlier numbers (renewed or enrolled again
            // between the backup and the restore).
            var earlier: [PendingWrite] = []
            if hubRestored {
                var held: [UInt32: UInt64] = [:]
                for entry in response.earlierCounters { held[entry.replica] = entry.counter }
                earlier = try store.earlierWritesLost(held)
                restored += earlier.count
            }
            try store.renew(
                replica: response.replica, epoch: response.epoch, token: response.token, hubEpoch: response.hubEpoch,
                putBack: earlier)
            try store.setTokenTimes(expiresAt: response.tokenExpiresAt, rotateAt: response.tokenRotateAt)
            if hub != identity.hub { try store.setState("hub", .text(hub)) }
            try store.setState("user", .text(response.user))
            try store.setState("role", .text(response.role))
            try store.setState("territories", .text(ColumnCodec.jsonArray(response.territories)))
            return restored
        }
        store.logger.notice(
            "rejoined",
            metadata: [
                "relais.replica": "\(response.replica)", "relais.previous_replica": "\(identity.replica)",
                "relais.restored_writes": "\(restored)",
            ])
        return restored
    }

    /// Pushes what this laptop still holds, reports to the hub, and erases the replica: what a sync
    /// does when the hub answers `410 wipe_requested` (docs/SECURITY.md "Remote wipe").
    ///
    /// - Parameters:
    ///   - pushed: Writes this session's push already delivered (they count as saved).
    ///   - rejected: Writes the hub refused in this session.
    /// - Throws: ``SyncError/Code/deviceWiped`` once the files are gone; any other ``SyncError`` (an
    ///   unreachable hub) leaves the file as it is, and the next sync goes on with the wipe.
    func wipe(transport: any SyncTransport, token: String, pushed: Int, rejected: Int) async throws -> Never {
        var saved = (try store.stateInt("wipe_saved") ?? 0) + pushed
        var refused = rejected
        while true {
            let batch = try store.write { try store.nextBatch(limit: SyncOptions().batchSize) }
            guard !batch.isEmpty else { break }
            let response = try await transport.push(try store.pushRequest(batch), token: token)
            let outcome = try store.syncWrite { try store.applyPushResults(batch, response) }
            saved += outcome.acknowledged
            refused += outcome.rejected
            try store.syncWrite { try store.setState("wipe_saved", .integer(Int64(saved))) }
            guard outcome.acknowledged + outcome.rejected > 0 else { break }
        }
        var report = Relais_V1_WipeReport()
        report.savedWrites = UInt64(saved)
        report.unsavedWrites = UInt64(try pendingCount() + refused)
        _ = try await transport.reportWipe(report, token: token)
        try eraseFiles()
        throw SyncError(
            .deviceWiped,
            "the office asked for this laptop's customer file to be erased: \(report.savedWrites) write(s) reached "
                + "the hub first, \(report.unsavedWrites) did not; \(path) is gone")
    }

    /// Closes the file and deletes it with its token file, log, shared memory, journal, snapshot
    /// folder and sync lock. The blocks are freed, not overwritten: on an SSD only the disk's encryption keeps them
    /// unreadable (docs/SECURITY.md "A lost laptop").
    func eraseFiles() throws {
        try? store.db.close()
        SnapshotFolder(replica: path).remove()
        store.tokenFile.remove()
        for file in [path, path + "-wal", path + "-shm", path + "-journal", path + ".sync-lock"] {
            guard FileManager.default.fileExists(atPath: file) else { continue }
            do {
                try FileManager.default.removeItem(atPath: file)
            } catch {
                throw SyncError(.protocolFailure, "cannot erase \(file): \(error)")
            }
        }
        store.logger.notice("replica erased at the office's request", metadata: ["relais.path": "\(path)"])
    }
}
