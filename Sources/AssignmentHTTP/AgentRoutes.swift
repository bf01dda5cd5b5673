import Assignment
import Core
import Foundation
import Hummingbird
import Web

/// Agents: their profiles (team, skills, capacity), absences, and cover while they are away.
struct AgentRoutes {
    let agents: AgentBook
    let reassignments: Reassignments

    struct CoverBody: Decodable {
        let to: Reassignments.Target?
        let note: String?
    }

    func add(to routes: ModuleRoutes) {
        routes.get("/v1/agents", .assignmentRead) { request, context in
            Paged(all: try await agents.list(team: try request.uuidQuery("teamId", what: "a team"), as: context.principal))
        }
        routes.get("/v1/agents/{userId}", .assignmentRead) { _, context in
            try await agents.get(try context.parameters.requireUUID("userId", what: "agent"), as: context.principal)
        }
        routes.on(.put, "/v1/agents/{userId}/profile", .assignmentManage) { request, context in
            let id = try context.parameters.requireUUID("userId", what: "agent")
            let body = try await request.decodeJSON(AgentBook.ProfileInput.self, context: context)
            return try await agents.put(id, body, by: context.principal, requestID: context.requestID)
        }
        routes.get("/v1/agents/{userId}/absences", .assignmentRead) { _, context in
            Paged(all: try await agents.absences(try context.parameters.requireUUID("userId", what: "agent"), as: context.principal))
        }
        routes.post("/v1/agents/{userId}/absences", .assignmentManage) { request, context -> Response in
            let id = try context.parameters.requireUUID("userId", what: "agent")
            let body = try await request.decodeJSON(AgentBook.AbsenceInput.self, context: context)
            var response = try await agents.addAbsence(id, body, by: context.principal, requestID: context.requestID).response(from: request, context: context)
            response.status = .created
            return response
        }
        routes.delete("/v1/agents/{userId}/absences/{absenceId}", .assignmentManage) { _, context -> Response in
            try await agents.removeAbsence(
                try context.parameters.requireUUID("userId", what: "agent"), try context.parameters.requireUUID("absenceId", what: "absence"),
                by: context.principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
        routes.post("/v1/agents/{userId}/cover", .assignmentManage) { request, context in
            let id = try context.parameters.requireUUID("userId", what: "agent")
            let body = try await request.decodeJSON(CoverBody.self, context: context)
            return try await reassignments.cover(agent: id, to: body.to, note: body.note, by: context.principal, requestID: context.requestID)
        }
    }
}
