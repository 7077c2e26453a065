import ArgumentParser
import Foundation
import RelaisClient
import RelaisCore

/// Parses `field=value` arguments by each field's declared type (`FieldType.parse`).
func parseAssignments(_ assignments: [String], collection name: String, schema: Schema) throws -> [String: Value] {
    guard let collection = schema.collection(name) else {
        throw CommandFailure(
            message: "unknown collection `\(name)` (one of \(schema.collectionNames.joined(separator: ", ")))", code: 2)
    }
    var values: [String: Value] = [:]
    for assignment in assignments {
        guard let equals = assignment.firstIndex(of: "=") else {
            throw CommandFailure(message: "`\(assignment)` is not field=value", code: 2)
        }
        let field = String(assignment[..<equals])
        let text = String(assignment[assignment.index(after: equals)...])
        guard let declared = collection.field(field) else {
            throw CommandFailure(message: "\(name) has no field `\(field)`", code: 2)
        }
        do {
            values[field] = try declared.type.parse(text, collection: name, field: field)
        } catch {
            throw CommandFailure(message: error.description, code: 1)
        }
    }
    return values
}

/// A record as JSON: `{"id": ..., "<field>": ...}`, nulls omitted, a set as a sorted array.
func jsonRecord(_ record: Replica.Record, schema: Schema) -> [String: Any] {
    guard let collection = schema.collection(record.collection) else { return ["id": record.id] }
    return CanonicalExport.record(
        schema: collection, CanonicalExport.Record(id: record.id, values: record.values.filter { !$0.value.isNull }))
}

func checkCollection(_ name: String, _ schema: Schema) throws {
    guard schema.collection(name) != nil else {
        throw CommandFailure(
            message: "unknown collection `\(name)` (one of \(schema.collectionNames.joined(separator: ", ")))", code: 2)
    }
}

struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add a record; prints its new id.")

    @Argument(help: "The collection (customers, contacts, interactions).") var collection: String
    @Argument(help: "field=value pairs, parsed by each field's type (a set as a,b,c).") var assignments: [String] = []
    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        let values = try parseAssignments(assignments, collection: collection, schema: replica.schema)
        let id = try await failing { try await replica.add(collection, values) }
        if options.json { try printJSON(["id": id]) } else { print(id) }
    }
}

struct SetFields: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Set fields of a record.")

    @Argument(help: "The collection.") var collection: String
    @Argument(help: "The record id.") var id: String
    @Argument(help: "field=value pairs; an empty value clears the field.") var assignments: [String] = []
    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        let values = try parseAssignments(assignments, collection: collection, schema: replica.schema)
        guard !values.isEmpty else { throw CommandFailure(message: "nothing to set: give field=value pairs", code: 2) }
        try await failing { try await replica.set(collection, id: id, values) }
        if options.json { try printJSON(["id": id.lowercased()]) }
    }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a record.")

    @Argument(help: "The collection.") var collection: String
    @Argument(help: "The record id.") var id: String
    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        try checkCollection(collection, replica.schema)
        try await failing { try await replica.delete(collection, id: id) }
        if options.json { try printJSON(["id": id.lowercased(), "deleted": true]) }
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a record (exit 3 when missing).")

    @Argument(help: "The collection.") var collection: String
    @Argument(help: "The record id.") var id: String
    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        try checkCollection(collection, replica.schema)
        guard let record = try await failing({ try await replica.get(collection, id: id) }) else {
            throw CommandFailure(message: "no \(collection) record \(id)", code: CommandFailure.notFound)
        }
        if options.json {
            try printJSON(jsonRecord(record, schema: replica.schema))
        } else {
            let fields = replica.schema.collection(collection)!.fieldNames
            let width = max(2, fields.map(\.count).max() ?? 0)
            print("id".padding(toLength: width, withPad: " ", startingAt: 0) + "  " + record.id)
            for field in fields where !record[field].isNull {
                print(field.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + record[field].description)
            }
        }
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List records, optionally filtered.")

    @Argument(help: "The collection.") var collection: String
    @Option(name: .customLong("where"), help: "A field=value filter (repeatable).") var filters: [String] = []
    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        let filter = try parseAssignments(filters, collection: collection, schema: replica.schema)
        let records = try await failing { try await replica.list(collection, where: filter) }
        if options.json {
            try printJSON(records.map { jsonRecord($0, schema: replica.schema) })
            return
        }
        let fields = replica.schema.collection(collection)!.fieldNames.filter { field in
            records.contains { !$0[field].isNull }
        }
        printTable(
            header: ["id"] + fields,
            rows: records.map { record in [record.id] + fields.map { record[$0].isNull ? "" : record[$0].description } }
        )
    }
}

