import RelaisCore

// The admin pages' view models: plain structs that swift-mustache reads by reflection (a template's
// `{{name}}` is the stored property `name`; a `nil` optional or `false` skips a `{{#name}}` section,
// an array repeats it). One struct a page, one a repeated row; each page carries the header's
// ``AdminLayout`` as `layout`.

/// A page's view model and the template (Sources/RelaisHub/Web/Templates) it fills.
protocol AdminView {
    static var template: String { get }
    /// What header.mustache shows.
    var layout: AdminLayout { get }
}

/// The header of every page: its title and, once signed in, the admin, the session's CSRF token (for the
/// sign-out form and every other POST form) and which menu entry is the current page.
struct AdminLayout {
    /// The menu entries.
    enum Section { case dashboard, conflicts, audit, reports }

    let title: String
    let signedIn: Bool
    let admin: String
    let csrf: String
    /// The admin's menu entries are shown (a manager sees only the reports).
    let isAdmin: Bool
    let navDashboard: Bool
    let navConflicts: Bool
    let navAudit: Bool
    let navReports: Bool

    /// The header of a page shown before signing in: no menu.
    init(signedOutTitle title: String) {
        self.title = title
        signedIn = false
        admin = ""
        csrf = ""
        isAdmin = false
        navDashboard = false
        navConflicts = false
        navAudit = false
        navReports = false
    }

    init(_ signed: AdminPages.Signed, title: String, section: Section?) {
        self.title = title
        signedIn = true
        admin = signed.session.user
        csrf = signed.session.csrf
        isAdmin = signed.role == .admin
        navDashboard = section == .dashboard
        navConflicts = section == .conflicts
        navAudit = section == .audit
        navReports = section == .reports
    }
}

/// sign-in.mustache. `csrf` is the sign-in form's own token (there is no session yet).
struct SignInView: AdminView {
    static let template = "sign-in"
    let layout = AdminLayout(signedOutTitle: "Sign in")
    let csrf: String
    let message: String?
}

/// message.mustache: a page that only says something.
struct MessageView: AdminView {
    static let template = "message"
    let layout: AdminLayout
    let message: String
}

/// dashboard.mustache.
struct DashboardView: AdminView {
    /// A name and how many conflicts it has (a rule, a salesperson, an ISO week).
    struct Count {
        let name: String
        let count: Int
    }

    /// A device and how far behind the hub's head it is.
    struct Lag {
        let name: String
        let user: String
        let replica: Int
        let lag: UInt64
        let lastSeen: String
        /// The last verification: outcome and time, or `never`.
        let verified: String
        /// The last verification left records different.
        let diverged: Bool
    }

    /// A device an admin asked to wipe.
    struct Wipe {
        let name: String
        let user: String
        let replica: Int
        let status: String
        let requested: String
        let saved: String
        let unsaved: String
    }

    static let template = "dashboard"
    let layout: AdminLayout
    let open: Int
    let total: Int
    let byRule: [Count]
    let byUser: [Count]
    let byWeek: [Count]
    let lags: [Lag]
    let wipes: [Wipe]
    let hasWipes: Bool
}

/// audit.mustache.
struct AuditView: AdminView {
    struct Event {
        let at: String
        let kind: String
        let user: String
        let detail: String
    }

    static let template = "audit"
    let layout: AdminLayout
    let events: [Event]
    let empty: Bool
}

/// A conflict report as a row of a table (the conflict list, the earlier conflicts on a field).
struct ConflictRow {
    let id: String
    let shortID: String
    let createdAt: String
    let collection: String
    let recordID: String
    let field: String
    let rule: String
    let status: String
    let territory: String
    let users: String
    /// The customer the record belongs to, when the hub holds it.
    let customer: String?

    init(_ report: ConflictReport, customer: String?) {
        self.customer = customer
        let conflict = report.conflict
        id = report.id
        shortID = String(report.id.prefix(8))
        createdAt = AdminTime.iso8601(report.createdAt)
        collection = conflict.collection
        recordID = conflict.recordID
        field = conflict.field ?? "(record)"
        rule = conflict.rule
        status = conflict.status.rawValue
        territory = report.scope ?? ""
        users = Array(Set(conflict.values.map(\.author))).sorted().joined(separator: ", ")
    }
}

/// conflicts.mustache: the filters, a page of the list, and the bulk-resolve form. A filter the hub
/// refuses shows only `message` and the empty form: the list's figures are then `nil`.
struct ConflictsView: AdminView {
    /// An option of a `<select>`.
    struct Option {
        let value: String
        let label: String
        let selected: Bool
    }

    /// A hidden input of the bulk form.
    struct Hidden {
        let name: String
        let value: String
    }

