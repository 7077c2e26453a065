import Foundation
public import RelaisCore

/// Who is about to leave (docs/CRM.md "Defection score"): a score from 0 to 100 made of five signals,
/// each between 0 and 1, weighted:
///
/// | signal | weight | 0 … 1 |
/// |---|---|---|
/// | silence | 35 | days since the last contact against the customer's usual gap: 0 within it, 1 at three times it (no contact at all: 1) |
/// | falling contact | 20 | contacts in the last 90 days against the 90 before, when there were at least 2: the share lost |
/// | satisfaction | 20 | the latest reading: (4 − s) / 3, floored at 0; + 0.5 when it is at least 1 below the mean of the earlier ones; at most 1 |
/// | overdue complaint | 15 | 1 when a complaint is open past its follow-up date, or 14 days old without one |
/// | never complains | 10 | 1 when 5 or more contacts over at least 180 days brought no complaint: the least loyal customer is the one who never complains |
///
/// A score of ``threshold`` or more proposes the status `at_risk`.
public struct DefectionModel: Sendable {
    /// The score from which the status `at_risk` is proposed.
    public var threshold = 50
    /// The usual gap of a customer with fewer than three contacts, in days.
    public var defaultGapDays = 30
    /// The shortest usual gap, in days (several contacts in a week are one episode).
    public var minimumGapDays = 7
    /// How old an open complaint without a follow-up date may be before it is overdue, in days.
    public var complaintDays = 14

    public init() {}

    /// One signal that raised a customer's score, in words, with its share of the score.
    public struct Reason: Sendable, Hashable, Codable {
        /// `silence`, `falling_contact`, `satisfaction`, `overdue_complaint` or `never_complains`.
        public var signal: String
        /// Its points in the score.
        public var points: Int
        public var text: String
    }

    /// A customer's score and why.
    public struct Score: Sendable, Hashable {
        /// 0 to 100.
        public var score: Int
        /// The signals that raised it, largest first.
        public var reasons: [Reason]
        /// Open complaints.
        public var openComplaints: Int
        /// Open complaints past their follow-up date (or ``DefectionModel/complaintDays`` old).
        public var overdueComplaints: Int
    }

    /// Whether an open complaint is overdue on `today`.
    public func isOverdue(_ complaint: ReportInteraction, today: Day) -> Bool {
        guard complaint.isComplaint, !complaint.resolved else { return false }
        if let due = complaint.followUpOn { return due < today }
        return today - complaint.on > complaintDays
    }

    /// The score of `customer` on `today`.
    public func score(_ customer: ReportCustomer, today: Day) -> Score {
        let contacts = customer.interactions.filter { $0.on <= today }
        var reasons: [Reason] = []
        func add(_ signal: String, _ weight: Double, _ value: Double, _ text: String) {
            let points = Int((weight * min(1, max(0, value))).rounded())
            if points > 0 { reasons.append(Reason(signal: signal, points: points, text: text)) }
        }

        // Silence against the usual gap.
        let days = Array(Set(contacts.map(\.on))).sorted()
        if let last = days.last {
            let recent = days.filter { today - $0 <= 365 }
            let gaps = zip(recent, recent.dropFirst()).map { $1 - $0 }.sorted()
            let usual =
                gaps.count >= 2
                ? max(
                    minimumGapDays,
                    gaps.count % 2 == 1 ? gaps[gaps.count / 2] : (gaps[gaps.count / 2 - 1] + gaps[gaps.count / 2]) / 2)
                : defaultGapDays
            let silent = today - last
            add(
                "silence", 35, (Double(silent) / Double(usual) - 1) / 2,
                "no contact for \(silent) days (usually every \(usual))")
        } else {
            add("silence", 35, 1, "no contact recorded")
        }

        // Falling contact frequency.
        let recent = contacts.filter { today - $0.on < 90 }.count
        let previous = contacts.filter { today - $0.on >= 90 && today - $0.on < 180 }.count
        if previous >= 2, recent < previous {
            add(
                "falling_contact", 20, Double(previous - recent) / Double(previous),
                "contacts fell from \(previous) to \(recent) a quarter")
        }

        // Low or falling satisfaction.
        let readings = contacts.compactMap(\.satisfaction)
        if let latest = readings.last {
            var value = Double(4 - latest) / 3
            var text = "satisfaction \(latest)/5"
            let earlier = readings.dropLast()
            if !earlier.isEmpty {
                let mean = Double(earlier.reduce(0, +)) / Double(earlier.count)
                if mean - Double(latest) >= 1 {
                    value = max(0, value) + 0.5
                    text += ", down from \(String(format: "%.1f", mean))"
                }
            }
            add("satisfaction", 20, value, text)
        }

        // Complaints.
        let complaints = contacts.filter(\.isComplaint)
        let open = complaints.filter { !$0.resolved }.count
        let overdue = complaints.filter { isOverdue($0, today: today) }.count
        if overdue > 0 {
            add(
                "overdue_complaint", 15, 1,
                overdue == 1 ? "a complaint is overdue" : "\(overdue) complaints are overdue")
        }
        if complaints.isEmpty, contacts.count >= 5, let first = contacts.first, today - first.on >= 180 {
            add("never_complains", 10, 1, "\(contacts.count) contacts, never a complaint")
        }

        reasons.sort { $0.points > $1.points }
        return Score(
            score: min(100, reasons.reduce(0) { $0 + $1.points }), reasons: reasons, openComplaints: open,
            overdueComplaints: overdue)
    }

    /// The programme the figures point to: `prospection` for a prospect, `recovery` at or above the
    /// threshold, `loyalty` for a segment A customer, `development` otherwise.
    public func programme(for customer: ReportCustomer, score: Int) -> String {
        if customer.status == "prospect" { return "prospection" }
        if score >= threshold { return "recovery" }
        if customer.segment == "A" { return "loyalty" }
        return "development"
    }
}
