import Foundation
import RelaisCore
public import RelaisHub
import RelaisProtocol

/// A seeded mutational fuzzer for the wire decoder and the push endpoint (docs/RELIABILITY.md).
///
/// Inputs start from the golden vectors in `Protocol/vectors`, the corpus in `Tests/Fuzz/corpus` and
/// valid pushes; each iteration applies one to four mutations (bit flips, truncation, splicing,
/// varint length edits, inserted bytes, duplicated JSON keys) and feeds the result to every decoder
/// in every format and encoding. The property: the decoder returns a message or throws a
/// ``ProtocolError`` (never crashes, never hangs), a message it accepts re-encodes and decodes to
/// itself, and a push it accepts is answered by the hub without an internal error.
public struct SimFuzzer {
    /// A named input.
    public struct Input: Sendable {
        /// Where it came from (a file name).
        public var name: String
        /// The bytes.
        public var bytes: [UInt8]
        /// Creates an input.
        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    /// What a fuzzing run did.
    public struct Report: Sendable {
        /// Inputs tried.
        public var executions = 0
        /// Inputs some decoder accepted.
        public var accepted = 0
        /// Pushes the hub answered.
        public var pushesAnswered = 0
        /// Property violations (a crash stops the process instead; its input is the last one logged).
        public var failures: [String] = []
        /// Mutated inputs that some decoder accepted: candidates for the corpus.
        public var interesting: [Input] = []
        /// The next fresh dot counter ``SimFuzzer/push(_:to:as:into:)`` stamps.
        public var nextCounter: UInt64 = 1_000
        /// An empty report.
        public init() {}
    }

    private var random: SeededRandom
    /// The seed inputs.
    public private(set) var corpus: [Input]
    private let codec = MessageCodec()

    /// A fuzzer over `corpus`, seeded with `seed`.
    public init(seed: UInt64, corpus: [Input]) {
        random = SeededRandom(seed: seed)
        self.corpus = corpus
    }

    /// Every file of `folder` as inputs (names starting with `.` and `README` skipped).
    public static func load(folder: String) -> [Input] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        return names.compactMap { name in
            guard !name.hasPrefix("."), !name.hasPrefix("README") else { return nil }
            guard let data = FileManager.default.contents(atPath: folder + "/" + name) else { return nil }
            return Input(name: name, bytes: Array(data))
        }
    }

    // MARK: - Mutations

    /// One mutated input.
    public mutating func mutate() -> Input {
        let base = random.pick(corpus)
        var bytes = base.bytes
        var steps: [String] = []
        for _ in 0..<random.int(1...4) {
            let (next, step) = mutate(bytes)
            bytes = next
            steps.append(step)
        }
        return Input(name: base.name + "+" + steps.joined(separator: "+"), bytes: bytes)
    }

