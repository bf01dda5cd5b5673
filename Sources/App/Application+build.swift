import AssignmentHTTP
import Core
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Identity
import IdentityHTTP
import Logging
import NIOCore
import Onboarding
import OnboardingHTTP
import Platform
import PortfolioHTTP
import Postgres
import ServiceLifecycle
import Web
import WorkQueue
import WorkQueueHTTP
import Foundation

/// The bounded contexts this service is made of, each with its routes and background services.
/// Identity is named apart: its authentication middleware goes into the application's chain.
public struct Modules: Sendable {
    public let identity: IdentityModule
    public let others: [any HTTPModule]

    public var all: [any HTTPModule] { [identity] + others }
}

/// The modules, built once. A new module is one line of `others`, and nowhere else in `App`
/// (Docs/architecture.md).
public func buildModules(configuration: AppConfiguration, pool: PostgresPool, logger: Logger) throws -> Modules {
    let secrets = try SecretBox(base64Key: configuration.dataKey)
    // Who a bearer is, remembered for a few seconds on this node; emptied by every change to who
    // may act made here (Docs/security.md, "Sessions").
    let credentials = CredentialCache(lifetime: configuration.credentialCacheLifetime)
    let creditors = CreditorDirectory(pool: pool, credentials: credentials)
    let identity = IdentityModule(
        identity: IdentityService(pool: pool, secrets: secrets, credentials: credentials),
        users: UserDirectory(pool: pool, secrets: secrets, credentials: credentials), creditors: creditors)
    let assignment = AssignmentModule(pool: pool, logger: Logger(label: "relance.assignment"), credentials: credentials)
    let agents = assignment.agents
    return Modules(identity: identity, others: [
        OnboardingModule(
            pool: pool, creditors: creditors,
            limits: .init(
                maxBytes: configuration.maxPlacementBytes, overall: configuration.maxUploads, perCreditor: configuration.maxUploadsPerCreditor,
                minBytesPerSecond: configuration.uploadMinBytesPerSecond, rateWindow: configuration.uploadRateWindow),
            logger: Logger(label: "relance.placements"), placementMerged: { [worker = assignment.worker] in worker.wake() }),
        assignment,
        PortfolioModule(
            pool: pool, teamAgents: { try await agents.members(ofTeam: $0, as: $1) },
            caseFile: CaseFileSource { id, principal, requestID in try await CaseFile.build(id, pool: pool, at: Date(), as: principal, requestID: requestID) }),
        WorkQueueModule(pool: pool, logger: Logger(label: "relance.work-queue"), leaseDuration: configuration.leaseDuration),
    ])
}

/// Builds the routes every instance serves: the platform's (health, metrics, the OpenAPI
/// document) and every module's, behind one chain of middleware.
///
/// - Parameters:
///   - pool: the service role's connection pool.
///   - openAPI: the parsed `Docs/openapi.yaml`.
///   - modules: the modules to serve (`buildModules` when nil; their services are then not run).
public func buildRouter(
    configuration: AppConfiguration, pool: PostgresPool, openAPI: OpenAPIDocument, readiness: Readiness, expectedMigrations: Int,
    modules: Modules? = nil
) throws -> Router<AppRequestContext> {
    _ = Telemetry.registry
    let modules = try modules ?? buildModules(configuration: configuration, pool: pool, logger: Logger(label: "relance"))
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
        modules.identity.authentication
        IdempotencyMiddleware(pool: pool, streamingSuffixes: ["/placements"])
    }
    let platform = PlatformModule(
        pool: pool, readiness: readiness, expectedMigrations: expectedMigrations, metricsToken: configuration.metricsToken, openAPI: openAPI)
    for module in [platform] + modules.all {
        router.addRoutes(module.routes().collection)
    }
    routes.load(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
    return router
}

/// Builds the HTTPS application: router, TLS, limits, and the services it runs (the modules'
/// services, then the pool, which is closed last, after in-flight requests are done).
///
/// - Throws: when the TLS files or the OpenAPI document cannot be read.
public func buildApplication(
    configuration: AppConfiguration, pool: PostgresPool, logger: Logger, readiness: Readiness = Readiness()
) async throws -> some ApplicationProtocol {
    let openAPI = try OpenAPIDocument(yamlFile: configuration.openAPIPath)
    let expected = try Migrator(directory: configuration.migrationsDirectory, logger: logger).migrations.count
    let modules = try buildModules(configuration: configuration, pool: pool, logger: logger)
    let router = try buildRouter(
        configuration: configuration, pool: pool, openAPI: openAPI, readiness: readiness, expectedMigrations: expected, modules: modules)
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
        services: [pool] + modules.all.flatMap(\.services) + [IdempotencySweeper(pool: pool, logger: logger)],
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
