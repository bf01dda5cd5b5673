import Core
import Foundation
import Hummingbird
import Onboarding
import Web

/// Creditors (the tenants).
struct CreditorRoutes {
    let creditors: CreditorDirectory

    func add(to routes: ModuleRoutes) {
        routes.post("/v1/creditors", .creditorsManage) { request, context -> Response in
            let actor = context.principal
            var body = try await request.decodeJSON(CreditorDirectory.Input.self, context: context)
            body.status = nil
            let creditor = try await creditors.create(body, by: actor, requestID: context.requestID)
            var response = try creditor.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.id.uuidString.lowercased())"
            return response
        }
        routes.get("/v1/creditors", .creditorsList) { request, context in
            let actor = context.principal
            let page = try Page(request)
            // Row-level security narrows a creditor principal to its own creditor.
            return Paged(items: try await creditors.list(as: actor, limit: page.limit, after: page.after), limit: page.limit, id: \.id)
        }
        routes.get("/v1/creditors/{creditorId}", .creditorsRead, onCreditorIn: "creditorId") { _, context in
            let (actor, id) = (context.principal, try context.creditor())
            guard let creditor = try await creditors.find(id, as: actor) else { throw Problem.notFound("creditor") }
            return creditor
        }
        routes.patch("/v1/creditors/{creditorId}", .creditorsManage, onCreditorIn: "creditorId") { request, context in
            let (actor, id) = (context.principal, try context.creditor())
            let body = try await request.decodeJSON(CreditorDirectory.Input.self, context: context)
            guard let creditor = try await creditors.update(id, body, by: actor, requestID: context.requestID)
            else { throw Problem.notFound("creditor") }
            return creditor
        }
    }
}
