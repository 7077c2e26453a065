import Foundation
import RelaisClient
import RelaisCore
import RelaisSQLite
import RelaisTesting
import Testing

/// A bulk import at the size an office loads its customer file: one transaction, every row its own
/// captured write. (Its speed is measured by the `import` benchmark, not here.)
struct LargeImportTests {
    @Test func importsAHundredThousandRowsInOneTransaction() async throws {
        try await withReplica { replica, folder, _ in
            let path = folder.file("replica.db")
            var csv = "name,territory,city,status,tags\n"
            csv.reserveCapacity(6_000_000)
            for i in 0..<100_000 {
                csv += "Customer \(i),north,City \(i % 97),active,\"t\(i % 5),all\"\n"
            }
            #expect(try await replica.import("customers", text: csv, format: .csv) == 100_000)
            #expect(try await replica.pendingCount() == 100_000)
            // Each row is its own write, with its own counter, as the `sqlite3` shell sees the file.
            let connection = try Connection(path: path)
            connection.busyTimeout = .seconds(5)
            #expect(try connection.scalar("SELECT count(DISTINCT counter) FROM _relais_pending")?.int64Value == 100_000)
            #expect(try await replica.list("customers", where: ["city": .text("City 5")]).count == 1031)
        }
    }
}
