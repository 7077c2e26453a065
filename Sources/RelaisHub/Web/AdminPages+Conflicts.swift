import Hummingbird
import RelaisCore

/// The conflict list (filters, pages, the bulk form's count), a conflict's page, and the export.
extension AdminPages {
    func list(_ request: Request, _ signed: Signed) async throws -> Response {
        let parameters = AdminRoutes.parameters(request)
        let layout = AdminLayout(signed, title: "Conflicts", section: .conflicts)
        let query: ConflictFilter
        do {
            query = try ConflictFilter(parameters: parameters)
        } catch let error as HubError {
            return render(ConflictsView(layout: layout, message: error.message), status: .badRequest)
        }
        let page = try await service.reviewConflicts(query)
        // What a bulk resolve of these filters would take (open ones unless a status is chosen); the
        // form sends the count back so that a list changed meanwhile is refused (stale form).
        var bulkQuery = query
        if bulkQuery.status == nil { bulkQuery.status = .open }
        bulkQuery.limit = 1
        bulkQuery.offset = 0
        let bulkCount = try await service.reviewConflicts(bulkQuery).total
        let filters = query.parameters
        func link(offset: Int) -> String {
            Self.path("/admin/conflicts", filters + [("limit", String(query.limit)), ("offset", String(offset))])
        }
        func options(_ values: [String], selected: String) -> [ConflictsView.Option] {
            values.map { .init(value: $0, label: $0.isEmpty ? "any" : $0, selected: $0 == selected) }
        }
        return render(
            ConflictsView(
                layout: layout,
                statuses: options(["", "open", "auto-resolved", "resolved"], selected: query.status?.rawValue ?? ""),
                rules: options(
                    ["", "manual", "lww", "union", "append", "max", "min", "delete-update"], selected: query.rule ?? ""),
                collection: query.collection ?? "", field: query.field ?? "", user: query.user ?? "",
                territory: query.territory ?? "", from: parameters["from"] ?? "", to: parameters["to"] ?? "",
                limit: query.limit, total: page.total,
                first: page.total == 0 ? 0 : query.offset + 1, last: query.offset + page.reports.count,
                reports: page.reports.map { ConflictRow($0, customer: page.customerNames[$0.id]) },
                empty: page.reports.isEmpty,
                previous: query.offset > 0 ? link(offset: max(0, query.offset - query.limit)) : nil,
                next: query.offset + page.reports.count < page.total ? link(offset: query.offset + query.limit) : nil,
                exportCSV: Self.path("/admin/export", filters + [("format", "csv")]),
                exportJSON: Self.path("/admin/export", filters + [("format", "json")]),
                // The bulk form's own `user` is the salesperson whose values to keep: the filter travels as
                // `filter_user`.
                hiddenFilters: filters.map { .init(name: $0.0 == "user" ? "filter_user" : $0.0, value: $0.1) },
                bulkCount: bulkCount, bulkStatus: bulkQuery.status?.rawValue ?? "open"))
    }