/// Prints an aligned table; cells are cut at 40 characters.
func printTable(header: [String], rows: [[String]]) {
    func cut(_ s: String) -> String {
        let flat = s.replacingOccurrences(of: "\n", with: " ")
        return flat.count > 40 ? String(flat.prefix(39)) + "…" : flat
    }
    let cells = ([header] + rows).map { $0.map(cut) }
    var widths = Array(repeating: 0, count: header.count)
    for row in cells {
        for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    for row in cells {
        let line = row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
        print(line)
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import records from a CSV or JSON Lines file, in one transaction (all or nothing).")

    @Argument(help: "The collection.") var collection: String
    @Argument(help: "The file to import.") var file: String
    @Flag(help: "The file's format.") var format: Format
    @OptionGroup var options: ReplicaOptions

    enum Format: String, EnumerableFlag {
        case csv, jsonl
    }

    func run() async throws {
        let replica = try options.open()
        try checkCollection(collection, replica.schema)
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw CommandFailure(message: "cannot read \(file)", code: 1)
        }
        let count = try await failing {
            try await replica.import(collection, text: text, format: format == .csv ? .csv : .jsonl)
        }
        if options.json { try printJSON(["imported": count]) } else { print("imported \(count) \(collection)") }
    }
}

/// Friendly aliases: `relais customer add name=... --db FILE` and so on.
enum CollectionAlias {
    struct Customer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Customers: add, set, delete, get, list (aliases of the plain commands).",
            subcommands: [
                Add<Customers>.self, SetFields<Customers>.self, Delete<Customers>.self, Get<Customers>.self,
                List<Customers>.self,
            ])
    }
    struct Contact: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Contacts: add, set, delete, get, list (aliases of the plain commands).",
            subcommands: [
                Add<Contacts>.self, SetFields<Contacts>.self, Delete<Contacts>.self, Get<Contacts>.self,
                List<Contacts>.self,
            ])
    }
    struct Interaction: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Interactions: add, set, delete, get, list (aliases of the plain commands).",
            subcommands: [
                Add<Interactions>.self, SetFields<Interactions>.self, Delete<Interactions>.self, Get<Interactions>.self,
                List<Interactions>.self,
            ])
    }

    protocol Name { static var collection: String { get } }
    enum Customers: Name { static let collection = "customers" }
    enum Contacts: Name { static let collection = "contacts" }
    enum Interactions: Name { static let collection = "interactions" }

    struct Add<C: Name>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "add", abstract: "Add a record.")
        }
        @Argument var assignments: [String] = []
        @OptionGroup var options: ReplicaOptions
        func run() async throws {
            let command = try RelaisCommand.Add.parse([C.collection] + assignments + options.arguments)
            try await command.run()
        }
    }
    struct SetFields<C: Name>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "set", abstract: "Set fields.")
        }
        @Argument var id: String
        @Argument var assignments: [String] = []
        @OptionGroup var options: ReplicaOptions
        func run() async throws {
            let command = try RelaisCommand.SetFields.parse([C.collection, id] + assignments + options.arguments)
            try await command.run()
        }
    }
    struct Delete<C: Name>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "delete", abstract: "Delete a record.")
        }
        @Argument var id: String
        @OptionGroup var options: ReplicaOptions
        func run() async throws {
            let command = try RelaisCommand.Delete.parse([C.collection, id] + options.arguments)
            try await command.run()
        }
    }
    struct Get<C: Name>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "get", abstract: "Print a record.")
        }
        @Argument var id: String
        @OptionGroup var options: ReplicaOptions
        func run() async throws {
            let command = try RelaisCommand.Get.parse([C.collection, id] + options.arguments)
            try await command.run()
        }
    }
    struct List<C: Name>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "list", abstract: "List records.")
        }
        @Option(name: .customLong("where")) var filters: [String] = []
        @OptionGroup var options: ReplicaOptions
        func run() async throws {
            let command = try RelaisCommand.List.parse(
                [C.collection] + filters.flatMap { ["--where", $0] } + options.arguments)
            try await command.run()
        }
    }
}

/// The plain commands, named apart from the aliases' generic types.
enum RelaisCommand {
    typealias Add = relais.Add
    typealias SetFields = relais.SetFields
    typealias Delete = relais.Delete
    typealias Get = relais.Get
    typealias List = relais.List
}

extension ReplicaOptions {
    /// The options as arguments again, to hand to the plain command.
    var arguments: [String] { ["--db", db] + (json ? ["--json"] : []) }
}
