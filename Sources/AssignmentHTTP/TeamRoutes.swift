import Assignment
import Core
import Foundation
import Hummingbird
import Web

/// Teams: list, create, read, change.
struct TeamRoutes {
    let teams: TeamBook
    let wake: @Sendable () -> Void

    func add(to routes: ModuleRoutes) {
        routes.get("/v1/teams", .assignmentRead) { _, context in
            Paged(all: try await teams.list(as: context.principal))
        }
        routes.post("/v1/teams", .assignmentManage) { request, context -> Response in
            let body = try await request.decodeJSON(TeamBook.Input.self, context: context)
            let team = try await teams.create(body, by: context.principal, requestID: context.requestID)
            var response = try team.response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/teams/\(team.id.uuidString.lowercased())"
            return response
        }
        routes.get("/v1/teams/{teamId}", .assignmentRead) { _, context in
            try await teams.get(try context.parameters.requireUUID("teamId", what: "team"), as: context.principal)
        }
        routes.patch("/v1/teams/{teamId}", .assignmentManage) { request, context in
            let id = try context.parameters.requireUUID("teamId", what: "team")
            let body = try await request.decodeJSON(TeamBook.Input.self, context: context)
            let team = try await teams.update(id, body, by: context.principal, requestID: context.requestID)
            wake()
            return team
        }
    }
}
