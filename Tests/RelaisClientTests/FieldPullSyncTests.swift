import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Synchronization
import Testing

@testable import RelaisClient

/// HTTP to a live hub on loopback, recording each pull request and failing every call once `cutAfter`
/// pulls have been answered (a connection lost for the rest of the sync).
final class CuttingTransport: ForwardingTransport {
    let base: HTTPSyncTransport
    var inner: any SyncTransport { base }
    let cutAfter: Int?
    let pulls = Mutex<[Relais_V1_PullRequest]>([])
    let pages = Mutex<[Relais_V1_PullResponse]>([])

    init(hub: String, cutAfter: Int? = nil) {
        base = HTTPSyncTransport(hub: hub)
        self.cutAfter = cutAfter
    }

    private func check() throws {
        if let cutAfter, pages.withLock({ $0.count }) >= cutAfter {
            throw SyncError(.hubUnreachable, "connection lost")
        }
    }

    func push(_ request: Relais_V1_PushRequest, token: String) async throws -> Relais_V1_PushResponse {
        try check()
        return try await base.push(request, token: token)
    }

    func pull(_ request: Relais_V1_PullRequest, token: String) async throws -> Relais_V1_PullResponse {
        try check()
        pulls.withLock { $0.append(request) }
        let page = try await base.pull(request, token: token)
        pages.withLock { $0.append(page) }
        return page
    }

    func renew(_ request: Relais_V1_ReplicaRenewRequest, token: String) async throws
        -> Relais_V1_ReplicaRenewResponse
    {
        try check()
        return try await base.renew(request, token: token)
    }
}

/// The replica's side of field-level pull (docs/SYNC.md "Pull"): it sends the start of its pull with
/// every page request, keeps that start in its file across a pull cut between pages, and keeps the
/// fields a page does not carry.
struct FieldPullSyncTests {
    @Test func aPullCutBetweenPagesResumesWithItsStartAndKeepsTheFieldsNotSent() async throws {
        try await HubFixture.with { hub in
            let writerCode = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let readerCode = try await hub.addUser("remi", role: .rep, territories: ["north"])
            let folder = try TemporaryFolder(prefix: "field-pull")
            defer { folder.remove() }
            let readerPath = folder.file("remi.db")
            try await hub.live { url in
                let writer = try await Replica.enroll(
                    hub: url, code: writerCode, path: folder.file("claire.db"), deviceName: "claire")
                var reader: Replica? = try await Replica.enroll(
                    hub: url, code: readerCode, path: readerPath, deviceName: "remi")
                for n in 0..<6 {
                    try await writer.add(
                        customer,
                        [
                            "name": .text("Shop \(n)"), "territory": .text("north"), "phone": .text("0\(n)"),
                            "city": .text("Lyon"), "email": .text("shop\(n)@example.com"),
                        ])
                }
                _ = try await writer.sync()
                _ = try await reader!.sync()
                let start = try await reader!.status().cursor
                #expect(start > 0)

                // One SQL UPDATE of two fields on every record.
                let raw = try Connection(path: folder.file("claire.db"))
                raw.busyTimeout = .seconds(5)
                try raw.execute("UPDATE customers SET phone = phone || '9', city = 'Metz'")
                try raw.close()
                _ = try await writer.sync()

                // A pull of one record per page, each page applied at once, cut after two pages.
                var options = SyncOptions()
                options.pageSize = 1
                options.applyBatchRecords = 1
                options.retry.maxAttempts = 1
                options.sleep = { _ in }
                let cut = CuttingTransport(hub: url, cutAfter: 2)
                await #expect(throws: SyncError.self) { try await reader!.sync(transport: cut, options: options) }
                #expect(cut.pulls.withLock { $0.map(\.since) } == [start, start])
                #expect(cut.pulls.withLock { $0.allSatisfy(\.hasSince) })
                #expect(try await reader!.status().cursor > start)

                // Reopened (the start is in the file), the pull goes on from where it stopped, with the
                // same start, and pages carry only the two changed fields.
                reader = nil
                let reopened = try Replica.open(path: readerPath, create: false)
                let rest = CuttingTransport(hub: url)
                _ = try await reopened.sync(transport: rest, options: options)
                #expect(rest.pulls.withLock { $0.map(\.since) }.allSatisfy { $0 == start })
                let fieldSets = Set(rest.pages.withLock { $0.flatMap(\.records).map(\.fieldNames) })
                #expect(fieldSets == [["city", "phone"]])
                #expect(try await reopened.export() == Data(try await hub.service.exportJSON(user: "remi")))
                #expect(try await reopened.list(customer).allSatisfy { $0["email"] != .null && $0["name"] != .null })

                // The next pull starts where this one ended.
                let end = try await reopened.status().cursor
                let next = CuttingTransport(hub: url)
                _ = try await reopened.sync(transport: next, options: options)
                #expect(next.pulls.withLock { $0.map(\.since) } == [end])
            }
        }
    }
}
