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

    static let readers: Set<Role> = [.admin, .supervisor]

    func add(to router: RouteCollection<AppRequestContext>) {
        router.post("/v1/creditors/{creditorId}/mandates") { request, context -> Response in
            let (actor, creditor) = try context.requireCreditorAccess(staff: [.admin], creditor: [])
            let body = try await request.decodeJSON(MandateBook.Input.self, context: context)
            let mandate = try await mandates.record(body, creditor: creditor, by: actor, requestID: context.requestID)
            var response = try mandate.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.uuidString.lowercased())/mandates/\(mandate.id.uuidString.lowercased())"
            return response
        }
        router.get("/v1/creditors/{creditorId}/mandates") { _, context in
            let (actor, creditor) = try context.requireCreditorAccess(staff: Self.readers, creditor: [.creditorAdmin, .creditorViewer])
            return Listed(items: try await mandates.list(creditor: creditor, as: actor))
        }
        router.get("/v1/creditors/{creditorId}/mandates/{mandateId}") { _, context in
            let (actor, creditor) = try context.requireCreditorAccess(staff: Self.readers, creditor: [.creditorAdmin, .creditorViewer])
            let id = try context.parameters.requireUUID("mandateId", what: "mandate")
            guard let mandate = try await mandates.list(creditor: creditor, as: actor).first(where: { $0.id == id }) else {
                throw Problem.notFound("mandate")
            }
            return mandate
        }
        router.post("/v1/creditors/{creditorId}/mandates/{mandateId}/terminate") { _, context in
            let (actor, creditor) = try context.requireCreditorAccess(staff: [.admin], creditor: [])
            let id = try context.parameters.requireUUID("mandateId", what: "mandate")
            guard let mandate = try await mandates.terminate(id, creditor: creditor, by: actor, requestID: context.requestID) else {
                throw Problem.notFound("mandate")
            }
            return mandate
        }
        router.post("/v1/creditors/{creditorId}/fee-schedules") { request, context -> Response in
            let (actor, creditor) = try context.requireCreditorAccess(staff: [.admin], creditor: [])
            let body = try await request.decodeJSON(FeeScheduleBook.Input.self, context: context)
            let schedule = try await fees.add(body, creditor: creditor, by: actor, requestID: context.requestID)
            var response = try schedule.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.uuidString.lowercased())/fee-schedules"
            return response
        }
        router.get("/v1/creditors/{creditorId}/fee-schedules") { _, context in
            let (actor, creditor) = try context.requireCreditorAccess(staff: Self.readers, creditor: [.creditorAdmin, .creditorViewer])
            return Listed(items: try await fees.list(creditor: creditor, as: actor))
        }
    }
}
