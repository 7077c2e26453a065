public import RelaisCore

/// A value as the admin API writes it: JSON. A field's value is text (dates too), a number, a bool,
/// a set (an array of texts) or null; an administrator's merged value may be any JSON.
public enum AdminValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([AdminValue])
    case object([String: AdminValue])

    public init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let bool = try? single.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? single.decode(Double.self) {
            self = .number(number)
        } else if let text = try? single.decode(String.self) {
            self = .string(text)
        } else if let items = try? single.decode([AdminValue].self) {
            self = .array(items)
        } else {
            self = .object(try single.decode([String: AdminValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var single = encoder.singleValueContainer()
        switch self {
        case .null: try single.encodeNil()
        case .bool(let bool): try single.encode(bool)
        case .number(let number): try single.encode(number)
        case .string(let text): try single.encode(text)
        case .array(let items): try single.encode(items)
        case .object(let members): try single.encode(members)
        }
    }
}

/// A conflict report as the admin API serves it (DESIGN §8, Protocol/README.md): `id`, `collection`,
/// `record_id`, `field`, `status`, `rule`, `base`, `chosen`, `values`, `resolution`, with
/// `created_at` and `territory`.
///
/// Encoding it gives the admin API's JSON back, key for key: a null stays null, an absent key stays
/// absent.
public struct AdminConflict: Sendable, Hashable, Codable {
    /// One competing write.
    public struct Competitor: Sendable, Hashable, Codable {
        /// The value written (null for the delete side of a `delete-update`).
        public var value: AdminValue
        /// Who wrote it.
        public var user: String
        /// The replica that wrote it.
        public var replica: UInt32
        /// The write's counter on that replica.
        public var counter: UInt64
        /// Its hybrid-logical-clock time.
        public var hlc: UInt64
        /// The wall-clock part of `hlc`, ISO 8601 UTC.
        public var hlcTime: String?
        /// Whether this write deleted the record.
        public var deleted: Bool

        enum CodingKeys: String, CodingKey {
            case value, user, replica, counter, hlc, deleted
            case hlcTime = "hlc_time"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            value = try container.decode(AdminValue.self, forKey: .value)
            user = try container.decode(String.self, forKey: .user)
            replica = try container.decode(UInt32.self, forKey: .replica)
            counter = try container.decode(UInt64.self, forKey: .counter)
            hlc = try container.decode(UInt64.self, forKey: .hlc)
            hlcTime = try container.decodeIfPresent(String.self, forKey: .hlcTime)
            deleted = try container.decodeIfPresent(Bool.self, forKey: .deleted) ?? false
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(value, forKey: .value)
            try container.encode(user, forKey: .user)
            try container.encode(replica, forKey: .replica)
            try container.encode(counter, forKey: .counter)
            try container.encode(hlc, forKey: .hlc)
            try container.encodeIfPresent(hlcTime, forKey: .hlcTime)
            if deleted { try container.encode(true, forKey: .deleted) }
        }
    }

    /// An administrator's decision.
    public struct Resolution: Sendable, Hashable, Codable {
        /// The administrator.
        public var by: String
        /// When, ISO 8601 UTC.
        public var at: String
        /// Why.
        public var reason: String
        /// The value decided.
        public var value: AdminValue
        /// Whether the decision deletes the record.
        public var deleted: Bool

        enum CodingKeys: String, CodingKey {
            case by, at, reason, value, deleted
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            by = try container.decode(String.self, forKey: .by)
            at = try container.decode(String.self, forKey: .at)
            reason = try container.decode(String.self, forKey: .reason)
            value = try container.decode(AdminValue.self, forKey: .value)
            deleted = try container.decodeIfPresent(Bool.self, forKey: .deleted) ?? false
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(by, forKey: .by)
            try container.encode(at, forKey: .at)
            try container.encode(reason, forKey: .reason)
            try container.encode(value, forKey: .value)
            if deleted { try container.encode(true, forKey: .deleted) }
        }
    }

    /// The report's id.
    public var id: String
    /// The record's collection.
    public var collection: String
    /// The record's id.
    public var recordID: String
    /// The field, or `nil` for a conflict on the whole record (a delete against an update).
    public var field: String?
    /// Open, auto-resolved or resolved.
    public var status: ConflictStatus
    /// The merge rule that decided (`lww`, `manual`, …).
    public var rule: String
    /// The value both writes started from.
    public var base: AdminValue
    /// The value that stands.
    public var chosen: AdminValue
    /// When the hub raised the report, ISO 8601 UTC.
    public var createdAt: String
    /// The record's territory, if it has one.
    public var territory: String?
    /// The competing writes, in the order `--pick N` counts them.
    public var values: [Competitor]
    /// The administrator's decision, once there is one.
    public var resolution: Resolution?

    enum CodingKeys: String, CodingKey {
        case id, collection, field, status, rule, base, chosen, territory, values, resolution
        case recordID = "record_id"
        case createdAt = "created_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        collection = try container.decode(String.self, forKey: .collection)
        recordID = try container.decode(String.self, forKey: .recordID)
        field = try container.decodeIfPresent(String.self, forKey: .field)
        status = try container.decode(ConflictStatus.self, forKey: .status)
        rule = try container.decode(String.self, forKey: .rule)
        base = try container.decode(AdminValue.self, forKey: .base)
        chosen = try container.decode(AdminValue.self, forKey: .chosen)
        createdAt = try container.decode(String.self, forKey: .createdAt)
        territory = try container.decodeIfPresent(String.self, forKey: .territory)
        values = try container.decode([Competitor].self, forKey: .values)
        resolution = try container.decodeIfPresent(Resolution.self, forKey: .resolution)
    }

    /// Writes every key, `null` for what is missing, as the hub does.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(collection, forKey: .collection)
        try container.encode(recordID, forKey: .recordID)
        try container.encode(field, forKey: .field)
        try container.encode(status, forKey: .status)
        try container.encode(rule, forKey: .rule)
        try container.encode(base, forKey: .base)
        try container.encode(chosen, forKey: .chosen)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(territory, forKey: .territory)
        try container.encode(values, forKey: .values)
        try container.encode(resolution, forKey: .resolution)
    }
}

/// One report with what surrounds it (`GET /v1/admin/conflicts/ID`): the record now, the field's
/// recent versions and the other reports on the field. Its JSON is the report's with `record`,
/// `history` and `earlier_conflicts` added.
public struct AdminConflictDetail: Sendable, Hashable, Codable {
    /// The record as the hub holds it now.
    public struct Record: Sendable, Hashable, Codable {
        /// The record's sequence number at the hub (`record_version` in a resolve).
        public var version: UInt64
        /// Whether the record is deleted.
        public var deleted: Bool
        /// Its fields.
        public var fields: [String: AdminValue]
        /// Its territory, if it has one.
        public var territory: String?

        enum CodingKeys: String, CodingKey {
            case version, deleted, fields, territory
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            version = try container.decode(UInt64.self, forKey: .version)
            deleted = try container.decode(Bool.self, forKey: .deleted)
            fields = try container.decode([String: AdminValue].self, forKey: .fields)
            territory = try container.decodeIfPresent(String.self, forKey: .territory)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(version, forKey: .version)
            try container.encode(deleted, forKey: .deleted)
            try container.encode(fields, forKey: .fields)
            try container.encode(territory, forKey: .territory)
        }
    }

    /// One version of the field, newest first.
    public struct Version: Sendable, Hashable, Codable {
        /// The hub's sequence number of the write.
        public var seq: UInt64
        /// The value written; `nil` when the write deleted the record.
        public var value: AdminValue?
        /// Whether the write deleted the record.
        public var deleted: Bool
        /// Who wrote it.
        public var user: String
        /// The replica that wrote it (0: the hub, for an administrator's decision).
        public var replica: UInt32
        /// The device's name, when the hub knows it.
        public var device: String?
        /// The write's counter on its replica.
        public var counter: UInt64
        /// Its hybrid-logical-clock time.
        public var hlc: UInt64
        /// When it was typed, ISO 8601 UTC.
        public var hlcTime: String
        /// When the hub accepted it, ISO 8601 UTC.
        public var receivedAt: String
        /// The reports this write took part in.
        public var conflicts: [String]
        /// For a write in a conflict, whether the rule chose it.
        public var chosenByRule: Bool?
        /// Whether this is the field's value now.
        public var current: Bool

        enum CodingKeys: String, CodingKey {
            case seq, value, deleted, user, replica, device, counter, hlc, conflicts, current
            case hlcTime = "hlc_time"
            case receivedAt = "received_at"
            case chosenByRule = "chosen_by_rule"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            seq = try container.decode(UInt64.self, forKey: .seq)
            // Absent for a delete; null is a value (an emptied field).
            value = container.contains(.value) ? try container.decode(AdminValue.self, forKey: .value) : nil
            deleted = try container.decode(Bool.self, forKey: .deleted)
            user = try container.decode(String.self, forKey: .user)
            replica = try container.decode(UInt32.self, forKey: .replica)
            device = try container.decodeIfPresent(String.self, forKey: .device)
            counter = try container.decode(UInt64.self, forKey: .counter)
            hlc = try container.decode(UInt64.self, forKey: .hlc)
            hlcTime = try container.decode(String.self, forKey: .hlcTime)
            receivedAt = try container.decode(String.self, forKey: .receivedAt)
            conflicts = try container.decode([String].self, forKey: .conflicts)
            chosenByRule = try container.decodeIfPresent(Bool.self, forKey: .chosenByRule)
            current = try container.decode(Bool.self, forKey: .current)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(seq, forKey: .seq)
            try container.encodeIfPresent(value, forKey: .value)
            try container.encode(deleted, forKey: .deleted)
            try container.encode(user, forKey: .user)
            try container.encode(replica, forKey: .replica)
            try container.encode(device, forKey: .device)
            try container.encode(counter, forKey: .counter)
            try container.encode(hlc, forKey: .hlc)
            try container.encode(hlcTime, forKey: .hlcTime)
            try container.encode(receivedAt, forKey: .receivedAt)
            try container.encode(conflicts, forKey: .conflicts)
            try container.encode(chosenByRule, forKey: .chosenByRule)
            try container.encode(current, forKey: .current)
        }
    }

    /// The report.
    public var conflict: AdminConflict
    /// The record now, or `nil` when the hub no longer holds it.
    public var record: Record?
    /// The field's recent versions, newest first.
    public var history: [Version]
    /// The other reports on the same field.
    public var earlierConflicts: [AdminConflict]

    enum CodingKeys: String, CodingKey {
        case record, history
        case earlierConflicts = "earlier_conflicts"
    }

    public init(from decoder: any Decoder) throws {
        conflict = try AdminConflict(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        record = try container.decodeIfPresent(Record.self, forKey: .record)
        history = try container.decodeIfPresent([Version].self, forKey: .history) ?? []
        earlierConflicts = try container.decodeIfPresent([AdminConflict].self, forKey: .earlierConflicts) ?? []
    }

    /// The report's keys and the detail's, in one object.
    public func encode(to encoder: any Encoder) throws {
        try conflict.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record, forKey: .record)
        try container.encode(history, forKey: .history)
        try container.encode(earlierConflicts, forKey: .earlierConflicts)
    }
}
