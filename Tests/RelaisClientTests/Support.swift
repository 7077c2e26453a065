import Foundation
import RelaisCore
import RelaisProtocol
import RelaisSQLite
import RelaisTesting

@testable import RelaisClient

/// A second, plain SQLite connection to the file, as the `sqlite3` shell would open it.
func rawConnection(_ path: String) throws -> Connection {
    let connection = try Connection(path: path)
    connection.busyTimeout = .seconds(5)
    return connection
}

/// Builds pull pages the way the hub sends them.
struct PageBuilder {
    var page = Relais_V1_PullResponse()

    init(cursor: UInt64, more: Bool = false) {
        page.nextCursor = cursor
        page.more = more
    }

    /// A record version with the given fields, each stamped with `dot` and `hlc`.
    mutating func record(
        _ collection: String, _ id: String, _ fields: [String: Value], dot: Dot, hlc: UInt64 = 1_000 << 16,
        vector: VersionVector? = nil
    ) {
        var record = Relais_V1_RecordVersion()
        record.collection = collection
        record.recordID = id
        record.vector = Relais_V1_VersionVector(vector ?? VersionVector([dot.replica: dot.counter]))
        record.fields = fields.keys.sorted().map {
            Relais_V1_FieldVersion(field: $0, value: fields[$0]!, dot: dot, hlc: HLC(rawValue: hlc))
        }
        page.records.append(record)
    }

    /// A tombstone.
    mutating func tombstone(_ collection: String, _ id: String, vector: VersionVector) {
        var record = Relais_V1_RecordVersion()
        record.collection = collection
        record.recordID = id
        record.vector = Relais_V1_VersionVector(vector)
        record.deleted = true
        page.records.append(record)
    }

    /// A revocation.
    mutating func revoke(_ collection: String, _ id: String) {
        var revocation = Relais_V1_Revocation()
        revocation.collection = collection
        revocation.recordID = id
        page.revocations.append(revocation)
    }
}

extension Replica {
    /// Applies a page in one transaction, as the sync engine does.
    @discardableResult
    func apply(_ page: Relais_V1_PullResponse) throws -> ReplicaStore.PageOutcome {
        try withStore { store in try store.applyPages([page]) }
    }

    /// Takes the next push batch (marking it in flight).
    func batch(limit: Int = 500) throws -> [PendingWrite] {
        try withStore { store in try store.write { try store.nextBatch(limit: limit) } }
    }

    /// Answers a batch with one status for every write.
    @discardableResult
    func answer(
        _ batch: [PendingWrite], _ status: Relais_V1_WriteResult.Status, code: String = "", reason: String = "",
        conflictIDs: [String] = []
    ) throws -> ReplicaStore.PushOutcome {
        let number = try withStore { try $0.replica }
        var response = Relais_V1_PushResponse()
        response.results = batch.map { write in
            var result = Relais_V1_WriteResult()
            result.dot = Relais_V1_Dot(Dot(replica: number, counter: write.counter))
            result.status = status
            result.code = code
            result.reason = reason
            result.conflictIds = conflictIDs
            return result
        }
        return try withStore { store in try store.syncWrite { try store.applyPushResults(batch, response) } }
    }

    /// Every pending write, in counter order.
    func pendingWrites() throws -> [PendingWrite] {
        try withStore { store in try store.write { try Self.allPending(store) } }
    }

    private static func allPending(_ store: ReplicaStore) throws -> [PendingWrite] {
        do {
            var counters: [UInt64] = []
            try store.db.query("SELECT counter FROM _relais_pending ORDER BY counter") {
                counters.append(UInt64($0.int64(at: 0)))
            }
            return try counters.compactMap { try store.loadPending(counter: $0) }
        }
    }
}

let customer = "customers"
/// A valid new customer.
func acme(_ name: String = "Acme", territory: String = "north") -> [String: Value] {
    ["name": .text(name), "territory": .text(territory), "status": .text("prospect")]
}
