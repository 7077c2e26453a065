import RelaisCore

// The structural rules of each message (see Protocol/README.md, "Validation").

extension Relais_V1_RecordWrite: ProtocolValidatable {
    /// A write names a record, carries a dot, and either sets fields (each once) or deletes.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        try validate(Validator(limits: limits), path: "write")
    }

    func validate(_ check: Validator, path: @autoclosure () -> String) throws(ProtocolError) {
        try check.identifier(collection, "\(path()).collection")
        try check.identifier(recordID, "\(path()).record_id")
        try check.dot(dot, present: hasDot, "\(path()).dot")
        try check.vector(context, "\(path()).context")
        if delete, !fields.isEmpty {
            let path = path()
            throw ProtocolError.invalidMessage.with(
                "\(path) both deletes the record and sets fields.",
                ["path": path]
            )
        }
        if !delete, fields.isEmpty {
            let path = path()
            throw ProtocolError.invalidMessage.with("\(path) neither sets fields nor deletes.", ["path": path])
        }
        for (index, field) in fields.enumerated() {
            try check.identifier(field.field, "\(path()).fields[\(index)].field")
            try check.value(field.value, "\(path()).fields[\(index)].value")
        }
        try check.noDuplicateFields(fields.map(\.field), "\(path()).fields")
    }
}

extension Relais_V1_PushRequest: ProtocolValidatable {
    /// A batch comes from a real replica (never 0), holds at most
    /// ``ProtocolLimits/maxWritesPerBatch`` valid writes, all stamped by that replica, in strictly
    /// ascending counter order.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if writes.count > limits.maxWritesPerBatch {
            throw ProtocolError.tooManyWrites.with(
                "The batch holds \(writes.count) writes; the limit is \(limits.maxWritesPerBatch).",
                ["limit": String(limits.maxWritesPerBatch), "count": String(writes.count)]
            )
        }
        if replica == ReplicaID.hub.rawValue {
            throw ProtocolError.invalidMessage.with(
                "A push comes from replica 0, the hub's own.",
                ["path": "replica"]
            )
        }
        let check = Validator(limits: limits)
        var previous: UInt64 = 0
        for (index, write) in writes.enumerated() {
            try write.validate(check, path: "writes[\(index)]")
            if write.dot.replica != replica {
                let path = "writes[\(index)]"
                throw ProtocolError.invalidMessage.with(
                    "\(path).dot names replica \(write.dot.replica), not the pushing replica \(replica).",
                    ["path": "\(path).dot"]
                )
            }
            if write.dot.counter <= previous {
                let path = "writes[\(index)]"
                throw ProtocolError.invalidMessage.with(
                    "\(path).dot counter does not ascend (writes go in strictly ascending counter order).",
                    ["path": "\(path).dot"]
                )
            }
            previous = write.dot.counter
        }
    }
}

extension Relais_V1_PushResponse: ProtocolValidatable {
    /// At most ``ProtocolLimits/maxWritesPerBatch`` results, each naming its write's dot.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if results.count > limits.maxWritesPerBatch {
            throw ProtocolError.tooManyWrites.with(
                "The answer holds \(results.count) results; the limit is \(limits.maxWritesPerBatch).",
                ["limit": String(limits.maxWritesPerBatch), "count": String(results.count)]
            )
        }
        let check = Validator(limits: limits)
        for (index, result) in results.enumerated() {
            try check.dot(result.dot, present: result.hasDot, "results[\(index)].dot")
        }
    }
}

extension Relais_V1_PullRequest: ProtocolValidatable {
    /// `since`, when present, is at most `cursor`: a pull starts at the cursor it is sent from and
    /// the cursor only moves forward from there.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if hasSince, since > cursor {
            throw ProtocolError.invalidMessage.with(
                "since (\(since)) is after cursor (\(cursor)).", ["path": "since"])
        }
        // `verification` is not checked here: a hub drops a report it cannot use and serves the pull.
    }
}

