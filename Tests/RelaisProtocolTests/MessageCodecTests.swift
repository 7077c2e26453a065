import Foundation
import RelaisCore
import RelaisProtocol
import Testing

/// The codec: media types, the JSON mapping, unknown fields, structural validation, error bodies.
struct MessageCodecTests {
    let codec = MessageCodec()

    func json<M: WireMessage>(_ type: M.Type, _ text: String) throws(ProtocolError) -> M {
        try codec.decode(type, from: Array(text.utf8), contentType: "application/json", contentEncoding: nil)
    }

    static func validPush() -> Relais_V1_PushRequest {
        GoldenVectors.push([
            GoldenVectors.write(
                "customers",
                GoldenVectors.customerA,
                context: [7: 3],
                dot: (7, 4),
                hlc: 99,
                fields: [("status", .text("active"))]
            )
        ])
    }

    // MARK: Media types

    @Test func parsesContentTypes() throws {
        #expect(try WireFormat(contentType: "application/x-protobuf") == .protobuf)
        #expect(try WireFormat(contentType: "application/protobuf") == .protobuf)
        #expect(try WireFormat(contentType: "Application/JSON; charset=UTF-8") == .json)
        #expect(try WireFormat(contentType: "application/json;charset=\"utf-8\"") == .json)
        for bad in [
            nil, "", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
        ] as [String?] {
            #expect(throws: ProtocolError.unsupportedMediaType) { try WireFormat(contentType: bad) }
        }
        #expect(ProtocolError.unsupportedMediaType.httpStatus == 415)
        #expect(WireFormat.protobuf.contentType == "application/x-protobuf")
        #expect(WireFormat.json.contentType == "application/json")
    }

    @Test func decodesEveryFormatAndEncodingCombination() throws {
        let push = Self.validPush()
        for format in WireFormat.allCases {
            for encoding in ContentEncoding.allCases {
                let body = try codec.encode(push, format: format, encoding: encoding)
                let decoded = try codec.decode(
                    Relais_V1_PushRequest.self,
                    from: body,
                    contentType: format.contentType,
                    contentEncoding: encoding.headerValue
                )
                #expect(decoded == push)
            }
        }
    }

    // MARK: JSON mapping

    @Test func jsonIsProto3Canonical() throws {
        let text = String(decoding: try codec.encode(Self.validPush(), format: .json), as: UTF8.self)
        #expect(text.contains(#""recordId":"0f8e4a52"#))  // lowerCamelCase
        #expect(text.contains(#""hlc":"99""#))  // uint64 as a string
        #expect(text.contains(#""schemaVersion":3"#))  // uint32 as a number
        #expect(!text.contains("delete"))  // defaults omitted
    }

    @Test func jsonAcceptsSnakeCaseNamesAndNumbersFor64BitFields() throws {
        let decoded = try json(
            Relais_V1_PushRequest.self,
            """
            {"replica": 7, "epoch": 1, "schema_version": 3, "writes": [{"collection": "customers",
             "record_id": "\(GoldenVectors.customerA)", "context": {"entries": [{"replica": 7, "counter": 3}]},
             "dot": {"replica": 7, "counter": "4"}, "hlc": 99,
             "fields": [{"field": "status", "value": {"text": "active"}}]}]}
            """
        )
        #expect(decoded == Self.validPush())
    }

    @Test func jsonDuplicateKeysAreRefusedAtAnyLevel() {
        #expect(throws: ProtocolError.duplicateJSONKey) {
            try json(Relais_V1_PullRequest.self, #"{"cursor":"1","cursor":"2"}"#)
        }
        #expect(throws: ProtocolError.duplicateJSONKey) {
            try json(Relais_V1_PushRequest.self, #"{"replica":7,"writes":[{"dot":{"replica":7,"replica":8}}]}"#)
        }
    }

    @Test func jsonNamingOneFieldTwiceIsRefused() {
        // `recordId` and `record_id` are one field (the protobuf parser would silently keep the last).
        #expect(throws: ProtocolError.duplicateJSONKey) {
            try json(Relais_V1_Revocation.self, #"{"collection":"c","recordId":"a","record_id":"b"}"#)
        }
        #expect(throws: ProtocolError.duplicateJSONKey) {
            try json(Relais_V1_PullRequest.self, #"{"page_size":1,"pageSize":2}"#)
        }
        // Two members of one oneof.
        #expect(throws: ProtocolError.malformedBody) { try json(Relais_V1_Value.self, #"{"text":"x","number":1}"#) }
    }

