import Core
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Identity
import IdentityHTTP
import Logging
import NIOCore
import Onboarding
import Postgres
import ServiceLifecycle
import Web

/// Builds the routes every instance serves. Later modules add their controllers here.
///
/// - Parameters:
///   - pool: the service role's connection pool.
///   - openAPI: the parsed `Docs/openapi.yaml`.
public func buildRouter(
    configuration: AppConfiguration, pool: PostgresPool, openAPI: OpenAPIDocument, readiness: Readiness, expectedMigrations: Int,
    worker: PlacementWorker? = nil
) throws -> Router<AppRequestContext> {
    _ = Telemetry.registry
    let secrets = try SecretBox(base64Key: configuration.dataKey)
    let identity = IdentityService(pool: pool, secrets: secrets)
    let users = UserDirectory(pool: pool, secrets: secrets)
    let router = Router(context: AppRequestContext.self)
    let routes = RouteTable()
    // Outermost first: every response, errors included, gets a request ID, is logged and
    // counted; then the caller is identified, then POSTs are made idempotent.
    router.addMiddleware {
        RequestIDMiddleware(maxBodyBytes: configuration.maxBodyBytes)
        AccessLogMiddleware()
        MetricsMiddleware()
        ProblemMiddleware(routes: routes)
        RequestInputMiddleware()
        AuthenticationMiddleware(identity: identity)
        IdempotencyMiddleware(pool: pool, streamingSuffixes: ["/placements"])
    }
    HealthController(pool: pool, readiness: readiness, expectedMigrations: expectedMigrations).addRoutes(to: router)
    MetricsController(token: configuration.metricsToken).addRoutes(to: router)
    openAPI.addRoutes(to: router)
    let creditors = CreditorDirectory(pool: pool)
    router.addRoutes(IdentityModule(identity: identity, users: users, creditors: creditors).routes())
    CreditorsController(creditors: creditors).addRoutes(to: router)
    ContractsController(mandates: MandateBook(pool: pool), fees: FeeScheduleBook(pool: pool)).addRoutes(to: router)
    let placements = PlacementService(pool: pool, maxBytes: configuration.maxPlacementBytes)
    PlacementsController(
        placements: placements, worker: worker ?? PlacementWorker(placements: placements, logger: Logger(label: "relance.placements")),
        uploads: UploadGate(limits: .init(overall: configuration.maxUploads, perCreditor: configuration.maxUploadsPerCreditor)),
        uploadPace: (configuration.uploadMinBytesPerSecond, configuration.uploadRateWindow)
    ).addRoutes(to: router)
    routes.load(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
    return router
}

/// Builds the HTTPS application: router, TLS, limits, and the services it runs (the pool is
/// closed last, after in-flight requests are done).
///
/// - Throws: when the TLS files or the OpenAPI document cannot be read.
public func buildApplication(
    configuration: AppConfiguration, pool: PostgresPool, logger: Logger, readiness: Readiness = Readiness()
) async throws -> some ApplicationProtocol {
    let openAPI = try OpenAPIDocument(yamlFile: configuration.openAPIPath)
    let expected = try Migrator(directory: configuration.migrationsDirectory, logger: logger).migrations.count
    let worker = PlacementWorker(placements: PlacementService(pool: pool, maxBytes: configuration.maxPlacementBytes), logger: logger)
    let router = try buildRouter(
        configuration: configuration, pool: pool, openAPI: openAPI, readiness: readiness, expectedMigrations: expected, worker: worker)
    let tls = try TLSSettings.serverConfiguration(
        certificatePath: configuration.tlsCertificatePath, keyPath: configuration.tlsKeyPath)
    let http1 = HTTP1Channel.Configuration(
        idleTimeout: .milliseconds(Int64(configuration.idleTimeout.milliseconds)),
        httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100)
    )
    return Application(
        router: router,
        server: try .tls(ProblemHTTP1Channel.builder(configuration: http1), tlsConfiguration: tls),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        services: [pool, worker, IdempotencySweeper(pool: pool, logger: logger)],
        logger: logger
    )
}

/// On graceful shutdown, fails readiness first and waits `drain` so load balancers stop
/// sending traffic before the listener closes. Run it after the application in the outer
/// `ServiceGroup`: services are told to stop in reverse order, so it goes first, then the
/// server drains in-flight requests, then the pool closes.
public struct DrainService: Service {
    public init(readiness: Readiness, drain: Duration, logger: Logger) {
        self.readiness = readiness
        self.drain = drain
        self.logger = logger
    }

    let readiness: Readiness
    let drain: Duration
    let logger: Logger

    public func run() async throws {
        try? await gracefulShutdown()
        readiness.startDraining()
        logger.info("shutting down: readiness now fails", metadata: ["drain_s": "\(drain.components.seconds)"])
        try? await Task.sleep(for: drain)
    }
}
