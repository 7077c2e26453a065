import Foundation
import RelaisClient

/// What the demo prints.
public struct DemoReport: Sendable {
    /// Writes the laptops pushed, and records they pulled.
    public internal(set) var pushed = 0
    public internal(set) var pulled = 0
    /// Writes answered `conflict`, and writes refused.
    public internal(set) var conflictsOnWrites = 0
    public internal(set) var rejected = 0
    /// Conflict reports on the hub, and those still open.
    public internal(set) var reports = 0
    public internal(set) var open = 0
    /// Conflict reports by merge rule.
    public internal(set) var byRule: [String: Int] = [:]
    /// Every laptop's user, and those whose replica holds exactly the hub's view for them.
    public internal(set) var laptops: [String] = []
    public internal(set) var converged: [String] = []
    /// Live customers, interactions, orders and opportunities on the hub at the end.
    public internal(set) var customers = 0
    public internal(set) var interactions = 0
    public internal(set) var orders = 0
    public internal(set) var opportunities = 0
    /// Customers whose lifetime value and segment the hub wrote.
    public internal(set) var valuesWritten = 0
    /// The three customers with the most value at risk, in words.
    public internal(set) var atRisk: [String] = []
    public internal(set) var openComplaints = 0
    public internal(set) var overdueComplaints = 0
    /// An API token of the manager `maria`, to sign in to the reports (not in the JSON).
    public internal(set) var managerToken = ""

    mutating func add(_ result: SyncResult) {
        pushed += result.pushed
        pulled += result.pulled
        conflictsOnWrites += result.conflicts
        rejected += result.rejected
    }

    /// The report for a person at a terminal: figures, then how to review the conflicts.
    public func text(hub: String, adminToken: String, folder: String?) -> String {
        var lines = [
            "Relais demo: two months in the field for 2 managers and 6 salespeople (north, south, east)",
            "",
            "  writes synced        \(pushed)  (\(customers) customers, \(interactions) interactions, \(orders) orders, "
                + "\(opportunities) opportunities on the hub's books)",
            "  records pulled       \(pulled)",
            "  rejected writes      \(rejected)",
            "  conflict reports     \(reports)",
        ]
        for rule in byRule.keys.sorted() {
            lines.append("    \(rule.padding(toLength: 18, withPad: " ", startingAt: 0)) \(byRule[rule]!)")
        }
        lines.append("  waiting for a decision  \(open) open")
        let agree =
            converged.count == laptops.count
            ? "all \(laptops.count) laptops" : "\(converged.count) of \(laptops.count) laptops"
        lines.append("  convergence          \(agree) hold exactly the hub's view for their user")
        lines.append("  values computed      lifetime value and segment written for \(valuesWritten) customers")
        lines.append("  complaints           \(openComplaints) open, \(overdueComplaints) overdue")
        lines.append("  most value at risk")
        for line in atRisk { lines.append("    \(line)") }
        lines += [
            "",
            "Review the conflicts:",
            "  admin pages   \(hub)/admin   (sign in with the admin token)",
            "  admin token   \(adminToken)",
            "  command line  relais admin conflicts list --hub \(hub) --token \(adminToken)",
            "",
            "A manager's reports (value at risk, complaints, relationship levels):",
            "  pages         \(hub)/admin   (sign in with maria's token: north and south)",
            "  maria's token \(managerToken)",
            "  command line  relais report value-at-risk --hub \(hub) --token \(managerToken)",
        ]
        if let folder { lines.append("  files         \(folder)") }
        return lines.joined(separator: "\n")
    }

    /// The figures as one JSON object with sorted keys (scripts, CI).
    public func json() throws -> String {
        let object: [String: Any] = [
            "pushed": pushed, "pulled": pulled, "rejected": rejected, "conflicts": reports, "open_conflicts": open,
            "conflicts_by_rule": byRule, "laptops": laptops, "converged": converged, "customers": customers,
            "interactions": interactions, "orders": orders, "opportunities": opportunities,
            "values_written": valuesWritten, "most_at_risk": atRisk, "open_complaints": openComplaints,
            "overdue_complaints": overdueComplaints,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func sameJSON(_ a: Data, _ b: Data) -> Bool {
        // Both sides write the same canonical JSON: equal bytes are the common case.
        if a == b { return true }
        guard let x = try? JSONSerialization.jsonObject(with: a), let y = try? JSONSerialization.jsonObject(with: b)
        else {
            return false
        }
        return NSDictionary(dictionary: x as? [String: Any] ?? [:]).isEqual(to: y as? [String: Any] ?? [:])
    }
}
