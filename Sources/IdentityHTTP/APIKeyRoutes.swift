import Core
import Foundation
import Hummingbird
import Identity
import Onboarding
import Web

/// A creditor's API keys (`/v1/creditors/{id}/api-keys`): the agency's admins and the
/// creditor's own creditor_admin make, list and revoke them.
struct APIKeyRoutes {
    let users: UserDirectory
    let creditors: CreditorDirectory

    struct NewAPIKey: Decodable {
        let name: String
        let scopes: [APIScope]
    }

    struct CreatedAPIKey: ResponseEncodable {
        let apiKey: UserDirectory.APIKey
        /// The whole key, shown this once: send it as `Authorization: Bearer <key>`.
        let key: String
    }

    func add(to routes: ModuleRoutes) {
        routes.get("/v1/creditors/{creditorId}/api-keys", .apiKeysManage, onCreditorIn: "creditorId") { _, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            guard try await creditors.find(creditor, as: actor) != nil else { throw Problem.notFound("creditor") }
            // Keys per creditor are few: one page holds them all.
            return Paged(all: try await users.listAPIKeys(creditor: creditor, as: actor))
        }
        routes.get("/v1/creditors/{creditorId}/api-keys/{keyId}", .apiKeysManage, onCreditorIn: "creditorId") { _, context in
            let (actor, creditor) = (context.principal, try context.creditor())
            let id = try context.parameters.requireUUID("keyId", what: "API key")
            guard let key = try await users.listAPIKeys(creditor: creditor, as: actor).first(where: { $0.id == id }) else {
                throw Problem.notFound("API key")
            }
            return key
        }
        routes.post("/v1/creditors/{creditorId}/api-keys", .apiKeysManage, onCreditorIn: "creditorId") { request, context -> Response in
            let (actor, creditor) = (context.principal, try context.creditor())
            let body = try await request.decodeJSON(NewAPIKey.self, context: context)
            let (key, secret) = try await users.createAPIKey(creditor: creditor, name: body.name, scopes: body.scopes, by: actor, requestID: context.requestID)
            var response = try CreatedAPIKey(apiKey: key, key: secret).response(from: request, context: context)
            response.status = .created
            response.headers[.location] = "/v1/creditors/\(creditor.uuidString.lowercased())/api-keys/\(key.id.uuidString.lowercased())"
            response.markSensitive()
            return response
        }
        routes.delete("/v1/creditors/{creditorId}/api-keys/{keyId}", .apiKeysManage, onCreditorIn: "creditorId") { _, context -> Response in
            let (actor, creditor) = (context.principal, try context.creditor())
            let id = try context.parameters.requireUUID("keyId", what: "API key")
            guard try await users.revokeAPIKey(id, creditor: creditor, by: actor, requestID: context.requestID) else { throw Problem.notFound("API key") }
            return Response(status: .noContent)
        }
    }
}