    @Test func jsonNestingIsBounded() {
        let deep = #"{"x":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"
        #expect(throws: ProtocolError.jsonTooDeep) { try json(Relais_V1_PullRequest.self, deep) }
    }

    // MARK: Unknown fields

    @Test func unknownBinaryFieldsAreIgnored() throws {
        var pull = Relais_V1_PullRequest()
        pull.cursor = 42
        pull.pageSize = 100
        let known = try codec.encode(pull)
        // Field 99, varint 1; field 100, length-delimited "hi"; field 101, fixed64; field 102, fixed32.
        let unknown: [UInt8] =
            [0x98, 0x06, 0x01, 0xA2, 0x06, 0x02, 0x68, 0x69]
            + [0xA9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8] + [0xB5, 0x06, 1, 2, 3, 4]
        for body in [known + unknown, unknown + known] {
            let decoded = try codec.decode(
                Relais_V1_PullRequest.self,
                from: body,
                format: .protobuf,
                encoding: .identity
            )
            #expect(decoded == pull)
            // Dropped, not echoed: re-encoding gives the known bytes.
            #expect(try codec.encode(decoded) == known)
        }
        // Inside a nested message too: an unknown field in the dot of a write of a push.
        let push = Self.validPush()
        var writeWithoutDot = push.writes[0]
        writeWithoutDot.clearDot()
        let dotBytes = try codec.encode(push.writes[0].dot) + [0x98, 0x06, 0x05]
        let writeBytes = try codec.encode(writeWithoutDot) + [0x22, UInt8(dotBytes.count)] + dotBytes
        var pushWithoutWrites = push
        pushWithoutWrites.writes = []
        #expect(writeBytes.count < 128)
        let body = try codec.encode(pushWithoutWrites) + [0x22, UInt8(writeBytes.count)] + writeBytes
        let decoded = try codec.decode(Relais_V1_PushRequest.self, from: body, format: .protobuf, encoding: .identity)
        #expect(decoded == push)
    }

    @Test func unknownJSONKeysAreIgnored() throws {
        let decoded = try json(
            Relais_V1_PullRequest.self,
            #"{"cursor":"42","futureField":{"a":[1,2,{"b":null}]},"zzz":1}"#
        )
        var expected = Relais_V1_PullRequest()
        expected.cursor = 42
        #expect(decoded == expected)
        // Unknown keys are still subject to the duplicate and depth checks.
        #expect(throws: ProtocolError.duplicateJSONKey) { try json(Relais_V1_PullRequest.self, #"{"x":1,"x":2}"#) }
    }

    // MARK: Validation

