import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import SwiftProtobuf

/// The hub's page building (issue 15, item 3): every pull page of a fresh laptop's bootstrap of N
/// customers, served in process by `HubService.pullEncoded` (the store read, the page's protobuf
/// bytes, the device's acknowledged cursor): what the hub does for a pull before the HTTP layer
/// deflates the bytes (timed apart, in the notes). No HTTP, no client.
///
/// Baseline: raw SQLite reading the same rows of the hub's own file with the hub's own query (the
/// `(scope, seq)` index, pages of the same size), every column read. That is the floor below which no
/// page can be built from this store.
extension BenchRunner {
    func pages() async throws -> BenchResult {
        let count = options.bootstrapRecords
        let runs = options.runs
        let pageSize = Int(benchSyncOptions.pageSize)
        log("pages: the hub serving a bootstrap of \(count) customers in pages of \(pageSize), in process")
        return try await withBenchHub(filled: [("north", 0..<count)], log: log) { hub, _ in
            let device = try await BenchDevice.enroll(
                hub.service, user: "pages", territories: ["north"], name: "pages")
            let principal = try await hub.service.authenticate(token: device.token)
            let file =
                (hub.folder as NSString).deletingLastPathComponent + "/data/" + SQLiteHubStore.fileName
            let codec = MessageCodec()
            var perRecord: [Double] = []
            var rawPerRecord: [Double] = []
            var deflatePerRecord: [Double] = []
            var bytesPerRecord: [Double] = []
            var kept: [Relais_V1_PullResponse] = []
            for run in 0..<runs {
                let raw = try PagesBaseline.read(path: file, scope: "north", pageSize: pageSize)
                guard raw.rows == count else { throw BenchError("pages: raw read \(raw.rows) of \(count) rows") }
                var cursor: UInt64 = 0
                var records = 0
                var bytes = 0
                var deflating = 0.0
                var building = 0.0
                while true {
                    var request = Relais_V1_PullRequest()
                    request.cursor = cursor
                    request.since = 0
                    request.compactDots = true
                    request.pageSize = UInt32(pageSize)
                    request.counter = 0
                    request.schemaVersion = UInt32(Schema.crm.version)
                    let buildStart = ContinuousClock.now
                    let body = try await hub.service.pullEncoded(request, from: principal)
                    building += (ContinuousClock.now - buildStart).seconds
                    let deflateStart = ContinuousClock.now
                    let sent = try ContentEncoding.deflate.compress(body, level: codec.compressionLevel)
                    deflating += (ContinuousClock.now - deflateStart).seconds
                    bytes += sent.count
                    let page = try Relais_V1_PullResponse(serializedBytes: body)
                    if run == 0 { kept.append(page) }
                    records += page.records.count
                    cursor = page.nextCursor
                    if !page.more { break }
                }
                guard records == count else { throw BenchError("pages: served \(records) of \(count) records") }
                perRecord.append(building / Double(count) * 1e6)
                rawPerRecord.append(raw.seconds / Double(count) * 1e6)
                deflatePerRecord.append(deflating / Double(count) * 1e6)
                bytesPerRecord.append(Double(bytes) / Double(count))
                log(
                    String(
                        format: "pages run %d: %.2f µs per record, deflate %.2f µs, raw read %.2f µs", run + 1,
                        building / Double(count) * 1e6, deflating / Double(count) * 1e6,
                        raw.seconds / Double(count) * 1e6))
            }
            // For comparison, outside the timed loop: the same pages encoded from messages by
            // swift-protobuf (the encoding alone, before the pages were written from stored bytes).
            let generic = try PagesBaseline.swiftProtobufEncoding(kept, records: count)
            let measured = Summary(samples: perRecord)
            return BenchResult(
                name: "pages",
                metric:
                    "\(count) customers served as bootstrap pages of \(pageSize) (HubService.pullEncoded: the protobuf bytes)",
                unit: "µs/record", measured: measured,
                baselineName: "raw SQLite reading the same rows, same query and pages",
                baseline: Summary(samples: rawPerRecord), ratioName: "relais/raw",
                ratios: Summary(samples: zip(perRecord, rawPerRecord).map { $0 / $1 }),
                target: "≤ 5 µs per record (issue 15)", met: measured.median <= 5,
                notes: [
                    String(
                        format:
                            "then deflating them for HTTP (level %d): %.2f µs per record more, %.1f B per record sent",
                        codec.compressionLevel, Summary(samples: deflatePerRecord).median,
                        Summary(samples: bytesPerRecord).median),
                    "each request also records the device's acknowledged cursor (one store write per page)",
                    String(
                        format:
                            "swift-protobuf encoding the same pages from messages: %.2f µs per record (encoding alone)",
                        generic),
                ])
        }
    }
}

/// The raw read: the hub's page query on its own file, every column of every row read.
enum PagesBaseline {
    /// Per record: swift-protobuf encoding `pages` (deterministic, as the codec encodes messages).
    static func swiftProtobufEncoding(_ pages: [Relais_V1_PullResponse], records: Int) throws -> Double {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let start = ContinuousClock.now
        var size = 0
        for page in pages {
            let bytes: [UInt8] = try page.serializedBytes(options: options)
            size += bytes.count
        }
        precondition(size > 0)
        return (ContinuousClock.now - start).seconds / Double(records) * 1e6
    }

    static func read(path: String, scope: String, pageSize: Int) throws -> (rows: Int, seconds: Double) {
        let db = try Connection(path: path)
        defer { try? db.close() }
        let statement = try db.prepare(
            """
            SELECT collection, id, seq, whole_since, scope, parent_id, deleted_at, state FROM records
            WHERE scope = ? AND seq > ? ORDER BY seq LIMIT ?
            """)
        var rows = 0
        var checksum = 0
        let start = ContinuousClock.now
        var cursor: Int64 = 0
        while true {
            var inPage = 0
            try statement.forEachRow([.text(scope), .integer(cursor), .integer(Int64(pageSize))]) { row in
                checksum &+= (row.text(at: 0)?.utf8.count ?? 0) + (row.text(at: 1)?.utf8.count ?? 0)
                cursor = row.int64(at: 2)
                checksum &+= Int(row.int64(at: 3)) + (row.text(at: 4)?.utf8.count ?? 0)
                checksum &+= (row.text(at: 5)?.utf8.count ?? 0) + Int(row.int64(at: 6))
                checksum &+= row.blob(at: 7)?.count ?? 0
                inPage += 1
            }
            rows += inPage
            if inPage < pageSize { break }
        }
        let seconds = (ContinuousClock.now - start).seconds
        precondition(checksum != 0)
        return (rows, seconds)
    }
}
