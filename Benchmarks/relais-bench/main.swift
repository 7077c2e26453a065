// relais-bench: speed, wire size and memory of the real hub and replica on loopback, each as a ratio
// against a baseline measured in the same run (docs/PERFORMANCE.md).
import Foundation

setenv("LOG_LEVEL", "error", 1)

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    if arguments.first == "--child-bootstrap" {
        try await ChildBootstrap.run(Array(arguments.dropFirst()))
        exit(0)
    }
    let options = try BenchOptions.parse(arguments)
    if options.help {
        print(BenchOptions.usage)
        exit(0)
    }
    let results = try await BenchRunner(options: options).run()
    if options.json {
        print(Report.json(results))
    } else {
        print(Report.table(results, options: options))
    }
} catch {
    FileHandle.standardError.write(Data("relais-bench: \(error)\n".utf8))
    exit(1)
}
