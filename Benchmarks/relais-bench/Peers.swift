import CSessionPeer
import Foundation
import RelaisClient
import RelaisCore
import RelaisHub
import RelaisSQLite
import RelaisTesting

/// The peers' workload (issue 15, ../shared/peers/README.md), Relais next to the SQLite session
/// extension in the same run on the same rows: load N customers on A; bootstrap B; one SQL UPDATE of
/// status, lifetime_value and city on every record of A, then A and B sync; 1,000 records edited on
/// A ([0, 1000)) and B ([500, 1500)), then A, B, A, B sync. Relais runs end to end over loopback HTTP
/// (A is the office's laptop, a manager: lifetime_value is the office's; B a rep's of the same
/// territory); the session extension runs in process on two WAL files (CSessionPeer).
extension BenchRunner {
    func peers() async throws -> [BenchResult] {
        let count = options.smoke ? 1_600 : options.peersRecords
        let runs = options.runs
        log("peers: \(count) customers; Relais over loopback HTTP next to the SQLite session extension")
        let rows = PeerRows.make(count)
        var relais = PeerFigures()
        var peer = PeerFigures()
        for run in 0..<runs {
            let (figures, peerFigures) = try await withBenchHub { hub, _ in
                let territory = "peers"
                _ = try await hub.service.addUser("office", role: .manager, territories: [territory])
                _ = try await hub.service.addUser("rep", role: .rep, territories: [territory])
                let a = try await Replica.enroll(
                    hub: hub.url, code: try await hub.code(for: "office"), path: hub.folder + "/a.relais",
                    deviceName: "a", logger: quietLogger)
                let b = try await Replica.enroll(
                    hub: hub.url, code: try await hub.code(for: "rep"), path: hub.folder + "/b.relais",
                    deviceName: "b", logger: quietLogger)
                let figures = try await PeerSteps.relais(
                    rows: rows, a: a, b: b, warm: { try await hub.code(for: "rep") }, hub: hub.url,
                    folder: hub.folder, run: run)
                // The hub's log copied into its file before the peer runs, untimed: a copy still under
                // way would slow the peer's steps.
                await hub.copyLogIntoFile()
                return (figures, try PeerSteps.sessionExtension(rows: rows, folder: hub.folder))
            }
            relais.add(figures)
            peer.add(peerFigures)
            log(
                String(
                    format:
                        "peers run %d: bootstrap %.0f vs %.0f rows/s; delta apply %.0f vs %.0f rows/s; push %.1f B, pull %.1f B vs changeset %.1f B per field; concurrent %.1f vs %.1f ms",
                    run + 1, figures.bootstrapRate, peerFigures.bootstrapRate, figures.deltaRate,
                    peerFigures.deltaRate, figures.pushPerField, figures.pullPerField, peerFigures.pullPerField,
                    figures.concurrentSeconds * 1000, peerFigures.concurrentSeconds * 1000))
            log("peers run \(run + 1): the concurrent step's syncs (A, B, A, B), ms: \(figures.concurrentLegs)")
        }
        func result(
            _ name: String, _ metric: String, unit: String, _ mine: [Double], _ theirs: [Double], ratio: String,
            target: String, met: (Double) -> Bool, notes: [String] = [], inverse: Bool = false
        ) -> BenchResult {
            let ratios = Summary(samples: zip(mine, theirs).map { inverse ? $1 / $0 : $0 / $1 })
            return BenchResult(
                name: name, metric: metric, unit: unit, measured: Summary(samples: mine),
                baselineName: "SQLite session extension", baseline: Summary(samples: theirs), ratioName: ratio,
                ratios: ratios, target: target, met: met(ratios.median), notes: notes)
        }
        return [
            result(
                "peers-bootstrap", "\(count) customers: bootstrap B (Relais: enroll + snapshot over HTTP)",
                unit: "rows/s", relais.bootstrapRate, peer.bootstrapRate, ratio: "relais/peer",
                target: "≥ 1× the session extension's apply rate", met: { $0 >= 1 },
                notes: [
                    String(
                        format:
                            "load on A: Relais import + first push %.0f rows/s, session extension insert %.0f rows/s",
                        Summary(samples: relais.loadRate).median, Summary(samples: peer.loadRate).median)
                ]),
            result(
                "peers-push", "bytes per changed field, push leg (A → hub; the peer: deflated changeset)", unit: "B",
                relais.pushPerField, peer.pullPerField, ratio: "relais/peer", target: "≤ 1× (stretch 5.4 B)",
                met: { $0 <= 1 }),
            result(
                "peers-pull", "bytes per changed field, pull leg (hub → B; the peer: the same changeset)", unit: "B",
                relais.pullPerField, peer.pullPerField, ratio: "relais/peer", target: "≤ 1× (stretch 5.4 B)",
                met: { $0 <= 1 }),
            result(
                "peers-delta", "applying the update on B, end to end (Relais: B's sync)", unit: "rows/s",
                relais.deltaRate, peer.deltaRate, ratio: "relais/peer", target: "≥ 0.5×", met: { $0 >= 0.5 }),
            result(
                "peers-concurrent", "1,000 records edited on A and B (500 on both), exchanged: A, B, A, B", unit: "s",
                relais.concurrent, peer.concurrent, ratio: "relais/peer", target: "≤ 100 ms (Relais)",
                met: { _ in Summary(samples: relais.concurrent).median <= 0.1 },
                notes: ["both sides end equal, for Relais and for the session extension (checked every run)"]),
        ]
    }
}

