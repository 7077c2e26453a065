import ArgumentParser
import Foundation
import RelaisClient

/// `relais report …`: a sales manager's figures, computed by the hub from the synced customer file of
/// their territories (docs/CRM.md), with a manager's or an admin's token.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "A manager's figures, computed by the hub: value at risk, complaints, relationship levels (docs/CRM.md).",
        subcommands: [ReportValueAtRisk.self, ReportComplaints.self, ReportLevels.self, ReportRetention.self])
}

struct ReportValueAtRisk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "value-at-risk",
        abstract: "Customers ranked by lifetime value × defection score, with the reasons.",
        discussion: """
              relais report value-at-risk --hub https://hub.example:7420 --token-file ~/.relais-token
              relais report value-at-risk --hub URL --token-file F --limit 5 --json
            """)

    @OptionGroup var options: HubOptions
    @Option(help: "At most this many customers (1 to 1000).") var limit = 20
    @Option(help: "The day to compute for, YYYY-MM-DD (the hub's date by default).") var today: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let report = try await options.call { try await $0.valueAtRisk(limit: limit, today: today) }
        if json { return try printAdminJSON(report) }
        print("Value at risk on \(report.today) (lifetime value × defection score / 100):")
        if report.customers.isEmpty { print("  nobody at risk") }
        for (rank, entry) in report.customers.enumerated() {
            let customer = entry.customer
            let value = entry.valueAtRisk.formatted(.number.precision(.fractionLength(0)))
            print(
                "\(rank + 1). \(customer.name) (\(customer.territory), segment \(customer.segment ?? "-")): "
                    + "\(value) at risk, score \(entry.defectionScore)")
            for reason in entry.reasons { print("     +\(reason.points) \(reason.text)") }
            if entry.openComplaints > 0 {
                print("     \(entry.openComplaints) open complaint(s), \(entry.overdueComplaints) overdue")
            }
            if let programme = entry.proposedProgramme {
                print("     proposed programme: \(programme) (now \(customer.programme ?? "none"))")
            }
            if entry.proposesAtRisk { print("     proposed status: at_risk (now \(customer.status ?? "none"))") }
        }
    }
}

struct ReportComplaints: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complaints",
        abstract: "Open and overdue complaints, time to resolve, by salesperson, territory and segment.")

    @OptionGroup var options: HubOptions
    @Option(help: "The day to compute for, YYYY-MM-DD (the hub's date by default).") var today: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let report = try await options.call { try await $0.complaints(today: today) }
        if json { return try printAdminJSON(report) }
        print("Open complaints on \(report.today) (segment A first, overdue first):")
        if report.open.isEmpty { print("  none") }
        for item in report.open {
            print(
                "  \(item.customer.name) (\(item.customer.territory), segment \(item.customer.segment ?? "-")): "
                    + "made \(item.on), \(item.ageDays) days ago" + (item.overdue ? ", OVERDUE" : ""))
        }
        for (title, groups) in [
            ("salesperson", report.bySalesperson), ("territory", report.byTerritory), ("segment", report.bySegment),
        ] {
            print("By \(title): open / overdue / resolved / mean days to resolve")
            for group in groups {
                let mean = group.meanDaysToResolve.map { $0.formatted(.number.precision(.fractionLength(1))) } ?? "-"
                print("  \(group.name): \(group.open) / \(group.overdue) / \(group.resolved) / \(mean)")
            }
        }
    }
}

struct ReportLevels: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "levels",
        abstract: "Customers whose declared relationship level differs from the one their contacts show.")

    @OptionGroup var options: HubOptions
    @Option(help: "The day to compute for, YYYY-MM-DD (the hub's date by default).") var today: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let report = try await options.call { try await $0.relationshipLevels(today: today) }
        if json { return try printAdminJSON(report) }
        print("Declared against observed relationship level on \(report.today), most valuable first:")
        if report.customers.isEmpty { print("  every declared level matches") }
        for entry in report.customers {
            print(
                "  \(entry.customer.name) (\(entry.customer.territory)): declared \(entry.declared ?? "none"), "
                    + "observed \(entry.observed): \(entry.evidence)")
        }
    }
}

struct ReportRetention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract:
            "Of the customers active on the first day, the share not lapsed on the last, by salesperson and territory.")

    @OptionGroup var options: HubOptions
    @Option(help: "The period's first day, YYYY-MM-DD (90 days before --to by default).") var from: String?
    @Option(help: "The period's last day, YYYY-MM-DD (the hub's today by default).") var to: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let report = try await options.call { try await $0.retention(from: from, to: to) }
        if json { return try printAdminJSON(report) }
        func line(_ group: RetentionReport.Group) -> String {
            let rate = group.rate.map { ($0 * 100).formatted(.number.precision(.fractionLength(1))) + " %" } ?? "-"
            return "  \(group.name): \(group.retained) of \(group.customers) kept, \(rate)"
        }
        print("Retention from \(report.from) to \(report.to):")
        print(line(report.overall))
        print("By salesperson:")
        for group in report.bySalesperson { print(line(group)) }
        print("By territory:")
        for group in report.byTerritory { print(line(group)) }
        if !report.lost.isEmpty {
            print("Lost:")
            for lost in report.lost { print("  \(lost.customer.name) (\(lost.customer.territory)), lapsed \(lost.on)") }
        }
    }
}
