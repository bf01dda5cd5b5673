import Core
import Foundation
import Hummingbird
import Web
import WorkQueue

/// What is done on a case: its activities, and what the gate says of contacting its debtor now.
struct CaseWorkRoutes {
    let activities: Activities
    let contact: ContactCheck

    func add(to routes: ModuleRoutes) {
        routes.post("/v1/cases/{caseId}/activities", .activitiesWrite) { request, context -> Response in
            let id = try context.parameters.requireUUID("caseId", what: "case")
            let body = try await request.decodeJSON(Activities.Input.self, context: context)
            var response = try await activities.record(case: id, body, by: context.principal, requestID: context.requestID)
                .response(from: request, context: context)
            response.status = .created
            return response
        }
        routes.get("/v1/cases/{caseId}/activities", .activitiesRead) { request, context in
            let page = try Page(request)
            let items = try await activities.list(
                case: try context.parameters.requireUUID("caseId", what: "case"), before: page.after, limit: page.limit, as: context.principal)
            return Paged(items: items, limit: page.limit, id: \.id)
        }
        routes.get("/v1/cases/{caseId}/contact", .activitiesRead) { _, context in
            try await contact.now(case: try context.parameters.requireUUID("caseId", what: "case"), as: context.principal)
        }
    }
}

extension Activities.Activity: ResponseEncodable {}
extension ContactCheck.Now: ResponseEncodable {}
