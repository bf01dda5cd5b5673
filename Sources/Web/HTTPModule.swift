import Hummingbird
import ServiceLifecycle

/// One bounded context's HTTP side, as the composition root (`App`) sees it: the routes it
/// serves, each with who may call it; the background services it runs on every node; the
/// migrations that make its tables. `buildApplication` adds every module's routes to one router
/// (behind the same middleware) and runs every module's services.
///
/// The access matrix and the OpenAPI coverage test read these declarations: every route the
/// router serves is declared by one module, is in `Docs/openapi.yaml`, and the matrix's
/// statuses for it agree with its permission. `MigrationOwnershipTests` checks every file of
/// `Migrations/` is declared by exactly one module.
public protocol HTTPModule: Sendable {
    /// The module's name, in logs and the architecture document (`identity`, `onboarding`).
    var name: String { get }
    /// The module's routes, each declared with its permission (`ModuleRoutes`).
    func routes() -> ModuleRoutes
    /// Services the module runs for as long as the application does (workers, sweepers).
    var services: [any Service] { get }
    /// The migrations (file names in `Migrations/`) that create and change its tables.
    var migrations: [String] { get }
}

extension HTTPModule {
    public var services: [any Service] { [] }
}
