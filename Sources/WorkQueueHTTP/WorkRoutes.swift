import Core
import Foundation
import Hummingbird
import Web
import WorkQueue

/// The agent's next case, leases, and the supervisors' view of the queues.
struct WorkRoutes {
    let queue: WorkQueue
    let board: QueueBoard

    func add(to routes: ModuleRoutes) {
        routes.post("/v1/work/next", .workNext) { _, context in
            try await queue.next(for: context.principal)
        }
        routes.post("/v1/work/leases/{leaseId}/renew", .workNext) { _, context in
            try await queue.renew(try context.parameters.requireUUID("leaseId", what: "lease"), by: context.principal)
        }
        routes.post("/v1/work/leases/{leaseId}/release", .workNext) { request, context -> Response in
            let id = try context.parameters.requireUUID("leaseId", what: "lease")
            // No body: give the case back as it was due.
            let body = request.headers[.contentType] == nil && (request.headers[.contentLength].flatMap(Int.init) ?? 0) == 0
                ? WorkQueue.Release() : try await request.decodeJSON(WorkQueue.Release.self, context: context)
            try await queue.release(id, body, by: context.principal)
            return Response(status: .noContent)
        }
        routes.get("/v1/work/queues", .workQueuesRead) { request, context in
            try await board.board(
                team: try request.uuidQuery("teamId", what: "a team"), agent: try request.uuidQuery("agentId", what: "an agent"), as: context.principal)
        }
    }
}

extension WorkQueue.Next: ResponseEncodable {}
extension WorkQueue.Lease: ResponseEncodable {}
extension QueueBoard.Board: ResponseEncodable {}
