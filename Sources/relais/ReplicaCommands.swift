import ArgumentParser
import Foundation
import RelaisClient
import RelaisCore
import RelaisProtocol

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll this device with a one-time code and create the local replica file.",
        discussion: """
            Examples:
              relais enroll --hub https://hub.example.com:7420 --code K7Q2-9XMD --db ~/customers.relais
              relais enroll --rejoin --code 4TRP-2HVA --db ~/customers.relais

            --rejoin enrolls an existing file again (its token expired, or the hub was restored from a
            backup taken before it enrolled): it keeps every record and sends again its unsent writes,
            and those the hub lost, under the new enrollment.

            When the connection breaks before the hub's answer arrives, the command asks again (three
            tries in all), and the hub gives the same answer again: a used code is not lost to a bad line.
            """)

    @Option(
        help: "The hub's URL, for example https://hub.example.com:7420 (with --rejoin: the file's hub unless given).")
    var hub: String?
    @Option(help: "The one-time enrollment code an administrator gave you.") var code: String
    @Option(help: "The replica file to create (with --rejoin: the file to enroll again).") var db: String
    @Flag(help: "Enroll an existing replica file again, keeping its records and unsent writes.") var rejoin = false
    @Option(help: "A name for this device, shown to administrators.") var deviceName: String?
    @Option(
        help:
            "A PEM file of CA certificates to trust besides the system's (a hub on the firm's own CA); kept for every sync."
    )
    var caFile: String?
    @Flag(help: "Accept a plain-HTTP hub that is not on this machine (a trusted network only); kept for every sync.")
    var insecure = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if !rejoin, hub == nil { throw ValidationError("give --hub URL (only --rejoin takes the file's hub)") }
        if rejoin, caFile != nil || insecure {
            throw ValidationError("--rejoin keeps the file's trust settings; change them with `relais trust`")
        }
    }

    func run() async throws {
        let deviceName = deviceName ?? ProcessInfo.processInfo.hostName
        var restored = 0
        let replica: Replica
        if rejoin {
            replica = try await failing {
                let replica = try Replica.open(path: db, create: false)
                restored = try await replica.rejoin(code: code, hub: hub, deviceName: deviceName)
                return replica
            }
        } else {
            replica = try await failing {
                try await Replica.enroll(
                    hub: hub ?? "", code: code, path: db, deviceName: deviceName,
                    security: HubSecurity(caFile: caFile.map(absolutePath), allowInsecure: insecure))
            }
        }
        let identity = try await failing { try await replica.identity() }
        guard let identity else { throw CommandFailure(message: "enrollment left no identity", code: 1) }
        let pending = try await failing { try await replica.pendingCount() }
        if json {
            var object: [String: Any] = [
                "replica": identity.replica, "user": identity.user, "role": identity.role,
                "territories": identity.territories, "hub": identity.hub, "db": db,
            ]
            if rejoin {
                object["rejoined"] = true
                object["pending"] = pending
                object["restored_writes"] = restored
            }
            try printJSON(object)
        } else {
            print(
                "\(rejoin ? "rejoined" : "enrolled") as replica \(identity.replica) for \(identity.user) "
                    + "(\(identity.role); territories: \(identity.territories.joined(separator: ", "))); replica file \(db)"
                    + (rejoin
                        ? "; \(pending) write(s) to send at the next sync, \(restored) of them lost by the hub" : ""))
        }
    }
}

