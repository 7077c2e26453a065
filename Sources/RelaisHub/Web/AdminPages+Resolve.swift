import Foundation
import Hummingbird
import RelaisCore

/// Resolving from the pages: one conflict (its page's form) or all the conflicts a list's filters
/// match (the bulk form). Both go through the service calls the API uses.
extension AdminPages {
    func resolve(id: String, _ request: Request, _ signed: Signed) async throws -> Response {
        let form: ResolveForm
        do {
            form = try await AdminForms.decode(ResolveForm.self, request)
        } catch {
            return try await detail(id: id, nil, signed, message: "The form could not be read.", status: .badRequest)
        }
        guard let given = form.csrf, secretsEqual(given, signed.session.csrf) else { return csrfRefused(signed) }
        let reason = (form.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else {
            return try await detail(
                id: id, nil, signed, message: "Give a reason: it is kept with the decision and shown to everyone.",
                status: .badRequest)
        }
        guard reason.utf8.count <= 4096 else {
            return try await detail(
                id: id, nil, signed, message: "The reason is longer than 4096 bytes.", status: .badRequest)
        }
        let report = try await service.conflict(id: id)
        let decision: HubService.Decision
        switch form.choice ?? "" {
        case let choice where choice.hasPrefix("pick-"):
            guard let index = Int(choice.dropFirst(5)) else {
                return try await detail(id: id, nil, signed, message: "Choose one of the values.", status: .badRequest)
            }
            decision = .pick(index)
        case "merged":
            let text = form.merged ?? ""
            guard let fieldName = report.conflict.field,
                let field = service.schema.collection(report.conflict.collection)?.field(fieldName)
            else {
                return try await detail(
                    id: id, nil, signed, message: "A delete-against-update conflict is resolved by picking a side.",
                    status: .badRequest)
            }
            do {
                decision = .value(try field.type.parse(text, collection: report.conflict.collection, field: fieldName))
            } catch {
                return try await detail(
                    id: id, nil, signed, message: "The merged value does not fit the field: \(error)",
                    status: .badRequest)
            }
        default:
            return try await detail(
                id: id, nil, signed, message: "Choose a value or enter a merged one.", status: .badRequest)
        }
        var expected: UInt64?
        if let text = form.recordVersion, !text.isEmpty {
            guard let value = UInt64(text) else {
                return try await detail(
                    id: id, nil, signed, message: "The form's record version is not valid.", status: .badRequest)
            }
            expected = value
        }
        do {
            try await service.reviewResolve(
                id: id, decision: decision, reason: reason, by: signed.session.user, expectedVersion: expected,
                overturn: form.statusSeen == ConflictStatus.resolved.rawValue)
        } catch let error as HubError {
            return try await detail(
                id: id, nil, signed, message: error.message, status: HTTPResponse.Status(code: error.httpStatus))
        }
        return Self.redirect("/admin/conflicts/\(id)?done=1")
    }

    func bulkResolve(_ request: Request, _ signed: Signed) async throws -> Response {
        guard let form = try? await AdminForms.decode(BulkForm.self, request) else {
            return errorPage("The form could not be read.", status: .badRequest, signed)
        }
        guard let given = form.csrf, secretsEqual(given, signed.session.csrf) else { return csrfRefused(signed) }
        var strategyText = form.strategy ?? ""
        if strategyText == "pick-user" { strategyText = "pick-user:\(form.user ?? "")" }
        guard let strategy = BulkStrategy(text: strategyText) else {
            return errorPage(
                "Choose a strategy (for pick-user, also the user's name). Nothing was changed.", status: .badRequest,
                signed)
        }
        let reason = (form.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else {
            return errorPage("Give a reason. Nothing was changed.", status: .badRequest, signed)
        }
        let query = try ConflictFilter(parameters: form.filterParameters)
        let seen = form.seenCount.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let result = try await service.bulkResolve(
            query, strategy: strategy, reason: reason, by: signed.session.user, expectedCount: seen)
        return errorPage(
            "Resolved \(result.resolved.count) conflict(s); skipped \(result.skipped.count).", status: .ok, signed,
            title: "Bulk resolve done")
    }
}
