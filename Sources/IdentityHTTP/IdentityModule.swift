import Core
import Hummingbird
import Identity
import Onboarding
import Postgres
import Web

/// Who calls: login and sessions, the caller's own account, agency staff, each creditor's users
/// and API keys.
public struct IdentityModule: HTTPModule {
    public let name = "identity"
    let identity: IdentityService
    let users: UserDirectory
    let creditors: CreditorDirectory

    public init(identity: IdentityService, users: UserDirectory, creditors: CreditorDirectory) {
        self.identity = identity
        self.users = users
        self.creditors = creditors
    }

    public var permissions: [Permission] { Permission.identity }

    /// The middleware that resolves `Authorization: Bearer` to the caller, for the application's
    /// chain (before the idempotency middleware, which keys records by caller).
    public var authentication: AuthenticationMiddleware { AuthenticationMiddleware(identity: identity) }

    public func routes() -> RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        AuthRoutes(identity: identity).add(to: routes)
        UserRoutes(users: users, creditors: creditors).add(to: routes)
        APIKeyRoutes(users: users, creditors: creditors).add(to: routes)
        return routes
    }
}

// Domain types stay free of HTTP; this module declares how they are sent.
extension UserDirectory.User: ResponseEncodable {}
extension UserDirectory.APIKey: ResponseEncodable {}
