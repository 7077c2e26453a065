import RelaisCore

/// A message with structural rules beyond what parsing checks.
///
/// ``MessageCodec`` validates every decoded message that conforms. Validation is structural only:
/// sizes against ``ProtocolLimits``, required sub-messages, value kinds, and the protocol's own
/// invariants (a write either sets fields or deletes; dots ascend within a batch...). Whether a field
/// exists or a value fits its declared type is the schema's business, checked by the core.
public protocol ProtocolValidatable {
    /// Checks the message against `limits` and the protocol's structural rules.
    ///
    /// - Throws: the first ``ProtocolError`` found, with a `path` detail such as `writes[3].fields[1]`.
    func validate(limits: ProtocolLimits) throws(ProtocolError)
}

/// The shared checks, with the path of the part being checked. The path is built only for an error:
/// building `writes[3].fields[1].value` for every valid field took as long as the checks themselves.
struct Validator {
    let limits: ProtocolLimits

    func identifier(_ text: String, _ path: @autoclosure () -> String) throws(ProtocolError) {
        if text.isEmpty {
            let path = path()
            throw ProtocolError.invalidMessage.with("\(path) is empty.", ["path": path])
        }
        if text.utf8.count > limits.maxIdentifierBytes {
            let path = path()
            throw ProtocolError.invalidMessage.with(
                "\(path) is longer than \(limits.maxIdentifierBytes) bytes.",
                ["path": path, "limit": String(limits.maxIdentifierBytes)]
            )
        }
        // No name, id or code holds one; PostgreSQL's text refuses it.
        if text.utf8.contains(0) {
            let path = path()
            throw ProtocolError.invalidMessage.with("\(path) holds a NUL character.", ["path": path])
        }
    }

    func text(_ text: String, _ path: @autoclosure () -> String, limit: Int) throws(ProtocolError) {
        if text.utf8.count > limit {
            let path = path()
            throw ProtocolError.fieldTooLarge.with(
                "\(path) is longer than \(limit) bytes.",
                ["path": path, "limit": String(limit)]
            )
        }
    }

    /// The value's size as ``ProtocolLimits/maxFieldValueBytes`` counts it.
    static func size(of value: Relais_V1_Value) -> Int {
        switch value.kind {
        case .text(let text), .date(let text): text.utf8.count
        case .set(let set): set.items.reduce(0) { $0 + $1.utf8.count + 1 }
        case .number: 8
        case .isNull, .boolean, nil: 1
        }
    }

    func value(_ value: Relais_V1_Value, _ path: @autoclosure () -> String) throws(ProtocolError) {
        do {
            _ = try Value(value)
        } catch {
            throw error.adding("path", path())
        }
        let size = Self.size(of: value)
        if size > limits.maxFieldValueBytes {
            let path = path()
            throw ProtocolError.fieldTooLarge.with(
                "\(path) holds \(size) bytes; the limit is \(limits.maxFieldValueBytes).",
                ["path": path, "limit": String(limits.maxFieldValueBytes), "size": String(size)]
            )
        }
    }

    func vector(_ vector: Relais_V1_VersionVector, _ path: @autoclosure () -> String) throws(ProtocolError) {
        if vector.entries.count > limits.maxVectorEntries {
            let path = path()
            throw ProtocolError.invalidMessage.with(
                "\(path) has more than \(limits.maxVectorEntries) entries.",
                ["path": path, "limit": String(limits.maxVectorEntries)]
            )
        }
        do {
            _ = try VersionVector(vector)
        } catch {
            throw error.adding("path", path())
        }
    }

    func dot(_ dot: Relais_V1_Dot, present: Bool, _ path: @autoclosure () -> String) throws(ProtocolError) {
        guard present else {
            let path = path()
            throw ProtocolError.invalidMessage.with("\(path) is missing.", ["path": path])
        }
        if dot.counter == 0 {
            let path = path()
            throw ProtocolError.invalidMessage.with("\(path) has counter 0; counters start at 1.", ["path": path])
        }
    }

    func noDuplicateFields(_ names: [String], _ path: @autoclosure () -> String) throws(ProtocolError) {
        var seen = Set<String>(minimumCapacity: names.count)
        for (index, name) in names.enumerated() where !seen.insert(name).inserted {
            let path = path()
            throw ProtocolError.invalidMessage.with(
                "\(path)[\(index)] names a field already written by the same write.",
                ["path": "\(path)[\(index)]"]
            )
        }
    }
}

extension ProtocolLimits {
    /// Checks one field value as the codec checks each value of a push and of a pull page (its kind,
    /// and its size against ``maxFieldValueBytes``): for values that reach a store by another path,
    /// such as the office's writes through the hub, which every laptop's pull must still accept.
    ///
    /// - Throws: ``ProtocolError/fieldTooLarge`` (or ``ProtocolError/invalidValue``) naming `path`.
    public func validate(fieldValue value: Relais_V1_Value, path: String) throws(ProtocolError) {
        try Validator(limits: self).value(value, path)
    }
}
