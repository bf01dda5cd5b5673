import Core
import Foundation
import Hummingbird
import Web
import WorkQueue

/// What comes of a conversation: promises, payment plans (and a creditor's terms for them),
/// disputes, holds.
struct CommitmentRoutes {
    let promises: Promises
    let plans: PaymentPlans
    let disputes: Disputes
    let holds: Holds

    func created(_ value: some ResponseEncodable, _ request: Request, _ context: CallerContext) throws -> Response {
        var response = try value.response(from: request, context: context)
        response.status = .created
        return response
    }

    func add(to routes: ModuleRoutes) {
        routes.post("/v1/cases/{caseId}/promises", .commitmentsWrite) { request, context -> Response in
            let id = try context.parameters.requireUUID("caseId", what: "case")
            let body = try await request.decodeJSON(Promises.Input.self, context: context)
            return try created(try await promises.create(case: id, body, by: context.principal, requestID: context.requestID), request, context)
        }
        routes.get("/v1/cases/{caseId}/promises", .commitmentsRead) { _, context in
            Paged(all: try await promises.list(case: try context.parameters.requireUUID("caseId", what: "case"), as: context.principal))
        }
        routes.post("/v1/cases/{caseId}/payment-plans", .commitmentsWrite) { request, context -> Response in
            let id = try context.parameters.requireUUID("caseId", what: "case")
            let body = try await request.decodeJSON(PaymentPlans.Input.self, context: context)
            return try created(try await plans.create(case: id, body, by: context.principal, requestID: context.requestID), request, context)
        }
        routes.get("/v1/cases/{caseId}/payment-plans", .commitmentsRead) { _, context in
            Paged(all: try await plans.list(case: try context.parameters.requireUUID("caseId", what: "case"), as: context.principal))
        }
        for (verb, approve) in [("approve", true), ("reject", false)] {
            routes.post("/v1/cases/{caseId}/payment-plans/{planId}/\(verb)", .commitmentsDecide) { _, context in
                try await plans.decide(
                    case: try context.parameters.requireUUID("caseId", what: "case"), plan: try context.parameters.requireUUID("planId", what: "payment plan"),
                    approve: approve, by: context.principal, requestID: context.requestID)
            }
        }
        routes.get("/v1/creditors/{creditorId}/plan-policy", .planPolicyRead, onCreditorIn: "creditorId") { _, context in
            try await plans.policy(creditor: try context.creditor(), as: context.principal)
        }
        routes.on(.put, "/v1/creditors/{creditorId}/plan-policy", .planPolicyManage, onCreditorIn: "creditorId") { request, context in
            let body = try await request.decodeJSON(PaymentPlans.Policy.self, context: context)
            return try await plans.setPolicy(creditor: try context.creditor(), body, by: context.principal, requestID: context.requestID)
        }
        routes.post("/v1/cases/{caseId}/disputes", .commitmentsWrite) { request, context -> Response in
            let id = try context.parameters.requireUUID("caseId", what: "case")
            let body = try await request.decodeJSON(Disputes.Input.self, context: context)
            return try created(try await disputes.open(case: id, body, by: context.principal, requestID: context.requestID), request, context)
        }
        routes.get("/v1/cases/{caseId}/disputes", .commitmentsRead) { _, context in
            Paged(all: try await disputes.list(case: try context.parameters.requireUUID("caseId", what: "case"), as: context.principal))
        }
        routes.post("/v1/cases/{caseId}/disputes/{disputeId}/resolve", .commitmentsDecide) { request, context in
            let body = try await request.decodeJSON(Disputes.Resolution.self, context: context)
            return try await disputes.resolve(
                case: try context.parameters.requireUUID("caseId", what: "case"), dispute: try context.parameters.requireUUID("disputeId", what: "dispute"),
                body, by: context.principal, requestID: context.requestID)
        }
        routes.post("/v1/cases/{caseId}/holds", .holdsWrite) { request, context -> Response in
            let id = try context.parameters.requireUUID("caseId", what: "case")
            let body = try await request.decodeJSON(Holds.Input.self, context: context)
            return try created(try await holds.create(case: id, body, by: context.principal, requestID: context.requestID), request, context)
        }
        routes.get("/v1/cases/{caseId}/holds", .commitmentsRead) { _, context in
            Paged(all: try await holds.list(case: try context.parameters.requireUUID("caseId", what: "case"), as: context.principal))
        }
        routes.post("/v1/cases/{caseId}/holds/{holdId}/release", .holdsWrite) { _, context in
            try await holds.release(
                case: try context.parameters.requireUUID("caseId", what: "case"), hold: try context.parameters.requireUUID("holdId", what: "hold"),
                by: context.principal, requestID: context.requestID)
        }
    }
}

extension Promises.Promise: ResponseEncodable {}
extension PaymentPlans.Plan: ResponseEncodable {}
extension PaymentPlans.Policy: ResponseEncodable {}
extension Disputes.Dispute: ResponseEncodable {}
extension Holds.Hold: ResponseEncodable {}
