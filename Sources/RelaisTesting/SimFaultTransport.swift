import Foundation
public import RelaisClient
public import RelaisProtocol
import Synchronization

/// The network faults a simulated schedule injects between a replica and the hub.
public struct SimNetworkFaults: Sendable, Hashable {
    /// Probability that a request is lost before it reaches the hub.
    public var dropRequest = 0.0
    /// Probability that the hub handles a request (and commits) but the answer is lost.
    public var dropResponse = 0.0
    /// Probability that a request is delivered twice.
    public var duplicate = 0.0
    /// Probability that an older push of the same replica is delivered again before the current one.
    public var reorder = 0.0

    /// No faults.
    public init() {}

    /// Whether any fault is possible.
    public var isEmpty: Bool { dropRequest == 0 && dropResponse == 0 && duplicate == 0 && reorder == 0 }
}

/// A simulated network failure: the sync stops as if the laptop went offline.
public struct SimNetworkError: Error, Sendable, CustomStringConvertible {
    /// What the network did.
    public var what: String
    public var description: String { "simulated network fault: \(what)" }
}

/// A ``SyncTransport`` that forwards to a real one (HTTP to a hub on loopback) and injects seeded
/// faults: lost requests, lost answers after the hub committed, duplicates and stale replays.
public final class SimFaultTransport: SyncTransport {
    private struct State {
        var random: SeededRandom
        var faults: SimNetworkFaults
        var stash: [(Relais_V1_PushRequest, String)] = []
        var injected = 0
    }

    private let base: any SyncTransport
    private let state: Mutex<State>

    /// Forwards to `base`, injecting `faults` drawn from a generator seeded with `seed`.
    public init(base: any SyncTransport, faults: SimNetworkFaults, seed: UInt64) {
        self.base = base
        state = Mutex(State(random: SeededRandom(seed: seed), faults: faults))
    }

    /// Turns the faults off (for the quiet phase) or changes them.
    public func setFaults(_ faults: SimNetworkFaults) { state.withLock { $0.faults = faults } }

    /// How many faults were injected.
    public var injected: Int { state.withLock { $0.injected } }

    private enum Decision { case drop, loseAnswer, duplicate, deliver }

    private func decide() -> Decision {
        state.withLock { s in
            let f = s.faults
            if f.isEmpty { return .deliver }
            if s.random.chance(f.dropRequest) {
                s.injected += 1
                return .drop
            }
            if s.random.chance(f.dropResponse) {
                s.injected += 1
                return .loseAnswer
            }
            if s.random.chance(f.duplicate) {
                s.injected += 1
                return .duplicate
            }
            return .deliver
        }
    }

    private func lost(_ what: String) -> SimNetworkError { SimNetworkError(what: what) }

    private func run<R>(_ body: () async throws -> R) async throws -> R {
        switch decide() {
        case .drop: throw lost("request dropped")
        case .loseAnswer:
            _ = try await body()
            throw lost("answer lost after the hub handled the request")
        case .duplicate:
            _ = try? await body()
            return try await body()
        case .deliver: return try await body()
        }
    }

    public func enroll(_ request: Relais_V1_EnrollRequest) async throws -> Relais_V1_EnrollResponse {
        try await base.enroll(request)
    }

    public func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        let stale: (Relais_V1_PushRequest, String)? = state.withLock { s in
            defer { if s.stash.count < 8 { s.stash.append((request, token)) } }
            guard s.faults.reorder > 0, !s.stash.isEmpty, s.random.chance(s.faults.reorder) else { return nil }
            s.injected += 1
            return s.stash[Int.random(in: 0..<s.stash.count, using: &s.random)]
        }
        if let (old, oldToken) = stale {
            _ = try? await base.push(old, token: oldToken)
        }
        return try await run { try await base.push(request, token: token) }
    }

    public func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
        try await run { try await base.pull(request, token: token) }
    }

    public func renew(_ request: Relais_V1_ReplicaRenewRequest, token: String) async throws
        -> Relais_V1_ReplicaRenewResponse
    {
        try await run { try await base.renew(request, token: token) }
    }

    /// A rotation meets the same faults: a lost answer leaves the laptop with the replaced token,
    /// which then renews.
    public func rotateToken(token: String) async throws -> Relais_V1_TokenRotateResponse {
        try await run { try await base.rotateToken(token: token) }
    }

    public func reportWipe(_ report: Relais_V1_WipeReport, token: String) async throws -> Relais_V1_WipeReportResponse {
        try await run { try await base.reportWipe(report, token: token) }
    }

    /// The verification's calls meet the same faults: a verification cut short is skipped, and the
    /// next sync checks again.
    public func digest(_ request: Relais_V1_DigestRequest, token: String) async throws -> Relais_V1_DigestResponse {
        try await run { try await base.digest(request, token: token) }
    }

    public func schema(token: String) async throws -> String {
        try await run { try await base.schema(token: token) }
    }

    public func records(_ request: Relais_V1_RecordsRequest, token: String) async throws -> Relais_V1_RecordsResponse {
        try await run { try await base.records(request, token: token) }
    }

    public func reportVerification(_ report: Relais_V1_VerificationReport, token: String) async throws
        -> Relais_V1_VerificationReportResponse
    {
        try await run { try await base.reportVerification(report, token: token) }
    }

    /// A snapshot download meets the same faults; a lost answer is a download cut at a seeded byte,
    /// which leaves that many bytes in the part, as a killed download does, for the retry to continue.
    public func snapshot(_ request: SnapshotRequest, token: String, folder: String) async throws
        -> SnapshotDownload?
    {
        switch decide() {
        case .drop: throw SyncError(.hubUnreachable, "simulated network fault: snapshot request dropped")
        case .loseAnswer:
            guard let download = try await base.snapshot(request, token: token, folder: folder) else { return nil }
            let size =
                (try? FileManager.default.attributesOfItem(atPath: download.path)[.size] as? NSNumber)?
                .intValue ?? 0
            let kept = state.withLock { s in size > 0 ? Int.random(in: 0..<size, using: &s.random) : 0 }
            let part = folder + "/\(download.digest).part"
            try? FileManager.default.moveItem(atPath: download.path, toPath: part)
            if let handle = FileHandle(forWritingAtPath: part) {
                try? handle.truncate(atOffset: UInt64(kept))
                try? handle.close()
            }
            throw SyncError(.hubUnreachable, "simulated network fault: snapshot download cut after \(kept) bytes")
        case .duplicate, .deliver:
            return try await base.snapshot(request, token: token, folder: folder)
        }
    }
}
