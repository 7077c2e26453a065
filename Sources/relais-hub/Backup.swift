import ArgumentParser
import Foundation
import RelaisHub

/// A PostgreSQL hub is backed up with PostgreSQL's own tools.
private let postgresBackups =
    "A hub on PostgreSQL is backed up and restored with PostgreSQL's tools (pg_dump and pg_restore, or pg_basebackup); see Deploy/README.md."

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the hub's store into a new file, while the hub serves.",
        discussion: """
            Writes the store of DIR as of one commit into FILE (which must not exist), checks the copy,
            and prints where it is and the head sequence it holds. Safe while `relais-hub serve` runs:
            pushes carry on, and every push acknowledged before the copy began is in it.

              relais-hub backup --data /var/lib/relais --to /backup/relais/hub-$(date +%F-%H%M).sqlite
            """)

    @OptionGroup var store: StoreOptions
    @Option(help: ArgumentHelp("The backup file to write.", valueName: "FILE")) var to: String
    @Flag(help: "Print JSON: {\"path\", \"bytes\", \"head\"}.") var json = false

    func run() async throws {
        guard let data = store.data else { throw CLIError(message: postgresBackups, exitCode: 1) }
        let file = try SQLiteHubStore.backup(folder: data, to: to)
        try report(file, json: json, done: "Backed up the hub in \(data) to \(file.path)")
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a backup in place as the hub's store (the hub stopped).",
        discussion: """
            Checks FILE, then makes it the store of DIR. A store already in DIR is replaced only with
            --replace. Stop `relais-hub serve` first, and start it again afterwards. The restored hub
            takes a new hub epoch and moves its next replica number GAP ahead (`relais-hub epoch
            renew`): laptops notice the restore at their next sync and push again what the backup lacks.

              relais-hub restore --from /backup/relais/hub-2026-12-04-0300.sqlite --data /var/lib/relais --replace
            """)

    @OptionGroup var store: StoreOptions
    @Option(help: ArgumentHelp("The backup file to restore.", valueName: "FILE")) var from: String
    @Flag(help: "Replace the store already in the data folder.") var replace = false
    @Option(help: ArgumentHelp("How far to move the next replica number.", valueName: "GAP"))
    var replicaGap: UInt32 = HubService.defaultReplicaGap
    @Flag(help: "Print JSON: {\"path\", \"bytes\", \"head\"}.") var json = false

    func run() async throws {
        guard let data = store.data else { throw CLIError(message: postgresBackups, exitCode: 1) }
        let file = try await SQLiteHubStore.restore(
            from: from, folder: data, replace: replace, replicaGap: replicaGap)
        try report(file, json: json, done: "Restored \(from) as the hub in \(data)")
    }
}

private func report(_ file: SQLiteHubStore.BackupFile, json: Bool, done: String) throws {
    if json {
        try printJSON(["path": file.path, "bytes": file.bytes, "head": file.head])
    } else {
        print("\(done) (\(file.bytes) bytes, head \(file.head)).")
    }
}
