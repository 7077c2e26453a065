import Foundation

/// A JSON value, `Sendable`: what an admin sends as a conflict's new value.
public indirect enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Converts a `JSONSerialization` object; `nil` for anything else.
    public init?(foundation object: Any?) {
        switch object {
        case nil, is NSNull: self = .null
        case let number as NSNumber:
            if type(of: number) == type(of: NSNumber(value: true)), String(cString: number.objCType) == "c" {
                self = .bool(number.boolValue)
            } else {
                self = .number(number.doubleValue)
            }
        case let string as String: self = .string(string)
        case let array as [Any]:
            var items: [JSONValue] = []
            for item in array {
                guard let value = JSONValue(foundation: item) else { return nil }
                items.append(value)
            }
            self = .array(items)
        case let dictionary as [String: Any]:
            var members: [String: JSONValue] = [:]
            for (key, item) in dictionary {
                guard let value = JSONValue(foundation: item) else { return nil }
                members[key] = value
            }
            self = .object(members)
        default: return nil
        }
    }

    /// The value as a `JSONSerialization` object.
    public var foundationObject: Any {
        switch self {
        case .null: NSNull()
        case .bool(let b): NSNumber(value: b)
        case .number(let n): NSNumber(value: n)
        case .string(let s): s
        case .array(let items): items.map(\.foundationObject)
        case .object(let members): members.mapValues(\.foundationObject)
        }
    }
}
