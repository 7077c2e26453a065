import RelaisCore

/// How the admin pages write values for people: field values, the hint under the merged-value input,
/// and the difference between two values.
enum AdminText {
    static func display(_ value: Value?) -> String {
        switch value {
        case nil, .null?: "(empty)"
        case .text(let text)?, .date(let text)?: text.isEmpty ? "(empty text)" : text
        case .number(let number)?:
            number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag)?: flag ? "yes" : "no"
        case .set(let items)?: items.isEmpty ? "(no items)" : items.joined(separator: ", ")
        }
    }

    /// The words (text) or items (sets) added and removed from `old` to `new`; empty for other values.
    static func diff(from old: Value?, to new: Value?) -> [WordDiff.Token] {
        switch (old, new) {
        case (.set(let a)?, .set(let b)?): WordDiff.items(from: a, to: b)
        case (nil, .set(let b)?), (.null?, .set(let b)?): WordDiff.items(from: [], to: b)
        case (.text(let a)?, .text(let b)?): WordDiff.words(from: a, to: b)
        default: []
        }
    }

    static func hint(_ type: FieldType) -> String {
        switch type {
        case .text: "Text, as it should read."
        case .number: "A number."
        case .date: "A date, YYYY-MM-DD."
        case .bool: "true or false."
        case .enumeration(let options): "One of: \(options.joined(separator: ", "))."
        case .set: "Items separated by commas: a,b,c."
        case .reference: "The id of the referenced record."
        }
    }
}
