import RelaisCore

/// Small builders shared by the core tests: dots, times, vectors and writes against the CRM schema.
enum Fixture {
    static let engine = MergeEngine(schema: .crm)
    static let customers = Schema.crm.collection("customers")!
    static let interactions = Schema.crm.collection("interactions")!

    /// A customer and an interaction id (lower-case UUIDs, as the engine stores them).
    static let customerID = "8d3f6a4e-1c2b-4e5f-9a7b-0c1d2e3f4a5b"
    static let otherCustomerID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    static let interactionID = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"

    static let authors = ["hub", "alice", "bob", "carol", "dave"]

    static func r(_ n: UInt32) -> ReplicaID { ReplicaID(n) }
    static func dot(_ replica: UInt32, _ counter: UInt64) -> Dot { Dot(replica: ReplicaID(replica), counter: counter) }
    static func hlc(_ millis: UInt64, _ logical: UInt16 = 0) -> HLC { HLC(physicalMillis: millis, logical: logical) }

    static func vv(_ entries: [UInt32: UInt64]) -> VersionVector {
        VersionVector(Dictionary(uniqueKeysWithValues: entries.map { (ReplicaID($0.key), $0.value) }))
    }

    static func author(of replica: UInt32) -> String {
        Int(replica) < authors.count ? authors[Int(replica)] : "user\(replica)"
    }

    /// An upsert of `values`; the author is named after the replica unless given.
    static func upsert(
        _ values: [String: Value], collection: String = "customers", id: String = customerID,
        context: VersionVector = .empty, dot: Dot, hlc: HLC, author: String? = nil
    ) -> RecordWrite {
        RecordWrite(
            collection: collection, recordID: id, context: context, dot: dot, hlc: hlc,
            author: author ?? Fixture.author(of: dot.replica.rawValue), change: .upsert(values))
    }

    static func delete(
        collection: String = "customers", id: String = customerID, context: VersionVector, dot: Dot, hlc: HLC,
        author: String? = nil
    ) -> RecordWrite {
        RecordWrite(
            collection: collection, recordID: id, context: context, dot: dot, hlc: hlc,
            author: author ?? Fixture.author(of: dot.replica.rawValue), change: .delete)
    }

    /// Creation of the test customer by replica 1 at dot (1,1): its required fields plus `extra`.
    static func createCustomer(_ extra: [String: Value] = [:], hlc: HLC = Fixture.hlc(1_000)) -> RecordWrite {
        var values: [String: Value] = ["name": .text("Boulangerie Martin"), "territory": .text("north")]
        values.merge(extra) { _, new in new }
        return upsert(values, dot: dot(1, 1), hlc: hlc)
    }

    /// The required fields of an interaction of the test customer.
    static var interactionRequired: [String: Value] {
        ["customer_id": .text(customerID), "kind": .text("visit"), "at": .date("2026-03-02T10:00:00Z")]
    }
}