extension Relais_V1_PullResponse: ProtocolValidatable {
    /// At most ``ProtocolLimits/maxPageSize`` records and as many revocations; each record names
    /// itself, carries a valid vector, and either lists valid field versions or is a tombstone
    /// without fields. A `bootstrap_required` page is empty.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if records.count > limits.maxPageSize || revocations.count > limits.maxPageSize {
            throw ProtocolError.tooManyRecords.with(
                "The page holds \(records.count) records and \(revocations.count) revocations; "
                    + "the limit is \(limits.maxPageSize) of each.",
                ["limit": String(limits.maxPageSize)]
            )
        }
        if bootstrapRequired, !records.isEmpty || !revocations.isEmpty {
            throw ProtocolError.invalidMessage.with(
                "A page that requires a bootstrap carries records.",
                ["path": "bootstrap_required"]
            )
        }
        let check = Validator(limits: limits)
        // Paths are built only for an error (``Validator``).
        for (index, record) in records.enumerated() {
            try check.identifier(record.collection, "records[\(index)].collection")
            try check.identifier(record.recordID, "records[\(index)].record_id")
            try check.vector(record.vector, "records[\(index)].vector")
            if record.deleted, !record.fields.isEmpty {
                let path = "records[\(index)]"
                throw ProtocolError.invalidMessage.with("\(path) is deleted but lists fields.", ["path": path])
            }
            // A field without a dot has its record's (`compact_dots`).
            if record.hasDot { try check.dot(record.dot, present: true, "records[\(index)].dot") }
            for (fieldIndex, field) in record.fields.enumerated() {
                try check.identifier(field.field, "records[\(index)].fields[\(fieldIndex)].field")
                try check.value(field.value, "records[\(index)].fields[\(fieldIndex)].value")
                try check.dot(
                    record.dotAndTime(of: field).dot, present: field.hasDot || record.hasDot,
                    "records[\(index)].fields[\(fieldIndex)].dot")
            }
            try check.noDuplicateFields(record.fields.map(\.field), "records[\(index)].fields")
        }
        for (index, revocation) in revocations.enumerated() {
            try check.identifier(revocation.collection, "revocations[\(index)].collection")
            try check.identifier(revocation.recordID, "revocations[\(index)].record_id")
        }
        if hasViewDigest { try viewDigest.validate("view_digest") }
    }
}

extension Relais_V1_EnrollRequest: ProtocolValidatable {
    /// The code is present; the code, device name and attempt are at most
    /// ``ProtocolLimits/maxIdentifierBytes``; an attempt, when given, has at least 32 characters.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        let check = Validator(limits: limits)
        try check.identifier(code, "code")
        if !deviceName.isEmpty { try check.identifier(deviceName, "device_name") }
        if !attempt.isEmpty {
            try check.identifier(attempt, "attempt")
            guard attempt.utf8.count >= Self.minAttemptBytes else {
                throw ProtocolError.invalidMessage.with(
                    "attempt is shorter than \(Self.minAttemptBytes) characters: draw it at random, once per enrollment.",
                    ["path": "attempt"])
            }
        }
    }

    /// The shortest `attempt` accepted: a secret of 32 hex digits (128 bits) or more.
    public static let minAttemptBytes = 32
}

extension Relais_V1_EnrollResponse: ProtocolValidatable {
    /// A real replica number (never 0) and a token.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if replica == ReplicaID.hub.rawValue {
            throw ProtocolError.invalidMessage.with("The enrollment assigns replica 0.", ["path": "replica"])
        }
        if token.isEmpty { throw ProtocolError.invalidMessage.with("The enrollment has no token.", ["path": "token"]) }
    }
}

extension Relais_V1_ReplicaRenewRequest: ProtocolValidatable {
    /// The reason is at most ``ProtocolLimits/maxFieldValueBytes``.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        try Validator(limits: limits).text(reason, "reason", limit: limits.maxFieldValueBytes)
    }
}

extension Relais_V1_ReplicaRenewResponse: ProtocolValidatable {
    /// A real replica number (never 0) and a token.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if replica == ReplicaID.hub.rawValue {
            throw ProtocolError.invalidMessage.with("The renewal assigns replica 0.", ["path": "replica"])
        }
        if token.isEmpty { throw ProtocolError.invalidMessage.with("The renewal has no token.", ["path": "token"]) }
    }
}

extension Relais_V1_TokenRotateRequest: ProtocolValidatable {
    /// Nothing to check.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {}
}

extension Relais_V1_TokenRotateResponse: ProtocolValidatable {
    /// A token.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if token.isEmpty { throw ProtocolError.invalidMessage.with("The rotation has no token.", ["path": "token"]) }
    }
}

extension Relais_V1_WipeReport: ProtocolValidatable {
    /// Any counts.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {}
}

