import Foundation
import Hummingbird
import RelaisCore

/// The manager's pages: value at risk with its proposals to confirm, and the complaints (docs/CRM.md).
extension AdminPages {
    func reports(_ request: Request, _ signed: Signed, message: String? = nil) async throws -> Response {
        let today = service.today()
        let customers = try await service.reportCustomers(for: signed.session.user)
        let list = ManagerReports.valueAtRisk(customers, today: today, limit: 50)
        let complaints = ManagerReports.complaints(customers, today: today, openLimit: Self.complaintsListed)
        let levels = ManagerReports.levelDifferences(customers, today: today, limit: 50).map {
            ReportsView.Level(
                name: $0.customer.name, territory: $0.customer.territory, declared: $0.declared ?? "—",
                observed: $0.observed, evidence: $0.evidence)
        }
        let retention = try await service.retention(of: customers, from: today - 90, to: today)
        var retentionRows: [ReportsView.RetentionRow] = []
        for (kind, groups) in [
            ("All", [retention.overall]), ("Salesperson", retention.bySalesperson),
            ("Territory", retention.byTerritory),
        ] {
            retentionRows += groups.map {
                ReportsView.RetentionRow(
                    kind: kind, name: $0.name, customers: $0.customers, retained: $0.retained,
                    rate: $0.rate.map { ($0 * 100).formatted(.number.precision(.fractionLength(1))) + " %" } ?? "—")
            }
        }
        let lost = retention.lost.prefix(20).map { "\($0.customer.name) (\($0.on))" }
        let user = try await service.store.read { tx in try await tx.user(named: signed.session.user) }
        let scope =
            signed.role == .admin
            ? "Every territory" : "Territories " + (user?.territories.joined(separator: ", ") ?? "")
        func money(_ value: Double?) -> String {
            value.map { $0.formatted(.number.precision(.fractionLength(0))) } ?? "—"
        }
        let rows = list.enumerated().map { index, item in
            var proposal: ReportsView.Proposal?
            if item.proposedProgramme != nil || item.proposesAtRisk {
                let parts = [
                    item.proposedProgramme.map { "programme \($0)" }, item.proposesAtRisk ? "status at_risk" : nil,
                ]
                proposal = ReportsView.Proposal(
                    programme: item.proposedProgramme, atRiskStatus: item.proposesAtRisk,
                    label: parts.compactMap { $0 }.joined(separator: " and "))
            }
            return ReportsView.AtRisk(
                rank: index + 1, id: item.customer.id, name: item.customer.name, territory: item.customer.territory,
                segment: item.customer.segment ?? "—", lifetimeValue: money(item.customer.lifetimeValue),
                score: item.score.score, valueAtRisk: money(item.valueAtRisk),
                reasons: item.score.reasons.map { ReportsView.Reason(points: $0.points, text: $0.text) },
                complaints: item.score.openComplaints == 0
                    ? "" : "\(item.score.openComplaints) open, \(item.score.overdueComplaints) overdue",
                proposal: proposal)
        }
        var groups: [ReportsView.Group] = []
        for (kind, list) in [
            ("Salesperson", complaints.bySalesperson), ("Territory", complaints.byTerritory),
            ("Segment", complaints.bySegment),
        ] {
            groups += list.map {
                ReportsView.Group(
                    kind: kind, name: $0.name, open: $0.open, overdue: $0.overdue, resolved: $0.resolved,
                    mean: $0.meanDaysToResolve.map { $0.formatted(.number.precision(.fractionLength(1))) } ?? "—")
            }
        }
        return render(
            ReportsView(
                layout: AdminLayout(signed, title: "Reports", section: .reports), today: today.description,
                scope: scope, message: message, atRisk: rows, noneAtRisk: rows.isEmpty,
                retentionFrom: retention.from.description, retentionTo: retention.to.description,
                retention: retentionRows,
                lostCustomers: lost.isEmpty
                    ? nil
                    : lost.joined(separator: ", ") + (retention.lost.count > 20 ? ", …" : ""),
                levels: Array(levels),
                noLevels: levels.isEmpty,
                openComplaints: complaints.open.map {
                    ReportsView.Complaint(
                        name: $0.customer.name, territory: $0.customer.territory, segment: $0.customer.segment ?? "—",
                        on: $0.complaint.on.description, followUp: $0.complaint.followUpOn?.description ?? "—",
                        age: $0.ageDays, overdue: $0.overdue)
                }, noComplaints: complaints.open.isEmpty,
                moreComplaints: complaints.openCount > complaints.open.count
                    ? "\(complaints.openCount) open complaints: the first \(complaints.open.count) are listed; "
                        + "`relais report complaints` and GET /v1/reports/complaints list every one." : nil,
                groups: groups))
    }

    /// Open complaints the page lists (the JSON API and `relais report complaints` list every one).
    static let complaintsListed = 100

    /// `POST /admin/reports/confirm`: a proposal confirmed (``HubService/confirmProposal(customer:programme:status:by:)``).
    func confirm(_ request: Request, _ signed: Signed) async throws -> Response {
        let form = try await AdminForms.decode(ConfirmForm.self, request)
        guard let given = form.csrf, secretsEqual(given, signed.session.csrf) else { return csrfRefused(signed) }
        guard let customer = form.customer, !customer.isEmpty else {
            return errorPage("The form names no customer.", status: .badRequest, signed)
        }
        try await service.confirmProposal(
            customer: customer, programme: form.programme, status: form.status, by: signed.session.user)
        // confirmProposal checked the customer is in the user's territories.
        let name = try await service.customerName(collection: "customers", id: customer) ?? customer
        let what = [form.programme.map { "programme \($0)" }, form.status.map { "status \($0)" }].compactMap { $0 }
        return try await reports(
            request, signed,
            message: "\(name): \(what.joined(separator: " and ")) confirmed; laptops receive it at their next sync.")
    }
}

/// The confirm form of the reports page.
struct ConfirmForm: Decodable {
    var csrf: String?
    var customer: String?
    var programme: String?
    var status: String?
}
