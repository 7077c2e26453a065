/// One compatible difference between a schema and the version after it (docs/CRM.md "Changing the
/// schema"). A replica file and a hub store take each in place: nothing stored is rewritten.
public enum SchemaChange: Sendable, Hashable, CustomStringConvertible {
    /// A new collection: a new table.
    case collectionAdded(String)
    /// A new optional field of an existing collection: a new column, null in every stored record.
    case fieldAdded(collection: String, field: String)
    /// An enum field accepts more values.
    case enumWidened(collection: String, field: String, added: [String])
    /// A field merges concurrent writes under another rule from now on (stored values stay).
    case ruleChanged(collection: String, field: String, from: MergeRule, to: MergeRule)
    /// Only a field's explanation changed.
    case reasonChanged(collection: String, field: String)

    public var description: String {
        switch self {
        case .collectionAdded(let name): "new collection `\(name)`"
        case .fieldAdded(let collection, let field): "new field `\(collection).\(field)`"
        case .enumWidened(let collection, let field, let added):
            "`\(collection).\(field)` accepts \(added.map { "`\($0)`" }.joined(separator: ", "))"
        case .ruleChanged(let collection, let field, let from, let to):
            "`\(collection).\(field)` merges by `\(to.rawValue)` instead of `\(from.rawValue)`"
        case .reasonChanged(let collection, let field): "`\(collection).\(field)` has a new reason"
        }
    }
}

extension Schema {
    /// The changes that take `current` to this schema, when this one can replace it in place: the
    /// same version with the same contents (no change), or a higher version that only adds
    /// collections after the existing ones, adds optional fields after a collection's existing ones,
    /// lets an enum accept more values, or changes merge rules (and reasons).
    ///
    /// - Throws: ``SchemaError`` naming the first change that is not one of those: a collection or
    ///   field removed, renamed or moved, a type, constraint or visibility changed, a new required
    ///   field in an existing collection, a lower version, or the same version with other contents.
    public func changes(from current: Schema) throws(SchemaError) -> [SchemaChange] {
        guard version >= current.version else {
            throw SchemaError(
                collection: nil, field: nil,
                message: "version \(version) is older than the version in force, \(current.version)")
        }
        var changes: [SchemaChange] = []
        for (index, old) in current.collections.enumerated() {
            guard let new = collection(old.name) else {
                throw SchemaError(collection: old.name, field: nil, message: "the collection is removed")
            }
            guard collections[index].name == old.name else {
                throw SchemaError(
                    collection: old.name, field: nil,
                    message: "the collection moved; new collections come after the existing ones")
            }
            guard new.visibility == old.visibility else {
                throw SchemaError(collection: old.name, field: nil, message: "its visibility changed")
            }
            changes += try Self.fieldChanges(from: old, to: new)
        }
        for new in collections.dropFirst(current.collections.count) {
            changes.append(.collectionAdded(new.name))
        }
        if version == current.version, !changes.isEmpty {
            throw SchemaError(
                collection: nil, field: nil,
                message: "version \(version) is in force with other contents; give the new schema a higher version")
        }
        return changes
    }

    private static func fieldChanges(from old: CollectionSchema, to new: CollectionSchema) throws(SchemaError)
        -> [SchemaChange]
    {
        var changes: [SchemaChange] = []
        for (index, before) in old.fields.enumerated() {
            func refuse(_ message: String) -> SchemaError {
                SchemaError(collection: old.name, field: before.name, message: message)
            }
            guard let after = new.field(before.name) else { throw refuse("the field is removed") }
            guard new.fields[index].name == before.name else {
                throw refuse("the field moved; new fields come after a collection's existing ones")
            }
            switch (before.type, after.type) {
            case (.enumeration(let was), .enumeration(let now)):
                let removed = was.filter { !now.contains($0) }
                guard removed.isEmpty else {
                    throw refuse("the enum no longer accepts \(removed.map { "`\($0)`" }.joined(separator: ", "))")
                }
                let added = now.filter { !was.contains($0) }
                if !added.isEmpty {
                    changes.append(.enumWidened(collection: old.name, field: before.name, added: added))
                }
            case (let was, let now) where was != now:
                throw refuse("its type changed from \(describe(was)) to \(describe(now))")
            default:
                break
            }
            guard after.required == before.required else {
                throw refuse(after.required ? "the field becomes required" : "the field is no longer required")
            }
            guard after.hubOnly == before.hubOnly else {
                throw refuse(after.hubOnly ? "the field becomes written by the office only" : "`hub_only` is removed")
            }
            if after.rule != before.rule {
                changes.append(
                    .ruleChanged(collection: old.name, field: before.name, from: before.rule, to: after.rule))
            }
            if after.reason != before.reason {
                changes.append(.reasonChanged(collection: old.name, field: before.name))
            }
        }
        for field in new.fields.dropFirst(old.fields.count) {
            guard !field.required else {
                throw SchemaError(
                    collection: old.name, field: field.name,
                    message:
                        "a new field of an existing collection cannot be required: stored records have no value for it"
                )
            }
            changes.append(.fieldAdded(collection: old.name, field: field.name))
        }
        return changes
    }

    private static func describe(_ type: FieldType) -> String {
        switch type {
        case .number(let integer, let minimum, let maximum):
            var text = integer ? "integer" : "number"
            if let minimum { text += " ≥ \(minimum)" }
            if let maximum { text += " ≤ \(maximum)" }
            return text
        case .reference(let target): return "reference to `\(target)`"
        default: return type.name
        }
    }
}
