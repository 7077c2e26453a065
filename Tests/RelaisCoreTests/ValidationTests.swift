import Foundation
import RelaisCore
import Testing

struct ValidationTests {
    typealias F = Fixture
    let engine = Fixture.engine

    /// An update of the test customer by replica 2 (not a creation).
    func update(_ values: [String: Value], collection: String = "customers", id: String = F.customerID)
        -> RecordWrite
    {
        F.upsert(values, collection: collection, id: id, context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
    }

    func expectRejected(
        _ write: RecordWrite, creating: Bool = false, as expected: ValidationError,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try engine.validate(write, creating: creating)
            Issue.record("accepted \(write.change)", sourceLocation: sourceLocation)
        } catch {
            #expect(error == expected, "\(error)", sourceLocation: sourceLocation)
            #expect(error.code == expected.code, sourceLocation: sourceLocation)
            #expect(error.collection == expected.collection, sourceLocation: sourceLocation)
            #expect(error.field == expected.field, sourceLocation: sourceLocation)
        }
    }

    @Test func aValidCreationPassesInCanonicalForm() throws {
        let write = F.upsert(
            [
                "name": .text("Boulangerie Martin"), "territory": .text("north"), "tags": .set(["vip", "bio", "vip"]),
                "segment": .text("B"), "lifetime_value": .number(1250.5),
            ], id: F.customerID.uppercased(), dot: F.dot(1, 1), hlc: F.hlc(1_000))
        let valid = try engine.validate(write, creating: true)
        #expect(valid.recordID == F.customerID)
        #expect(valid.fieldValues["tags"] == .set(["bio", "vip"]))
        #expect(valid.fieldValues["name"] == .text("Boulangerie Martin"))
    }

    @Test func unknownCollection() {
        expectRejected(update(["name": .text("x")], collection: "leads"), as: .unknownCollection("leads"))
        #expect(ValidationError.unknownCollection("leads").code.rawValue == "unknown_collection")
    }

    @Test func unknownField() {
        expectRejected(update(["fax": .text("0102")]), as: .unknownField("customers", "fax"))
        #expect(ValidationError.unknownField("customers", "fax").code.rawValue == "unknown_field")
    }

    @Test(
        arguments: [
            ("name", Value.number(3)),
            ("lifetime_value", .text("1000")),
            ("tags", .text("vip")),
            ("notes", .set(["a"])),
            ("segment", .bool(true)),
        ] as [(String, Value)])
    func wrongType(field: String, value: Value) {
        expectRejected(update([field: value]), as: .invalidValue("customers", field, ""))
    }

    @Test func wrongTypeForInteractionFields() {
        let cases: [(String, Value)] = [
            ("at", .text("2026-03-02")),  // a date is carried as .date, never as text
            ("resolved", .number(1)),
            ("satisfaction", .bool(true)),
            ("customer_id", .number(7)),
        ]
        for (field, value) in cases {
            expectRejected(
                update([field: value], collection: "interactions", id: F.interactionID),
                as: .invalidValue("interactions", field, ""))
        }
    }

    @Test func valueNotInEnum() {
        expectRejected(update(["segment": .text("D")]), as: .invalidValue("customers", "segment", ""))
        expectRejected(update(["status": .text("Active")]), as: .invalidValue("customers", "status", ""))
        expectRejected(
            update(["kind": .text("meeting")], collection: "interactions", id: F.interactionID),
            as: .invalidValue("interactions", "kind", ""))
    }

