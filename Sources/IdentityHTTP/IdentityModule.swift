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

    /// Accounts, sessions, keys, the audit log, and the row-level security by tenant, role and
    /// key scope that every creditor table carries.
    public var migrations: [String] {
        [
            "0002_create_identity_tenancy_audit.sql", "0012_row_security_for_sessions_throttle_idempotency.sql",
            "0013_restrict_writes_by_role_and_scope.sql", "0015_restrict_reads_by_role.sql", "0020_auth_session_planned_once.sql",
        ]
    }

    /// The middleware that resolves `Authorization: Bearer` to the caller, for the application's
    /// chain (before the idempotency middleware, which keys records by caller).
    public var authentication: AuthenticationMiddleware { AuthenticationMiddleware(identity: identity) }

    public func routes() -> ModuleRoutes {
        let routes = ModuleRoutes()
        AuthRoutes(identity: identity).add(to: routes)
        UserRoutes(users: users, creditors: creditors).add(to: routes)
        APIKeyRoutes(users: users, creditors: creditors).add(to: routes)
        return routes
    }
}

// Domain types stay free of HTTP; this module declares how they are sent.
extension UserDirectory.User: ResponseEncodable {}
extension UserDirectory.APIKey: ResponseEncodable {}
