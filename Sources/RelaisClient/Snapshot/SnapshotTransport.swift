import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RelaisProtocol

/// What a laptop asks of `GET /v1/snapshot`.
public struct SnapshotRequest: Sendable, Hashable {
    /// The schema version the laptop runs: a snapshot of another is never served.
    public var schemaVersion: UInt32
    /// The hub epoch the laptop holds (empty: none); a restored hub answers `409 hub_restored`.
    public var hubEpoch: String
    /// The lowest counter among the laptop's pending writes (nil: none pending). The hub refuses the
    /// snapshot (`snapshot_unavailable`) when it already holds a write of this replica at or above
    /// it: a copy of the file pushed them, and the snapshot would hold what the laptop then replays.
    public var unsentFrom: UInt64?

    /// A request for a snapshot of `schemaVersion`.
    public init(schemaVersion: UInt32, hubEpoch: String, unsentFrom: UInt64? = nil) {
        self.schemaVersion = schemaVersion
        self.hubEpoch = hubEpoch
        self.unsentFrom = unsentFrom
    }
}

/// A snapshot downloaded whole and checked against its digest.
public struct SnapshotDownload: Sendable, Hashable {
    /// The compressed file.
    public var path: String
    /// Its digest: SHA-256 of the compressed bytes, in hex (the hub's `ETag`, unquoted).
    public var digest: String
    /// The cursor it stands at.
    public var cursor: UInt64
    /// The replica file's size once inflated.
    public var inflatedBytes: Int64
    /// The bytes this download received (fewer than the file's when it continued a cut one).
    public var receivedBytes: Int64
}

extension SyncTransport {
    /// No snapshot: the laptop bootstraps by pages.
    public func snapshot(_ request: SnapshotRequest, token: String, folder: String) async throws -> SnapshotDownload? {
        nil
    }
}

extension HTTPSyncTransport {
    /// `GET /v1/snapshot`: downloads the snapshot of the device's view into `folder`.
    ///
    /// The bytes arrive in `DIGEST.part`, named after the snapshot's digest, so that a download cut at
    /// any byte (even by a killed process) continues where it stopped: `Range` from the part's size,
    /// `If-Range` with its digest; a hub that has built a newer snapshot since sends it whole, and
    /// the old part is removed. A complete download is checked against its digest and renamed
    /// `DIGEST.snapshot`.
    ///
    /// - Returns: nil when the hub has no snapshot to offer (`404 snapshot_unavailable`).
    /// - Throws: ``SyncError``: `hubUnreachable` for a cut (the bytes received stay), `protocolFailure`
    ///   for a file that does not match its digest (removed).
    public func snapshot(_ request: SnapshotRequest, token: String, folder: String) async throws -> SnapshotDownload? {
        try security.check(hub: hub)
        let files = SnapshotFolder(path: folder)
        try files.prepare()
        let held = files.part()
        var query = "schema_version=\(request.schemaVersion)"
        if let epoch = request.hubEpoch.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            query += "&hub_epoch=\(epoch)"
        }
        if let unsentFrom = request.unsentFrom { query += "&unsent_from=\(unsentFrom)" }
        var http = HTTPClientRequest(url: hub + "/v1/snapshot?" + query)
        http.method = .GET
        http.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let held, held.bytes > 0 {
            http.headers.add(name: "Range", value: "bytes=\(held.bytes)-")
            http.headers.add(name: "If-Range", value: "\"\(held.digest)\"")
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(http, timeout: .seconds(Int64(timeout.components.seconds)))
        } catch {
            throw SyncError(.hubUnreachable, "cannot reach the hub at \(hub): \(Self.describe(error))")
        }
        let status = Int(response.status.code)
        guard status == 200 || status == 206 else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Array($0.readableBytesView) } ?? []
            let error = SyncError.fromHTTP(
                status: status, body: body, contentType: response.headers.first(name: "Content-Type"),
                contentEncoding: response.headers.first(name: "Content-Encoding"),
                retryAfter: response.headers.first(name: "Retry-After"), codec: codec)
            if error.hubCode == "snapshot_unavailable" { return nil }
            // The bytes held are not a prefix of the hub's snapshot: start again next time.
            if status == 416 { files.removeAll() }
            throw error
        }
        guard let tag = response.headers.first(name: "ETag"),
            let digest = SnapshotFolder.digest(fromTag: tag),
            let cursor = response.headers.first(name: "Relais-Snapshot-Cursor").flatMap(UInt64.init),
            let inflated = response.headers.first(name: "Relais-Snapshot-Bytes").flatMap(Int64.init)
        else {
            throw SyncError(.protocolFailure, "the hub's snapshot answer lacks its ETag, cursor or size")
        }
        var offset: Int64 = 0
        if status == 206 {
            // "bytes START-END/TOTAL": it must continue exactly where the part ends.
            let range = response.headers.first(name: "Content-Range") ?? ""
            let start = range.split(separator: " ").last?.split(separator: "-").first.flatMap { Int64($0) }
            guard let held, held.digest == digest, start == held.bytes else {
                throw SyncError(
                    .protocolFailure, "the hub's snapshot range (\(range)) does not continue the bytes held")
            }
            offset = held.bytes
        } else {
            files.removeAll()
        }
        let part = files.partPath(digest)
        let file = try files.openForAppend(part, at: offset)
        var received: Int64 = 0
        do {
            defer { try? file.close() }
            for try await chunk in response.body {
                try file.write(contentsOf: Data(chunk.readableBytesView))
                received += Int64(chunk.readableBytes)
            }
            try file.synchronize()
        } catch {
            throw SyncError(
                .hubUnreachable,
                "the snapshot download was cut after \(offset + received) bytes: \(Self.describe(error))")
        }
        let complete = try files.complete(part, digest: digest)
        return SnapshotDownload(
            path: complete, digest: digest, cursor: cursor, inflatedBytes: inflated, receivedBytes: received)
    }
}
