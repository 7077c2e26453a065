import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisSQLite
import RelaisTesting
import Testing

/// Mutated requests sent over real HTTP to the hub's own router (the decoder fuzzer in
/// `RelaisSimulationTests.FuzzTests` calls `HubService` directly and skips the HTTP layer): bodies
/// mutated from valid messages, wrong or bogus content types and encodings, every endpoint and method,
/// a good, a bad or no token. Each answer must be a success or a typed error body, never an internal
/// error; afterwards the hub still syncs and its store is sound.
struct LiveFuzzTests {
    static let seed = SeededRandom.seed(default: 20_261_129)

    @Test func mutatedRequestsGetATypedAnswerAndTheHubKeepsWorking() async throws {
        try await HubFixture.with(store: .sqlite) { hub in
            let code = try await hub.addUser("claire", role: .rep, territories: ["north"])
            let spare = try await hub.addUser("bob", role: .rep, territories: ["north"])
            let claire = try await hub.service.enroll(Wire.enroll(code))
            // A device no request names, for the check afterwards (claire's may be revoked on the way).
            let dana = try await hub.service.enroll(
                Wire.enroll(try await hub.addUser("dana", role: .rep, territories: ["north"])))
            let adminToken = hub.adminToken
            let codec = MessageCodec()
            // Valid bodies of every sync message, in every format: the mutations start from them.
            var corpus: [SimFuzzer.Input] = []
            let push = Wire.push(claire.replica, [Wire.customer(id: Wire.uuid(), replica: claire.replica, counter: 1)])
            for format in WireFormat.allCases {
                corpus.append(
                    .init(name: "push.\(format)", bytes: try codec.encode(push, format: format, encoding: .identity)))
                corpus.append(
                    .init(
                        name: "pull.\(format)",
                        bytes: try codec.encode(Wire.pull(cursor: 0), format: format, encoding: .identity)))
                corpus.append(
                    .init(
                        name: "enroll.\(format)",
                        bytes: try codec.encode(Wire.enroll(spare), format: format, encoding: .identity)))
            }
            corpus.append(.init(name: "resolve", bytes: Array(#"{"strategy":"keep","value":{"text":"x"}}"#.utf8)))
            let inputs: [SimFuzzer.Input] = {
                var fuzzer = SimFuzzer(seed: Self.seed, corpus: corpus)
                return (0..<300).map { _ in fuzzer.mutate() }
            }()
            var random = SeededRandom(seed: Self.seed)
            let paths = [
                "/v1/push", "/v1/pull", "/v1/enroll", "/v1/replica/renew", "/v1/health", "/v1/admin/conflicts",
                "/v1/admin/conflicts/1/resolve", "/v1/admin/devices/\(claire.replica)/revoke", "/v1/admin/events",
                "/v1/push/../pull", "/v1/nope", "/metrics",
            ]
            let contentTypes = [
                "application/x-protobuf", "application/json", "text/plain", "application/x-protobuf; charset=utf-8", "",
            ]
            let encodings = ["deflate", "gzip", "identity", "", "br", "deflate, gzip"]
            let tokens = [claire.token, adminToken, "rlt_not-a-token", ""]
            struct Sent: Sendable {
                var method: HTTPMethod
                var path: String
                var contentType: String
                var encoding: String
                var token: String
                var body: [UInt8]
                var name: String
            }
            var requests: [Sent] = []
            for input in inputs {
                let encoding = encodings[Int(random.next() % UInt64(encodings.count))]
                var body = input.bytes
                // Compress as announced most of the time, so the mutation reaches the decoder.
                if random.next() % 4 != 0, let wire = ContentEncoding(rawValue: encoding), wire != .identity {
                    body = try wire.compress(body)
                }
                requests.append(
                    Sent(
                        method: random.next() % 6 == 0 ? .GET : .POST,
                        path: paths[Int(random.next() % UInt64(paths.count))],
                        contentType: contentTypes[Int(random.next() % UInt64(contentTypes.count))],
                        encoding: encoding, token: tokens[Int(random.next() % UInt64(tokens.count))], body: body,
                        name: input.name))
            }
            let sending = requests
            let failures = try await hub.live { url in
                try await WireClient.with(url: url) { client in
                    var failures: [String] = []
                    for sent in sending {
                        var request = HTTPClientRequest(url: url + sent.path)
                        request.method = sent.method
                        if !sent.contentType.isEmpty {
                            request.headers.add(name: "Content-Type", value: sent.contentType)
                        }
                        if !sent.encoding.isEmpty {
                            request.headers.add(name: "Content-Encoding", value: sent.encoding)
                        }
                        if !sent.token.isEmpty {
                            request.headers.add(name: "Authorization", value: "Bearer \(sent.token)")
                        }
                        if sent.method == .POST { request.body = .bytes(ByteBuffer(bytes: sent.body)) }
                        let response = try await client.http.execute(request, timeout: .seconds(30))
                        let bytes = Array(try await response.body.collect(upTo: 16 << 20).readableBytesView)
                        let status = Int(response.status.code)
                        let what =
                            "\(sent.method) \(sent.path) [\(sent.contentType); \(sent.encoding)] \(sent.name): \(status)"
                        if status == 500 {
                            failures.append(
                                "\(what) internal error: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
                        } else if status >= 400, sent.path != "/metrics" {
                            let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
                            if (object?["code"] as? String)?.isEmpty ?? true {
                                failures.append(
                                    "\(what) without a typed error body: \(String(decoding: bytes.prefix(200), as: UTF8.self))"
                                )
                            }
                        }
                    }
                    // The hub still answers a real device: a write and a pull.
                    let id = Wire.uuid()
                    let pushed = try await client.push(
                        dana.token, Wire.push(dana.replica, [Wire.customer(id: id, replica: dana.replica, counter: 1)]))
                    #expect(pushed.results.map(\.status) == [.applied])
                    let page = try await client.pull(dana.token, Wire.pull(cursor: 0, counter: 1))
                    #expect(page.records.contains { $0.recordID == id })
                    let health = try await client.http.execute(
                        HTTPClientRequest(url: url + "/v1/health"), timeout: .seconds(10))
                    #expect(health.status == .ok)
                    return failures
                }
            }
            #expect(failures.isEmpty, "seed \(Self.seed): \(failures.prefix(8).joined(separator: "\n"))")
            let store = try Connection(
                path: hub.dataFolder + "/" + SQLiteHubStore.fileName, mode: .readOnly, create: false)
            defer { try? store.close() }
            #expect(try store.integrityCheck() == "ok")
        }
    }
}