    static let template = "conflicts"
    let layout: AdminLayout
    var message: String? = nil
    var statuses: [Option] = []
    var rules: [Option] = []
    var collection = ""
    var field = ""
    var user = ""
    var territory = ""
    var from = ""
    var to = ""
    var limit: Int? = nil
    var total: Int? = nil
    var first: Int? = nil
    var last: Int? = nil
    var reports: [ConflictRow] = []
    var empty: Bool? = nil
    /// Links to the previous and next pages, if any.
    var previous: String? = nil
    var next: String? = nil
    var exportCSV = ""
    var exportJSON = ""
    var hiddenFilters: [Hidden] = []
    /// How many conflicts a bulk resolve of these filters would take, and their status.
    var bulkCount: Int? = nil
    var bulkStatus: String? = nil
}

/// conflict.mustache: one conflict, its competing values, the resolve form, the record, the field's
/// history and its earlier conflicts.
struct ConflictView: AdminView {
    /// A competing value, with its difference from the base (or the other value).
    struct Competitor {
        let index: Int
        let user: String
        let replica: Int
        let hlcTime: String
        let text: String
        let diff: [DiffMark]
        let hasDiff: Bool
        let isChosen: Bool
        let checked: Bool
    }

    /// A word or item of a difference, added, removed or the same.
    struct DiffMark {
        let text: String
        let added: Bool
        let removed: Bool
        let same: Bool

        init(_ token: WordDiff.Token) {
            text = token.text
            added = token.kind == .added
            removed = token.kind == .removed
            same = token.kind == .same
        }
    }

    /// An administrator's decision.
    struct Resolution {
        let by: String
        let at: String
        let reason: String
        let value: String
    }

    /// A field of the record as the hub holds it now.
    struct RecordField {
        let name: String
        let value: String
        let isField: Bool
    }

    /// An accepted write that carried the field.
    struct Version {
        /// A conflict the write raised.
        struct Link {
            let id: String
            let shortID: String
            let isThis: Bool
        }

        let seq: UInt64
        let value: String
        let user: String
        let device: String
        let replica: Int
        let typedAt: String
        let receivedAt: String
        let outcome: String
        let current: Bool
        let conflicts: [Link]
    }

    static let template = "conflict"
    let layout: AdminLayout
    let id: String
    /// The customer the record belongs to, when the hub holds it.
    let customer: String?
    let collection: String
    let recordID: String
    let field: String
    let isField: Bool
    let rule: String
    let status: String
    let territory: String
    let createdAt: String
    let base: String
    let chosen: String
    let values: [Competitor]
    let resolution: Resolution?
    let isResolved: Bool
    let recordVersion: String
    let recordDeleted: Bool
    let recordMissing: Bool
    let recordFields: [RecordField]
    let history: [Version]
    let hasHistory: Bool
    let earlier: [ConflictRow]
    let hasEarlier: Bool
    let historyLimit: Int
    let fieldHint: String
    let message: String?
    let done: Bool
}

/// reports.mustache: the manager's value-at-risk list and complaints.
struct ReportsView: AdminView {
    static let template = "reports"
    let layout: AdminLayout
    let today: String
    /// Which territories the figures cover.
    let scope: String
    let message: String?

    struct Reason {
        let points: Int
        let text: String
    }

    struct Proposal {
        let programme: String?
        let atRiskStatus: Bool
        let label: String
    }

    struct AtRisk {
        let rank: Int
        let id: String
        let name: String
        let territory: String
        let segment: String
        let lifetimeValue: String
        let score: Int
        let valueAtRisk: String
        let reasons: [Reason]
        let complaints: String
        let proposal: Proposal?
    }

    struct Complaint {
        let name: String
        let territory: String
        let segment: String
        let on: String
        let followUp: String
        let age: Int
        let overdue: Bool
    }

    struct Group {
        let kind: String
        let name: String
        let open: Int
        let overdue: Int
        let resolved: Int
        let mean: String
    }

    struct Level {
        let name: String
        let territory: String
        let declared: String
        let observed: String
        let evidence: String
    }

    struct RetentionRow {
        let kind: String
        let name: String
        let customers: Int
        let retained: Int
        let rate: String
    }

    let atRisk: [AtRisk]
    let noneAtRisk: Bool
    let retentionFrom: String
    let retentionTo: String
    let retention: [RetentionRow]
    /// The lost customers' names, or nil.
    let lostCustomers: String?
    let levels: [Level]
    let noLevels: Bool
    let openComplaints: [Complaint]
    let noComplaints: Bool
    /// Says how many open complaints are not listed, or nil.
    let moreComplaints: String?
    let groups: [Group]
}
