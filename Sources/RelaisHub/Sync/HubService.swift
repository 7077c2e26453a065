public import Logging
public import RelaisCore
public import RelaisProtocol
import Synchronization

/// The hub's logic, above any ``HubStore``: identity (users, enrollment, tokens, devices), push, pull,
/// conflict reports and their resolution, exports and tombstone purging (docs/SYNC.md).
///
/// The HTTP server and the `relais-hub` tool are thin layers over it.
///
/// ```swift
/// let store = try SQLiteHubStore(folder: dataFolder, create: true)
/// let hub = HubService(store: store, logger: logger)
/// let adminToken = try await hub.initialize()
/// let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
/// ```
public final class HubService: Sendable {
    /// How the hub behaves.
    public struct Configuration: Sendable {
        /// The data schema a new store starts with: the default CRM schema unless told otherwise. The
        /// store records it at the hub's first start; from then on the schema in force is the store's,
        /// changed with ``HubService/applySchema(_:)`` (`relais-hub schema apply`).
        public var schema: SchemaDefinition = .crm
        /// How far ahead of the hub's clock a write's HLC may be before it is clamped. Default 5 min.
        public var maxSkewMillis: UInt64 = HybridLogicalClock.defaultMaxSkewMillis
        /// How long an enrollment code stays valid. Default 7 days.
        public var enrollmentLifetimeMillis: UInt64 = 7 * 24 * 3600 * 1000
        /// How long a tombstone is kept when some device has not pulled past it. Default 90 days.
        public var tombstoneRetentionMillis: UInt64 = 90 * 24 * 3600 * 1000
        /// The wire limits (page sizes among them).
        public var limits: ProtocolLimits = .default
        /// Where snapshots of the users' views are kept (docs/SYNC.md "Snapshot bootstrap"); nil keeps
        /// none, and laptops bootstrap by pages. The folder is the hub's own: it is emptied at start.
        public var snapshotFolder: String?
        /// How many changes behind the head a snapshot may fall before a new one is built in the
        /// background. Default 10,000.
        public var snapshotStaleAfterChanges: UInt64 = 10_000
        /// How long a device token works from when it was issued (enrollment, renewal or rotation);
        /// nil: device tokens never expire. A laptop asks for a new one once half of it has passed
        /// (docs/SECURITY.md "Device tokens"). Default 90 days.
        public var deviceTokenLifetimeMillis: UInt64? = 90 * 24 * 3600 * 1000
        /// How long a token that a renewal or a rotation replaced may still renew. Default 7 days.
        public var replacedTokenGraceMillis: UInt64 = 7 * 24 * 3600 * 1000
        /// Whether the hub's housekeeping (``TombstonePurger``) reads the reports' customer file into
        /// memory at start and again after a purge that removed tombstones, so that a manager's first
        /// report does not wait for it (docs/CRM.md "How the reports stay fast"). Default off;
        /// `relais-hub serve` turns it on unless told `--no-warm-reports`.
        public var warmReports = false

        public init() {}
    }

    /// The store the hub keeps its state in.
    public let store: any HubStore
    public let configuration: Configuration
    /// The hub's metrics.
    public let metrics: HubMetrics
    let clock: any HubClock
    let secrets: SecretGenerator
    let logger: Logger
    let codec: MessageCodec
    /// The snapshots served to bootstrapping laptops; nil when the configuration names no folder.
    let snapshots: SnapshotCache?
    /// The hub epoch, read from the store once (``hubEpoch()``).
    private let hubEpochCache = Mutex<String?>(nil)
    /// The digests of views read lately, by their visibility and the head they stood at.
    let viewDigests = ViewDigestCache()
    /// The customer file the manager's reports read, kept up to date from the store.
    let reports = ReportCache()
    /// The stored digests were found computed under this schema (``storedDigestsCurrent(_:)``).
    let digestSchemaChecked = Mutex(false)