struct Trust: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change which CA this replica trusts for its hub (after the firm renews its own CA).",
        discussion: """
            Examples:
              relais trust --ca-file /etc/relais/new-ca.pem --db ~/customers.relais
              relais trust --system --db ~/customers.relais      # the system's roots only
            """)

    @OptionGroup var options: ReplicaOptions
    @Option(help: "A PEM file of CA certificates to trust besides the system's; kept for every sync.")
    var caFile: String?
    @Flag(help: "Trust the system's root certificates only.") var system = false

    func validate() throws {
        guard (caFile != nil) != system else {
            throw ValidationError("give either --ca-file FILE or --system")
        }
    }

    func run() async throws {
        let replica = try options.open()
        try await failing {
            var security = try await replica.hubSecurity()
            security.caFile = caFile.map(absolutePath)
            _ = try security.client()
            try await replica.setHubSecurity(security)
        }
        if options.json {
            try printJSON(["ca_file": caFile.map(absolutePath) as Any? ?? NSNull()])
        } else {
            print(
                caFile.map { "trusting \(absolutePath($0)) besides the system's roots" }
                    ?? "trusting the system's roots only")
        }
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Push pending writes, then pull what changed.")

    @OptionGroup var options: ReplicaOptions
    @Option(help: "Writes per push batch.") var batchSize = 500

    func run() async throws {
        let replica = try options.open()
        let lock = try await failing { try SyncLock.acquire(for: options.db) }
        defer { lock.release() }
        var syncOptions = SyncOptions()
        syncOptions.batchSize = batchSize
        let bar = isatty(STDERR_FILENO) == 1 && !options.json ? ProgressBar() : nil
        if let bar { syncOptions.progress = { bar.update($0) } }
        let result: SyncResult
        do {
            result = try await replica.sync(options: syncOptions)
        } catch {
            bar?.finish()
            throw CommandFailure(error)
        }
        bar?.finish()
        if options.json {
            try printJSON([
                "pushed": result.pushed, "pulled": result.pulled, "conflicts": result.conflicts,
                "rejected": result.rejected,
            ])
        } else {
            print(
                "pushed \(result.pushed), pulled \(result.pulled), conflicts \(result.conflicts), rejected \(result.rejected)"
            )
        }
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sync, then check this laptop's copy against the hub's view and repair what differs.",
        discussion: """
            Compares the digest of every record this laptop holds (as the hub confirmed it) with the hub's,
            narrows a difference down to the records, pulls those again and removes those the hub does not
            hold. Pending writes are never touched. Exit code 0 when the copy was equal or is repaired, 1
            when records still differ.
            """)

    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        let lock = try await failing { try SyncLock.acquire(for: options.db) }
        defer { lock.release() }
        var syncOptions = SyncOptions()
        syncOptions.verification = .full
        let result = try await failing { try await replica.sync(options: syncOptions) }
        guard let verification = result.verification else {
            throw CommandFailure(message: "the hub did not take part in a verification", code: 1)
        }
        let differences = verification.differences.map {
            ["collection": $0.collection, "id": $0.id, "difference": $0.kind.rawValue]
        }
        let remaining = Set(verification.remaining.map { "\($0.collection)/\($0.id)" })
        if options.json {
            try printJSON([
                "outcome": verification.outcome.rawValue, "records": verification.records,
                "differing": verification.differences.count, "repaired": verification.repaired,
                "differences": differences, "requests": verification.requests, "bytes": verification.bytes,
                "pushed": result.pushed, "pulled": result.pulled,
            ])
        } else {
            print(
                "\(verification.outcome.rawValue): \(verification.records) records checked, "
                    + "\(verification.differences.count) differed, \(verification.repaired) repaired")
            for difference in verification.differences {
                let state =
                    remaining.contains("\(difference.collection)/\(difference.id)") ? "still differs" : "repaired"
                print("  \(difference.collection)/\(difference.id): \(difference.kind.rawValue), \(state)")
            }
        }
        if verification.outcome == .unrepaired { throw ExitCode(1) }
    }
}

/// A one-line progress bar on stderr: counts, rate and ETA.
final class ProgressBar: Sendable {
    private let start = Date()

