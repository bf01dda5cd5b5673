import Core
import HTTPTypes
import Hummingbird
import Postgres
import Synchronization
import Web

/// Whether the instance should receive traffic; fails first during graceful shutdown.
public final class Readiness: Sendable {
    private let draining = Atomic<Bool>(false)

    public init() {}

    public var isDraining: Bool { draining.load(ordering: .acquiring) }

    public func startDraining() { draining.store(true, ordering: .releasing) }
}

/// `GET /health/live` (the process answers) and `GET /health/ready` (the database answers,
/// the schema is current, and the instance is not shutting down).
struct HealthRoutes {
    let pool: PostgresPool
    let readiness: Readiness
    let expectedMigrations: Int

    struct Status: ResponseEncodable {
        let status: String
        var database: String?
        var migrations: String?
    }

    func add(to routes: ModuleRoutes) {
        routes.open(.get, "/health/live") { _, _ in Status(status: "ok") }
        routes.open(.get, "/health/ready") { _, _ in try await ready() }
    }

    func ready() async throws -> Status {
        if readiness.isDraining {
            throw Problem(status: 503, code: "draining", title: "Shutting down", detail: "This instance is draining.")
        }
        let row: PostgresRow?
        do {
            row = try await pool.withTransaction(.init(readOnly: true, statementTimeout: .seconds(2), maxAttempts: 2)) { tx in
                try await tx.one("SELECT count(*)::int8 AS applied FROM schema_migrations")
            }
        } catch {
            throw Problem(status: 503, code: "database-unavailable", title: "Database unavailable", detail: "The database did not answer.")
        }
        let applied = try row?.decode(Int.self, "applied") ?? 0
        guard applied >= expectedMigrations else {
            throw Problem(status: 503, code: "migrations-pending", title: "Migrations pending", detail: "Run `relance migrate`.")
        }
        return Status(status: "ok", database: "ok", migrations: "current")
    }
}
