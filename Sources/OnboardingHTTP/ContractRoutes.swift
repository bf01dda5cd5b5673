import Core
import Foundation
import Hummingbird
import Onboarding
import Web

/// A creditor's mandates and fee schedules: recorded by the agency's admin, readable by the
/// creditor's own users.
struct ContractRoutes {
    let mandates: MandateBook
    let fees: FeeScheduleBook


    func add(to routes: RouteCollection<AppRequestContext>) {
        let router = routes.group(context: CallerContext.self)
        router.post("/v1/creditors/{creditorId}/mandates") { request, context -> Response in
            let (actor, creditor) = try context.require(.contractsManage, onCreditorIn: "creditorId")
            let body = try await request.decodeJSON(MandateBook.Input.self, context: context)
            let mandate = try await mandates.record(body, creditor: creditor, by: actor, requestID: context.requestID)
            var response = try mandate.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.uuidString.lowercased())/mandates/\(mandate.id.uuidString.lowercased())"
            return response
        }
        router.get("/v1/creditors/{creditorId}/mandates") { _, context in
            let (actor, creditor) = try context.require(.contractsRead, onCreditorIn: "creditorId")
            return Paged(all: try await mandates.list(creditor: creditor, as: actor))
        }
        router.get("/v1/creditors/{creditorId}/mandates/{mandateId}") { _, context in
            let (actor, creditor) = try context.require(.contractsRead, onCreditorIn: "creditorId")
            let id = try context.parameters.requireUUID("mandateId", what: "mandate")
            guard let mandate = try await mandates.list(creditor: creditor, as: actor).first(where: { $0.id == id }) else {
                throw Problem.notFound("mandate")
            }
            return mandate
        }
        router.post("/v1/creditors/{creditorId}/mandates/{mandateId}/terminate") { _, context in
            let (actor, creditor) = try context.require(.contractsManage, onCreditorIn: "creditorId")
            let id = try context.parameters.requireUUID("mandateId", what: "mandate")
            guard let mandate = try await mandates.terminate(id, creditor: creditor, by: actor, requestID: context.requestID) else {
                throw Problem.notFound("mandate")
            }
            return mandate
        }
        router.post("/v1/creditors/{creditorId}/fee-schedules") { request, context -> Response in
            let (actor, creditor) = try context.require(.contractsManage, onCreditorIn: "creditorId")
            let body = try await request.decodeJSON(FeeScheduleBook.Input.self, context: context)
            let schedule = try await fees.add(body, creditor: creditor, by: actor, requestID: context.requestID)
            var response = try schedule.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.uuidString.lowercased())/fee-schedules"
            return response
        }
        router.get("/v1/creditors/{creditorId}/fee-schedules") { _, context in
            let (actor, creditor) = try context.require(.contractsRead, onCreditorIn: "creditorId")
            return Paged(all: try await fees.list(creditor: creditor, as: actor))
        }
    }
}
