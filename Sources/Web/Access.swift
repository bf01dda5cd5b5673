import Core
import Foundation
import Hummingbird

/// Wall 1: every handler states who may call it. The database's row-level security is the
/// second wall behind it.
extension AppRequestContext {
    /// The caller, or 401.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw Problem.unauthorized }
        return principal
    }

    /// A staff caller with one of `roles`, or 401/403.
    public func requireStaff(_ roles: Role...) throws -> Principal {
        let principal = try requirePrincipal()
        guard principal.isStaff, let role = principal.role, roles.contains(role) else { throw Problem.forbidden }
        return principal
    }

    /// A caller allowed on one creditor's resources.
    ///
    /// A creditor principal (user or API key) of another creditor gets 404, exactly like a
    /// missing creditor, so existence never leaks across tenants. Then the role (or, for an
    /// API key, the scope) must be allowed, else 403.
    /// - Parameters:
    ///   - staff: staff roles allowed.
    ///   - creditor: creditor user roles allowed (on their own creditor).
    ///   - keys: whether the creditor's API keys may call, and with which scope.
    public func requireCreditorAccess(_ creditorID: UUID, staff: Set<Role>, creditor: Set<Role>, keys: KeyAccess = .none) throws -> Principal {
        let principal = try requirePrincipal()
        return try authorize(principal, creditorID, staff: staff, creditor: creditor, keys: keys)
    }

    /// The same, reading the creditor from the `{creditorId}` path parameter after the caller
    /// is known (so an anonymous caller gets 401 whatever the path says).
    public func requireCreditorAccess(staff: Set<Role>, creditor: Set<Role>, keys: KeyAccess = .none) throws -> (Principal, UUID) {
        let principal = try requirePrincipal()
        let creditorID = try parameters.requireUUID("creditorId", what: "creditor")
        return (try authorize(principal, creditorID, staff: staff, creditor: creditor, keys: keys), creditorID)
    }

    private func authorize(_ principal: Principal, _ creditorID: UUID, staff: Set<Role>, creditor: Set<Role>, keys: KeyAccess) throws -> Principal {
        switch principal.kind {
        case .staff:
            guard let role = principal.role, staff.contains(role) else { throw Problem.forbidden }
        case .creditorUser:
            guard principal.creditorID == creditorID else { throw Problem.notFound("creditor") }
            guard let role = principal.role, creditor.contains(role) else { throw Problem.forbidden }
        case .apiKey:
            guard principal.creditorID == creditorID else { throw Problem.notFound("creditor") }
            switch keys {
            case .none: throw Problem.forbidden
            case .anyScope: break
            case .scope(let scope): guard principal.scopes.contains(scope) else { throw Problem.forbidden }
            }
        case .system:
            throw Problem.forbidden
        }
        return principal
    }
}

/// Whether a route admits creditor API keys.
public enum KeyAccess: Sendable {
    case none
    case anyScope
    case scope(APIScope)
}

extension Parameters {
    /// A UUID path parameter; anything else is a 404 (not a 400: it names nothing that exists).
    public func requireUUID(_ name: String, what: String) throws -> UUID {
        guard let text = self.get(name), let id = UUID(uuidString: text) else { throw Problem.notFound(what) }
        return id
    }
}