    /// A hub over `store`.
    ///
    /// - Parameters:
    ///   - clock: The wall clock (HLC clamping, expiry, retention); inject a fixed one in tests.
    ///   - secrets: Makes tokens, codes and report ids; inject a seeded one in tests.
    public init(
        store: any HubStore, configuration: Configuration = .init(), clock: any HubClock = SystemHubClock(),
        secrets: SecretGenerator = .system, metrics: HubMetrics = HubMetrics(), logger: Logger
    ) {
        self.store = store
        self.configuration = configuration
        self.active = Mutex(ActiveSchema(configuration.schema))
        self.clock = clock
        self.secrets = secrets
        self.metrics = metrics
        self.logger = logger
        self.codec = MessageCodec(limits: configuration.limits)
        var snapshots: SnapshotCache?
        if let folder = configuration.snapshotFolder {
            do {
                snapshots = try SnapshotCache(
                    folder: folder, staleAfterChanges: configuration.snapshotStaleAfterChanges, logger: logger)
            } catch {
                logger.error(
                    "snapshots off: the snapshot folder cannot be used",
                    metadata: ["relais.folder": "\(folder)", "relais.error": "\(error)"])
            }
        }
        self.snapshots = snapshots
    }

    /// The data schema in force (``loadSchema()``, ``refreshSchema(_:)``).
    let active: Mutex<ActiveSchema>
    /// Whether the store's schema was read once: the first read only replaces the configured default.
    let schemaLoaded = Mutex(false)

    /// The data schema in force.
    public var schema: Schema { active.withLock { $0.definition.schema } }

    /// The merge engine of the schema in force.
    var engine: MergeEngine { active.withLock { $0.engine } }

    func now() -> UInt64 { clock.millisecondsSince1970() }

    /// The hub epoch (docs/SYNC.md "A restored hub"), read from the store at the first call and kept:
    /// it changes only through ``renewHubEpoch(replicaGap:)``, which runs with the hubs stopped (a
    /// restore), or through this service's own call of it.
    public func hubEpoch() async throws -> String {
        if let epoch = hubEpochCache.withLock({ $0 }) { return epoch }
        let epoch = try await store.read { tx in try await tx.hubEpoch() }
        hubEpochCache.withLock { $0 = epoch }
        return epoch
    }

    /// The numbers a restore moves past by default: replica numbers (at most this many enrollments
    /// and renewals between the backup and the restore) and the hub replica's counter.
    public static let defaultReplicaGap: UInt32 = 100_000
    static let hubCounterGap: UInt64 = 1 << 32

