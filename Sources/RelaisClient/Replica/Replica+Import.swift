import Foundation
import RelaisCore
import RelaisSQLite

extension Replica {
    /// Imports records from CSV or JSON Lines text into `collection`, in one transaction, captured
    /// like any edit. Returns the number of records imported.
    ///
    /// A CSV file starts with a header naming the fields; values are parsed by each field's type
    /// (`FieldType.parse`: a number, a date, a set as `a,b,c`, an empty cell is null). A JSON Lines
    /// file holds one object per line. A row may carry an `id`: kept when it is a UUID, otherwise a
    /// new one is made.
    ///
    /// Every row is checked first. If any is bad (an unknown field, a value that does not fit, a
    /// missing required field, an id already present), nothing is imported and the error lists every
    /// bad row with its line number.
    @discardableResult
    public func `import`(_ collection: String, text: String, format: ImportFormat) throws -> Int {
        let schema = try store.collection(collection)
        let rows: [ImportRow]
        switch format {
        case .csv: rows = try Self.parseCSV(text, schema)
        case .jsonl: rows = try Self.parseJSONL(text, schema)
        }
        var problems = rows.compactMap { $0.problem }
        let role = try store.stateText("role") ?? ""
        var ids = Set<String>()
        var prepared: [(line: Int, id: String, values: [String: Value])] = []
        for row in rows where row.problem == nil {
            var id = row.id.flatMap { FieldType.isUUID($0) ? $0.lowercased() : nil } ?? ""
            if id.isEmpty { id = store.configuration.makeID().uuidString.lowercased() }
            if !ids.insert(id).inserted {
                problems.append(.init(line: row.line, message: "id \(id) appears twice in the file"))
                continue
            }
            var missing: String?
            for field in schema.fields where field.required && (row.values[field.name] ?? .null).isNull {
                missing = field.name
                break
            }
            if let missing {
                problems.append(.init(line: row.line, message: "`\(missing)` is required"))
                continue
            }
            if role == "rep",
                let field = schema.fields.first(where: { $0.hubOnly && !(row.values[$0.name] ?? .null).isNull })
            {
                problems.append(.init(line: row.line, message: "`\(field.name)` is written by the office only"))
                continue
            }
            prepared.append((row.line, id, row.values))
        }
        return try store.write {
            for row in prepared where try store.readRaw(schema, id: row.id) != nil {
                problems.append(.init(line: row.line, message: "\(collection) \(row.id) already exists"))
            }
            guard problems.isEmpty else {
                problems.sort { $0.line < $1.line }
                let shown = problems.prefix(5).map(\.description).joined(separator: "; ")
                let more = problems.count > 5 ? " (and \(problems.count - 5) more)" : ""
                throw ReplicaError(
                    .importFailed, "import refused, nothing imported: \(shown)\(more)", problems: problems)
            }
            try store.insertStamped(schema, prepared.map { ($0.id, $0.values) })
            return prepared.count
        }
    }

    struct ImportRow {
        var line: Int
        var id: String?
        var values: [String: Value]
        var problem: ReplicaError.ImportProblem?
    }

    static func parseJSONL(_ text: String, _ schema: CollectionSchema) throws -> [ImportRow] {
        var rows: [ImportRow] = []
        // Lines are cut and blank ones found on the UTF-8 bytes: `split` on characters and Foundation's
        // trimming took three quarters of an import's parsing. A line ending in `\r\n` is a line too
        // (as a character, `\r\n` is not `\n`).
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let number = index + 1
            guard let first = line.firstIndex(where: { !Self.isASCIISpace($0) }) else { continue }
            if line[first] >= 0x80,
                String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            {
                continue
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                rows.append(
                    ImportRow(line: number, values: [:], problem: .init(line: number, message: "not a JSON object")))
                continue
            }
            var row = ImportRow(line: number, id: nil, values: [:])
            for (key, raw) in object.sorted(by: { $0.key < $1.key }) {
                if key == "id" {
                    row.id = raw as? String
                    continue
                }
                guard let field = schema.field(key) else {
                    row.problem = .init(line: number, message: "unknown field `\(key)`")
                    break
                }
                do {
                    row.values[key] = try field.type.value(fromJSON: raw, collection: schema.name, field: key)
                } catch {
                    row.problem = .init(line: number, message: error.description)
                    break
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Space, tab, line feed, vertical tab, form feed, carriage return.
    private static func isASCIISpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    static func parseCSV(_ text: String, _ schema: CollectionSchema) throws -> [ImportRow] {
        let records = CSVReader.records(text)
        guard let header = records.first else { return [] }
        var fields: [FieldSchema?] = []
        var idColumn: Int?
        var rows: [ImportRow] = []
        for (i, name) in header.cells.enumerated() {
            let name = name.trimmingCharacters(in: .whitespaces)
            if name == "id" {
                idColumn = i
                fields.append(nil)
            } else if let field = schema.field(name) {
                fields.append(field)
            } else {
                rows.append(
                    ImportRow(
                        line: header.line, values: [:],
                        problem: .init(line: header.line, message: "unknown field `\(name)` in the header")))
                fields.append(nil)
            }
        }
        if !rows.isEmpty { return rows }
        for record in records.dropFirst() {
            if record.cells.count == 1, record.cells[0].isEmpty { continue }
            var row = ImportRow(line: record.line, id: nil, values: [:])
            guard record.cells.count == header.cells.count else {
                row.problem = .init(
                    line: record.line, message: "\(record.cells.count) cells, the header has \(header.cells.count)")
                rows.append(row)
                continue
            }
            for (i, cell) in record.cells.enumerated() {
                if i == idColumn {
                    row.id = cell.isEmpty ? nil : cell
                    continue
                }
                guard let field = fields[i] else { continue }
                do {
                    row.values[field.name] = try field.type.parse(cell, collection: schema.name, field: field.name)
                } catch {
                    row.problem = .init(line: record.line, message: error.description)
                    break
                }
            }
            rows.append(row)
        }
        return rows
    }
}

/// A small RFC 4180 reader: quoted cells may hold commas, quotes (doubled) and line breaks.
enum CSVReader {
    struct Record {
        /// The line the record starts on (1-based).
        var line: Int
        var cells: [String]
    }

    static func records(_ text: String) -> [Record] {
        var records: [Record] = []
        var cells: [String] = []
        var cell = ""
        var inQuotes = false
        var line = 1
        var start = 1
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = scalars.next()
        func endRecord() {
            cells.append(cell)
            records.append(Record(line: start, cells: cells))
            cells = []
            cell = ""
        }
        while let c = pending {
            pending = scalars.next()
            if inQuotes {
                if c == "\"" {
                    if pending == "\"" {
                        cell.unicodeScalars.append("\"")
                        pending = scalars.next()
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c == "\n" { line += 1 }
                    cell.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"": inQuotes = true
            case ",":
                cells.append(cell)
                cell = ""
            case "\r":
                if pending == "\n" { continue }
                endRecord()
                line += 1
                start = line
            case "\n":
                endRecord()
                line += 1
                start = line
            default: cell.unicodeScalars.append(c)
            }
        }
        if !cell.isEmpty || !cells.isEmpty { endRecord() }
        return records
    }
}