/// One run's figures, for Relais or the peer.
struct PeerFigures {
    var loadRate: [Double] = []
    var bootstrapRate: [Double] = []
    var pushPerField: [Double] = []
    var pullPerField: [Double] = []
    var deltaRate: [Double] = []
    var concurrent: [Double] = []

    mutating func add(_ run: PeerRun) {
        loadRate.append(run.loadRate)
        bootstrapRate.append(run.bootstrapRate)
        pushPerField.append(run.pushPerField)
        pullPerField.append(run.pullPerField)
        deltaRate.append(run.deltaRate)
        concurrent.append(run.concurrentSeconds)
    }
}

struct PeerRun {
    var loadRate = 0.0
    var bootstrapRate = 0.0
    var pushPerField = 0.0
    var pullPerField = 0.0
    var deltaRate = 0.0
    var concurrentSeconds = 0.0
    /// Each sync of the concurrent step: its time, and the time its push and pull requests took.
    var concurrentLegs = ""
}

/// Customer rows of the peers' shape (gen_customers.py's fields that the CRM schema has), varied so
/// that compression is not flattered by repetition; deterministic.
struct PeerRows {
    var ids: [String]
    var values: [[String]]

    /// Column order of `CSessionPeer`'s table (id first, updated_at last).
    static let columns = [
        "id", "name", "email", "phone", "city", "segment", "relationship_level", "lifetime_value", "status", "owner",
        "notes", "territory", "updated_at",
    ]

