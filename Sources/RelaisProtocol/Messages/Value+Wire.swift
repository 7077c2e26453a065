public import RelaisCore

// Conversions between the wire `Value` message and the core `Value`.

extension Relais_V1_Value {
    /// The wire form of `value`. A set's items are sent sorted and without duplicates.
    public init(_ value: Value) {
        self.init()
        switch value {
        case .null: kind = .isNull(true)
        case .text(let text): kind = .text(text)
        case .number(let number): kind = .number(number)
        case .bool(let bool): kind = .boolean(bool)
        case .date(let date): kind = .date(date)
        case .set(let items):
            var set = Relais_V1_StringSet()
            set.items = Array(Set(items)).sorted()
            kind = .set(set)
        }
    }

    /// The core value.
    ///
    /// - Throws: ``ProtocolError/invalidValue`` for a value with no kind, `is_null: false`, or a
    ///   non-finite number.
    public var core: Value {
        get throws(ProtocolError) { try Value(self) }
    }
}

extension Value {
    /// The value carried by `proto`. A set is normalised: sorted, without duplicates.
    ///
    /// - Throws: ``ProtocolError/invalidValue`` for a value with no kind, `is_null: false`, or a
    ///   non-finite number (NaN would break equality, and with it convergence).
    public init(_ proto: Relais_V1_Value) throws(ProtocolError) {
        switch proto.kind {
        case nil:
            throw ProtocolError.invalidValue.with("A value has no kind set.")
        case .isNull(let isNull):
            guard isNull else { throw ProtocolError.invalidValue.with("A value has is_null set to false.") }
            self = .null
        case .text(let text): self = .text(text)
        case .number(let number):
            guard number.isFinite else { throw ProtocolError.invalidValue.with("A number value is not finite.") }
            self = .number(number)
        case .boolean(let bool): self = .bool(bool)
        case .date(let date): self = .date(date)
        case .set(let set): self = .stringSet(set.items)
        }
    }
}

extension Relais_V1_FieldValue {
    /// A field write: `field` takes `value`.
    public init(field: String, value: Value) {
        self.init()
        self.field = field
        self.value = Relais_V1_Value(value)
    }
}

extension Relais_V1_FieldVersion {
    /// A field's current state: its value and the dot and HLC time of the write that set it.
    public init(field: String, value: Value, dot: Dot, hlc: HLC) {
        self.init()
        self.field = field
        self.value = Relais_V1_Value(value)
        self.dot = Relais_V1_Dot(dot)
        self.hlc = hlc.rawValue
    }
}

extension Relais_V1_Error {
    /// The error body for a codec error: its code, message and details.
    public init(_ error: ProtocolError) {
        self.init()
        code = error.code.rawValue
        message = error.message
        details = error.details
    }

    /// An error body for a hub-level error.
    public init(_ code: HubErrorCode, message: String, details: [String: String] = [:]) {
        self.init()
        self.code = code.code
        self.message = message
        self.details = details
    }
}
