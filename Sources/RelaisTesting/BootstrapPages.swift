import Foundation
public import RelaisCore
public import RelaisProtocol

/// A bootstrap as the hub would send it: `count` customers in pull pages of `pageSize`, each record
/// with seven fields, one dot and one HLC time. The replica's apply test and the apply benchmark build
/// their pages here, so that both measure the same input.
public enum BootstrapPages {
    /// The customers' fields the pages carry, in order.
    public static let fields = ["name", "territory", "status", "city", "phone", "email", "tags"]

    /// Customer `i`'s value of `field` (`city` cycles through 97 values, `City 0` to `City 96`).
    public static func value(_ field: String, _ i: Int) -> Value {
        switch field {
        case "name": .text("Customer \(i)")
        case "territory": .text("north")
        case "status": .text("active")
        case "city": .text("City \(i % 97)")
        case "phone": .text("+33 1 \(10_000_000 + i)")
        case "email": .text("c\(i)@example.com")
        default: .set(["t\(i % 5)", "all"])
        }
    }

    /// Customer `i`'s id: UUID-shaped, in random-looking order, as real ids arrive.
    public static func id(_ i: Int) -> String {
        String(format: "%08x-0000-4000-8000-%012x", i &* 2_654_435_761 % 0xFFFF_FFFF, i)
    }

    /// The pages, cursors 1,000, 2,000… (`more` on every page but the last).
    public static func pages(count: Int, pageSize: Int) -> [Relais_V1_PullResponse] {
        var pages: [Relais_V1_PullResponse] = []
        var i = 0
        while i < count {
            var page = Relais_V1_PullResponse()
            for j in i..<min(i + pageSize, count) {
                var record = Relais_V1_RecordVersion()
                record.collection = "customers"
                record.recordID = id(j)
                let dot = Dot(replica: ReplicaID(UInt32(1 + j % 50)), counter: UInt64(j + 1))
                record.vector = Relais_V1_VersionVector(VersionVector([dot.replica: dot.counter]))
                record.fields = fields.map {
                    Relais_V1_FieldVersion(
                        field: $0, value: value($0, j), dot: dot, hlc: HLC(physicalMillis: 1_795_856_400_000))
                }
                record.seq = UInt64(j + 1)
                page.records.append(record)
            }
            i += pageSize
            page.nextCursor = UInt64(i)
            page.more = i < count
            pages.append(page)
        }
        return pages
    }
}