    private mutating func mutate(_ input: [UInt8]) -> ([UInt8], String) {
        var bytes = input
        if bytes.isEmpty { return ([UInt8.random(in: 0...255, using: &random)], "seed") }
        let position = random.int(0...(bytes.count - 1))
        switch random.int(0...8) {
        case 0:
            bytes[position] ^= UInt8(1) << UInt8(random.int(0...7))
            return (bytes, "flip")
        case 1:
            return (Array(bytes.prefix(position)), "truncate")
        case 2:
            let other = random.pick(corpus).bytes
            guard !other.isEmpty else { return (bytes, "none") }
            let cut = random.int(0...(other.count - 1))
            return (Array(bytes.prefix(position)) + other.suffix(from: cut), "splice")
        case 3:
            // A length or varint edit: the interesting values are the boundaries.
            bytes[position] = random.pick([
                0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, UInt8(bytes[position] &+ 1), UInt8(bytes[position] &- 1),
            ])
            return (bytes, "length")
        case 4:
            let huge: [UInt8] = random.pick([
                [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
                [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            ])
            bytes.insert(contentsOf: huge, at: position)
            return (bytes, "varint")
        case 5:
            let count = random.int(1...16)
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }, at: position)
            return (bytes, "insert")
        case 6:
            let end = min(bytes.count, position + random.int(1...64))
            let chunk = Array(bytes[position..<end])
            bytes.insert(contentsOf: chunk, at: end)
            return (bytes, "repeat")
        case 7:
            // JSON: duplicate a key with its value (`"a": 1` → `"a": 1, "a": 1`).
            let text = String(decoding: bytes, as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let candidates = lines.indices.filter { lines[$0].contains("\":") }
            guard !candidates.isEmpty else { return (bytes, "none") }
            let line = random.pick(candidates)
            var copy = lines[line]
            if !copy.hasSuffix(",") { copy += "," }
            var edited = lines
            edited.insert(copy, at: line)
            return (Array(edited.joined(separator: "\n").utf8), "dupkey")
        default:
            bytes.remove(at: position)
            return (bytes, "delete")
        }
    }

    // MARK: - Targets

    /// Feeds `input` to every decoder in every format and encoding; returns whether any accepted it,
    /// and records property violations in `report`.
    @discardableResult
    public func decodeEverywhere(_ input: Input, into report: inout Report) -> Bool {
        var accepted = false
        for encoding in ContentEncoding.allCases {
            for format in WireFormat.allCases {
                accepted = check(Relais_V1_PushRequest.self, input, format, encoding, &report) || accepted
                accepted = check(Relais_V1_PushResponse.self, input, format, encoding, &report) || accepted
                accepted = check(Relais_V1_PullRequest.self, input, format, encoding, &report) || accepted
                accepted = check(Relais_V1_PullResponse.self, input, format, encoding, &report) || accepted
                accepted = check(Relais_V1_EnrollRequest.self, input, format, encoding, &report) || accepted
                accepted = check(Relais_V1_EnrollResponse.self, input, format, encoding, &report) || accepted
                accepted = check(Relais_V1_ReplicaRenewRequest.self, input, format, encoding, &report) || accepted
                accepted = check(Relais_V1_Error.self, input, format, encoding, &report) || accepted
            }
        }
        report.executions += 1
        if accepted { report.accepted += 1 }
        return accepted
    }

    private func check<M: WireMessage>(
        _ type: M.Type, _ input: Input, _ format: WireFormat, _ encoding: ContentEncoding, _ report: inout Report
    ) -> Bool {
        let message: M
        do {
            message = try codec.decode(type, from: input.bytes, format: format, encoding: encoding)
        } catch {
            return false
        }
        // What the decoder accepts must survive its own encoder.
        do {
            let again = try codec.encode(message, format: .protobuf, encoding: .identity)
            let decoded = try codec.decode(type, from: again, format: .protobuf, encoding: .identity)
            if decoded != message {
                report.failures.append("\(M.self) from \(input.name) (\(format)/\(encoding)) does not round-trip")
            }
        } catch {
            report.failures.append(
                "\(M.self) from \(input.name) (\(format)/\(encoding)) decodes but does not re-encode: \(error)")
        }
        return true
    }

    /// Sends every accepted push request decoded from `input` to `service` as `principal`: the hub
    /// must answer or refuse with a typed error, never fail internally.
    public func push(_ input: Input, to service: HubService, as principal: Principal, into report: inout Report) async {
        for format in WireFormat.allCases {
            guard
                var request = try? codec.decode(
                    Relais_V1_PushRequest.self, from: input.bytes, format: format, encoding: .identity)
            else { continue }
            // Addressed to this device, so that the mutation reaches validation and the merge, not only
            // the "wrong replica" check.
            if let replica = principal.replica { request.replica = replica.rawValue }
            request.epoch = 0
            request.schemaVersion = UInt32(Schema.crm.version)
            // Fresh dots: a mutant reusing a dot with other content is (rightly) a fork, after which
            // the hub refuses this device and the fuzzer would stop reaching the merge.
            for index in request.writes.indices {
                request.writes[index].dot.replica = request.replica
                request.writes[index].dot.counter = report.nextCounter
                report.nextCounter += 1
            }
            do {
                let response = try await service.push(request, from: principal)
                report.pushesAnswered += 1
                if response.results.count != request.writes.count {
                    report.failures.append(
                        "push from \(input.name): \(request.writes.count) writes, \(response.results.count) results")
                }
            } catch let error as HubError {
                if error.httpStatus >= 500 {
                    report.failures.append("push from \(input.name) failed internally: \(error)")
                }
            } catch let failure as HubStoreError {
                report.failures.append("push from \(input.name) failed in the store: \(failure)")
            } catch is ProtocolError {
                // A typed refusal (400): what a malformed push must get.
            } catch {
                report.failures.append("push from \(input.name) threw an untyped error: \(error)")
            }
        }
    }
}
