import Assignment
import Core
import Foundation
import Hummingbird
import Web

/// What supervisors do with assignments, and a case's history.
struct ReassignmentRoutes {
    let assigner: Assigner
    let reassignments: Reassignments
    let rebalancer: Rebalancer

    static let reasons = ["no_rule", "pool_absent", "pool_full", "skill_missing"]

    func add(to routes: ModuleRoutes) {
        routes.get("/v1/assignments/unassigned", .assignmentRead) { request, context in
            let page = try Page(request)
            let query = request.uri.queryParameters
            let reason = try query.get("reason").map { text -> String in
                guard Self.reasons.contains(text) else {
                    throw Problem.validation([.init(field: "reason", reason: "must be one of \(Self.reasons.joined(separator: ", "))")])
                }
                return text
            }
            let creditor = try request.uuidQuery("creditorId", what: "a creditor")
            let items = try await reassignments.waiting(reason: reason, creditor: creditor, after: page.after, limit: page.limit, as: context.principal)
            return Paged(items: items, limit: page.limit, id: \.caseId)
        }
        routes.post("/v1/assignments/run", .assignmentManage) { _, _ in
            try await assigner.run()
        }
        routes.post("/v1/assignments/reassign", .assignmentManage) { request, context in
            let body = try await request.decodeJSON(Reassignments.MoveRequest.self, context: context)
            return try await reassignments.move(body, by: context.principal, requestID: context.requestID)
        }
        routes.post("/v1/assignments/rebalance/preview", .assignmentManage) { request, context in
            let body = try await request.decodeJSON(Rebalancer.Request.self, context: context)
            return try await rebalancer.preview(body, as: context.principal)
        }
        routes.post("/v1/assignments/rebalance", .assignmentManage) { request, context in
            let body = try await request.decodeJSON(Rebalancer.Request.self, context: context)
            return try await rebalancer.execute(body, by: context.principal, requestID: context.requestID)
        }
        routes.post("/v1/cases/{caseId}/assignment", .assignmentManage) { request, context in
            let id = try context.parameters.requireUUID("caseId", what: "case")
            let body = try await request.decodeJSON(Reassignments.Request.self, context: context)
            return try await reassignments.reassign(case: id, body, by: context.principal, requestID: context.requestID)
        }
        routes.get("/v1/cases/{caseId}/assignments", .caseAssignmentsRead) { _, context in
            Paged(all: try await reassignments.history(ofCase: try context.parameters.requireUUID("caseId", what: "case"), as: context.principal))
        }
    }
}

extension Reassignments.Waiting: ResponseEncodable {}
