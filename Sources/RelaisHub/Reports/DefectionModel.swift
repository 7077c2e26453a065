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
        let signals = Signals(customer, today: today, model: self)
        let points = signals.points()
        return Score(
            score: points.total, reasons: signals.reasons(points.each), openComplaints: signals.open,
            overdueComplaints: signals.overdue)
    }

    /// The figures a score is made of, read in one pass over the customer's interactions; the
    /// points come from them without the reasons' text, which only the customers listed need.
    struct Signals {
        /// Days since the last contact; nil without any.
        var silent: Int?
        /// The usual gap between contact days, in days.
        var usual: Int
        /// Contacts in the last 90 days, and in the 90 before.
        var recent = 0
        var previous = 0
        /// The latest satisfaction reading and the mean of the earlier ones.
        var latest: Int?
        var earlierMean: Double?
        var open = 0
        var overdue = 0
        var contacts = 0
        var neverComplains = false

        init(_ customer: ReportCustomer, today: Day, model: DefectionModel) {
            var last: Day?
            var first: Day?
            var recentDays: [Day] = []
            var earlier = (sum: 0, count: 0)
            var complaints = 0
            for contact in customer.interactions where contact.on <= today {
                contacts += 1
                if first == nil || contact.on < first! { first = contact.on }
                if last != contact.on {
                    if today - contact.on <= 365 { recentDays.append(contact.on) }
                    last = max(last ?? contact.on, contact.on)
                }
                let age = today - contact.on
                if age < 90 { recent += 1 } else if age < 180 { previous += 1 }
                if let reading = contact.satisfaction {
                    if let latest {
                        earlier.sum += latest
                        earlier.count += 1
                    }
                    latest = reading
                }
                if contact.isComplaint {
                    complaints += 1
                    if !contact.resolved { open += 1 }
                    if model.isOverdue(contact, today: today) { overdue += 1 }
                }
            }
            if earlier.count > 0 { earlierMean = Double(earlier.sum) / Double(earlier.count) }
            if zip(recentDays, recentDays.dropFirst()).contains(where: { $0 >= $1 }) {
                recentDays = Array(Set(recentDays)).sorted()  // interactions out of order
            }
            var gaps: [Int] = []
            gaps.reserveCapacity(recentDays.count)
            for index in recentDays.indices.dropFirst() { gaps.append(recentDays[index] - recentDays[index - 1]) }
            gaps.sort()
            usual =
                gaps.count >= 2
                ? max(
                    model.minimumGapDays,
                    gaps.count % 2 == 1 ? gaps[gaps.count / 2] : (gaps[gaps.count / 2 - 1] + gaps[gaps.count / 2]) / 2)
                : model.defaultGapDays
            silent = last.map { today - $0 }
            if complaints == 0, contacts >= 5, let first, today - first >= 180 { neverComplains = true }
        }

        /// How much of its weight each signal takes (0 to 1).
        private func shares() -> [(signal: String, weight: Double, share: Double)] {
            var shares: [(String, Double, Double)] = []
            shares.append(("silence", 35, silent.map { (Double($0) / Double(usual) - 1) / 2 } ?? 1))
            if previous >= 2, recent < previous {
                shares.append(("falling_contact", 20, Double(previous - recent) / Double(previous)))
            }
            if let latest {
                var value = Double(4 - latest) / 3
                if let earlierMean, earlierMean - Double(latest) >= 1 { value = max(0, value) + 0.5 }
                shares.append(("satisfaction", 20, value))
            }
            if overdue > 0 { shares.append(("overdue_complaint", 15, 1)) }
            if neverComplains { shares.append(("never_complains", 10, 1)) }
            return shares
        }

        private static func points(_ weight: Double, _ share: Double) -> Int {
            Int((weight * min(1, max(0, share))).rounded())
        }

        /// The score, from 0 to 100, and the points of each signal that raised it.
        func points() -> (total: Int, each: [(signal: String, points: Int)]) {
            let each = shares().map { ($0.signal, Self.points($0.weight, $0.share)) }.filter { $0.1 > 0 }
            return (min(100, each.reduce(0) { $0 + $1.1 }), each)
        }

        /// The signals that raised the score (``points()``), in words, largest first.
        func reasons(_ each: [(signal: String, points: Int)]) -> [Reason] {
            var reasons = each.map { signal, points in
                Reason(signal: signal, points: points, text: text(signal))
            }
            reasons.sort { $0.points > $1.points }
            return reasons
        }

        private func text(_ signal: String) -> String {
            switch signal {
            case "silence":
                return silent.map { "no contact for \($0) days (usually every \(usual))" } ?? "no contact recorded"
            case "falling_contact":
                return "contacts fell from \(previous) to \(recent) a quarter"
            case "satisfaction":
                var text = "satisfaction \(latest ?? 0)/5"
                if let earlierMean, let latest, earlierMean - Double(latest) >= 1 {
                    text += ", down from \(DefectionModel.oneDecimal(earlierMean))"
                }
                return text
            case "overdue_complaint":
                return overdue == 1 ? "a complaint is overdue" : "\(overdue) complaints are overdue"
            default:
                return "\(contacts) contacts, never a complaint"
            }
        }
    }

    /// `value` with one decimal, rounded as `printf`'s `%.1f` rounds (half to even): a formatter
    /// per customer would cost more than the score.
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded(.toNearestOrEven))
        return "\(tenths / 10).\(abs(tenths % 10))"
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