extension Relais_V1_WipeReportResponse: ProtocolValidatable {
    /// Any time.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {}
}

extension Relais_V1_DigestRequest: ProtocolValidatable {
    /// At most ``DigestRange/maximumPerRequest`` ranges, each a range (level 0 to 15, prefix below 16^level).
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if ranges.count > DigestRange.maximumPerRequest {
            throw ProtocolError.invalidMessage.with(
                "The request asks for \(ranges.count) ranges; the limit is \(DigestRange.maximumPerRequest).",
                ["path": "ranges", "limit": String(DigestRange.maximumPerRequest)])
        }
        for (index, range) in ranges.enumerated() where DigestRange(range) == nil {
            throw ProtocolError.invalidMessage.with(
                "ranges[\(index)] is not a range: level \(range.level) (0 to 15), prefix \(range.prefix) (below 16^level).",
                ["path": "ranges[\(index)]"])
        }
    }
}

extension Relais_V1_Digest {
    func validate(_ path: @autoclosure () -> String) throws(ProtocolError) {
        if xor.count != 16 {
            let path = path()
            throw ProtocolError.invalidMessage.with("\(path).xor is \(xor.count) bytes, not 16.", ["path": path])
        }
    }
}

extension Relais_V1_DigestResponse: ProtocolValidatable {
    /// Every digest and hash is 16 bytes; a range has 16 sub-ranges or none.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        let check = Validator(limits: limits)
        for (index, range) in ranges.enumerated() {
            try range.digest.validate("ranges[\(index)].digest")
            if !range.children.isEmpty, range.children.count != 16 {
                throw ProtocolError.invalidMessage.with(
                    "ranges[\(index)] has \(range.children.count) sub-ranges, not 16.", ["path": "ranges[\(index)]"])
            }
            for (child, digest) in range.children.enumerated() {
                try digest.validate("ranges[\(index)].children[\(child)]")
            }
            for (entryIndex, entry) in range.entries.enumerated() {
                try check.identifier(entry.collection, "ranges[\(index)].entries[\(entryIndex)].collection")
                try check.identifier(entry.recordID, "ranges[\(index)].entries[\(entryIndex)].record_id")
                if entry.hash.count != 16 {
                    let path = "ranges[\(index)].entries[\(entryIndex)].hash"
                    throw ProtocolError.invalidMessage.with(
                        "\(path) is \(entry.hash.count) bytes, not 16.", ["path": path])
                }
            }
        }
    }
}

extension Relais_V1_RecordsRequest: ProtocolValidatable {
    /// At most ``ProtocolLimits/maxPageSize`` keys, each naming a record.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if keys.count > limits.maxPageSize {
            throw ProtocolError.tooManyRecords.with(
                "The request asks for \(keys.count) records; the limit is \(limits.maxPageSize).",
                ["limit": String(limits.maxPageSize)])
        }
        let check = Validator(limits: limits)
        for (index, key) in keys.enumerated() {
            try check.identifier(key.collection, "keys[\(index)].collection")
            try check.identifier(key.recordID, "keys[\(index)].record_id")
        }
    }
}

extension Relais_V1_RecordsResponse: ProtocolValidatable {
    /// As a pull page's records (live, so without tombstones), and absent keys naming records.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        var page = Relais_V1_PullResponse()
        page.records = records
        try page.validate(limits: limits)
        if let index = records.firstIndex(where: \.deleted) {
            throw ProtocolError.invalidMessage.with("records[\(index)] is a tombstone.", ["path": "records[\(index)]"])
        }
        let check = Validator(limits: limits)
        for (index, key) in absent.enumerated() {
            try check.identifier(key.collection, "absent[\(index)].collection")
            try check.identifier(key.recordID, "absent[\(index)].record_id")
        }
    }
}

extension Relais_V1_VerificationReport: ProtocolValidatable {
    /// An outcome, and no more records repaired than found different.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {
        if outcome == .unspecified {
            throw ProtocolError.invalidMessage.with("The report has no outcome.", ["path": "outcome"])
        }
        if repaired > differing {
            throw ProtocolError.invalidMessage.with(
                "The report repaired \(repaired) records of \(differing) found different.", ["path": "repaired"])
        }
    }
}

extension Relais_V1_VerificationReportResponse: ProtocolValidatable {
    /// Any time.
    public func validate(limits: ProtocolLimits) throws(ProtocolError) {}
}
