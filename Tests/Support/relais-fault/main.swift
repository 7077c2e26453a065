// relais-fault: a child program the crash tests run and kill with SIGKILL at random points.
//
//   relais-fault import DB ROWS   imports batches of ROWS customers, forever; batch k has city "batch-k"
//   relais-fault apply DB ROWS    applies pull pages of ROWS customers, forever; page k has cursor k,
//                                 three consecutive pages per transaction, as a sync applies them
//
// Each import batch is one transaction, and so is each group of three pages. The test reopens the file
// after each kill and checks that every batch is wholly present or wholly absent and that the cursor
// matches the pages applied (a multiple of three).
import Foundation
import RelaisClient
import RelaisCore
import RelaisProtocol

/// The id of row `row` of batch or page `batch`.
func recordID(batch: Int, row: Int) -> String {
    String(format: "00000000-0000-4000-8000-%06x%06x", batch, row)
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let rows = Int(arguments[3]), ["import", "apply"].contains(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: relais-fault import|apply DB ROWS\n".utf8))
    exit(2)
}
let path = arguments[2]
do {
    let replica = try Replica.open(path: path)
    switch arguments[1] {
    case "import":
        var batch = Set(try await replica.list("customers").compactMap { $0["city"].stringValue }).count + 1
        while true {
            var csv = "id,name,territory,city,tags\n"
            for row in 0..<rows {
                csv += "\(recordID(batch: batch, row: row)),Customer \(batch)-\(row),north,batch-\(batch),\"a,b\"\n"
            }
            try await replica.import("customers", text: csv, format: .csv)
            print("imported \(batch)")
            batch += 1
        }
    default:
        var page = Int(try await replica.status().cursor) + 1
        var group: [Relais_V1_PullResponse] = []
        while true {
            var response = Relais_V1_PullResponse()
            response.nextCursor = UInt64(page)
            response.more = true
            for row in 0..<rows {
                var record = Relais_V1_RecordVersion()
                record.collection = "customers"
                record.recordID = recordID(batch: page, row: row)
                record.vector = Relais_V1_VersionVector(VersionVector([.hub: UInt64(page * rows + row + 1)]))
                let dot = Dot(replica: .hub, counter: UInt64(page * rows + row + 1))
                record.fields = [
                    Relais_V1_FieldVersion(
                        field: "name", value: .text("Customer \(page)-\(row)"), dot: dot, hlc: HLC(rawValue: 1 << 20)),
                    Relais_V1_FieldVersion(
                        field: "territory", value: .text("north"), dot: dot, hlc: HLC(rawValue: 1 << 20)),
                    Relais_V1_FieldVersion(
                        field: "city", value: .text("page-\(page)"), dot: dot, hlc: HLC(rawValue: 1 << 20)),
                ]
                response.records.append(record)
            }
            group.append(response)
            if group.count == 3 {
                try await replica._applyPullPages(group, batchRecords: 3 * rows)
                print("applied \(page - 2)–\(page)")
                group = []
            }
            page += 1
        }
    }
} catch {
    FileHandle.standardError.write(Data("relais-fault: \(error)\n".utf8))
    exit(1)
}
