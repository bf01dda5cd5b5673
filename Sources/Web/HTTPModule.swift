import Hummingbird
import ServiceLifecycle

/// One bounded context's HTTP side, as the composition root (`App`) sees it: the routes it
/// serves and the background services it runs on every node. `buildApplication` adds every
/// module's routes to one router (behind the same middleware) and runs every module's services.
///
/// A module's routes that need a caller run with a `CallerContext` and name the `Permission`
/// they need; the module lists its permissions. The access matrix and the OpenAPI coverage test
/// read the routes the router ends up with, so a module cannot serve a route that is neither in
/// the matrix nor in `Docs/openapi.yaml`.
public protocol HTTPModule: Sendable {
    /// The module's name, in logs and the architecture document (`identity`, `onboarding`).
    var name: String { get }
    /// The module's routes.
    func routes() -> RouteCollection<AppRequestContext>
    /// Services the module runs for as long as the application does (workers, sweepers).
    var services: [any Service] { get }
    /// The permissions its routes check, each naming who may call.
    var permissions: [Permission] { get }
}

extension HTTPModule {
    public var services: [any Service] { [] }
    public var permissions: [Permission] { [] }
}
