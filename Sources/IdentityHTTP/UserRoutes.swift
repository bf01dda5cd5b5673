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
        let totp: Bool?
    }

    struct CreatedUser: ResponseEncodable {
        let user: UserDirectory.User
        /// Base32 secret for the authenticator app; shown once.
        let totpSecret: String?
        let totpUri: String?
    }

    func add(to routes: ModuleRoutes) {
        // Staff
        routes.get("/v1/staff", .staffRead) { request, context in
            let actor = context.principal
            let page = try Page(request)
            return Paged(items: try await users.list(creditor: nil, as: actor, limit: page.limit, after: page.after), limit: page.limit, id: \.id)
        }
        routes.post("/v1/staff", .staffManage) { request, context -> Response in
            let actor = context.principal
            let body = try await request.decodeJSON(NewUserRequest.self, context: context)
            return try await create(body, creditor: nil, actor: actor, request: request, context: context)
        }
        routes.get("/v1/staff/{userId}", .staffRead) { _, context in
            let actor = context.principal
            let id = try context.parameters.requireUUID("userId", what: "user")
            guard let user = try await users.find(id, as: actor), user.creditorId == nil else { throw Problem.notFound("user") }
            return user
        }
        routes.post("/v1/staff/{userId}/disable", .staffManage) { _, context -> Response in
            let actor = context.principal
            let id = try context.parameters.requireUUID("userId", what: "user")
            guard id != actor.id else { throw Problem.conflict("You cannot disable your own account.") }
            guard try await users.disable(id, creditor: nil, by: actor, requestID: context.requestID) else { throw Problem.notFound("user") }
            return Response(status: .noContent)
        }
        // Creditor users
        routes.get("/v1/creditors/{creditorId}/users", .creditorUsersManage, onCreditorIn: "creditorId") { request, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            let page = try Page(request)
            guard try await creditors.find(creditor, as: actor) != nil else { throw Problem.notFound("creditor") }
            return Paged(items: try await users.list(creditor: creditor, as: actor, limit: page.limit, after: page.after), limit: page.limit, id: \.id)
        }
        routes.get("/v1/creditors/{creditorId}/users/{userId}", .creditorUsersManage, onCreditorIn: "creditorId") { _, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            let id = try context.parameters.requireUUID("userId", what: "user")
            guard let user = try await users.find(id, as: actor), user.creditorId == creditor else { throw Problem.notFound("user") }
            return user
        }
        routes.post("/v1/creditors/{creditorId}/users", .creditorUsersManage, onCreditorIn: "creditorId") { request, context -> Response in
            let (actor, creditor) = (context.principal, try context.creditor())
            let body = try await request.decodeJSON(NewUserRequest.self, context: context)
            return try await create(body, creditor: creditor, actor: actor, request: request, context: context)
        }
        routes.post("/v1/creditors/{creditorId}/users/{userId}/disable", .creditorUsersManage, onCreditorIn: "creditorId") { _, context -> Response in
            let (actor, creditor) = (context.principal, try context.creditor())
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
                enrolTOTP: body.totp ?? false),
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
