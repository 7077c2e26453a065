import ArgumentParser
import Dispatch
import Foundation
import RelaisClient
import Synchronization

/// `relais agent --db FILE`: keeps a laptop in sync while it runs (Deploy/laptop/).
///
/// - Soon after a local edit: the replica file (or its write-ahead log) changed since the last sync,
///   and has not changed again for `--debounce` seconds.
/// - Every `--interval` seconds otherwise, to pull what others changed.
/// - While the hub is unreachable, again after 5 s, then twice as long each time up to
///   `--max-backoff` (writes stay pending); at once after an edit made meanwhile is not a reason
///   to hammer a hub that is down.
/// - One sync at a time per file (``SyncLock``): a `relais sync` run meanwhile refuses and says why;
///   the agent itself skips its turn while a `relais sync` runs.
/// - Each sync is one line on standard output and is kept in the file for `relais status`.
/// - SIGTERM or SIGINT: a sync under way finishes, then the agent exits 0. A revoked device or a
///   refused token ends it with exit code 5 (nothing more can succeed).
struct Agent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep this replica in sync while it runs: after each edit, and every few minutes.",
        discussion: """
            Examples:
              relais agent --db ~/customers.relais
              systemctl --user enable --now relais-agent      # Deploy/laptop/relais-agent.service
            """)

    @OptionGroup var options: ReplicaOptions
    @Option(help: "Seconds between syncs when nothing changes locally.") var interval: Double = 300
    @Option(help: "Seconds without a further edit before an edit is synced.") var debounce: Double = 2
    @Option(help: "Longest wait, in seconds, between tries while the hub is unreachable.") var maxBackoff: Double = 900

    func validate() throws {
        guard interval > 0, debounce >= 0, maxBackoff >= 1 else {
            throw ValidationError("--interval must be positive, --debounce 0 or more, --max-backoff at least 1")
        }
    }

    func run() async throws {
        let replica = try options.open()
        guard try await failing({ try await replica.identity() }) != nil else {
            throw CommandFailure(message: "this replica is not enrolled: run `relais enroll`", code: 1)
        }
        let stop = StopSignals()
        var schedule = AgentSchedule(interval: interval, debounce: debounce, maxBackoff: maxBackoff)
        var seen = FileVersion(of: options.db)
        schedule.start(at: .now)
        log(
            "agent started on \(options.db): syncing after edits (\(format(debounce)) s quiet) and every \(format(interval)) s"
        )
        while !stop.requested {
            let now = ContinuousClock.now
            let version = FileVersion(of: options.db)
            if version != seen {
                seen = version
                schedule.edited(at: now)
            }
            guard schedule.isDue(at: now) else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            let outcome = await syncOnce(replica)
            // The sync's own commits change the file; an edit made while it ran is told by what is
            // still pending once it is over.
            seen = FileVersion(of: options.db)
            switch outcome {
            case .synced:
                schedule.succeeded(at: .now)
                if (try? await replica.pendingCount()) ?? 0 > 0 { schedule.edited(at: .now) }
            case .busy:
                schedule.skipped(at: .now)
            case .failed(let error):
                if let error = error as? SyncError,
                    [.deviceRevoked, .authenticationRefused, .tokenExpired, .deviceWiped].contains(error.code)
                {
                    log("stopping: nothing more can succeed")
                    throw CommandFailure(error)
                }
                let wait = schedule.failed(at: .now, retryAfter: (error as? SyncError)?.retryAfter)
                log("next try in \(format(wait.seconds)) s")
            }
        }
        log("agent stopped")
    }

    private enum Outcome {
        case synced
        case busy
        case failed(any Error)
    }

    /// One sync under the file's lock, logged in one line and kept in the file.
    private func syncOnce(_ replica: Replica) async -> Outcome {
        let lock: SyncLock
        do {
            lock = try SyncLock.acquire(for: options.db)
        } catch {
            log("skipped: \(error)")
            return .busy
        }
        defer { lock.release() }
        let started = ContinuousClock.now
        let line: String
        let outcome: Outcome
        do {
            let result = try await replica.sync()
            let took = ContinuousClock.now - started
            line =
                "synced: pushed \(result.pushed), pulled \(result.pulled), conflicts \(result.conflicts), "
                + "rejected \(result.rejected) in \(took.milliseconds) ms"
            outcome = .synced
        } catch {
            line = "sync failed: \(error)"
            outcome = .failed(error)
        }
        log(line)
        let succeeded = if case .synced = outcome { true } else { false }
        try? await replica.setAgentReport(
            AgentReport(atMillis: UInt64(Date().timeIntervalSince1970 * 1000), succeeded: succeeded, line: line))
        return outcome
    }

    private func log(_ line: String) {
        let stamp = Date().formatted(.iso8601)
        FileHandle.standardOutput.write(Data("\(stamp) \(line)\n".utf8))
    }

    private func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}

/// The replica file's and its write-ahead log's size and modification time: any commit changes one.
struct FileVersion: Equatable {
    var files: [[Int]]

    init(of path: String) {
        files = [path, path + "-wal"].map { file in
            var info = stat()
            guard stat(file, &info) == 0 else { return [] }
            return [Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
        }
    }
}

/// SIGTERM and SIGINT ask the agent to stop after the sync under way.
final class StopSignals {
    private final class Flag: Sendable {
        let raised = Atomic<Bool>(false)
    }

    private let flag = Flag()
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [flag] in flag.raised.store(true, ordering: .relaxed) }
            source.resume()
            sources.append(source)
        }
    }

    var requested: Bool { flag.raised.load(ordering: .relaxed) }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
