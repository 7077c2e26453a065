import Foundation
import Hummingbird
import HummingbirdTesting
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting

/// Builders of wire messages and small helpers shared by the hub's tests.
enum Wire {
    static func uuid() -> String { UUID().uuidString.lowercased() }

    static func write(
        _ collection: String = "customers", id: String, replica: UInt32, counter: UInt64,
        fields: [String: Value] = [:], delete: Bool = false, context: VersionVector = .empty, hlc: UInt64? = nil
    ) -> Relais_V1_RecordWrite {
        var write = Relais_V1_RecordWrite()
        write.collection = collection
        write.recordID = id
        write.dot = Relais_V1_Dot(Dot(replica: ReplicaID(replica), counter: counter))
        write.context = Relais_V1_VersionVector(context)
        write.hlc = hlc ?? HLC(physicalMillis: 1_795_856_400_000 - 60_000, logical: UInt16(counter % 1000)).rawValue
        write.delete = delete
        write.fields = fields.keys.sorted().map { Relais_V1_FieldValue(field: $0, value: fields[$0]!) }
        return write
    }

    static func customer(
        id: String, replica: UInt32, counter: UInt64, name: String = "Café Müller", territory: String = "north",
        extra: [String: Value] = [:], context: VersionVector = .empty, hlc: UInt64? = nil
    ) -> Relais_V1_RecordWrite {
        var fields: [String: Value] = ["name": .text(name), "territory": .text(territory)]
        fields.merge(extra) { _, new in new }
        return write(id: id, replica: replica, counter: counter, fields: fields, context: context, hlc: hlc)
    }

    static func push(_ replica: UInt32, _ writes: [Relais_V1_RecordWrite], epoch: UInt32 = 1) -> Relais_V1_PushRequest {
        var request = Relais_V1_PushRequest()
        request.replica = replica
        request.epoch = epoch
        request.schemaVersion = 1
        request.writes = writes
        return request
    }

    static func pull(cursor: UInt64, counter: UInt64 = 0, pageSize: UInt32 = 0) -> Relais_V1_PullRequest {
        var request = Relais_V1_PullRequest()
        request.cursor = cursor
        request.counter = counter
        request.pageSize = pageSize
        request.schemaVersion = 1
        return request
    }

    static func enroll(_ code: String, name: String = "laptop") -> Relais_V1_EnrollRequest {
        var request = Relais_V1_EnrollRequest()
        request.code = code
        request.deviceName = name
        request.schemaVersion = 1
        return request
    }
}

/// An enrolled device at the service level.
struct TestDevice {
    var replica: UInt32
    var token: String
    var principal: Principal
    var counter: UInt64 = 0
    var cursor: UInt64 = 0
    var epoch: UInt32 = 1

    mutating func nextCounter() -> UInt64 {
        counter += 1
        return counter
    }
}

extension HubFixture {
    /// Adds a user (if `code` is nil) and enrolls a device for them.
    func enrollDevice(_ user: String, role: Role = .rep, territories: [String] = ["north"], newUser: Bool = true) async throws
        -> TestDevice
    {
        let code =
            newUser
            ? try await addUser(user, role: role, territories: territories)
            : try await service.issueEnrollmentCode(for: user)
        let response = try await service.enroll(Wire.enroll(code, name: "\(user)'s laptop"))
        let principal = try await service.authenticate(token: response.token)
        return TestDevice(replica: response.replica, token: response.token, principal: principal)
    }

    /// Pushes writes as `device` and returns the results.
    func push(_ device: TestDevice, _ writes: [Relais_V1_RecordWrite]) async throws -> [Relais_V1_WriteResult] {
        try await service.push(Wire.push(device.replica, writes, epoch: device.epoch), from: device.principal).results
    }

    /// Pulls every page from the device's cursor, advancing it; returns all pages.
    func pullAll(_ device: inout TestDevice, pageSize: UInt32 = 0) async throws -> [Relais_V1_PullResponse] {
        var pages: [Relais_V1_PullResponse] = []
        while true {
            let page = try await service.pull(
                Wire.pull(cursor: device.cursor, counter: device.counter, pageSize: pageSize), from: device.principal)
            pages.append(page)
            if page.bootstrapRequired { return pages }
            device.cursor = page.nextCursor
            if !page.more { return pages }
        }
    }
}

extension Array where Element == Relais_V1_PullResponse {
    var records: [Relais_V1_RecordVersion] { flatMap(\.records) }
    var revocations: [Relais_V1_Revocation] { flatMap(\.revocations) }
}

extension Relais_V1_RecordVersion {
    func value(_ field: String) -> Value? {
        fields.first { $0.field == field }.flatMap { try? Value($0.value) }
    }
    var fieldNames: [String] { fields.map(\.field).sorted() }
}
