import Foundation

/// The command line: `relais-bench [--smoke] [--only NAME] [--runs N] [--json] [--records N] [--big N]`.
struct BenchOptions: Sendable {
    var smoke = false
    var only: Set<String> = []
    var runs = 5
    var json = false
    var help = false
    /// Customers in the bootstrap benchmark (and the small memory run).
    var bootstrapRecords = 100_000
    /// Customers in the peers' workload (the session extension side by side).
    var peersRecords = 10_000
    /// Customers in the large memory run.
    var bigRecords = 1_000_000
    /// Changed fields in the incremental and wire-size benchmarks.
    var changedFields = 1_000
    /// Devices and writes per device in the ingest benchmark.
    var devices = 200
    var writesPerDevice = 50
    /// Writes in the conflict-heavy push (half of them concurrent).
    var conflictWrites = 10_000
    /// Repetitions of the memory benchmark (each bootstraps the large size once): `--runs`, at most 3,
    /// unless `--memory-runs` says otherwise.
    var memoryRuns: Int?

    static let names = [
        "bootstrap", "bootstrap-snapshot", "apply", "incremental", "ingest", "ingest-e2e", "ingest-big", "wire",
        "delta",
        "memory",
        "conflicts",
        "ingest-postgres", "bootstrap-postgres", "peers", "pages", "verify", "reports", "edits",
    ]

    static let usage = """
        usage: relais-bench [--smoke] [--only NAME[,NAME]] [--runs N] [--json] [--records N] [--big N] [--memory-runs N]
          --smoke      tiny sizes, 1 run: only checks that every benchmark still runs
          --only NAME  one of \(names.joined(separator: ", ")) (comma-separated for several)
          --runs N     repetitions of each measurement (default 5)
          --json       print the results as JSON instead of a table
          --records N  customers in the bootstrap benchmarks, the small memory run (default 100,000) and peers (10,000)
          --big N      customers in the large memory run (default 1,000,000)
          --memory-runs N  repetitions of the memory benchmark (default: --runs, at most 3)
        """

    static func parse(_ arguments: [String]) throws -> BenchOptions {
        var options = BenchOptions()
        var index = 0
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw BenchError("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        var runsGiven: Int?
        var bigGiven: Int?
        var recordsGiven: Int?
        while index < arguments.count {
            switch arguments[index] {
            case "--smoke": options.smoke = true
            case "--json": options.json = true
            case "--help", "-h": options.help = true
            case "--only":
                for name in try value().split(separator: ",").map(String.init) {
                    guard names.contains(name) else { throw BenchError("unknown benchmark \(name)") }
                    options.only.insert(name)
                }
            case "--runs":
                guard let runs = Int(try value()), runs > 0 else { throw BenchError("--runs needs a positive number") }
                runsGiven = runs
            case "--memory-runs":
                guard let runs = Int(try value()), runs > 0 else {
                    throw BenchError("--memory-runs needs a positive number")
                }
                options.memoryRuns = runs
            case "--records":
                guard let records = Int(try value()), records > 0 else {
                    throw BenchError("--records needs a positive number")
                }
                recordsGiven = records
            case "--big":
                guard let big = Int(try value()), big > 0 else { throw BenchError("--big needs a positive number") }
                bigGiven = big
            default: throw BenchError("unknown option \(arguments[index])\n\(usage)")
            }
            index += 1
        }
        if options.smoke {
            options.runs = 1
            options.bootstrapRecords = 300
            options.bigRecords = 600
            options.changedFields = 50
            options.devices = 4
            options.writesPerDevice = 5
            options.conflictWrites = 100
        }
        if let runsGiven { options.runs = runsGiven }
        if let bigGiven { options.bigRecords = bigGiven }
        if let recordsGiven {
            options.bootstrapRecords = recordsGiven
            options.peersRecords = recordsGiven
        }
        return options
    }

    func wants(_ name: String) -> Bool { only.isEmpty || only.contains(name) }
}

/// A benchmark's failure to run (not a missed target: targets never fail the command).
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