    /// Gives the hub a new hub epoch and moves the next replica number `replicaGap` ahead (and the hub
    /// replica's counter 2³² ahead), in one transaction: what a restore does (docs/SYNC.md "A restored
    /// hub"). Laptops notice the new epoch at their next sync. Run it with every hub on the store
    /// stopped (a serving hub keeps the epoch it read).
    ///
    /// - Returns: the new hub epoch.
    @discardableResult
    public func renewHubEpoch(replicaGap: UInt32 = HubService.defaultReplicaGap) async throws -> String {
        let epoch = secrets.hubEpoch()
        let now = self.now()
        try await store.write { tx in
            try await tx.renewHubEpoch(epoch, replicaGap: replicaGap, counterGap: Self.hubCounterGap)
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .hubEpochRenewed,
                    detail: "hub epoch renewed; next replica number moved \(replicaGap) ahead"))
        }
        hubEpochCache.withLock { $0 = epoch }
        return epoch
    }

    // MARK: - Setting up

    /// Creates the first admin user and returns its API token (shown once; only its hash is kept).
    ///
    /// - Throws: ``HubError/conflict`` if the user already exists.
    public func initialize(adminName: String = "admin") async throws -> String {
        let token = secrets.token()
        let hash = Secrets.hash(token)
        let now = self.now()
        try await store.write { tx in
            guard try await tx.user(named: adminName) == nil else {
                throw HubError.conflict.with("The user `\(adminName)` already exists.")
            }
            try await tx.insertUser(HubUser(name: adminName, role: .admin, territories: [], createdAt: now))
            try await tx.insertAPIToken(APIToken(tokenHash: hash, user: adminName, createdAt: now))
        }
        // A new store: it records its data schema, and the digests it will store are that schema's.
        try await loadSchema()
        try await prepareDigests()
        return token
    }

    /// Adds a user and returns a one-time enrollment code for their first device.
    ///
    /// - Throws: ``HubError/conflict`` if the user exists; ``HubError/badRequest`` for an empty name.
    public func addUser(_ name: String, role: Role, territories: [String]) async throws -> String {
        guard Self.isValidName(name) else {
            throw HubError.badRequest.with("A user name is 1 to 64 letters, digits, `.`, `_`, `-` or `@`.")
        }
        let code = secrets.enrollmentCode()
        let now = self.now()
        let lifetime = configuration.enrollmentLifetimeMillis
        try await store.write { tx in
            guard try await tx.user(named: name) == nil else {
                throw HubError.conflict.with("The user `\(name)` already exists.")
            }
            try await tx.insertUser(HubUser(name: name, role: role, territories: territories, createdAt: now))
            try await tx.insertEnrollment(
                Enrollment(
                    codeHash: Secrets.hashEnrollmentCode(code), user: name, createdAt: now, expiresAt: now + lifetime))
        }
        return code
    }

    /// Issues a new one-time enrollment code for an existing user (another laptop).
    public func issueEnrollmentCode(for name: String) async throws -> String {
        let code = secrets.enrollmentCode()
        let now = self.now()
        let lifetime = configuration.enrollmentLifetimeMillis
        try await store.write { tx in
            guard let user = try await tx.user(named: name) else { throw HubError.notFound.with("No user `\(name)`.") }
            try Self.refuseDisabled(user)
            try await tx.insertEnrollment(
                Enrollment(
                    codeHash: Secrets.hashEnrollmentCode(code), user: name, createdAt: now, expiresAt: now + lifetime))
        }
        return code
    }

    /// Changes a user's role or territories. Their devices must bootstrap again (their scope changed).
    @discardableResult
    public func updateUser(_ name: String, role: Role? = nil, territories: [String]? = nil) async throws -> HubUser {
        let now = self.now()
        return try await store.write { tx in
            guard let before = try await tx.user(named: name) else {
                throw HubError.notFound.with("No user `\(name)`.")
            }
            let newRole = role ?? before.role
            let newTerritories = territories.map { Array(Set($0)).sorted() } ?? before.territories
            guard newRole != before.role || newTerritories != before.territories else { return before }
            guard let user = try await tx.setUserAccess(name: name, role: newRole, territories: newTerritories) else {
                throw HubError.notFound.with("No user `\(name)`.")
            }
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .userChanged, user: name,
                    detail: "role \(user.role.rawValue), territories \(user.territories.joined(separator: ","))"))
            return user
        }
    }

    /// Every user, by name.
    public func users() async throws -> [HubUser] {
        try await store.read { tx in try await tx.users() }
    }

    /// Every device, by replica number.
    public func devices() async throws -> [Device] {
        try await store.read { tx in try await tx.devices() }
    }

    /// Each device's last verification report (Protocol/README.md section 14), by replica.
    public func deviceVerifications() async throws -> [ReplicaID: DeviceVerification] {
        let all = try await store.read { tx in try await tx.verifications() }
        return Dictionary(all.map { ($0.replica, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Recent admin events, newest first.
    public func events(limit: Int = 100) async throws -> [HubEvent] {
        try await store.read { tx in try await tx.events(kinds: nil, limit: limit) }
    }

    /// Revokes a device and every replica renewed from the same enrollment: their tokens stop working
    /// (`401 device_revoked`), and every admin web session of the device's user ends.
    ///
    /// - Throws: ``HubError/notFound`` for an unknown replica.
    @discardableResult
    public func revokeDevice(_ replica: ReplicaID, by admin: String = "relais-hub") async throws -> Device {
        let now = self.now()
        return try await store.write { tx in
            guard let device = try await tx.device(replica: replica) else {
                throw HubError.notFound.with("No device with replica \(replica.rawValue).")
            }
            try await tx.revokeLineage(device.lineage, at: now)
            // Once: revoking an old device again does not sign its user out of today's sessions.
            let sessions = device.revokedAt == nil ? try await tx.deleteAdminSessions(user: device.user) : 0
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .deviceRevoked, replica: replica, user: device.user,
                    detail: "device `\(device.name)` revoked by \(admin)" + Self.sessionsEnded(sessions)))
            return try await tx.device(replica: replica) ?? device
        }
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || "._-@".unicodeScalars.contains($0)
            }
    }

    // MARK: - Identity

    /// The principal a bearer token stands for.
    ///
    /// - Throws: ``HubError/unauthorized`` for an unknown or revoked API token, or one of a disabled
    ///   user; ``HubError/deviceRevoked`` for a revoked device, or one of a disabled user.
    ///
    /// An unknown token's `401 unauthorized` names the hub epoch in its details: a laptop enrolled
    /// after the backup a hub was restored from can tell that this is why (docs/SYNC.md "A restored
    /// hub"). The epoch is no secret: it grants nothing.
    public func authenticate(token: String) async throws -> Principal {
        do {
            return try await principal(token: token)
        } catch let error as HubError where error == .unauthorized {
            throw error.with(details: ["hub_epoch": try await hubEpoch()])
        }
    }

    /// ``authenticate(token:)`` for the routes outside a device's sync: the reports, the admin API
    /// and the admin pages' sign-in. A device token is held there to what push and pull hold it to: a
    /// device marked for wipe is served nothing (``HubError/wipeRequested``, 410) and a replaced token
    /// only renews (``HubError/replicaForked``, 409); a revoked device, a disabled user's device and
    /// an expired token are refused by ``authenticate(token:)`` already.
    public func authenticateOutsideSync(token: String) async throws -> Principal {
        try Self.outsideSync(try await authenticate(token: token))
    }

    /// ``authenticateOutsideSync(token:)`` read again inside `tx`, the transaction that acts on the
    /// token: what it writes then stands or falls with the token as that transaction sees it, so a
    /// revocation committed since the first check is never raced past.
    func authenticateOutsideSync(token: String, in tx: any HubReadTransaction) async throws -> Principal {
        guard !token.isEmpty, token.utf8.count <= 256 else { throw HubError.unauthorized }
        return try Self.outsideSync(try await principal(hash: Secrets.hash(token), now: now(), in: tx))
    }

    private static func outsideSync(_ principal: Principal) throws -> Principal {
        if principal.renewed { throw HubError.replicaForked }
        if principal.wipeRequested { throw HubError.wipeRequested }
        return principal
    }

    private func principal(token: String) async throws -> Principal {
        guard !token.isEmpty, token.utf8.count <= 256 else { throw HubError.unauthorized }
        let hash = Secrets.hash(token)
        let now = self.now()
        return try await store.read { tx in try await self.principal(hash: hash, now: now, in: tx) }
    }

    private func principal(hash: String, now: UInt64, in tx: any HubReadTransaction) async throws -> Principal {
        let grace = configuration.replacedTokenGraceMillis
        if let device = try await tx.device(tokenHash: hash) {
            let user = try await deviceUser(device, tx)
            // A hub told that tokens do not expire (`--device-token-days 0`) lets dated ones live on.
            if configuration.deviceTokenLifetimeMillis != nil, let expiresAt = device.tokenExpiresAt, now >= expiresAt {
                throw HubError.tokenExpired
            }
            if let successor = device.renewedTo {
                // The old token of a renewed replica renews again, within the grace window.
                let renewedAt = try await tx.device(replica: successor)?.createdAt ?? 0
                guard now < renewedAt &+ grace else { throw HubError.tokenExpired }
            }
            return Principal(
                user: user.name, role: user.role, territories: user.territories, replica: device.replica,
                renewed: device.renewedTo != nil, wipeRequested: device.wipeRequestedAt != nil)
        }
        if let device = try await tx.device(previousTokenHash: hash) {
            // A token a rotation replaced: a laptop whose rotation answer was lost, or a copy of
            // it. It renews (a new replica: the clone rule), within the grace window.
            let user = try await deviceUser(device, tx)
            guard now < device.previousTokenUntil ?? 0 else { throw HubError.tokenExpired }
            return Principal(
                user: user.name, role: user.role, territories: user.territories, replica: device.replica,
                renewed: true, wipeRequested: device.wipeRequestedAt != nil)
        }
        if let apiToken = try await tx.apiToken(hash: hash), apiToken.revokedAt == nil,
            let user = try await tx.user(named: apiToken.user), !user.isDisabled
        {
            return Principal(user: user.name, role: user.role, territories: user.territories, replica: nil)
        }
        throw HubError.unauthorized
    }

    /// The user of a device a token names, once the device may still act: not revoked (nor wiped),
    /// its user not disabled.
    func deviceUser(_ device: Device, _ tx: any HubReadTransaction) async throws -> HubUser {
        if device.revokedAt != nil { throw device.wipedAt != nil ? HubError.deviceWiped : HubError.deviceRevoked }
        guard let user = try await tx.user(named: device.user) else { throw HubError.unauthorized }
        // Disabling revokes the user's devices; this also refuses one enrolled while it ran.
        guard !user.isDisabled else { throw HubError.deviceRevoked }
        return user
    }

    /// When a device token issued at `time` expires and should be rotated (nil and 0 when device
    /// tokens do not expire).
    func tokenTimes(issuedAt time: UInt64) -> (expiresAt: UInt64?, rotateAt: UInt64) {
        guard let lifetime = configuration.deviceTokenLifetimeMillis else { return (nil, 0) }
        return Self.tokenTimes(issuedAt: time, expiresAt: time &+ lifetime)
    }

    /// The times of a token issued at `time` that expires at `expiresAt` (nil: never): it is rotated
    /// half-way through its life.
    static func tokenTimes(issuedAt time: UInt64, expiresAt: UInt64?) -> (expiresAt: UInt64?, rotateAt: UInt64) {
        (expiresAt, expiresAt.map { time &+ ($0 &- time) / 2 } ?? 0)
    }

    /// Whether `device`'s current token is due for rotation at `now`, by the hub's clock: half of
    /// its life has passed, or it was issued before tokens expired. Never when tokens do not expire.
    func tokenDue(_ device: Device, at now: UInt64) -> Bool {
        guard let lifetime = configuration.deviceTokenLifetimeMillis else { return false }
        guard let expiresAt = device.tokenExpiresAt else { return true }
        return now >= expiresAt &- lifetime / 2
    }

    /// Enrolls a device with a one-time code: a new replica number and a device token.
    ///
    /// A code already used answers again, the same, the enrollment that used it, when the request
    /// carries the same `attempt` within ``Enrollment/answersAgainForMillis`` and the device it made
    /// has not synced, renewed, been revoked or marked for wiping since, and still holds that token:
    /// that enrollment's answer was lost. Nothing changes on the hub but an audit event, so two
    /// attempts that both arrive (one late) get one device and one token.
    ///
    /// - Throws: ``HubError/invalidEnrollmentCode`` for an unknown or expired code, or a used one not
    ///   answered again; ``HubError/forbidden`` for a rejoin naming another user's replica;
    ///   ``HubError/badRequest`` for more earlier replicas than the limit.
    public func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse {
        try await checkSchemaVersion(request.schemaVersion, allowingOlder: true)
        let codeHash = Secrets.hashEnrollmentCode(request.code)
        // The attempt's hash binds the replica a rejoin names: the same attempt naming another one is
        // another enrollment.
        let attemptHash =
            request.attempt.isEmpty ? nil : Secrets.hash("\(request.attempt)/\(request.previousReplica)")
        let now = self.now()
        // A wrong, expired code, or a used one without its attempt, costs a read, never a write
        // transaction: guessing codes must not occupy the store's writer. The write checks again
        // (two enrollments may race).
        let usable = try await store.read { tx in
            guard let enrollment = try await tx.enrollment(codeHash: codeHash) else { return false }
            return enrollment.enrolls(at: now) || enrollment.answersAgain(attemptHash: attemptHash, at: now)
        }
        guard usable else { throw HubError.invalidEnrollmentCode }
        let maxEarlier = codec.limits.maxEarlierReplicas
        guard request.earlierReplicas.count <= maxEarlier else {
            throw HubError.badRequest.with(
                "earlier_replicas names \(request.earlierReplicas.count) replica numbers; at most \(maxEarlier).")
        }
        do {
            return try await enrollOnce(request, codeHash: codeHash, attemptHash: attemptHash, now: now)
        } catch is EnrollmentRaced {
            // Another transaction used the code between this one's read and its write (two attempts of
            // one enrollment at once, on PostgreSQL). The code is used now: this pass answers as that
            // one did if it was the same attempt, or refuses.
            return try await enrollOnce(request, codeHash: codeHash, attemptHash: attemptHash, now: now)
        }
    }

    /// The code was used by another transaction after this one read it unused.
    private struct EnrollmentRaced: Error {}

    private func enrollOnce(
        _ request: Relais_V1_EnrollRequest, codeHash: String, attemptHash: String?, now: UInt64
    ) async throws -> Relais_V1_EnrollResponse {
        let hubEpoch = try await self.hubEpoch()
        let deviceName = request.deviceName.isEmpty ? "device" : request.deviceName
        let schemaVersion = UInt32(schema.version)
        let previousReplica = ReplicaID(request.previousReplica)
        let earlier = Set(request.earlierReplicas.map { ReplicaID($0) }).subtracting([.hub, previousReplica]).sorted()
        let fresh = secrets.token()
        let sealed = attemptHash == nil ? nil : try Secrets.sealToken(fresh, attempt: request.attempt)
        return try await store.write { tx in
            guard let enrollment = try await tx.enrollment(codeHash: codeHash),
                let user = try await tx.user(named: enrollment.user), !user.isDisabled
            else { throw HubError.invalidEnrollmentCode }
            // Used: only by this very enrollment, whose answer was lost, and only while the device it
            // made has not used its token (it would have had its answer) nor lost it.
            var again: (device: Device, token: String)?
            if !enrollment.enrolls(at: now) {
                guard enrollment.answersAgain(attemptHash: attemptHash, at: now), let made = enrollment.replica,
                    let token = enrollment.sealedToken.flatMap({ Secrets.openToken($0, attempt: request.attempt) }),
                    let device = try await tx.device(replica: made), device.user == user.name,
                    device.tokenHash == Secrets.hash(token), device.revokedAt == nil, device.renewedTo == nil,
                    device.lastSeenAt == nil, device.wipeRequestedAt == nil
                else { throw HubError.invalidEnrollmentCode }
                again = (device, token)
            }
            // A rejoin: what the hub holds of the laptop's old replica, if it is this user's.
            var previous: Device?
            if previousReplica != .hub, let old = try await tx.device(replica: previousReplica) {
                guard old.user == user.name else {
                    throw HubError.forbidden.with(
                        "This laptop's file belongs to another user than this enrollment code; nothing was enrolled.")
                }
                previous = old
            }
            let replica: ReplicaID
            let token: String
            let times: (expiresAt: UInt64?, rotateAt: UInt64)
            var detail: String
            if let again {
                replica = again.device.replica
                token = again.token
                // The times the first answer gave (the lifetime setting may have changed since).
                times = Self.tokenTimes(issuedAt: again.device.createdAt, expiresAt: again.device.tokenExpiresAt)
                detail = "device `\(again.device.name)` enrolled: the same answer sent again (the first was lost)"
            } else {
                replica = try await tx.takeReplicaNumber()
                token = fresh
                times = self.tokenTimes(issuedAt: now)
                // Used once: a second enrollment with the same code (another hub, at the same moment)
                // finds it used; the same attempt then reads it again (``EnrollmentRaced``).
                guard
                    try await tx.useEnrollment(
                        codeHash: codeHash, at: now, replica: replica, attemptHash: attemptHash, sealedToken: sealed)
                else {
                    if attemptHash != nil { throw EnrollmentRaced() }
                    throw HubError.invalidEnrollmentCode
                }
                try await tx.insertDevice(
                    Device(
                        replica: replica, user: user.name, tokenHash: Secrets.hash(token), name: deviceName,
                        lineage: replica, createdAt: now, scopeVersion: user.scopeVersion,
                        tokenExpiresAt: times.expiresAt))
                detail = "device `\(deviceName)` enrolled"
            }
            if previousReplica != .hub {
                detail += "; rejoined from replica \(previousReplica.rawValue)"
                if let previous {
                    detail += " (the hub held its writes up to counter \(previous.highestCounter))"
                    // The old replica's token (and a copy's) now only renews, as after a renewal.
                    if previous.renewedTo == nil { try await tx.setRenewed(replica: previous.replica, to: replica) }
                } else {
                    detail += ", which this hub does not know"
                }
            }
            try await tx.insertEvent(
                HubEvent(at: now, kind: .deviceEnrolled, replica: replica, user: user.name, detail: detail))
            var response = Relais_V1_EnrollResponse()
            response.replica = replica.rawValue
            response.token = token
            response.user = user.name
            response.role = user.role.rawValue
            response.territories = user.territories
            response.schemaVersion = schemaVersion
            response.epoch = 1
            response.hubEpoch = hubEpoch
            response.tokenExpiresAt = times.expiresAt ?? 0
            response.tokenRotateAt = times.rotateAt
            response.previousCounter = previous?.highestCounter ?? 0
            // What the hub holds of the file's earlier numbers: unknown ones hold nothing, another
            // user's are left out (the client then puts none of their writes back).
            for number in earlier {
                let device = try await tx.device(replica: number)
                guard device == nil || device?.user == user.name else { continue }
                var held = Relais_V1_ReplicaCounter()
                held.replica = number.rawValue
                held.counter = device?.highestCounter ?? 0
                response.earlierCounters.append(held)
            }
            return response
        }
    }

    /// Gives a forked device a new replica number and token (docs/SYNC.md "Rollback and clones").
    ///
    /// The old token then only renews again: a push or pull with it gets `409 replica_forked`, so a
    /// cloned laptop that still holds it renews too. Each renewal makes a new replica, so a renewal
    /// whose answer was lost is simply asked for again.
    public func renew(_ request: Relais_V1_ReplicaRenewRequest, from principal: Principal) async throws
        -> Relais_V1_ReplicaRenewResponse
    {
        guard let oldReplica = principal.replica else {
            throw HubError.forbidden.with("An admin API token has no replica to renew.")
        }
        let token = secrets.token()
        let tokenHash = Secrets.hash(token)
        let now = self.now()
        // Kept in the event's text: a NUL character written `\u0000` (PostgreSQL's text refuses it).
        let reason = Self.storable(String(request.reason.prefix(200)))
        let counter = request.counter
        let hubEpoch = try await self.hubEpoch()
        let times = tokenTimes(issuedAt: now)
        return try await store.write { tx in
            guard let old = try await tx.device(replica: oldReplica) else { throw HubError.unauthorized }
            guard old.revokedAt == nil else { throw HubError.deviceRevoked }
            guard let user = try await tx.user(named: old.user) else { throw HubError.unauthorized }
            let replica = try await tx.takeReplicaNumber()
            let epoch = old.epoch + 1
            try await tx.insertDevice(
                Device(
                    replica: replica, user: old.user, tokenHash: tokenHash, name: old.name, epoch: epoch,
                    lineage: old.lineage, createdAt: now, scopeVersion: user.scopeVersion,
                    tokenExpiresAt: times.expiresAt, wipeRequestedAt: old.wipeRequestedAt))
            try await tx.setRenewed(replica: oldReplica, to: replica)
            try await tx.insertEvent(
                HubEvent(
                    at: now, kind: .deviceRenewed, replica: replica, user: old.user,
                    detail: "replica \(oldReplica.rawValue) renewed as \(replica.rawValue) (epoch \(epoch)); "
                        + "client counter \(counter), hub held \(old.highestCounter); reason: \(reason)"))
            var response = Relais_V1_ReplicaRenewResponse()
            response.replica = replica.rawValue
            response.token = token
            response.epoch = epoch
            response.hubEpoch = hubEpoch
            response.tokenExpiresAt = times.expiresAt ?? 0
            response.tokenRotateAt = times.rotateAt
            return response
        }
    }
}
