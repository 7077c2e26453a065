// relais-sim: the seeded fault simulation's soak command (docs/RELIABILITY.md).
//
//     swift run -c release relais-sim --schedules 10000 [--seed S]
//     swift run relais-sim --seed S --schedule N      # replays one schedule, verbose
//     swift run -c release relais-sim --kind deletes --schedules 500   # one fault kind (deletes is run only so)
//     swift run relais-sim --postgres --seed S --schedules N   # two hubs on PostgreSQL (RELAIS_TEST_POSTGRES_URL)
//     swift run -c release relais-sim --fuzz SECONDS [--seed S] [--save-corpus]   # the mutational fuzzer
import Foundation
import RelaisTesting

var seed: UInt64 = 20_261_128
var only: Int?
var count = 1000
var first = 0
var fuzzSeconds: Double?
var saveCorpus = false
var kindName: String?
var postgres = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--seed": seed = UInt64(arguments.next() ?? "") ?? seed
    case "--schedule": only = Int(arguments.next() ?? "")
    case "--schedules": count = Int(arguments.next() ?? "") ?? count
    case "--from": first = Int(arguments.next() ?? "") ?? first
    case "--kind":
        // Only the schedules of one fault kind (schedule n uses kind n mod the number of kinds in
        // the rotation); the deletes kind runs the schedules asked for, each with it.
        kindName = arguments.next() ?? ""
    case "--postgres":
        // The PostgreSQL kinds (two hubs on one database), a set of their own.
        postgres = true
    case "--fuzz": fuzzSeconds = Double(arguments.next() ?? "") ?? 60
    case "--save-corpus": saveCorpus = true
    case "--regressions":
        var violations: [String] = []
        for scenario in SimRegressions.all { violations += try await scenario.run() }
        print(violations.isEmpty ? "regressions: ok" : violations.joined(separator: "\n"))
        exit(violations.isEmpty ? 0 : 1)
    default:
        FileHandle.standardError.write(
            Data(
                "usage: relais-sim [--postgres] [--seed S] (--schedule N | --schedules COUNT [--from N] [--kind FAULT]) | --regressions | --fuzz SECONDS\n"
                    .utf8))
        exit(64)
    }
}

if let fuzzSeconds {
    // Run from the package root: the inputs are Protocol/vectors and Tests/Fuzz/corpus.
    let corpus = SimFuzzer.load(folder: "Protocol/vectors") + SimFuzzer.load(folder: "Tests/Fuzz/corpus")
    guard !corpus.isEmpty else {
        print("no corpus: run relais-sim from the package root")
        exit(64)
    }
    var fuzzer = SimFuzzer(seed: seed, corpus: corpus)
    var report = SimFuzzer.Report()
    let start = Date()
    var saved = 0
    while Date().timeIntervalSince(start) < fuzzSeconds {
        for _ in 0..<100 {
            let input = fuzzer.mutate()
            // Written first, so that a crash leaves its input behind for Tests/Fuzz/regressions.
            try? Data(input.bytes).write(to: URL(fileURLWithPath: "/tmp/relais-fuzz-last-input"))
            let accepted = fuzzer.decodeEverywhere(input, into: &report)
            if saveCorpus, accepted, saved < 20, report.accepted % 500 == 1 {
                saved += 1
                try? Data(input.bytes).write(to: URL(fileURLWithPath: "Tests/Fuzz/corpus/found-\(seed)-\(saved).bin"))
            }
        }
    }
    print(
        "fuzz seed \(seed): \(report.executions) inputs in \(Int(Date().timeIntervalSince(start))) s, \(report.accepted) accepted, \(report.failures.count) failures"
    )
    for failure in report.failures.prefix(20) { print("  - \(failure)") }
    exit(report.failures.isEmpty ? 0 : 1)
}

