import ArgumentParser
import Foundation
import RelaisHub

/// `relais-hub epoch show|renew`: the hub epoch laptops check to notice a restored hub.
struct HubEpochCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epoch", abstract: "Show or renew the hub epoch (after restoring a PostgreSQL hub).",
        subcommands: [Show.self, Renew.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the hub epoch.",
            discussion: "  relais-hub epoch show --postgres postgres://relais@db/relais")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            print(try await withHub(store) { hub in try await hub.hubEpoch() })
        }
    }

    struct Renew: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give the hub a new epoch and move its replica numbers past a gap (every hub stopped).",
            discussion: """
                The last step of restoring a hub (docs/OPERATIONS.md, "The restore drill"). `relais-hub
                restore` does it for a SQLite hub; after pg_restore into a PostgreSQL database, run it
                before starting the hubs. Laptops then notice the restore at their next sync and push
                again what the backup lacks. The next replica number moves GAP ahead: at most GAP
                enrollments and renewals may have happened between the backup and the restore.

                  relais-hub epoch renew --postgres postgres://relais@db/relais
                """)

        @OptionGroup var store: StoreOptions
        @Option(help: ArgumentHelp("How far to move the next replica number.", valueName: "GAP"))
        var replicaGap: UInt32 = HubService.defaultReplicaGap

        func run() async throws {
            let epoch = try await withHub(store) { hub in try await hub.renewHubEpoch(replicaGap: replicaGap) }
            print("Renewed the hub epoch: \(epoch).")
        }
    }
}
