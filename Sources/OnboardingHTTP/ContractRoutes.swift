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


    func add(to routes: ModuleRoutes) {
        routes.post("/v1/creditors/{creditorId}/mandates", .contractsManage, onCreditorIn: "creditorId") { request, context -> Response in
            let (actor, creditor) = (context.principal, try context.creditor())
            let body = try await request.decodeJSON(MandateBook.Input.self, context: context)
            let mandate = try await mandates.record(body, creditor: creditor, by: actor, requestID: context.requestID)
            var response = try mandate.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.uuidString.lowercased())/mandates/\(mandate.id.uuidString.lowercased())"
            return response
        }
        routes.get("/v1/creditors/{creditorId}/mandates", .contractsRead, onCreditorIn: "creditorId") { _, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            return Paged(all: try await mandates.list(creditor: creditor, as: actor))
        }
        routes.get("/v1/creditors/{creditorId}/mandates/{mandateId}", .contractsRead, onCreditorIn: "creditorId") { _, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            let id = try context.parameters.requireUUID("mandateId", what: "mandate")
            guard let mandate = try await mandates.list(creditor: creditor, as: actor).first(where: { $0.id == id }) else {
                throw Problem.notFound("mandate")
            }
            return mandate
        }
        routes.post("/v1/creditors/{creditorId}/mandates/{mandateId}/terminate", .contractsManage, onCreditorIn: "creditorId") { _, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            let id = try context.parameters.requireUUID("mandateId", what: "mandate")
            guard let mandate = try await mandates.terminate(id, creditor: creditor, by: actor, requestID: context.requestID) else {
                throw Problem.notFound("mandate")
            }
            return mandate
        }
        routes.post("/v1/creditors/{creditorId}/fee-schedules", .contractsManage, onCreditorIn: "creditorId") { request, context -> Response in
            let (actor, creditor) = (context.principal, try context.creditor())
            let body = try await request.decodeJSON(FeeScheduleBook.Input.self, context: context)
            let schedule = try await fees.add(body, creditor: creditor, by: actor, requestID: context.requestID)
            var response = try schedule.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.uuidString.lowercased())/fee-schedules"
            return response
        }
        routes.get("/v1/creditors/{creditorId}/fee-schedules", .contractsRead, onCreditorIn: "creditorId") { _, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            return Paged(all: try await fees.list(creditor: creditor, as: actor))
        }
    }
}
