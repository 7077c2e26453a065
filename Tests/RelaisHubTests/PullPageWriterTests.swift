import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import SwiftProtobuf
import Testing

/// Pull pages are written straight from the stored records (`PullPageWriter`): the bytes are what
/// swift-protobuf writes for the same page, every record carries what the hub holds, and every field
/// the protocol declares for a page's messages is written.
struct PullPageWriterTests {
    /// swift-protobuf's deterministic bytes of `page`.
    static func canonical(_ page: Relais_V1_PullResponse) throws -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return try page.serializedBytes(options: options)
    }

    /// A hub holding every shape a page can carry: each value kind (numbers, booleans and dates,
    /// empty, long and non-ASCII text, sets given unsorted and with duplicates), three collections,
    /// concurrent values kept by a manual rule, deletes, and a revived record.
    static func fill(_ hub: HubFixture) async throws -> (ids: [String], writer: TestDevice) {
        var walt = try await hub.enrollDevice("walt", role: .manager, territories: ["north", "south"])
        var wanda = try await hub.enrollDevice("wanda", role: .manager, territories: ["north", "south"])
        var ids: [String] = []
        var writes: [Relais_V1_RecordWrite] = []
        for index in 0..<40 {
            let id = Wire.uuid()
            ids.append(id)
            var extra: [String: Value] = [
                "phone": .text(index % 5 == 0 ? "" : "+33 6 \(index)"),
                "city": .text(index % 3 == 0 ? "Besançon ☕️" : "Lyon"),
                "tags": .set(index % 2 == 0 ? ["vip", "a", "vip", "b"] : []),
                "lifetime_value": .number(Double(index) * 1_234.5),
                "status": .text("active"),
            ]
            if index % 4 == 0 { extra["notes"] = .text(String(repeating: "Visite et devis. ", count: 12)) }
            if index % 7 == 0 { extra["email"] = .null }
            writes.append(
                Wire.customer(
                    id: id, replica: walt.replica, counter: walt.nextCounter(),
                    territory: index % 2 == 0 ? "north" : "south", extra: extra))
            writes.append(
                Wire.write(
                    "contacts", id: Wire.uuid(), replica: walt.replica, counter: walt.nextCounter(),
                    fields: ["customer_id": .text(id), "name": .text("Contact \(index)")]))
            writes.append(
                Wire.write(
                    "interactions", id: Wire.uuid(), replica: walt.replica, counter: walt.nextCounter(),
                    fields: [
                        "customer_id": .text(id), "kind": .text("complaint"), "at": .date("2026-11-28T09:30:00Z"),
                        "satisfaction": .number(Double(index % 5 + 1)), "resolved": .bool(index % 2 == 0),
                    ]))
        }
        _ = try await hub.push(walt, writes)
        // Concurrent values of a manual field: both kept.
        let contested = ids[1]
        let context = try await hub.store.read { tx in
            try await tx.record(collection: "customers", id: contested)?.state.vector
        }
        _ = try await hub.push(
            walt,
            [
                Wire.write(
                    id: contested, replica: walt.replica, counter: walt.nextCounter(),
                    fields: ["status": .text("at_risk")], context: context ?? .empty)
            ])
        _ = try await hub.push(
            wanda,
            [
                Wire.write(
                    id: contested, replica: wanda.replica, counter: wanda.nextCounter(),
                    fields: ["status": .text("lapsed")], context: context ?? .empty)
            ])
        // Deletes, one of them revived by a concurrent edit.
        for id in ids[2..<5] {
            let vector = try await hub.store.read { tx in
                try await tx.record(collection: "customers", id: id)?.state.vector
            }
            _ = try await hub.push(
                walt,
                [
                    Wire.write(
                        id: id, replica: walt.replica, counter: walt.nextCounter(), delete: true,
                        context: vector ?? .empty)
                ])
            if id == ids[4] {
                _ = try await hub.push(
                    wanda,
                    [
                        Wire.write(
                            id: id, replica: wanda.replica, counter: wanda.nextCounter(),
                            fields: ["city": .text("Revived")], context: vector ?? .empty)
                    ])
            }
        }
        return (ids, walt)
    }

    /// On the store CI names (`RELAIS_TEST_HUB_STORE`): SQLite here, PostgreSQL in CI's second run;
    /// with and without `compact_dots`.
    @Test(arguments: [false, true]) func pagesAreSwiftProtobufsBytesAndCarryWhatTheHubHolds(compact: Bool)
        async throws
    {
        try await HubFixture.with { hub in
            let (_, writer) = try await Self.fill(hub)
            var readers = [
                try await hub.enrollDevice("rita", territories: ["north"]),
                try await hub.enrollDevice("adam", role: .admin, territories: []),
                writer,
            ]
            var pages = 0
            for index in readers.indices {
                while true {
                    var request = Wire.pull(
                        cursor: readers[index].cursor, counter: readers[index].counter, pageSize: 7, since: 0)
                    request.compactDots = compact
                    let bytes = try await hub.service.pullEncoded(request, from: readers[index].principal)
                    let page = try Relais_V1_PullResponse(serializedBytes: bytes)
                    #expect(bytes == (try Self.canonical(page)), "page \(pages) is not swift-protobuf's bytes")
                    try page.validate(limits: ProtocolLimits())
                    try await Self.expectHeld(page, hub)
                    Self.expectCompact(page, compact)
                    pages += 1
                    readers[index].cursor = page.nextCursor
                    if !page.more { break }
                }
            }
            #expect(pages > 40)
        }
    }

    /// Every record of a bootstrap page is the record as the hub holds it: its vector, each field's
    /// value as its rule resolves it, the dot and time of its latest write, in schema order.
    static func expectHeld(_ page: Relais_V1_PullResponse, _ hub: HubFixture) async throws {
        for version in page.records {
            let stored = try await hub.store.read { tx in
                try await tx.record(collection: version.collection, id: version.recordID)
            }
            guard let stored, let collection = Schema.crm.collection(version.collection) else {
                Issue.record("a page carries \(version.collection) \(version.recordID), which the hub does not hold")
                continue
            }
            #expect(version.vector == Relais_V1_VersionVector(stored.state.vector))
            #expect(version.seq == stored.seq)
            #expect(version.deleted == stored.state.isDeleted)
            if stored.state.isDeleted {
                #expect(version.fields.isEmpty)
                continue
            }
            let expected = collection.fields.compactMap { field -> Relais_V1_FieldVersion? in
                guard let state = stored.state.fields[field.name], let latest = state.latest else { return nil }
                return Relais_V1_FieldVersion(
                    field: field.name, value: state.value(rule: field.rule), dot: latest.dot, hlc: latest.hlc)
            }
            // Each field with its dot and time, its own or its record's (`compact_dots`).
            let fields = version.fields.map { field in
                var field = field
                (field.dot, field.hlc) = version.dotAndTime(of: field)
                return field
            }
            #expect(fields == expected, "\(version.collection) \(version.recordID)")
        }
    }

    /// Without `compact_dots` every field carries its dot and no record one. With it, a record carries
    /// the dot and time most of its fields share (at least two), those fields none, and the others
    /// their own, different ones.
    static func expectCompact(_ page: Relais_V1_PullResponse, _ compact: Bool) {
        for version in page.records {
            let bare = version.fields.filter { !$0.hasDot }
            guard compact else {
                #expect(!version.hasDot && version.hlc == 0 && bare.isEmpty)
                continue
            }
            let own = version.fields.filter(\.hasDot)
            if version.hasDot {
                #expect(bare.count >= 2 && bare.allSatisfy { $0.hlc == 0 })
                #expect(own.allSatisfy { $0.dot != version.dot || $0.hlc != version.hlc })
                // No other shared dot is more common.
                for field in own {
                    #expect(own.count { $0.dot == field.dot && $0.hlc == field.hlc } <= bare.count)
                }
            } else {
                #expect(bare.isEmpty && version.hlc == 0)
                let dots = own.map { "\($0.dot.replica)/\($0.dot.counter)/\($0.hlc)" }
                #expect(Set(dots).count == dots.count, "two fields share a dot the record does not carry")
            }
        }
    }

    @Test func aContestedFieldAndASetAreSentAsTheirRulesResolveThem() async throws {
        try await HubFixture.with { hub in
            let (ids, _) = try await Self.fill(hub)
            var reader = try await hub.enrollDevice("rita", role: .manager, territories: ["north", "south"])
            let records = try await hub.pullAll(&reader).records
            let contested = try #require(records.first { $0.recordID == ids[1] })
            let stored = try await hub.store.read { tx in try await tx.record(collection: "customers", id: ids[1]) }
            #expect(stored?.state.fields["status"]?.siblings.count == 2)
            #expect(contested.value("status") != nil)
            let tagged = try #require(records.first { $0.recordID == ids[0] })
            let tags = try #require(tagged.fields.first { $0.field == "tags" })
            #expect(tags.value.set.items == ["a", "b", "vip"])
            // A fresh laptop is sent no tombstone of a record it never held.
            #expect(!records.contains { $0.recordID == ids[2] })
            #expect(records.first { $0.recordID == ids[4] }?.value("city") == .text("Revived"))
        }
    }

    /// Every field Protocol/relais.proto declares in the messages of a page is one the page writer
    /// writes: a field added to the protocol fails here until the pages carry it.
    @Test func theWriterCoversEveryDeclaredField() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let proto = try String(contentsOf: root.appendingPathComponent("Protocol/relais.proto"), encoding: .utf8)
        let written = HubService.pullPageFields
        #expect(
            Set(written.keys) == [
                "PullResponse", "RecordVersion", "FieldVersion", "Value", "StringSet", "Dot", "VersionVector",
                "VectorEntry", "Revocation",
            ])
        for (message, fields) in written {
            #expect(try Self.fieldNumbers(of: message, in: proto) == Set(fields), "message \(message)")
        }
    }

    static func fieldNumbers(of message: String, in proto: String) throws -> Set<Int> {
        let lines = proto.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex(of: "message \(message) {"), "no message \(message)")
        var numbers: Set<Int> = []
        for line in lines[(start + 1)...] {
            if line == "}" { break }
            let code = line.components(separatedBy: "//")[0].trimmingCharacters(in: .whitespaces)
            guard code.hasSuffix(";"), !code.hasPrefix("reserved"), let equals = code.firstIndex(of: "=") else {
                continue
            }
            if let number = Int(code[code.index(after: equals)...].dropLast().trimmingCharacters(in: .whitespaces)) {
                numbers.insert(number)
            }
        }
        return numbers
    }
}
