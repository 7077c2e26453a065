/// What one simulated schedule did and which invariants it broke.
public struct SimReport: Sendable, CustomStringConvertible {
    /// The run's seed.
    public var seed: UInt64
    /// The schedule number within the run.
    public var schedule: Int
    /// The fault kind.
    public var fault: SimFaultKind
    /// The PostgreSQL kind, for a schedule of `relais-sim --postgres` (then `fault` is `none`).
    public var postgres: SimPostgresKind?
    /// The kind's name: the PostgreSQL kind's, else the fault kind's.
    public var kind: String { postgres?.rawValue ?? fault.rawValue }
    /// Laptops, including clones.
    public var laptops = 0
    /// Edits made (records added, fields set, deletes, imported rows).
    public var edits = 0
    /// Tracked field writes, and how many of them the hub acknowledged.
    public var writes = 0
    /// Tracked writes the hub acknowledged and the checker verified.
    public var acknowledged = 0
    /// Syncs attempted and those that failed under a fault.
    public var syncs = 0
    /// Syncs that stopped because of an injected fault.
    public var failedSyncs = 0
    /// Faults injected (network faults, clock jumps, restores, clones).
    public var injected = 0
    /// Conflict reports on the hub at the end.
    public var conflicts = 0
    /// Truly concurrent pairs with differing values checked for exactly one report.
    public var concurrentPairs = 0
    /// Edits refused because the replica's storage was full (not saved, not tracked).
    public var refusedEdits = 0
    /// Hub child restarts (after a SIGKILL or a ceiling change), each followed by an integrity check.
    public var hubRestarts = 0
    /// Devices whose token was rotated at least once (their last rotation's replaced token is kept).
    public var rotatedTokens = 0
    /// Laptops enrolled again (`rejoin`) after their token expired or was no longer known.
    public var rejoins = 0
    /// Writes the hub rejected.
    public var rejected = 0
    /// Broken invariants; empty when the schedule passed.
    /// Syncs that ended with a verification of the laptop against the hub's digest.
    public var verifications = 0
    /// Records those verifications found different (each repaired, or a violation).
    public var repairs = 0
    public var violations: [String] = []
    /// Every step, in order, for replaying a failure by hand.
    public var trace: [String] = []

    /// The command that replays this schedule.
    public var replay: String {
        let rotation = SimFaultKind.rotation
        let kind = postgres == nil && fault != rotation[schedule % rotation.count] ? " --kind \(fault.rawValue)" : ""
        return
            "swift run relais-sim\(postgres == nil ? "" : " --postgres") --seed \(seed) --schedule \(schedule)\(kind)"
    }

    public var description: String {
        var text =
            "schedule \(schedule) [\(kind)] laptops=\(laptops) edits=\(edits) writes=\(writes) acked=\(acknowledged) syncs=\(syncs) failed=\(failedSyncs) faults=\(injected) conflicts=\(conflicts) pairs=\(concurrentPairs) rejected=\(rejected) refused=\(refusedEdits) restarts=\(hubRestarts) rotated=\(rotatedTokens) rejoins=\(rejoins) verified=\(verifications) repaired=\(repairs)"
        if !violations.isEmpty {
            text +=
                "\n  FAILED (seed \(seed)); replay: \(replay)\n"
                + violations.map { "  - \($0)" }.joined(separator: "\n")
        }
        return text
    }
}
