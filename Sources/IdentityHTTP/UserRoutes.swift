import Core
import Foundation
import HTTPTypes
import Hummingbird
import Identity
import Onboarding
import Web

/// Agency staff (`/v1/staff`, admin) and each creditor's users (`/v1/creditors/{id}/users`,
/// admin or the creditor's own creditor_admin).
struct UserRoutes {
    let users: UserDirectory
    let creditors: CreditorDirectory

    struct NewUserRequest: Decodable {
        let email: String
        let displayName: String?
        let role: Role
        let password: String
        let team: String?
        let totp: Bool?
    }

    struct CreatedUser: ResponseEncodable {
        let user: UserDirectory.User
        /// Base32 secret for the authenticator app; shown once.
        let totpSecret: String?
        let totpUri: String?
    }

    func add(to routes: RouteCollection<AppRequestContext>) {
        let router = routes.group(context: CallerContext.self)
        // Staff
        router.get("/v1/staff") { request, context in
            let actor = try context.require(.staffRead)
            let page = try Page(request)
            return Paged(items: try await users.list(creditor: nil, as: actor, limit: page.limit, after: page.after), limit: page.limit, id: \.id)
        }
        router.post("/v1/staff") { request, context -> Response in
            let actor = try context.require(.staffManage)
            let body = try await request.decodeJSON(NewUserRequest.self, context: context)
            return try await create(body, creditor: nil, actor: actor, request: request, context: context)
        }
        router.get("/v1/staff/{userId}") { _, context in
            let actor = try context.require(.staffRead)
            let id = try context.parameters.requireUUID("userId", what: "user")
            guard let user = try await users.find(id, as: actor), user.creditorId == nil else { throw Problem.notFound("user") }
            return user
        }
        router.post("/v1/staff/{userId}/disable") { _, context -> Response in
            let actor = try context.require(.staffManage)
            let id = try context.parameters.requireUUID("userId", what: "user")
            guard id != actor.id else { throw Problem.conflict("You cannot disable your own account.") }
            guard try await users.disable(id, creditor: nil, by: actor, requestID: context.requestID) else { throw Problem.notFound("user") }
            return Response(status: .noContent)
        }
        // Creditor users
        router.get("/v1/creditors/{creditorId}/users") { request, context in
            let (actor, creditor) = try context.require(.creditorUsersManage, onCreditorIn: "creditorId")
            let page = try Page(request)
            guard try await creditors.find(creditor, as: actor) != nil else { throw Problem.notFound("creditor") }
            return Paged(items: try await users.list(creditor: creditor, as: actor, limit: page.limit, after: page.after), limit: page.limit, id: \.id)
        }
        router.get("/v1/creditors/{creditorId}/users/{userId}") { _, context in
            let (actor, creditor) = try context.require(.creditorUsersManage, onCreditorIn: "creditorId")
            let id = try context.parameters.requireUUID("userId", what: "user")
            guard let user = try await users.find(id, as: actor), user.creditorId == creditor else { throw Problem.notFound("user") }
            return user
        }
        router.post("/v1/creditors/{creditorId}/users") { request, context -> Response in
            let (actor, creditor) = try context.require(.creditorUsersManage, onCreditorIn: "creditorId")
            let body = try await request.decodeJSON(NewUserRequest.self, context: context)
            return try await create(body, creditor: creditor, actor: actor, request: request, context: context)
        }
        router.post("/v1/creditors/{creditorId}/users/{userId}/disable") { _, context -> Response in
            let (actor, creditor) = try context.require(.creditorUsersManage, onCreditorIn: "creditorId")
            let id = try context.parameters.requireUUID("userId", what: "user")
            guard id != actor.id else { throw Problem.conflict("You cannot disable your own account.") }
            guard try await users.disable(id, creditor: creditor, by: actor, requestID: context.requestID) else { throw Problem.notFound("user") }
            return Response(status: .noContent)
        }
    }

    func create(_ body: NewUserRequest, creditor: UUID?, actor: Principal, request: Request, context: CallerContext) async throws -> Response {
        let created = try await users.create(
            .init(
                email: body.email, displayName: body.displayName ?? "", role: body.role, creditorID: creditor, password: body.password,
                team: body.team, enrolTOTP: body.totp ?? false),
            by: actor, requestID: context.requestID)
        var response = try CreatedUser(user: created.user, totpSecret: created.totpSecret, totpUri: created.totpURI)
            .response(from: request, context: context)
        response.status = .created
        let base = creditor.map { "/v1/creditors/\($0.uuidString.lowercased())/users" } ?? "/v1/staff"
        response.headers[.location] = "\(base)/\(created.user.id.uuidString.lowercased())"
        if created.totpSecret != nil { response.markSensitive() }
        return response
    }
}