    static func make(_ count: Int) -> PeerRows {
        var random = SeededRandom(seed: 1)
        let first =
            "James Mary Élodie Théo Søren Freja Mateo Lucía Giulia Piotr Ayşe Hiroshi Wei Arjun Kwame Noah Olivia Maja Pieter Zoé"
            .split(separator: " ")
        let last =
            "Smith Müller Dubois Lefèvre Rossi Nowak Wiśniewski Yılmaz Sato Wang Patel Okafor Nielsen Johansson de Vries Dvořák O'Brien Fernández Costa Silva"
            .split(separator: " ")
        let cities =
            "Berlin München Paris Lyon Marseille Madrid Barcelona Milano Roma Amsterdam Wien Zürich København Stockholm Warszawa Kraków Praha Lisboa Dublin London Manchester İstanbul Athína Tallinn"
            .split(separator: " ")
        let trades =
            "Logistics Foods Pharma Systems Engineering Textiles Robotics Dental Optics Packaging Analytics Energy"
            .split(separator: " ")
        let products = [
            "Premium tier", "Starter bundle", "Field Service add-on", "Analytics module", "3-year support plan",
            "mobile licences", "API access", "training package",
        ]
        let templates = [
            "Met {who} at the fair in {city}; interested in {prod}, asked for pricing on {n} seats.",
            "Call with {who} on 2026-{m}-{d}: budget approved for Q{q}, decision expected by month {m}.",
            "Sent proposal v{n} for {prod}; {who} needs sign-off from procurement, PO ref {po}.",
            "Complained about delivery delay of order #{po}; offered {n}% credit, relationship OK.",
            "Demo scheduled with {n} people from {trade}. Bring {prod} brochure.",
        ]
        var ids: [String] = []
        var values: [[String]] = []
        ids.reserveCapacity(count)
        values.reserveCapacity(count)
        for index in 0..<count {
            let id = Customers.id(index + 5_000_000)
            let who = "\(first[random.int(0...first.count - 1)]) \(last[random.int(0...last.count - 1)])"
            let city = String(cities[min(random.int(0...cities.count - 1), random.int(0...cities.count - 1))])
            var notes = ""
            for _ in 0..<random.int(2...3) {
                var line = templates[random.int(0...templates.count - 1)]
                var fills: [(String, String)] = []
                fills.append(("{who}", who))
                fills.append(("{city}", city))
                fills.append(("{prod}", products[random.int(0...products.count - 1)]))
                fills.append(("{n}", String(random.int(2...400))))
                fills.append(("{m}", String(format: "%02d", random.int(1...12))))
                fills.append(("{d}", String(format: "%02d", random.int(1...28))))
                fills.append(("{q}", String(random.int(1...4))))
                fills.append(("{po}", String(random.int(100_000...999_999))))
                fills.append(("{trade}", String(trades[random.int(0...trades.count - 1)])))
                for (key, fill) in fills { line = line.replacingOccurrences(of: key, with: fill) }
                notes += (notes.isEmpty ? "" : " ") + line
            }
            let trade = trades[index % trades.count].lowercased()
            let email = who.lowercased().replacingOccurrences(of: " ", with: ".") + "@" + trade + ".example"
            let phone = "+\(random.int(30...49)) \(random.int(100...999)) \(random.int(1_000_000...9_999_999))"
            let segment: String = ["A", "B", "C"][random.int(0...2)]
            let level: String = ["basic", "reactive", "responsible", "proactive", "partnership"][random.int(0...4)]
            let value = String(format: "%.2f", Double(random.int(0...2_000_000)) / 10)
            let status: String = ["prospect", "active", "at_risk", "lapsed"][random.int(0...3)]
            let updated = String(format: "2026-11-%02dT%02d:00:00.000Z", index % 28 + 1, index % 24)
            var row: [String] = [id, who, email, phone, city, segment, level, value, status]
            row += ["claire", notes, "peers", updated]
            ids.append(id)
            values.append(row)
        }
        return PeerRows(ids: ids, values: values)
    }

    /// JSON Lines for `Replica.import` (every column but updated_at, which the replica's clock keeps).
    func jsonl() -> String {
        var text = ""
        for row in values {
            var object: [String: Any] = [:]
            for (column, value) in zip(Self.columns, row) where column != "updated_at" {
                object[column] = column == "lifetime_value" ? Double(value)! as Any : value as Any
            }
            text += String(
                decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            text += "\n"
        }
        return text
    }

    /// `'id1','id2',…` for rows `range`, for an SQL `IN` list.
    func idList(_ range: Range<Int>) -> String {
        range.map { "'\(ids[$0])'" }.joined(separator: ",")
    }
}

enum PeerSteps {
    /// The SQL UPDATE of the update step on every record (the peer also moves `updated_at` on).
    static func update(run: String, peer: Bool) -> String {
        "UPDATE customers SET status = 'active', lifetime_value = coalesce(lifetime_value, 0) + 1.5, city = 'City \(run)'"
            + (peer ? ", updated_at = '2099-' || substr(updated_at, 6)" : "")
    }

