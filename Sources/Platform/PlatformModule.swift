import Hummingbird
import Postgres
import Web

/// The service's own endpoints, for operators and clients rather than for any bounded context:
/// health (`/health/live`, `/health/ready`), Prometheus metrics (`/metrics`) and the API
/// description (`/openapi.json`).
public struct PlatformModule: HTTPModule {
    public let name = "platform"
    let pool: PostgresPool
    let readiness: Readiness
    let expectedMigrations: Int
    let metricsToken: String?
    let openAPI: OpenAPIDocument

    /// - Parameters:
    ///   - expectedMigrations: how many migrations the schema must have for `/health/ready`.
    ///   - metricsToken: the bearer `/metrics` requires (`RELANCE_METRICS_TOKEN`); nil: open.
    public init(pool: PostgresPool, readiness: Readiness, expectedMigrations: Int, metricsToken: String?, openAPI: OpenAPIDocument) {
        self.pool = pool
        self.readiness = readiness
        self.expectedMigrations = expectedMigrations
        self.metricsToken = metricsToken
        self.openAPI = openAPI
    }

    /// The roles and helpers every module stands on; definer functions pinned to a safe path.
    public var migrations: [String] { ["0001_create_foundation.sql", "0011_pin_definer_search_paths.sql"] }

    public func routes() -> ModuleRoutes {
        _ = Telemetry.registry
        let routes = ModuleRoutes()
        HealthRoutes(pool: pool, readiness: readiness, expectedMigrations: expectedMigrations).add(to: routes)
        MetricsRoutes(token: metricsToken).add(to: routes)
        openAPI.add(to: routes)
        return routes
    }
}
