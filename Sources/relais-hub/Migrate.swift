import ArgumentParser
import Foundation
import RelaisHub

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a SQLite hub into an empty PostgreSQL database.",
        discussion: """
            Copies every row of the hub in DIR — users, devices with their tokens, counters and cursors,
            records, history, conflict reports, the audit log — into the database at URL, which must
            hold no hub store. Laptops then sync with the hubs on PostgreSQL as before: same tokens,
            same cursors, no new bootstrap. Stop `relais-hub serve --data DIR` first.

              relais-hub migrate --from /var/lib/relais --to postgres://relais@db.internal/relais
            """)

    @Option(help: ArgumentHelp("The SQLite hub's data folder.", valueName: "DIR")) var from: String
    @Option(help: ArgumentHelp("The PostgreSQL database to copy it into.", valueName: "URL")) var to: String
    @Flag(help: "Print JSON: {\"tables\": {\"name\": rows}}.") var json = false

    func run() async throws {
        let report = try await HubStoreMigration.copy(
            fromSQLite: from, toPostgres: to, logger: HubLogging.standardError(label: "relais.hub"))
        if json {
            try printJSON(["tables": Dictionary(uniqueKeysWithValues: report.tables.map { ($0.name, $0.rows) })])
        } else {
            for table in report.tables { print("\(table.name)\t\(table.rows)") }
            print("Copied the hub in \(from) into \(HubStoreLocation.postgres(url: to).description).")
        }
    }
}
