import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import RelaisClient
import RelaisHub

/// The hub's own router and server configuration, plus one bench-only route, `POST /bench/echo`, that
/// answers with the bytes it was sent: the baseline of an HTTP round trip on the very same server.
enum BenchServer {
    static func withRunning<T: Sendable>(
        service: HubService, _ body: @escaping @Sendable (String) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "relais.bench.server")
        logger.logLevel = .error
        return try await HubServer.withRunningServer(
            service: service, logger: logger,
            addRoutes: { router in
                router.post("/bench/echo") { request, _ -> Response in
                    let buffer = try await request.body.collect(upTo: 512 << 20)
                    return Response(
                        status: .ok, headers: [.contentType: "application/octet-stream"],
                        body: ResponseBody(byteBuffer: buffer))
                }
            }, body)
    }

    /// One round trip to the echo route with `bytes`, with the sync transport's client
    /// (`HTTPSyncTransport.defaultClient`, whose pooled connection is warm by then) and headers.
    static func echo(_ url: String, _ bytes: [UInt8]) async throws {
        var request = HTTPClientRequest(url: url + "/bench/echo")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.headers.add(name: "Content-Encoding", value: "deflate")
        request.headers.add(name: "Authorization", value: "Bearer benchmark-token-of-a-typical-length-000000000000")
        request.body = .bytes(bytes)
        let response = try await HTTPSyncTransport.defaultClient.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 512 << 20)
        guard response.status.code == 200, body.readableBytes == bytes.count else {
            throw BenchError("echo answered \(response.status.code) with \(body.readableBytes) bytes")
        }
    }
}
