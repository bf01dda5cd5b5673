import Core
import Foundation
import Hummingbird
import Identity
import Web

/// Login, logout, the caller's own account.
struct AuthRoutes {
    let identity: IdentityService

    struct TokenRequest: Decodable {
        let email: String
        let password: String
        let totp: String?
    }

    struct TokenResponse: ResponseEncodable {
        let token: String
        let tokenType = "Bearer"
        let expiresAt: Date
        let idleTimeoutSeconds: Int
        let principal: Me
    }

    struct Me: ResponseEncodable {
        let kind: String
        let id: UUID?
        let role: String?
        let creditorId: UUID?
        let scopes: [String]?

        init(_ principal: Principal) {
            kind = principal.kind.rawValue
            id = principal.id
            role = principal.role?.rawValue
            creditorId = principal.creditorID
            scopes = principal.kind == .apiKey ? principal.scopes.map(\.rawValue).sorted() : nil
        }
    }

    struct PasswordChange: Decodable {
        let currentPassword: String
        let newPassword: String
    }

    /// The one answer for every failed login: unknown email and wrong password look alike.
    static let invalidCredentials = Problem(
        status: 401, code: "invalid-credentials", title: "Invalid credentials", detail: "The email, password or code is not valid.")

    func add(to routes: ModuleRoutes) {
        routes.open(.post, "/v1/auth/token") { request, context -> Response in
            let body = try await request.decodeJSON(TokenRequest.self, context: context)
            guard body.email.count <= 254, body.password.count <= 1024, (body.totp?.count ?? 0) <= 16 else {
                throw Self.invalidCredentials
            }
            do {
                let session = try await identity.login(
                    email: body.email, password: body.password, totp: body.totp, clientAddress: context.clientAddress,
                    requestID: context.requestID)
                let response = TokenResponse(
                    token: session.token, expiresAt: session.expiresAt, idleTimeoutSeconds: Int(identity.idleTimeout),
                    principal: Me(session.principal))
                var out = try response.response(from: request, context: context)
                out.headers[.cacheControl] = "no-store"
                return out
            } catch let error as IdentityService.LoginError {
                switch error {
                case .invalidCredentials: throw Self.invalidCredentials
                case .totpRequired:
                    throw Problem(
                        status: 401, code: "totp-required", title: "Second factor required", detail: "Send the 6-digit code of your authenticator app as totp.",
                        errors: [.init(field: "totp", reason: "is required")])
                case .throttled:
                    throw Problem(status: 429, code: "too-many-attempts", title: "Too many failed attempts", detail: "Wait 15 minutes before trying again.")
                }
            }
        }
        routes.post("/v1/auth/logout", .ownAccount) { _, context -> Response in
            let principal = context.principal
            guard principal.sessionID != nil else {
                throw Problem(status: 400, code: "not-a-session", title: "Not a session", detail: "API keys are revoked, not logged out.")
            }
            try await identity.logout(principal, requestID: context.requestID)
            return Response(status: .noContent)
        }
        routes.get("/v1/me", .ownAccount) { _, context in
            Me(context.principal)
        }
        routes.post("/v1/auth/password", .ownPassword) { request, context -> Response in
            let principal = context.principal
            let body = try await request.decodeJSON(PasswordChange.self, context: context)
            try await identity.changePassword(principal, current: body.currentPassword, new: body.newPassword, requestID: context.requestID)
            return Response(status: .noContent)
        }
    }
}