let kindNames = postgres ? SimPostgresKind.allCases.map(\.rawValue) : SimFaultKind.allCases.map(\.rawValue)
if let kindName {
    guard kindNames.contains(kindName) else {
        FileHandle.standardError.write(
            Data(
                "unknown \(postgres ? "PostgreSQL " : "")fault kind \(kindName) (one of: \(kindNames.joined(separator: ", ")))\n"
                    .utf8))
        exit(64)
    }
}
var schedules = only.map { [$0] } ?? Array(first..<(first + count))
// A kind of the rotation picks the schedules whose number gives it (so a number replays alone);
// the deletes kind, outside the rotation, and `--schedule N --kind K` run each schedule with it.
let named = postgres ? nil : kindName.flatMap(SimFaultKind.init(rawValue:))
let rotation = postgres ? kindNames : SimFaultKind.rotation.map(\.rawValue)
var explicitKind: SimFaultKind?
if let named, only != nil || !SimFaultKind.rotation.contains(named) {
    explicitKind = named
} else if let kindName, let index = rotation.firstIndex(of: kindName) {
    schedules = schedules.map { $0 * rotation.count + index }
}
if postgres {
    guard PostgresTestDatabase.serverURL != nil else {
        print(
            "error: relais-sim --postgres needs RELAIS_TEST_POSTGRES_URL (start a server with: eval \"$(bash scripts/start-postgres.sh)\")"
        )
        exit(1)
    }
    let restarts = schedules.contains { SimPostgresKind.allCases[$0 % kindNames.count] == .postgresRestart }
    if restarts, SimPostgresServer.dataFolder == nil {
        print(
            "error: the postgresRestart kind needs \(SimPostgresServer.dataVariable), the server's data folder (scripts/start-postgres.sh exports it)"
        )
        exit(1)
    }
}
let replayCommand = "swift run relais-sim\(postgres ? " --postgres" : "") --seed \(seed) --schedule"
var failed = 0
var totals = (
    writes: 0, acknowledged: 0, syncs: 0, faults: 0, conflicts: 0, pairs: 0, refused: 0, restarts: 0, rotated: 0,
    rejoins: 0, verified: 0, repaired: 0
)
var perKind: [String: Int] = [:]
/// Per fault kind: divergences, lost writes, report-count failures, integrity failures, other failures.
var broken: [String: [Int]] = [:]

/// The invariant a violation breaks (the columns of docs/RELIABILITY.md's table).
func column(_ violation: String) -> Int {
    if violation.hasPrefix("divergence") || violation.contains("pending writes after the quiet phase") { return 0 }
    if violation.hasPrefix("lost acknowledged write") || violation.hasPrefix("pending write lost") { return 1 }
    if violation.hasPrefix("applied twice") || violation.contains("(expected exactly one") { return 2 }
    if violation.hasPrefix("integrity_check") { return 3 }
    return 4
}
let started = Date()
for (done, schedule) in schedules.enumerated() {
    do {
        let report =
            postgres
            ? try await SimSchedule.runPostgres(seed: seed, schedule: schedule)
            : try await SimSchedule.run(seed: seed, schedule: schedule, kind: explicitKind)
        totals.writes += report.writes
        totals.acknowledged += report.acknowledged
        totals.syncs += report.syncs
        totals.faults += report.injected
        totals.conflicts += report.conflicts
        totals.pairs += report.concurrentPairs
        totals.refused += report.refusedEdits
        totals.restarts += report.hubRestarts
        totals.rotated += report.rotatedTokens
        totals.rejoins += report.rejoins
        totals.verified += report.verifications
        totals.repaired += report.repairs
        perKind[report.kind, default: 0] += 1
        var counts = broken[report.kind] ?? [0, 0, 0, 0, 0]
        for violation in report.violations { counts[column(violation)] += 1 }
        broken[report.kind] = counts
        if only != nil { print(report.trace.joined(separator: "\n")) }
        if only != nil || !report.violations.isEmpty { print(report) }
        if !report.violations.isEmpty { failed += 1 }
        if report.repairs > 0, report.violations.isEmpty {
            // Nothing here changes a laptop's file behind the engine: a repair points at a sync bug.
            print(
                "schedule \(schedule) [\(report.kind)]: \(report.repairs) records repaired by a verification; replay: \(report.replay)\n"
                    + report.trace.filter { $0.contains("verification") }.map { "  \($0)" }.joined(separator: "\n"))
        }
    } catch {
        failed += 1
        print(
            "schedule \(schedule) could not run: \(error)\n  replay: \(replayCommand) \(schedule)"
                + (explicitKind.map { " --kind \($0.rawValue)" } ?? ""))
    }
    if only == nil, (done + 1) % 100 == 0 {
        print("… \(done + 1) schedules, \(failed) failed, \(Int(Date().timeIntervalSince(started))) s")
    }
}
print(
    "seed \(seed): \(schedules.count) schedules, \(failed) failed; writes \(totals.writes), acknowledged and checked \(totals.acknowledged), syncs \(totals.syncs), faults injected \(totals.faults), conflict reports \(totals.conflicts), concurrent pairs checked for exactly one report \(totals.pairs), edits refused on a full disk \(totals.refused), hub restarts \(totals.restarts), devices that rotated their token \(totals.rotated), rejoins \(totals.rejoins), syncs verified against the hub's digest \(totals.verified) (records repaired \(totals.repaired)); \(Int(Date().timeIntervalSince(started))) s"
)
print("per fault kind: " + perKind.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
print(
    "| fault kind | schedules | divergences | lost writes | report count (duplicate or missing) | integrity failures | other |"
)
for kind in kindNames where perKind[kind] != nil {
    let c = broken[kind] ?? [0, 0, 0, 0, 0]
    print("| \(kind) | \(perKind[kind]!) | \(c[0]) | \(c[1]) | \(c[2]) | \(c[3]) | \(c[4]) |")
}
exit(failed == 0 ? 0 : 1)