    /// The concurrent step's edit on one side, of records `range`.
    static func concurrent(_ rows: PeerRows, _ range: Range<Int>, side: String, peer: Bool) -> String {
        "UPDATE customers SET status = '\(side == "a" ? "at_risk" : "lapsed")', city = 'Concurrent \(side)'"
            + (peer ? ", updated_at = '2100-' || substr(updated_at, 6) || '\(side)'" : "")
            + " WHERE id IN (\(rows.idList(range)))"
    }

    static func relais(
        rows: PeerRows, a: Replica, b: Replica, warm: () async throws -> String, hub: String, folder: String, run: Int
    ) async throws -> PeerRun {
        var figures = PeerRun()
        let count = rows.ids.count
        let text = rows.jsonl()
        let (_, load) = try await timed {
            _ = try await a.import("customers", text: text, format: .jsonl)
            _ = try await a.sync(options: benchSyncOptions)
        }
        figures.loadRate = Double(count) / load
        // A first laptop of the view has the hub build its snapshot (as in the field, only the first
        // waits for it); B then bootstraps from it.
        let first = try await Replica.enroll(
            hub: hub, code: try await warm(), path: folder + "/first.relais", logger: quietLogger)
        _ = try await first.sync(options: benchSyncOptions)
        let (booted, bootstrap) = try await timed { try await b.sync(options: benchSyncOptions) }
        guard booted.pulled == count else { throw BenchError("peers: B bootstrapped \(booted.pulled) of \(count)") }
        figures.bootstrapRate = Double(count) / bootstrap

        try sql(a.path, update(run: "\(run)", peer: false))
        let aTransport = MeasuringTransport(hub: hub, countBytes: true)
        let bTransport = MeasuringTransport(hub: hub, countBytes: true)
        let pushed = try await a.sync(transport: aTransport, options: benchSyncOptions)
        let (pulled, delta) = try await timed { try await b.sync(transport: bTransport, options: benchSyncOptions) }
        guard pushed.pushed == count, pulled.pulled == count else {
            throw BenchError("peers: pushed \(pushed.pushed), pulled \(pulled.pulled) of \(count)")
        }
        figures.pushPerField = Double(try aTransport.counted().pushBytes) / Double(3 * count)
        figures.pullPerField = Double(try bTransport.counted().pullBytes) / Double(3 * count)
        figures.deltaRate = Double(count) / delta

        let span = min(1_000, count / 2)
        try sql(a.path, concurrent(rows, 0..<span, side: "a", peer: false))
        try sql(b.path, concurrent(rows, span / 2..<(span / 2 + span), side: "b", peer: false))
        // Timed per sync, with the time spent waiting for push and pull answers (no byte counting).
        let timers = (a: MeasuringTransport(hub: hub), b: MeasuringTransport(hub: hub))
        var legs: [String] = []
        let (_, exchange) = try await timed {
            for (replica, transport) in [(a, timers.a), (b, timers.b), (a, timers.a), (b, timers.b)] {
                transport.resetCounters()
                let (_, seconds) = try await timed {
                    try await replica.sync(transport: transport, options: benchSyncOptions)
                }
                let spent = try transport.counted()
                legs.append(
                    String(
                        format: "%.0f (push %.0f, pull %.0f)", seconds * 1000, spent.pushSeconds * 1000,
                        spent.pullSeconds * 1000))
            }
        }
        figures.concurrentLegs = legs.joined(separator: "; ")
        figures.concurrentSeconds = exchange
        guard try await a.export() == b.export() else { throw BenchError("peers: A and B differ after the exchange") }
        return figures
    }