    @Test func aValueWithoutKindIsInvalid() {
        #expect(throws: ProtocolError.invalidValue) { try Value(Relais_V1_Value()) }
        var push = Self.validPush()
        push.writes[0].fields[0].value = Relais_V1_Value()
        #expect(throws: ProtocolError.invalidValue) { try push.validate(limits: .default) }
        #expect(throws: ProtocolError.invalidValue) {
            try json(
                Relais_V1_PushRequest.self,
                """
                {"replica":7,"writes":[{"collection":"c","recordId":"r","dot":{"replica":7,"counter":"1"},
                "fields":[{"field":"status","value":{}}]}]}
                """
            )
        }
    }

    @Test func nonFiniteNumbersAndFalseNullsAreInvalid() {
        for number in [Double.nan, .infinity, -.infinity] {
            var value = Relais_V1_Value()
            value.number = number
            #expect(throws: ProtocolError.invalidValue) { try Value(value) }
        }
        var value = Relais_V1_Value()
        value.isNull = false
        #expect(throws: ProtocolError.invalidValue) { try Value(value) }
        #expect(throws: ProtocolError.invalidValue) { try json(Relais_V1_Value.self, #"{"number":"NaN"}"#).core }
    }

    @Test func tooManyWritesIsRefused() throws {
        var limits = ProtocolLimits()
        limits.maxWritesPerBatch = 3
        let codec = MessageCodec(limits: limits)
        var push = GoldenVectors.push([])
        for counter in 1...4 {
            push.writes.append(
                GoldenVectors.write(
                    "customers",
                    GoldenVectors.customerA,
                    context: [:],
                    dot: (7, UInt64(counter)),
                    hlc: 1,
                    fields: [("status", .text("active"))]
                )
            )
        }
        let body = try codec.encode(push)
        #expect(throws: ProtocolError.tooManyWrites) {
            try codec.decode(Relais_V1_PushRequest.self, from: body, format: .protobuf, encoding: .identity)
        }
        push.writes.removeLast()
        _ = try codec.decode(
            Relais_V1_PushRequest.self,
            from: try codec.encode(push),
            format: .protobuf,
            encoding: .identity
        )
        #expect(ProtocolError.tooManyWrites.httpStatus == 413)
    }

    @Test func fieldSizeIsBounded() throws {
        var push = Self.validPush()
        // 64 KiB exactly.
        push.writes[0].fields[0].value = Relais_V1_Value(.text(String(repeating: "é", count: 32 << 10)))
        try push.validate(limits: .default)
        push.writes[0].fields[0].value = Relais_V1_Value(.text(String(repeating: "é", count: 32 << 10) + "x"))
        do {
            try push.validate(limits: .default)
            Issue.record("expected field_too_large")
        } catch {
            #expect(error.code == .fieldTooLarge)
            #expect(error.details["path"] == "writes[0].fields[0].value")
            #expect(error.httpStatus == 413)
        }
        // A set counts its items plus one byte each: many empty items still count.
        push.writes[0].fields[0].value = Relais_V1_Value(.stringSet((0..<70_000).map(String.init)))
        #expect(throws: ProtocolError.fieldTooLarge) { try push.validate(limits: .default) }
    }

    @Test func structuralRulesOfAPush() {
        func refused(_ change: (inout Relais_V1_PushRequest) -> Void) -> Bool {
            var push = Self.validPush()
            change(&push)
            do {
                try push.validate(limits: .default)
                return false
            } catch {
                return error.code == .invalidMessage
            }
        }
        #expect(refused { $0.replica = 0 })
        #expect(refused { $0.writes[0].clearDot() })
        #expect(refused { $0.writes[0].dot.counter = 0 })
        #expect(refused { $0.writes[0].dot.replica = 8 })
        #expect(refused { $0.writes[0].collection = "" })
        #expect(refused { $0.writes[0].recordID = String(repeating: "x", count: 257) })
        #expect(refused { $0.writes[0].delete = true })  // deletes and sets fields
        #expect(refused { $0.writes[0].fields = [] })  // does neither
        #expect(refused { $0.writes[0].fields.append($0.writes[0].fields[0]) })  // a field twice
        #expect(refused { $0.writes[0].fields[0].field = "" })
        #expect(refused { $0.writes[0].context.entries.append($0.writes[0].context.entries[0]) })  // replica twice
        #expect(refused { $0.writes.append($0.writes[0]) })  // counters must ascend
        #expect(!refused { $0.writes[0].clearContext() })  // no context: "saw nothing"
    }

    @Test func structuralRulesOfAPullResponse() throws {
        var page = Relais_V1_PullResponse()
        page.bootstrapRequired = true
        try page.validate(limits: .default)
        var revocation = Relais_V1_Revocation()
        revocation.collection = "customers"
        revocation.recordID = GoldenVectors.customerA
        page.revocations = [revocation]
        #expect(throws: ProtocolError.invalidMessage) { try page.validate(limits: .default) }
        var limits = ProtocolLimits()
        limits.maxPageSize = 1
        page.bootstrapRequired = false
        page.revocations = [revocation, revocation]
        #expect(throws: ProtocolError.tooManyRecords) { try page.validate(limits: limits) }
        #expect(limits.pageSize(requested: 0) == 1)
        #expect(ProtocolLimits().pageSize(requested: 5000) == 1000)
        #expect(ProtocolLimits().pageSize(requested: 200) == 200)
    }

    /// A field version without a dot is valid only when its record carries one (`compact_dots`), and
    /// then has the record's dot and time.
    @Test func aFieldWithoutADotHasItsRecords() throws {
        func field(_ name: String, dot: (UInt32, UInt64)?, hlc: UInt64) -> Relais_V1_FieldVersion {
            var field = Relais_V1_FieldVersion()
            field.field = name
            field.value = Relais_V1_Value(.text(name))
            if let dot { field.dot = Relais_V1_Dot(Dot(replica: ReplicaID(dot.0), counter: dot.1)) }
            field.hlc = hlc
            return field
        }
        var record = Relais_V1_RecordVersion()
        record.collection = "customers"
        record.recordID = GoldenVectors.customerA
        record.fields = [field("city", dot: nil, hlc: 0), field("name", dot: (4, 9), hlc: 77)]
        var page = Relais_V1_PullResponse()
        page.records = [record]
        #expect(throws: ProtocolError.invalidMessage) { try page.validate(limits: .default) }
        page.records[0].dot = Relais_V1_Dot(Dot(replica: ReplicaID(3), counter: 0))
        #expect(throws: ProtocolError.invalidMessage) { try page.validate(limits: .default) }
        page.records[0].dot.counter = 5
        page.records[0].hlc = 42
        try page.validate(limits: .default)
        let (city, cityTime) = page.records[0].dotAndTime(of: page.records[0].fields[0])
        let (name, nameTime) = page.records[0].dotAndTime(of: page.records[0].fields[1])
        #expect(city.core == Dot(replica: ReplicaID(3), counter: 5) && cityTime == 42)
        #expect(name.core == Dot(replica: ReplicaID(4), counter: 9) && nameTime == 77)
    }

    // MARK: Errors

    @Test func errorsHaveStableCodesAndStatuses() {
        let statuses = Set([400, 413, 415, 500])
        for code in ProtocolError.allCodes {
            #expect(code.allSatisfy { $0.isLowercase || $0 == "_" })
        }
        #expect(ProtocolError.allCodes.count == Set(ProtocolError.allCodes).count)
        let errors: [ProtocolError] = [
            .bodyTooLarge, .decompressedTooLarge, .expansionRatioExceeded, .truncatedStream, .trailingData,
            .malformedBody, .duplicateJSONKey, .jsonTooDeep, .unsupportedMediaType, .unsupportedEncoding,
            .tooManyWrites, .tooManyRecords, .fieldTooLarge, .invalidValue, .invalidMessage, .corruptStream,
            .encodingFailed,
        ]
        #expect(Set(errors.map(\.code.rawValue)) == Set(ProtocolError.allCodes))
        for error in errors { #expect(statuses.contains(error.httpStatus)) }
        #expect(ProtocolError.bodyTooLarge.code.rawValue == "body_too_large")
        #expect(ProtocolError.truncatedStream.httpStatus == 400)
        let hubCodes = HubErrorCode.all.map(\.code) + RejectionCode.all.map(\.rawValue)
        #expect(Set(hubCodes).isDisjoint(with: ProtocolError.allCodes.filter { $0 != "invalid_value" }))
        #expect(HubErrorCode.replicaForked.httpStatus == 409)
        #expect(HubErrorCode.schemaTooOld.httpStatus == 409)
    }

    @Test func errorBodiesAreCanonicalJSON() throws {
        let body = codec.errorBody(ProtocolError.unsupportedEncoding)
        let decoded = try json(Relais_V1_Error.self, String(decoding: body, as: UTF8.self))
        #expect(decoded.code == "unsupported_encoding")
        #expect(!decoded.message.isEmpty)
        let hub = codec.errorBody(Relais_V1_Error(.replicaForked, message: "Renew the replica."))
        #expect(String(decoding: hub, as: UTF8.self) == #"{"code":"replica_forked","message":"Renew the replica."}"#)
    }

    @Test func errorMessagesNeverQuoteValues() {
        var push = Self.validPush()
        push.writes[0].fields[0].value = Relais_V1_Value(.text("SECRET-" + String(repeating: "x", count: 70_000)))
        do {
            try push.validate(limits: .default)
        } catch {
            #expect(!String(describing: error).contains("SECRET"))
            #expect(!String(reflecting: error).contains("SECRET"))
            #expect(!error.details.values.contains { $0.contains("SECRET") })
        }
    }
}

extension MessageCodecTests {
    /// The error bodies quoted in Protocol/README.md are the codec's real output.
    @Test func theSpecificationQuotesRealErrorBodies() throws {
        do {
            _ = try json(Relais_V1_PushRequest.self, #"{"replica":7,"replica":7}"#)
            Issue.record("expected duplicate_json_key")
        } catch {
            let body = String(decoding: codec.errorBody(error), as: UTF8.self)
            let spec = try String(
                contentsOf: Repository.root.appendingPathComponent("Protocol/README.md"),
                encoding: .utf8
            )
            #expect(spec.contains("# " + body), "\(body)")
        }
    }
}
