import Foundation
public import RelaisCore
import RelaisHub
public import RelaisProtocol

/// Conflict reports made the way devices make them, for tests of the admin review (API, pages,
/// command line).
public enum ReviewSeed {
    /// `a` creates a customer of `north` and sets its phone to "01"; `b`, having pulled the creation
    /// only, deletes it: a `delete-update` report, the update kept by rule. Returns the record's id
    /// and the result of `b`'s delete (its conflict id).
    public static func deleteUpdate(_ hub: HubFixture, _ a: inout TestDevice, _ b: inout TestDevice) async throws
        -> (id: String, results: [Relais_V1_WriteResult])
    {
        let id = Wire.uuid()
        let create = a.nextCounter()
        _ = try await hub.push(a, [Wire.customer(id: id, replica: a.replica, counter: create)])
        let seen = VersionVector([ReplicaID(a.replica): create])
        _ = try await hub.pullAll(&b)
        _ = try await hub.push(
            a,
            [
                Wire.write(
                    id: id, replica: a.replica, counter: a.nextCounter(), fields: ["phone": .text("01")], context: seen)
            ])
        let results = try await hub.push(
            b, [Wire.write(id: id, replica: b.replica, counter: b.nextCounter(), delete: true, context: seen)])
        return (id, results)
    }

    /// Two devices edit `field` of a new customer of `territory` concurrently; returns the report id.
    public static func conflict(
        _ hub: HubFixture, _ a: inout TestDevice, _ b: inout TestDevice, territory: String, field: String,
        _ aValue: Value, _ bValue: Value
    ) async throws -> String {
        let id = Wire.uuid()
        let create = a.nextCounter()
        _ = try await hub.push(a, [Wire.customer(id: id, replica: a.replica, counter: create, territory: territory)])
        let seen = VersionVector([ReplicaID(a.replica): create])
        let now = hub.clock?.millisecondsSince1970() ?? UInt64(Date().timeIntervalSince1970 * 1000)
        _ = try await hub.push(
            a,
            [
                Wire.write(
                    id: id, replica: a.replica, counter: a.nextCounter(), fields: [field: aValue], context: seen,
                    hlc: HLC(physicalMillis: now - 2000).rawValue)
            ])
        let results = try await hub.push(
            b,
            [
                Wire.write(
                    id: id, replica: b.replica, counter: b.nextCounter(), fields: [field: bValue], context: seen,
                    hlc: HLC(physicalMillis: now - 1000).rawValue)
            ])
        guard let report = results.first?.conflictIds.first else {
            throw HubError.internal.with("The two writes made no conflict report.")
        }
        return report
    }

    /// What ``seed(_:)`` made.
    public struct Seeded: Sendable {
        public var north: String  // open, manual, status; claire + bob; day 1
        public var south: String  // open, manual, status; dave + erin; day 9
        public var phone: String  // auto-resolved, lww, phone; dave + erin; day 9
        public var day1: UInt64
        public var day9: UInt64
    }

    /// Three reports on a hub with a test clock: two open (north on day 1, south on day 9), one
    /// resolved by its rule (south, phone, day 9).
    public static func seed(_ hub: HubFixture) async throws -> Seeded {
        guard let clock = hub.clock else {
            throw HubError.internal.with("The review seed needs a hub with a test clock.")
        }
        let day1 = clock.millisecondsSince1970()
        var claire = try await hub.enrollDevice("claire")
        var bob = try await hub.enrollDevice("bob")
        let north = try await conflict(
            hub, &claire, &bob, territory: "north", field: "status", .text("at_risk"), .text("active"))
        clock.advance(byMillis: 8 * 86_400_000)
        let day9 = clock.millisecondsSince1970()
        var dave = try await hub.enrollDevice("dave", territories: ["south"])
        var erin = try await hub.enrollDevice("erin", territories: ["south"])
        let south = try await conflict(
            hub, &dave, &erin, territory: "south", field: "status", .text("lapsed"), .text("active"))
        let phone = try await conflict(
            hub, &dave, &erin, territory: "south", field: "phone", .text("01 23"), .text("01 24"))
        return Seeded(north: north, south: south, phone: phone, day1: day1, day9: day9)
    }
}