    /// The conflict's page; `message` (with `status`) says why a form sent from it was refused.
    func detail(
        id: String, _ request: Request?, _ signed: Signed, message: String?, status: HTTPResponse.Status = .ok
    )
        async throws -> Response
    {
        let detail = try await service.conflictDetail(id: id)
        let report = detail.report
        let conflict = report.conflict
        let schema = service.schema
        let field = conflict.field.flatMap { schema.collection(conflict.collection)?.field($0) }
        func reference(for index: Int) -> Value? {
            if let base = conflict.base { return base }
            let others = conflict.values.indices.filter { $0 != index }
            return others.first.flatMap { conflict.values[$0].value }
        }
        let values = conflict.values.enumerated().map { index, competitor in
            let shown = competitor.deleted ? "(deletes the record)" : AdminText.display(competitor.value)
            let diff = competitor.deleted ? [] : AdminText.diff(from: reference(for: index), to: competitor.value)
            return ConflictView.Competitor(
                index: index, user: competitor.author, replica: Int(competitor.dot.replica.rawValue),
                hlcTime: AdminTime.iso8601(competitor.hlc), text: shown,
                diff: diff.map(ConflictView.DiffMark.init), hasDiff: !diff.isEmpty,
                isChosen: !competitor.deleted && competitor.value == conflict.chosen && conflict.field != nil,
                checked: index == 0)
        }
        var recordFields: [ConflictView.RecordField] = []
        if let record = detail.record, let collection = schema.collection(conflict.collection) {
            recordFields = record.state.values(in: collection).sorted { $0.key < $1.key }.map {
                .init(name: $0.key, value: AdminText.display($0.value), isField: $0.key == conflict.field)
            }
        }
        let resolution = report.resolution.map { decided in
            ConflictView.Resolution(
                by: decided.by, at: AdminTime.iso8601(decided.at), reason: decided.reason,
                value: decided.deleted ? "(record deleted)" : AdminText.display(decided.value))
        }
        let history = detail.history.map { version in
            let entry = version.entry
            let shown =
                entry.deleted
                ? "(deleted the record)"
                : conflict.field == nil ? "(updated the record)" : AdminText.display(version.value)
            let outcome: String
            switch version.chosenByRule {
            case true?: outcome = "conflict: chosen by the rule"
            case false?: outcome = "conflict: not chosen by the rule"
            case nil: outcome = ""
            }
            return ConflictView.Version(
                seq: entry.seq, value: shown, user: entry.user,
                device: version.device ?? "replica \(entry.dot.replica.rawValue)",
                replica: Int(entry.dot.replica.rawValue),
                typedAt: AdminTime.iso8601(entry.hlc), receivedAt: AdminTime.iso8601(entry.at),
                outcome: outcome, current: version.current,
                conflicts: version.conflictIDs.map {
                    .init(id: $0, shortID: String($0.prefix(8)), isThis: $0 == report.id)
                })
        }
        let customer = try await service.customerName(collection: conflict.collection, id: conflict.recordID)
        let view = ConflictView(
            layout: AdminLayout(signed, title: "Conflict \(report.id.prefix(8))", section: .conflicts),
            id: report.id, customer: customer, collection: conflict.collection, recordID: conflict.recordID,
            field: conflict.field ?? "(the record: delete against update)", isField: conflict.field != nil,
            rule: conflict.rule, status: conflict.status.rawValue, territory: report.scope ?? "—",
            createdAt: AdminTime.iso8601(report.createdAt),
            base: conflict.base.map { AdminText.display($0) } ?? "(none: both sides were new)",
            chosen: conflict.chosen.map { AdminText.display($0) } ?? "(none)",
            values: values, resolution: resolution, isResolved: conflict.status == .resolved,
            recordVersion: detail.record.map { String($0.seq) } ?? "",
            recordDeleted: detail.record?.state.isDeleted ?? false, recordMissing: detail.record == nil,
            recordFields: recordFields, history: history, hasHistory: !detail.history.isEmpty,
            earlier: detail.earlierConflicts.map { ConflictRow($0, customer: customer) },
            hasEarlier: !detail.earlierConflicts.isEmpty,
            historyLimit: HubService.defaultHistoryLimit, fieldHint: field.map { AdminText.hint($0.type) } ?? "",
            message: message, done: request?.uri.queryParameters["done"] != nil)
        return render(view, status: status)
    }

    func export(_ request: Request) async throws -> Response {
        var parameters = AdminRoutes.parameters(request)
        let format = parameters.removeValue(forKey: "format") ?? "csv"
        parameters["limit"] = nil
        parameters["offset"] = nil
        let query = try ConflictFilter(parameters: parameters)
        return ConflictExport.response(service: service, query: query, format: format == "json" ? .json : .csv)
    }
}
