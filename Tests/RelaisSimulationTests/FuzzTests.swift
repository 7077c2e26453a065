import Foundation
import RelaisCore
import RelaisHub
import RelaisProtocol
import RelaisTesting
import Testing

/// The seeded mutational fuzzer over the decoder and the push endpoint, bounded for CI, and the
/// replay of every regression input (docs/RELIABILITY.md, Tests/Fuzz/README.md).
struct FuzzTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let seed = SeededRandom.seed(default: 20_261_128)

    static func corpus() -> [SimFuzzer.Input] {
        SimFuzzer.load(folder: root + "/Protocol/vectors") + SimFuzzer.load(folder: root + "/Tests/Fuzz/corpus")
    }

    @Test func goldenVectorsAndCorpusAreLoaded() {
        let corpus = Self.corpus()
        #expect(corpus.count >= 45)
        #expect(corpus.contains { $0.name == "push-request.bin" })
    }

    @Test func mutatedInputsNeverBreakTheDecoder() {
        var fuzzer = SimFuzzer(seed: Self.seed, corpus: Self.corpus())
        var report = SimFuzzer.Report()
        for _ in 0..<1500 {
            fuzzer.decodeEverywhere(fuzzer.mutate(), into: &report)
        }
        #expect(report.failures.isEmpty, "seed \(Self.seed): \(report.failures.prefix(10).joined(separator: "; "))")
        #expect(report.executions == 1500)
        // The mutations must not be so destructive that nothing ever decodes.
        #expect(report.accepted > 50)
    }

    @Test func regressionInputsReplay() async throws {
        let inputs = SimFuzzer.load(folder: Self.root + "/Tests/Fuzz/regressions")
        #expect(!inputs.isEmpty)
        let fuzzer = SimFuzzer(seed: Self.seed, corpus: Self.corpus())
        var report = SimFuzzer.Report()
        for input in inputs { fuzzer.decodeEverywhere(input, into: &report) }
        try await HubFixture.with { hub in
            let principal = try await Self.enrolledPrincipal(hub)
            for input in inputs { await fuzzer.push(input, to: hub.service, as: principal, into: &report) }
        }
        #expect(report.failures.isEmpty, "\(report.failures.joined(separator: "; "))")
    }

    @Test func mutatedPushesGetAnAnswerOrATypedRefusal() async throws {
        var fuzzer = SimFuzzer(seed: Self.seed, corpus: Self.corpus().filter { $0.name.hasPrefix("push-request") })
        var report = SimFuzzer.Report()
        try await HubFixture.with { hub in
            let principal = try await Self.enrolledPrincipal(hub)
            for _ in 0..<400 {
                let input = fuzzer.mutate()
                await fuzzer.push(input, to: hub.service, as: principal, into: &report)
            }
            // The hub still works afterwards.
            var pull = Relais_V1_PullRequest()
            pull.pageSize = 100
            pull.schemaVersion = UInt32(Schema.crm.version)
            pull.counter = .max  // past any counter a mutated push claimed
            _ = try await hub.service.pull(pull, from: principal)
        }
        #expect(report.failures.isEmpty, "seed \(Self.seed): \(report.failures.prefix(10).joined(separator: "; "))")
        #expect(report.pushesAnswered > 10)
    }

    static func enrolledPrincipal(_ hub: HubFixture) async throws -> Principal {
        let code = try await hub.addUser("fuzz", role: .manager, territories: ["north", "south"])
        var enroll = Relais_V1_EnrollRequest()
        enroll.code = code
        enroll.deviceName = "fuzz"
        enroll.schemaVersion = UInt32(Schema.crm.version)
        let response = try await hub.service.enroll(enroll)
        return try await hub.service.authenticate(token: response.token)
    }
}
