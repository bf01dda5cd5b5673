import HTTPTypes
import Hummingbird
import Identity
import Web

/// Resolves `Authorization: Bearer` (session token or creditor API key) to the caller.
///
/// No header, or a bearer that does not resolve (unknown, expired, revoked, or a token meant
/// for another endpoint such as `/metrics`): the request goes on anonymous, and every route
/// that needs a caller answers 401.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let identity: IdentityService

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A request that changes who may act empties the credential cache again once it is done
        // (committed), whatever transaction it ran in.
        try await identity.credentials.request { try await authenticated(request, context: context, next: next) }
    }

    func authenticated(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            return try await next(request, context)
        }
        guard header.count <= 200, header.lowercased().hasPrefix("bearer "),
            let principal = try await identity.authenticate(bearer: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        else {
            return try await next(request, context)
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "principal"] = .string(principal.key)
        return try await next(request, context)
    }
}
