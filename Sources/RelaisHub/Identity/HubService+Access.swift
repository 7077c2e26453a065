/// Taking access away: admin API tokens issued, listed and revoked, and users disabled (docs/SECURITY.md,
/// "Revoking access"). Each change is one store transaction and takes effect at the next request of any
/// hub on the store: every request reads its token, and its user, again.
extension HubService {
    /// What disabling a user took away.
    public struct DisabledUser: Sendable, Hashable {
        /// The user as stored, disabled.
        public var user: HubUser
        /// Devices revoked (those already revoked not counted).
        public var devices: Int
        /// Unused enrollment codes ended.
        public var enrollmentCodes: Int
        /// Admin API tokens revoked.
        public var apiTokens: Int
        /// Admin web sessions ended.
        public var sessions: Int
    }

    /// The fewest hex digits of a token's id that ``revokeAPIToken(id:by:)`` takes, so that a typo
    /// does not revoke another token.
    public static let minimumTokenIDLength = 6

    /// Issues an API token for an admin or a manager and returns it: shown once, only its hash is
    /// kept. An admin's opens the admin API and pages; a manager's only the reports and the office
    /// pages of their territories (docs/CRM.md).
    ///
    /// - Throws: ``HubError/notFound`` for an unknown user, ``HubError/forbidden`` for a rep,
    ///   ``HubError/conflict`` for a disabled user.
    public func issueAPIToken(for name: String, by admin: String = "relais-hub") async throws -> String {
        let token = secrets.token()
        let apiToken = APIToken(tokenHash: Secrets.hash(token), user: name, createdAt: now())
        try await store.write { tx in
            guard let user = try await tx.user(named: name) else { throw HubError.notFound.with("No user `\(name)`.") }
            guard user.role != .rep else {
                throw HubError.forbidden.with(
                    "Only admins and managers hold API tokens: `\(name)` is a \(user.role.rawValue).")
            }
            try Self.refuseDisabled(user)
            try await tx.insertAPIToken(apiToken)
            try await tx.insertEvent(
                HubEvent(
                    at: apiToken.createdAt, kind: .apiTokenIssued, user: name,
                    detail: "API token \(apiToken.id) issued to \(name) by \(admin)"))
        }
        return token
    }

    /// Every admin API token, revoked ones included, oldest first. They hold only the tokens' hashes.
    public func apiTokens() async throws -> [APIToken] {
        try await store.read { tx in try await tx.apiTokens() }
    }

    /// Revokes the admin API token whose id (its hash's hex, ``APIToken/id``) starts with `id`: it
    /// stops working at the next request. A token already revoked stays as it was.
    ///
    /// - Returns: the token as stored, and whether this call revoked it.
    /// - Throws: ``HubError/badRequest`` for an id that is not 6 to 64 hex digits,
    ///   ``HubError/notFound`` when no token matches, ``HubError/conflict`` when several do.
    public func revokeAPIToken(id: String, by admin: String = "relais-hub") async throws -> (
        token: APIToken, revoked: Bool
    ) {
        let prefix = id.lowercased()
        guard (Self.minimumTokenIDLength...64).contains(prefix.count),
            prefix.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) })
        else {
            throw HubError.badRequest.with(
                "A token id is \(Self.minimumTokenIDLength) to 64 hex digits, as `relais-hub token list` shows it.")
        }
        let now = self.now()
        return try await store.write { tx in
            let matching = try await tx.apiTokens().filter { $0.tokenHash.hasPrefix(prefix) }
            guard var token = matching.first else { throw HubError.notFound.with("No API token with id `\(id)`.") }
            guard matching.count == 1 else {
                throw HubError.conflict.with(
                    "The id `\(id)` matches \(matching.count) API tokens; give more of it.")
            }
            guard try await tx.revokeAPIToken(hash: token.tokenHash, at: now) else { return (token, false) }
            token.revokedAt = now
            let sessions = try await tx.deleteAdminSessions(user: token.user)
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .apiTokenRevoked, user: token.user,
                    detail: "API token \(token.id) of \(token.user) revoked by \(admin)"
                        + Self.sessionsEnded(sessions)))
            return (token, true)
        }
    }

    /// The audit detail's note of the admin web sessions a revocation ended: a session cannot be tied
    /// to the browser of the laptop or script whose token opened it, so revoking a device or an API
    /// token (or asking a device's wipe) ends every web session of its user (docs/SECURITY.md).
    static func sessionsEnded(_ count: Int) -> String {
        count == 0 ? "" : "; \(count) admin web session\(count == 1 ? "" : "s") of theirs ended"
    }

    /// Disables a user, in one transaction: their devices are revoked (`401 device_revoked` at their
    /// next sync), their unused enrollment codes end, their admin API tokens are revoked and their
    /// admin web sessions end. Until ``enableUser(_:by:)``, no code or token is issued to them, and
    /// the hub refuses anything of theirs that a concurrent request managed to create. Disabling a
    /// disabled user again revokes anything issued since, and keeps the first time.
    ///
    /// - Throws: ``HubError/notFound`` for an unknown user.
    @discardableResult
    public func disableUser(_ name: String, by admin: String = "relais-hub") async throws -> DisabledUser {
        let now = self.now()
        return try await store.write { tx in
            guard let before = try await tx.user(named: name) else {
                throw HubError.notFound.with("No user `\(name)`.")
            }
            guard let user = try await tx.setUserDisabled(name: name, at: before.disabledAt ?? now) else {
                throw HubError.notFound.with("No user `\(name)`.")
            }
            let disabled = DisabledUser(
                user: user, devices: try await tx.revokeDevices(user: name, at: now),
                enrollmentCodes: try await tx.expireEnrollments(user: name, at: now),
                apiTokens: try await tx.revokeAPITokens(user: name, at: now),
                sessions: try await tx.deleteAdminSessions(user: name))
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .userDisabled, user: name,
                    detail:
                        "\(name) disabled by \(admin): \(disabled.devices) devices, \(disabled.enrollmentCodes) codes, "
                        + "\(disabled.apiTokens) API tokens and \(disabled.sessions) sessions revoked"))
            return disabled
        }
    }

    /// Enables a disabled user again. What disabling revoked stays revoked: the user needs a new
    /// enrollment code (``issueEnrollmentCode(for:)``) for each laptop, and an admin a new API token.
    ///
    /// - Throws: ``HubError/notFound`` for an unknown user.
    @discardableResult
    public func enableUser(_ name: String, by admin: String = "relais-hub") async throws -> HubUser {
        let now = self.now()
        return try await store.write { tx in
            guard let before = try await tx.user(named: name) else {
                throw HubError.notFound.with("No user `\(name)`.")
            }
            guard before.isDisabled else { return before }
            guard let user = try await tx.setUserDisabled(name: name, at: nil) else {
                throw HubError.notFound.with("No user `\(name)`.")
            }
            try await tx.insertEvent(
                HubEvent(at: now, kind: .userEnabled, user: name, detail: "\(name) enabled again by \(admin)"))
            return user
        }
    }

    /// Refuses to issue anything to a disabled user.
    static func refuseDisabled(_ user: HubUser) throws {
        guard !user.isDisabled else {
            throw HubError.conflict.with(
                "The user `\(user.name)` is disabled; `relais-hub user enable \(user.name)` first.")
        }
    }
}
