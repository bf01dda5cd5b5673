import Assignment
import Core
import Foundation
import Hummingbird
import Web

/// The assignment rules: the version in force, a new version, the versions.
struct RuleRoutes {
    let rules: RuleBook

    func add(to routes: ModuleRoutes) {
        routes.get("/v1/assignment-rules", .assignmentRead) { _, context in
            guard let current = try await rules.current(as: context.principal) else {
                throw Problem(
                    status: 404, code: "not-found", title: "Not found",
                    detail: "No assignment rules yet: cases wait with reason no_rule until some are saved (Docs/assignment.md).")
            }
            return current
        }
        routes.on(.put, "/v1/assignment-rules", .assignmentManage) { request, context -> Response in
            let body = try await request.decodeJSON(RuleBook.Input.self, context: context)
            let (set, created) = try await rules.save(body, by: context.principal, requestID: context.requestID)
            var response = try set.response(from: request, context: context)
            response.status = created ? .created : .ok
            return response
        }
        routes.get("/v1/assignment-rules/versions", .assignmentRead) { _, context in
            Paged(all: try await rules.versions(as: context.principal))
        }
        routes.get("/v1/assignment-rules/versions/{version}", .assignmentRead) { _, context in
            guard let text = context.parameters.get("version"), let version = Int(text), version > 0 else { throw Problem.notFound("rules version") }
            return try await rules.version(version, as: context.principal)
        }
    }
}

extension RuleBook.VersionSummary: ResponseEncodable {}
