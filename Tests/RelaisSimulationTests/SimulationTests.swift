import Foundation
import RelaisTesting
import Testing

/// The bounded fault simulation CI runs (docs/RELIABILITY.md): every fault kind, seeded schedules, the
/// invariants checked after each. `RELAIS_SEED=S` changes the seed; `RELAIS_SCHEDULES=N` the count.
struct SimulationTests {
    static let seed: UInt64 = ProcessInfo.processInfo.environment["RELAIS_SEED"].flatMap { UInt64($0) } ?? 20_261_128
    static let schedules: Int = ProcessInfo.processInfo.environment["RELAIS_SCHEDULES"].flatMap { Int($0) } ?? 220

    @Test func seededSchedulesKeepEveryInvariant() async throws {
        var failures: [String] = []
        var acknowledged = 0
        for schedule in 0..<Self.schedules {
            let report = try await SimSchedule.run(seed: Self.seed, schedule: schedule)
            acknowledged += report.acknowledged
            if !report.violations.isEmpty { failures.append(report.description) }
        }
        #expect(failures.isEmpty, "\(failures.count) schedules failed:\n\(failures.joined(separator: "\n"))")
        #expect(acknowledged > Self.schedules, "the schedules acknowledged too few writes to mean anything")
    }
}