    @Test func requiredMissingOnCreate() {
        let withoutTerritory = F.upsert(["name": .text("Martin")], dot: F.dot(1, 1), hlc: F.hlc(1_000))
        expectRejected(withoutTerritory, creating: true, as: .requiredMissing("customers", "territory"))
        #expect(ValidationError.requiredMissing("customers", "territory").code.rawValue == "required_missing")
        // The same partial write is a valid update of an existing record.
        #expect(throws: Never.self) { try engine.validate(withoutTerritory, creating: false) }
        // And the engine treats a write to an unknown record as a creation.
        #expect(throws: ValidationError.requiredMissing("customers", "territory")) {
            try engine.apply(withoutTerritory, to: nil)
        }
    }

    @Test func requiredSetToNullOnUpdate() {
        expectRejected(update(["name": .null]), as: .requiredMissing("customers", "name"))
        expectRejected(
            update(["customer_id": .null], collection: "interactions", id: F.interactionID),
            as: .requiredMissing("interactions", "customer_id"))
    }

    @Test func anOptionalFieldMaySetToNull() throws {
        let valid = try engine.validate(update(["phone": .null, "tags": .null]), creating: false)
        #expect(valid.fieldValues == ["phone": .null, "tags": .null])
    }

    @Test(arguments: ["not-a-uuid", "", "8d3f6a4e1c2b4e5f9a7b0c1d2e3f4a5b", "8d3f6a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5"])
    func nonUUIDRecordID(id: String) {
        expectRejected(update(["phone": .text("01")], id: id), as: .invalidID("customers", id))
        let delete = F.delete(id: id, context: F.vv([1: 1]), dot: F.dot(2, 1), hlc: F.hlc(2_000))
        expectRejected(delete, as: .invalidID("customers", id))
    }

    /// The check takes exactly the texts Foundation's parser takes (hand-picked edge cases, then
    /// every one-character change or removal in a valid id): its byte-by-byte path must never take
    /// one Foundation refuses, which an older program would then refuse, and the quirky forms
    /// Foundation takes (a space or a sign before a pair of digits) stay taken, as ids stored before.
    @Test func theUUIDCheckTakesWhatFoundationTakes() {
        let valid = "8d3f6a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b"
        var texts = [
            valid, valid.uppercased(), "8D3f6A4e-1C2b-4E5f-9A7b-0C1d2E3f4A5b", "00000000-0000-0000-0000-000000000000",
            "", "-", "{\(valid)}", " \(valid)", "\(valid) ", "\(valid)0", String(valid.dropLast()),
            valid.replacingOccurrences(of: "-", with: ""), valid.replacingOccurrences(of: "-", with: "_"),
            "8d3f6a4e1-c2b-4e5f-9a7b-0c1d2e3f4a5b", "8d3f6a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5\u{0}",
        ]
        let replacements: [Character] = [
            "0", "9", "a", "f", "A", "F", "g", "G", "x", "X", "-", "+", " ", "\t", "\n", "_", ":", "@", "`", "/",
            "é", "８", "\u{0}",
        ]
        let characters = Array(valid)
        for index in characters.indices {
            for replacement in replacements {
                var changed = characters
                changed[index] = replacement
                texts.append(String(changed))
            }
            texts.append(String(characters[..<index] + characters[(index + 1)...]))
        }
        for text in texts {
            #expect(FieldType.isUUID(text) == (UUID(uuidString: text) != nil), "\(text.debugDescription)")
        }
    }

    @Test func invalidIDNamesTheIDField() {
        #expect(ValidationError.invalidID("customers", "x").field == "id")
        #expect(ValidationError.invalidID("customers", "x").code.rawValue == "invalid_id")
    }

    @Test func aReferenceMustBeAUUIDAndIsStoredLowerCase() throws {
        expectRejected(
            update(["customer_id": .text("martin")], collection: "interactions", id: F.interactionID),
            as: .invalidValue("interactions", "customer_id", ""))
        let valid = try engine.validate(
            update(["customer_id": .text(F.customerID.uppercased())], collection: "interactions", id: F.interactionID),
            creating: false)
        #expect(valid.fieldValues["customer_id"] == .text(F.customerID))
    }

    @Test(arguments: [0, 6, -1, 2.5, .infinity, .nan] as [Double])
    func satisfactionOutOfRangeOrNotAnInteger(_ n: Double) {
        expectRejected(
            update(["satisfaction": .number(n)], collection: "interactions", id: F.interactionID),
            as: .invalidValue("interactions", "satisfaction", ""))
    }

    @Test func numberBounds() throws {
        for n in [1.0, 3, 5] {
            _ = try engine.validate(
                update(["satisfaction": .number(n)], collection: "interactions", id: F.interactionID), creating: false)
        }
        expectRejected(update(["lifetime_value": .number(-0.01)]), as: .invalidValue("customers", "lifetime_value", ""))
        // Not declared as an integer: fractions are fine.
        _ = try engine.validate(update(["lifetime_value": .number(0.5)]), creating: false)
    }

    @Test(arguments: [
        "2026-02-30", "2026-02-29", "2025-13-01", "2026-00-10", "2026-04-31", "26-03-01", "2026/03/01", "2026-3-1",
        "2026-03-01T25:00:00Z", "2026-03-01T10:00Z", "2026-03-01T10:00:00", "2026-03-01T10:00:00.Z",
        "2026-03-01T10:00:00+1:00", "2026-03-01 10:00:00Z", "",
    ])
    func badDate(_ text: String) {
        #expect(!FieldType.isISODate(text))
        expectRejected(
            update(["follow_up_on": .date(text)], collection: "interactions", id: F.interactionID),
            as: .invalidValue("interactions", "follow_up_on", ""))
    }

    @Test(arguments: [
        "2026-03-01", "2024-02-29", "2000-02-29", "2026-12-31", "2026-03-01T10:00:00Z", "2026-03-01T23:59:60Z",
        "2026-03-01T10:00:00.123Z", "2026-03-01T10:00:00+02:00", "2026-03-01T10:00:00.5-05:30",
    ])
    func goodDate(_ text: String) throws {
        #expect(FieldType.isISODate(text))
        _ = try engine.validate(
            update(["follow_up_on": .date(text)], collection: "interactions", id: F.interactionID), creating: false)
    }

    @Test func centuryLeapYears() {
        #expect(!FieldType.isISODate("1900-02-29"))
        #expect(!FieldType.isISODate("2100-02-29"))
        #expect(FieldType.isISODate("2400-02-29"))
    }

    @Test func emptyWrite() {
        expectRejected(update([:]), as: .emptyWrite("customers"))
        #expect(ValidationError.emptyWrite("customers").code.rawValue == "empty_write")
        #expect(ValidationError.emptyWrite("customers").field == nil)
    }

    @Test func aRejectedWriteChangesNothing() throws {
        let created = try engine.apply(F.createCustomer(), to: nil).state
        let bad = update(["phone": .text("0102"), "segment": .text("Z")])
        #expect(throws: ValidationError.invalidValue("customers", "segment", "")) {
            try engine.apply(bad, to: created)
        }
    }

    @Test func errorsDescribeCollectionAndField() {
        #expect(ValidationError.unknownField("customers", "fax").description == "customers.fax: unknown field `fax`")
        #expect(ValidationError.emptyWrite("customers").description == "customers: the write changes no field")
        #expect(
            ValidationError.requiredMissing("customers", "name").code
                == ValidationError.requiredMissing("contacts", "x").code)
        #expect(
            ValidationError.requiredMissing("customers", "name").code != ValidationError.emptyWrite("customers").code)
    }

    // MARK: Parsing command-line values by the field's type

    @Test func parsesCommandLineValuesByType() throws {
        let customers = F.customers
        func parse(_ field: String, _ text: String) throws -> Value {
            try customers.field(field)!.type.parse(text, collection: "customers", field: field)
        }
        #expect(try parse("tags", "vip, export,vip,") == .set(["export", "vip"]))
        #expect(try parse("lifetime_value", " 1200 ") == .number(1200))
        #expect(try parse("phone", "") == .null)
        #expect(try parse("segment", "A") == .text("A"))
        #expect(throws: ValidationError.invalidValue("customers", "lifetime_value", "")) {
            try parse("lifetime_value", "lots")
        }
        #expect(throws: ValidationError.invalidValue("customers", "segment", "")) { try parse("segment", "Z") }

        let resolved = F.interactions.field("resolved")!.type
        #expect(try resolved.parse("yes", collection: "interactions", field: "resolved") == .bool(true))
        #expect(try resolved.parse("0", collection: "interactions", field: "resolved") == .bool(false))
        #expect(throws: ValidationError.self) {
            try resolved.parse("maybe", collection: "interactions", field: "resolved")
        }
    }
}
