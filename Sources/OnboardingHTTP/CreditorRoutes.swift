import Core
import Foundation
import Hummingbird
import Onboarding
import Web

/// Creditors (the tenants).
struct CreditorRoutes {
    let creditors: CreditorDirectory

    func add(to routes: RouteCollection<AppRequestContext>) {
        let router = routes.group(context: CallerContext.self)
        router.post("/v1/creditors") { request, context -> Response in
            let actor = try context.require(.creditorsManage)
            var body = try await request.decodeJSON(CreditorDirectory.Input.self, context: context)
            body.status = nil
            let creditor = try await creditors.create(body, by: actor, requestID: context.requestID)
            var response = try creditor.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.id.uuidString.lowercased())"
            return response
        }
        router.get("/v1/creditors") { request, context in
            let actor = try context.require(.creditorsList)
            let page = try Page(request)
            // Row-level security narrows a creditor principal to its own creditor.
            return Paged(items: try await creditors.list(as: actor, limit: page.limit, after: page.after), limit: page.limit, id: \.id)
        }
        router.get("/v1/creditors/{creditorId}") { _, context in
            let (actor, id) = try context.require(.creditorsRead, onCreditorIn: "creditorId")
            guard let creditor = try await creditors.find(id, as: actor) else { throw Problem.notFound("creditor") }
            return creditor
        }
        router.patch("/v1/creditors/{creditorId}") { request, context in
            let (actor, id) = try context.require(.creditorsManage, onCreditorIn: "creditorId")
            let body = try await request.decodeJSON(CreditorDirectory.Input.self, context: context)
            guard let creditor = try await creditors.update(id, body, by: actor, requestID: context.requestID)
            else { throw Problem.notFound("creditor") }
            return creditor
        }
    }
}
