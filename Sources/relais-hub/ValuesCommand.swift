import ArgumentParser
import Foundation
import RelaisHub

struct ValuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "values",
        abstract: "Compute customers' lifetime value and segment from orders and the pipeline, and write them.",
        discussion: """
            Lifetime value = the last 365 days' order margin × r / (1 + i − r) (r = 0.8 kept a year,
            i = 0.1 discount) + the open opportunities' amount × probability; segments A, B, C by
            Pareto over the whole file (docs/CRM.md). Only the customers whose figures changed are
            written, as office writes: laptops receive them at their next sync. Works while `serve`
            runs; run it nightly (a timer, or cron).

              relais-hub values --data /var/lib/relais
              relais-hub values --data DIR --json     # {"customers": 3000, "written": 412}
            """)

    @OptionGroup var store: StoreOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let update = try await withHub(store) { hub in try await hub.updateCustomerValues() }
        if json {
            try printJSON(["customers": update.customers, "written": update.written])
        } else {
            print("Lifetime value and segment written for \(update.written) of \(update.customers) customers.")
        }
    }
}
