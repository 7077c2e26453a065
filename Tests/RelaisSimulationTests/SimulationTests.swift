import Foundation
import RelaisTesting
import Testing

/// The bounded fault simulation (docs/RELIABILITY.md): every fault kind, seeded schedules, the
/// invariants checked after each. `RELAIS_SEED=S` changes the seed; `RELAIS_SCHEDULES=N` the count.
///
/// Runs only with `RELAIS_SIMULATION=1`: in a full parallel `swift test` on two cores its in-process hubs
/// and proxies stalled for minutes beside the other suites. CI runs the same schedules with the
/// `relais-sim` program instead (`.ci/run`), one process, one schedule at a time.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["RELAIS_SIMULATION"] == "1"))
struct SimulationTests {
    static let defaultSeed: UInt64 = 20_261_128
    static let seed = SeededRandom.seed(default: defaultSeed)
    static let schedules: Int = ProcessInfo.processInfo.environment["RELAIS_SCHEDULES"].flatMap { Int($0) } ?? 260

    /// Schedules of the default seed that still break an invariant: open bugs, each listed in
    /// docs/RELIABILITY.md "Open findings" with its replay command. They are recorded as known issues,
    /// so a new failure anywhere else still fails CI; remove a schedule once its bug is fixed.
    static let knownFailures: Set<Int> = []

    /// The fixed scenarios distilled from each bug the simulation found (docs/RELIABILITY.md).
    @Test(arguments: SimRegressions.all.map(\.bug))
    func regressionStaysFixed(_ bug: String) async throws {
        let violations = try await SimRegressions.run(bug)
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
    }

    @Test func seededSchedulesKeepEveryInvariant() async throws {
        // Schedules run about three times faster on tmpfs (no fsync wait); what they check is logic,
        // not durability across power loss. Other tests' temporary files land there too, harmlessly.
        if FileManager.default.isWritableFile(atPath: "/dev/shm") { setenv("TMPDIR", "/dev/shm", 1) }
        var failures: [String] = []
        var acknowledged = 0
        for schedule in 0..<Self.schedules {
            let report = try await SimSchedule.run(seed: Self.seed, schedule: schedule)
            acknowledged += report.acknowledged
            guard !report.violations.isEmpty else { continue }
            if Self.seed == Self.defaultSeed, Self.knownFailures.contains(schedule) {
                withKnownIssue("open finding, docs/RELIABILITY.md") { Issue.record("\(report)") }
            } else {
                failures.append(report.description)
            }
        }
        #expect(failures.isEmpty, "\(failures.count) schedules failed:\n\(failures.joined(separator: "\n"))")
        #expect(acknowledged > Self.schedules * 10, "the schedules acknowledged too few writes to mean anything")
    }
}
