public import RelaisCore
public import RelaisProtocol

// Device tokens that expire and rotate, and remote wipe (docs/SECURITY.md "Device tokens" and
// "Remote wipe").

extension HubService {
    /// Replaces the device's token by a new one for the same replica (`POST /v1/token/rotate`), once
    /// it is due by the hub's clock (``tokenDue(_:at:)``; pull answers say so in `rotate_token`).
    ///
    /// The replaced token may then only renew, and only for ``Configuration/replacedTokenGraceMillis``:
    /// a laptop whose rotation answer was lost renews (a new replica, its writes re-stamped), and so
    /// does a copy of the file holding the same token, so two files never write under one replica
    /// number. Past the window it is refused with `401 token_expired`, and the laptop enrolls again
    /// with `relais enroll --rejoin`, taking its unsent writes along.
    ///
    /// - Throws: ``HubError/forbidden`` for an admin API token; ``HubError/replicaForked`` for a token
    ///   that only renews; ``HubError/wipeRequested`` for a device marked for wipe;
    ///   ``HubError/conflict`` for a token not yet due.
    public func rotateToken(from principal: Principal) async throws -> Relais_V1_TokenRotateResponse {
        guard let replica = principal.replica else {
            throw HubError.forbidden.with("An admin API token is not rotated here; issue a new one.")
        }
        if principal.renewed { throw HubError.replicaForked }
        if principal.wipeRequested { throw HubError.wipeRequested }
        let token = secrets.token()
        let tokenHash = Secrets.hash(token)
        let now = self.now()
        let times = tokenTimes(issuedAt: now)
        let grace = configuration.replacedTokenGraceMillis
        let hubEpoch = try await self.hubEpoch()
        try await store.write { tx in
            guard let device = try await tx.device(replica: replica), device.revokedAt == nil else {
                throw HubError.deviceRevoked
            }
            guard device.renewedTo == nil else { throw HubError.replicaForked }
            // Only when the hub's own clock says so (a pull answer told the laptop): a laptop cannot
            // rotate at will, and one whose clock runs ahead does not rotate at every sync.
            guard self.tokenDue(device, at: now) else {
                throw HubError.conflict.with("This device's token is not due for rotation yet.")
            }
            try await tx.rotateToken(
                replica: replica, tokenHash: tokenHash, expiresAt: times.expiresAt, previousUntil: now &+ grace)
        }
        var response = Relais_V1_TokenRotateResponse()
        response.token = token
        response.tokenExpiresAt = times.expiresAt ?? 0
        response.tokenRotateAt = times.rotateAt
        response.hubEpoch = hubEpoch
        return response
    }

    /// Marks a device, and every replica of its lineage, for wipe: at its next contact the laptop
    /// pushes what it holds, reports, and erases its replica (docs/SECURITY.md "Remote wipe"). Until
    /// then it is served nothing: pulls and snapshots answer `410 wipe_requested`. Every admin web
    /// session of the device's user ends.
    ///
    /// - Throws: ``HubError/notFound`` for an unknown replica; ``HubError/conflict`` for a revoked device
    ///   (revoked devices never sync again, so they cannot be wiped).
    @discardableResult
    public func requestWipe(_ replica: ReplicaID, by admin: String = "relais-hub") async throws -> Device {
        let now = self.now()
        return try await store.write { tx in
            guard let device = try await tx.device(replica: replica) else {
                throw HubError.notFound.with("No device with replica \(replica.rawValue).")
            }
            guard device.revokedAt == nil else {
                throw HubError.conflict.with(
                    "Device \(replica.rawValue) is revoked (or already wiped): it will not sync again, so it cannot "
                        + "be told to wipe itself.")
            }
            try await tx.requestWipe(lineage: device.lineage, at: now)
            let sessions = try await tx.deleteAdminSessions(user: device.user)
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .deviceWipeRequested, replica: replica, user: device.user,
                    detail: "wipe of device `\(device.name)` asked by \(admin)" + Self.sessionsEnded(sessions)))
            return try await tx.device(replica: replica) ?? device
        }
    }

    /// Records the wipe a device reports (`POST /v1/device/wiped`) and revokes its lineage: its token
    /// then answers `401 device_wiped`, which tells a laptop interrupted before erasing to erase.
    ///
    /// - Throws: ``HubError/forbidden`` when no wipe was asked for this device.
    public func reportWipe(_ report: Relais_V1_WipeReport, from principal: Principal) async throws
        -> Relais_V1_WipeReportResponse
    {
        guard let replica = principal.replica, principal.wipeRequested else {
            throw HubError.forbidden.with("No wipe was asked for this device.")
        }
        let now = self.now()
        let saved = Int64(clamping: report.savedWrites)
        let unsaved = Int64(clamping: report.unsavedWrites)
        try await store.write { tx in
            guard let device = try await tx.device(replica: replica) else { throw HubError.unauthorized }
            try await tx.recordWipe(replica: replica, at: now, savedWrites: saved, unsavedWrites: unsaved)
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .deviceWiped, replica: replica, user: device.user,
                    detail: "device `\(device.name)` wiped: \(saved) writes saved at its last contact, \(unsaved) not"))
        }
        metrics.recordWipe()
        var response = Relais_V1_WipeReportResponse()
        response.wipedAt = now
        return response
    }
}