    static func sessionExtension(rows: PeerRows, folder: String) throws -> PeerRun {
        var figures = PeerRun()
        let count = rows.ids.count
        guard let a = relais_peer_open(folder + "/peer-a.sqlite"), let b = relais_peer_open(folder + "/peer-b.sqlite")
        else { throw BenchError("peers: the session extension's files could not be made") }
        defer {
            relais_peer_close(a)
            relais_peer_close(b)
        }
        func check(_ code: Int32, _ what: String) throws {
            guard code == 0 else { throw BenchError("peers: the session extension failed to \(what)") }
        }
        func changeset(_ db: OpaquePointer?) throws -> (UnsafeMutablePointer<UInt8>, Int32, Int32) {
            var out: UnsafeMutablePointer<UInt8>?
            var raw: Int32 = 0
            var deflated: Int32 = 0
            try check(relais_peer_session_finish(db, &out, &raw, &deflated), "make a changeset")
            return (out!, raw, deflated)
        }
        let load = try Self.clock {
            try check(relais_peer_session_start(a), "start a session")
            try check(relais_peer_exec(a, "BEGIN"), "begin")
            for row in rows.values {
                var pointers = row.map { strdup($0) }
                defer { pointers.forEach { free($0) } }
                let code = pointers.withUnsafeMutableBufferPointer { buffer in
                    buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                        relais_peer_insert(a, $0)
                    }
                }
                try check(code, "insert")
            }
            try check(relais_peer_exec(a, "COMMIT"), "commit")
        }
        figures.loadRate = Double(count) / load
        let (full, fullRaw, fullDeflated) = try changeset(a)
        defer { relais_peer_free(full) }
        let bootstrap = try Self.clock { try check(relais_peer_apply(b, full, fullDeflated, fullRaw), "apply") }
        figures.bootstrapRate = Double(count) / bootstrap

        try check(relais_peer_session_start(a), "start a session")
        try check(relais_peer_exec(a, update(run: "peer", peer: true)), "update")
        let (delta, deltaRaw, deltaDeflated) = try changeset(a)
        defer { relais_peer_free(delta) }
        figures.pushPerField = Double(deltaDeflated) / Double(3 * count)
        figures.pullPerField = figures.pushPerField
        let apply = try Self.clock { try check(relais_peer_apply(b, delta, deltaDeflated, deltaRaw), "apply") }
        figures.deltaRate = Double(count) / apply

        let span = min(1_000, count / 2)
        try check(relais_peer_session_start(a), "start a session")
        try check(relais_peer_exec(a, concurrent(rows, 0..<span, side: "a", peer: true)), "edit A")
        try check(relais_peer_session_start(b), "start a session")
        try check(relais_peer_exec(b, concurrent(rows, span / 2..<(span / 2 + span), side: "b", peer: true)), "edit B")
        figures.concurrentSeconds = try Self.clock {
            let (fromA, rawA, deflatedA) = try changeset(a)
            let (fromB, rawB, deflatedB) = try changeset(b)
            defer {
                relais_peer_free(fromA)
                relais_peer_free(fromB)
            }
            try check(relais_peer_apply(b, fromA, deflatedA, rawA), "apply A's changes")
            try check(relais_peer_apply(a, fromB, deflatedB, rawB), "apply B's changes")
        }
        let bPath = folder + "/peer-b.sqlite"
        try check(relais_peer_exec(a, "ATTACH '\(bPath)' AS b"), "attach B")
        let differing = relais_peer_scalar(
            a,
            "SELECT (SELECT count(*) FROM (SELECT * FROM main.customers EXCEPT SELECT * FROM b.customers))"
                + " + (SELECT count(*) FROM (SELECT * FROM b.customers EXCEPT SELECT * FROM main.customers))")
        try check(relais_peer_exec(a, "DETACH b"), "detach B")
        guard differing == 0 else {
            throw BenchError("peers: the session extension's A and B differ in \(differing) rows")
        }
        return figures
    }

    static func clock(_ body: () throws -> Void) throws -> Double {
        let start = ContinuousClock.now
        try body()
        return (ContinuousClock.now - start).seconds
    }

    static func sql(_ path: String, _ statement: String) throws {
        let connection = try Connection(path: path)
        connection.busyTimeout = .seconds(5)
        defer { try? connection.close() }
        try connection.execute(statement)
    }
}
