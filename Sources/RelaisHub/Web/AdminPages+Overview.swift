import Foundation
import Hummingbird
import RelaisCore

/// The dashboard and the audit log.
extension AdminPages {
    func dashboard(_ signed: Signed) async throws -> Response {
        let figures = try await service.dashboard()
        func counts(_ pairs: [(String, Int)]) -> [DashboardView.Count] {
            pairs.map { DashboardView.Count(name: $0.0, count: $0.1) }
        }
        return render(
            DashboardView(
                layout: AdminLayout(signed, title: "Dashboard", section: .dashboard),
                open: figures.open, total: figures.total, byRule: counts(figures.byRule),
                byUser: counts(figures.byUser), byWeek: counts(Array(figures.byWeek.prefix(12))),
                lags: figures.lags.map { entry in
                    let verification = figures.verifications[entry.device.replica]
                    return DashboardView.Lag(
                        name: entry.device.name, user: entry.device.user,
                        replica: Int(entry.device.replica.rawValue), lag: entry.lag,
                        lastSeen: entry.device.lastSeenAt.map(AdminTime.iso8601) ?? "never",
                        verified: verification.map { "\(DeviceJSON.summary($0)), \(AdminTime.iso8601($0.at))" }
                            ?? "never",
                        diverged: verification?.outcome == .unrepaired)
                },
                wipes: figures.wipes.map { device in
                    DashboardView.Wipe(
                        name: device.name, user: device.user, replica: Int(device.replica.rawValue),
                        status: DeviceJSON.status(device),
                        requested: device.wipeRequestedAt.map(AdminTime.iso8601) ?? "",
                        saved: device.wipeSavedWrites.map(String.init) ?? "",
                        unsaved: device.wipeUnsavedWrites.map(String.init) ?? "")
                }, hasWipes: !figures.wipes.isEmpty))
    }

    func audit(_ signed: Signed) async throws -> Response {
        let events = try await service.auditLog(limit: 500)
        return render(
            AuditView(
                layout: AdminLayout(signed, title: "Audit log", section: .audit),
                events: events.map { event in
                    AuditView.Event(
                        at: AdminTime.iso8601(event.at),
                        kind: event.kind.rawValue.replacingOccurrences(of: "_", with: " "),
                        user: event.user ?? "", detail: event.detail)
                },
                empty: events.isEmpty))
    }
}