    func update(_ progress: SyncProgress) {
        let elapsed = max(0.001, Date().timeIntervalSince(start))
        let line: String
        if progress.phase == "push" || progress.phase == "renew" {
            let total = max(progress.pushTotal, progress.pushed)
            let rate = Double(progress.pushed) / elapsed
            let eta = rate > 0 ? Double(total - progress.pushed) / rate : 0
            line =
                "push  \(bar(Double(progress.pushed), Double(total))) \(progress.pushed)/\(total) writes  \(Int(rate))/s  ETA \(Int(eta.rounded()))s"
        } else {
            // Pages are applied in batches: the rate counts records as they arrive.
            let rate = Double(progress.received) / elapsed
            let remaining = progress.head > progress.cursor ? progress.head - progress.cursor : 0
            let done = Double(progress.cursor)
            let eta = rate > 0 && remaining > 0 ? Double(remaining) / max(1, done / elapsed) : 0
            line =
                "\(progress.phase)  \(bar(done, Double(max(progress.head, progress.cursor)))) \(progress.pages) pages, \(progress.received) records, \(progress.pulled) applied  \(Int(rate))/s  ETA \(Int(eta.rounded()))s"
        }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    private func bar(_ done: Double, _ total: Double) -> String {
        let width = 24
        let filled = total > 0 ? min(width, Int((done / total) * Double(width))) : width
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the replica's pending queue, cursor and last sync.")

    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        let status = try await failing { try await replica.status() }
        let agent = try await failing { try await replica.agentReport() }
        let disk = DiskEncryption.check(path: replica.path)
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let lastSync: Any = status.lastSyncMillis.map { iso($0) } ?? NSNull()
        let age: Any = status.lastSyncMillis.map { Int((now > $0 ? now - $0 : 0) / 1000) } ?? NSNull()
        if options.json {
            try printJSON([
                "replica": status.replica, "epoch": status.epoch, "pending": status.pending,
                "in_flight": status.inFlight,
                "rejected": status.rejected, "conflicts": status.conflicts, "cursor": status.cursor,
                "last_sync": lastSync, "last_sync_age_seconds": age, "hub": status.hub ?? NSNull(),
                "user": status.user ?? NSNull(), "role": status.role ?? NSNull(), "territories": status.territories,
                "schema_version": status.schemaVersion, "bootstrapping": status.bootstrapping,
                "agent": agent.map { ["at": iso($0.atMillis), "ok": $0.succeeded, "line": $0.line] as [String: Any] }
                    as Any? ?? NSNull(),
                "disk_encrypted": disk.encrypted.map { $0 as Any } ?? NSNull(), "disk": disk.detail,
                "token_present": status.hasToken,
                "token_expires_at": status.tokenExpiresMillis.map { iso($0) as Any } ?? NSNull(),
            ])
            return
        }
        print("replica   \(status.replica) (epoch \(status.epoch))\(status.user.map { " of \($0)" } ?? "")")
        print("hub       \(status.hub ?? "not enrolled")")
        print(
            "pending   \(status.pending) write\(status.pending == 1 ? "" : "s")\(status.inFlight > 0 ? " (\(status.inFlight) in flight)" : "")"
        )
        print("rejected  \(status.rejected)")
        print("conflicts \(status.conflicts)")
        print("cursor    \(status.cursor)")
        if let millis = status.lastSyncMillis {
            print("last sync \(iso(millis)) (\(describeAge(now > millis ? (now - millis) / 1000 : 0)) ago)")
        } else {
            print("last sync never")
        }
        if let agent {
            print("agent     \(iso(agent.atMillis)) \(agent.line)")
        }
        if status.hub != nil {
            if !status.hasToken {
                print("token     missing beside the file (a copy?): run `relais enroll --rejoin` with a new code")
            } else if let expires = status.tokenExpiresMillis {
                let left = expires > now ? (expires - now) / 1000 : 0
                print(
                    "token     expires \(iso(expires))\(left > 0 ? " (in \(describeAge(left)))" : ": expired, run `relais enroll --rejoin`")"
                )
            } else {
                print("token     does not expire")
            }
        }
        switch disk.encrypted {
        case true?: print("disk      encrypted: \(disk.detail)")
        case false?: print("disk      \(disk.detail): a lost laptop gives its customers away (docs/SECURITY.md)")
        case nil: print("disk      \(disk.detail)")
        }
    }
}

func iso(_ millis: UInt64) -> String {
    let formatter = ISO8601DateFormatter()
    return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
}

func describeAge(_ seconds: UInt64) -> String {
    switch seconds {
    case ..<120: "\(seconds) s"
    case ..<7200: "\(seconds / 60) min"
    case ..<172_800: "\(seconds / 3600) h"
    default: "\(seconds / 86400) days"
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every record, by collection, sorted by id (the same bytes as relais-hub export).")

    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        guard options.json else { throw CommandFailure(message: "export prints JSON only: add --json", code: 2) }
        let replica = try options.open()
        let data = try await failing { try await replica.export() }
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}

struct Conflicts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the conflict reports the hub raised on this replica's writes.")

    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        let conflicts = try await failing { try await replica.conflicts() }
        if options.json {
            try printJSON(
                conflicts.map {
                    [
                        "id": $0.id, "collection": $0.collection, "record_id": $0.recordID,
                        "replica": $0.dot.replica.rawValue, "counter": $0.dot.counter, "seen_at": $0.seenAt,
                    ] as [String: Any]
                })
            return
        }
        printTable(
            header: ["id", "collection", "record_id", "write", "seen_at"],
            rows: conflicts.map { [$0.id, $0.collection, $0.recordID, "\($0.dot)", $0.seenAt] })
    }
}

struct Rejected: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the writes that were refused, with the reason.")

    @OptionGroup var options: ReplicaOptions

    func run() async throws {
        let replica = try options.open()
        let rejected = try await failing { try await replica.rejected() }
        if options.json {
            try printJSON(
                rejected.map {
                    [
                        "collection": $0.collection, "record_id": $0.recordID, "delete": $0.isDelete,
                        "values": $0.values, "code": $0.code, "reason": $0.reason, "source": $0.source,
                        "rejected_at": $0.rejectedAt,
                    ] as [String: Any]
                })
            return
        }
        printTable(
            header: ["collection", "record_id", "code", "reason"],
            rows: rejected.map { [$0.collection, $0.recordID, $0.code, $0.reason] })
    }
}
