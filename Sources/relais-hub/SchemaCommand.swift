import ArgumentParser
import Foundation
import RelaisCore
import RelaisHub

struct SchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Show the data schema in force, or apply a new version of it (docs/CRM.md).",
        subcommands: [Show.self, Apply.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the data schema in force, as its file was applied.",
            discussion: """
                  relais-hub schema show --data /var/lib/relais > schema.json
                  relais-hub schema show --data DIR --version     # 2
                """)

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print only the version number.") var version = false

        func run() async throws {
            let definition = try await withHub(store) { hub in try await hub.loadSchema() }
            if version {
                print(definition.version)
            } else {
                print(definition.text.hasSuffix("\n") ? String(definition.text.dropLast()) : definition.text)
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make FILE the data schema in force; laptops migrate at their next sync.",
            discussion: """
                FILE must carry a higher version than the schema in force and change it only in ways a
                replica file and the hub's store take in place: new collections (after the existing
                ones), new optional fields (after a collection's existing ones), more values for an
                enum, another merge rule, another reason. Anything else (a field removed, renamed,
                moved or retyped, a new required field, a visibility change) is refused with an error
                naming it, and nothing changes. Works while `serve` runs: hubs take it at their next
                push or pull.

                  relais-hub schema apply crm-schema-v3.json --data /var/lib/relais
                  relais-hub schema apply FILE --data DIR --dry-run     # only check it
                  relais-hub schema apply --default --data DIR          # this release's CRM schema (version 2)
                """)

        @Argument(help: "The schema file (JSON).") var file: String?
        @Flag(name: .customLong("default"), help: "Apply this release's default CRM schema instead of a file.")
        var shipped = false
        @OptionGroup var store: StoreOptions
        @Flag(help: "Check FILE against the schema in force and list its changes; store nothing.")
        var dryRun = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let definition: SchemaDefinition
            guard shipped != (file != nil) else { throw ValidationError("Give a schema FILE or --default, not both.") }
            do {
                definition =
                    try file.map { try SchemaDefinition(json: try Data(contentsOf: URL(fileURLWithPath: $0))) }
                    ?? .crm
            } catch let error as SchemaError {
                throw ValidationError("\(file ?? "the default schema"): \(error)")
            } catch {
                throw ValidationError("cannot read \(file ?? ""): \(error.localizedDescription)")
            }
            let (current, changes) = try await withHub(store) { hub in
                let current = try await hub.loadSchema()
                if dryRun {
                    do {
                        return (current, try definition.schema.changes(from: current.schema))
                    } catch {
                        throw ValidationError(
                            "the schema cannot replace version \(current.version) in place: \(error). Nothing was changed."
                        )
                    }
                }
                return (current, try await hub.applySchema(definition))
            }
            let applied = !dryRun && definition.version > current.version
            if json {
                try printJSON([
                    "version": definition.version, "previous_version": current.version, "applied": applied,
                    "changes": changes.map(\.description),
                ])
                return
            }
            if definition.version == current.version {
                print("Schema version \(definition.version) is already in force; nothing to do.")
                return
            }
            print(
                dryRun
                    ? "Schema version \(definition.version) can replace version \(current.version):"
                    : "Schema version \(definition.version) is in force (was \(current.version)):")
            for change in changes { print("  - \(change)") }
            if changes.isEmpty { print("  (no change but the version)") }
            if !dryRun { print("Laptops migrate their files at their next sync.") }
        }
    }
}
