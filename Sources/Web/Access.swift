import Core
import Foundation
import Hummingbird

/// Wall 1: every route that needs a caller runs with a `CallerContext` (401 before it without
/// one) and is declared with the permission it needs (`ModuleRoutes`), checked here before the
/// handler runs. The database's row-level security is the second
/// wall behind it.
extension CallerContext {
    /// A route not about one creditor (or about an object whose creditor row-level security
    /// checks): the caller's role or key scope must be allowed, else 403.
    @discardableResult
    func require(_ permission: Permission) throws -> Principal {
        guard permission.admits(principal) else { throw Problem.forbidden }
        return principal
    }

    /// A route about the creditor named by the `{creditorId}` path parameter.
    ///
    /// A creditor principal (user or API key) of another creditor gets 404, exactly like a
    /// missing creditor, so existence never leaks across tenants; then the role (or, for an API
    /// key, the scope) must be allowed, else 403.
    /// - Returns: the caller and the creditor.
    func require(_ permission: Permission, onCreditorIn parameter: String = "creditorId") throws -> (Principal, UUID) {
        let creditorID = try parameters.requireUUID(parameter, what: "creditor")
        if principal.kind == .creditorUser || principal.kind == .apiKey, principal.creditorID != creditorID {
            throw Problem.notFound("creditor")
        }
        return (try require(permission), creditorID)
    }
}

extension Parameters {
    /// A UUID path parameter; anything else is a 404 (not a 400: it names nothing that exists).
    public func requireUUID(_ name: String, what: String) throws -> UUID {
        guard let text = self.get(name), let id = UUID(uuidString: text) else { throw Problem.notFound(what) }
        return id
    }
}
