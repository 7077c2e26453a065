import Foundation
public import RelaisCore
public import RelaisHub
public import RelaisProtocol

/// Builders of wire messages, for tests that drive the hub at the service level or over HTTP.
public enum Wire {
    /// A fresh lower-case UUID, as record ids are.
    public static func uuid() -> String { UUID().uuidString.lowercased() }

    /// A write of `fields` (or a delete) on one record, stamped with `replica`'s dot `counter`; its HLC is a
    /// minute before the test clock's start unless given.
    public static func write(
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

    /// A write creating a customer with a name and a territory (and `extra` fields).
    public static func customer(
        id: String, replica: UInt32, counter: UInt64, name: String = "Café Müller", territory: String = "north",
        extra: [String: Value] = [:], context: VersionVector = .empty, hlc: UInt64? = nil
    ) -> Relais_V1_RecordWrite {
        var fields: [String: Value] = ["name": .text(name), "territory": .text(territory)]
        fields.merge(extra) { _, new in new }
        return write(id: id, replica: replica, counter: counter, fields: fields, context: context, hlc: hlc)
    }

    /// A push batch of `writes` from `replica`.
    public static func push(_ replica: UInt32, _ writes: [Relais_V1_RecordWrite], epoch: UInt32 = 1)
        -> Relais_V1_PushRequest
    {
        var request = Relais_V1_PushRequest()
        request.replica = replica
        request.epoch = epoch
        request.schemaVersion = UInt32(Schema.crm.version)
        request.writes = writes
        return request
    }

    /// A pull request from `cursor`, in a pull started at `since` (`nil`: a client that predates it).
    public static func pull(cursor: UInt64, counter: UInt64 = 0, pageSize: UInt32 = 0, since: UInt64? = nil)
        -> Relais_V1_PullRequest
    {
        var request = Relais_V1_PullRequest()
        request.cursor = cursor
        request.counter = counter
        request.pageSize = pageSize
        request.schemaVersion = UInt32(Schema.crm.version)
        if let since { request.since = since }
        return request
    }

    /// An enrollment request with a one-time `code`.
    public static func enroll(_ code: String, name: String = "laptop") -> Relais_V1_EnrollRequest {
        var request = Relais_V1_EnrollRequest()
        request.code = code
        request.deviceName = name
        request.schemaVersion = UInt32(Schema.crm.version)
        return request
    }
}

/// An enrolled device at the service level.
public struct TestDevice: Sendable {
    public var replica: UInt32
    public var token: String
    public var principal: Principal
    public var counter: UInt64 = 0
    public var cursor: UInt64 = 0
    public var epoch: UInt32 = 1

    public init(replica: UInt32, token: String, principal: Principal, epoch: UInt32 = 1) {
        self.replica = replica
        self.token = token
        self.principal = principal
        self.epoch = epoch
    }

    /// The next counter to stamp a write with.
    public mutating func nextCounter() -> UInt64 {
        counter += 1
        return counter
    }
}

extension HubFixture {
    /// Adds a user (unless `newUser` is false) and enrolls a device for them.
    public func enrollDevice(_ user: String, role: Role = .rep, territories: [String] = ["north"], newUser: Bool = true)
        async throws
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
    public func push(_ device: TestDevice, _ writes: [Relais_V1_RecordWrite]) async throws -> [Relais_V1_WriteResult] {
        try await service.push(Wire.push(device.replica, writes, epoch: device.epoch), from: device.principal).results
    }

    /// Pulls every page from the device's cursor, advancing it; returns all pages (the last one
    /// `bootstrap_required` if the hub asked for it). `since`: the pull's start, sent with every page
    /// (`nil`: a client that predates it).
    public func pullAll(_ device: inout TestDevice, pageSize: UInt32 = 0, since: UInt64? = nil) async throws
        -> [Relais_V1_PullResponse]
    {
        var pages: [Relais_V1_PullResponse] = []
        while true {
            let page = try await service.pull(
                Wire.pull(cursor: device.cursor, counter: device.counter, pageSize: pageSize, since: since),
                from: device.principal)
            pages.append(page)
            if page.bootstrapRequired { return pages }
            device.cursor = page.nextCursor
            if !page.more { return pages }
        }
    }
}

extension Array where Element == Relais_V1_PullResponse {
    /// Every record of every page.
    public var records: [Relais_V1_RecordVersion] { flatMap(\.records) }
    /// Every revocation of every page.
    public var revocations: [Relais_V1_Revocation] { flatMap(\.revocations) }
}

extension Relais_V1_RecordVersion {
    /// The value of `field`, if the version carries it.
    public func value(_ field: String) -> Value? {
        fields.first { $0.field == field }.flatMap { try? Value($0.value) }
    }
    /// The fields the version carries, sorted.
    public var fieldNames: [String] { fields.map(\.field).sorted() }
}
