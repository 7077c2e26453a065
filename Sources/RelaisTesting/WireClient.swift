public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import RelaisProtocol
public import SwiftProtobuf

/// A small HTTP client of the hub's wire protocol, over AsyncHTTPClient.
public struct WireClient: Sendable {
    public let http: HTTPClient
    public let url: String
    let codec = MessageCodec()

    /// A client of the hub at `url` on `http` (which the caller shuts down).
    public init(http: HTTPClient, url: String) {
        self.http = http
        self.url = url
    }

    /// An answer other than 200.
    public struct Failure: Error, CustomStringConvertible {
        public var status: Int
        public var body: String
        public var description: String { "HTTP \(status): \(body)" }
    }

    /// POSTs `message` deflated to `path` and decodes the answer.
    public func post<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ path: String, _ message: Request, token: String?, as type: Response.Type
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.headers.add(name: "Content-Encoding", value: "deflate")
        request.headers.add(name: "Accept-Encoding", value: "deflate")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: try codec.encode(message, format: .protobuf, encoding: .deflate)))
        let response = try await http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        let bytes = Array(body.readableBytesView)
        guard response.status.code == 200 else {
            throw Failure(status: Int(response.status.code), body: String(decoding: bytes, as: UTF8.self))
        }
        return try codec.decode(
            type, from: bytes, contentType: response.headers.first(name: "Content-Type"),
            contentEncoding: response.headers.first(name: "Content-Encoding"))
    }

    public func enroll(_ code: String) async throws -> Relais_V1_EnrollResponse {
        try await post("/v1/enroll", Wire.enroll(code), token: nil, as: Relais_V1_EnrollResponse.self)
    }

    public func push(_ token: String, _ request: Relais_V1_PushRequest) async throws -> Relais_V1_PushResponse {
        try await post("/v1/push", request, token: token, as: Relais_V1_PushResponse.self)
    }

    public func pull(_ token: String, _ request: Relais_V1_PullRequest) async throws -> Relais_V1_PullResponse {
        try await post("/v1/pull", request, token: token, as: Relais_V1_PullResponse.self)
    }

    /// Runs `body` with a client of the hub at `url` on its own HTTP client, shut down afterwards.
    public static func with<T>(url: String, connections: Int = 8, _ body: (WireClient) async throws -> T) async throws
        -> T
    {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        configuration.httpVersion = .http1Only
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await body(WireClient(http: http, url: url))
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }
}
