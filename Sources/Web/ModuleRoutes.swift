import Core
import HTTPTypes
import Hummingbird

/// What a module serves, each route declared with who may call it: the one way a module adds a
/// route. A route that needs a caller names its `Permission`; the check runs before the handler
/// (401 without a caller, 404 for another creditor's principal on a creditor's path, 403 for a
/// role or key scope the permission does not admit), so a handler cannot forget it. A route open
/// to anyone says so (`open`). The access matrix and the OpenAPI coverage test read `declared`:
/// every served route is declared once, and the matrix's statuses agree with its permission.
public final class ModuleRoutes {
    /// The routes, for the application's router.
    public let collection = RouteCollection(context: AppRequestContext.self)
    /// Every route added, with who may call it.
    public private(set) var declared: [RouteAccess] = []
    private let callers: RouterGroup<CallerContext>

    public init() {
        callers = collection.group(context: CallerContext.self)
    }

    /// A route anyone may call, with or without a credential (login, health, metrics behind its
    /// own token, the API description).
    public func open(
        _ method: HTTPRequest.Method, _ path: String,
        use handler: @Sendable @escaping (Request, AppRequestContext) async throws -> some ResponseGenerator
    ) {
        declared.append(RouteAccess(method: method, path: path, permission: nil, creditorParameter: nil))
        collection.on(RouterPath(path), method: method, use: handler)
    }

    /// A route for callers `permission` admits; with `onCreditorIn`, about the creditor that path
    /// parameter names (`context.creditor()` in the handler).
    public func on(
        _ method: HTTPRequest.Method, _ path: String, _ permission: Permission, onCreditorIn parameter: String? = nil,
        use handler: @Sendable @escaping (Request, CallerContext) async throws -> some ResponseGenerator
    ) {
        declared.append(RouteAccess(method: method, path: path, permission: permission, creditorParameter: parameter))
        callers.on(RouterPath(path), method: method) { request, context in
            var context = context
            if let parameter {
                context.checkedCreditor = try context.require(permission, onCreditorIn: parameter).1
            } else {
                try context.require(permission)
            }
            return try await handler(request, context)
        }
    }

    public func get(
        _ path: String, _ permission: Permission, onCreditorIn parameter: String? = nil,
        use handler: @Sendable @escaping (Request, CallerContext) async throws -> some ResponseGenerator
    ) { on(.get, path, permission, onCreditorIn: parameter, use: handler) }

    public func post(
        _ path: String, _ permission: Permission, onCreditorIn parameter: String? = nil,
        use handler: @Sendable @escaping (Request, CallerContext) async throws -> some ResponseGenerator
    ) { on(.post, path, permission, onCreditorIn: parameter, use: handler) }

    public func patch(
        _ path: String, _ permission: Permission, onCreditorIn parameter: String? = nil,
        use handler: @Sendable @escaping (Request, CallerContext) async throws -> some ResponseGenerator
    ) { on(.patch, path, permission, onCreditorIn: parameter, use: handler) }

    public func delete(
        _ path: String, _ permission: Permission, onCreditorIn parameter: String? = nil,
        use handler: @Sendable @escaping (Request, CallerContext) async throws -> some ResponseGenerator
    ) { on(.delete, path, permission, onCreditorIn: parameter, use: handler) }
}

/// One route a module serves and who may call it.
public struct RouteAccess: Sendable, CustomStringConvertible {
    public let method: HTTPRequest.Method
    /// The path pattern, as the router holds it (`/v1/creditors/{creditorId}`).
    public let path: String
    /// Who may call; nil: anyone.
    public let permission: Permission?
    /// The path parameter naming the creditor the route is about, if it is about one.
    public let creditorParameter: String?

    public var description: String { "\(method.rawValue) \(path)" }
}
