import Foundation
import Logging
import Postgres

/// Integration tests run against a real PostgreSQL started by `make test`
/// (`scripts/pg-cluster.sh`). The schema is migrated once into a template database; each test
/// gets its own copy (`CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY`), so tests are
/// isolated and can run in parallel.
public enum TestDatabase {
    /// The two connection strings of one fresh database.
    public struct Database: Sendable {
        public let name: String
        /// As the service role `relance_app` (owns nothing, no BYPASSRLS).
        public let appURL: String
        /// As the schema owner `relance_owner` (runs migrations).
        public let ownerURL: String
        /// As the superuser, on this database (for tests that must act behind the service's back).
        public let adminURL: String
    }

    public struct MissingEnvironment: Error, CustomStringConvertible {
        public let description: String
    }

    static func environment(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw MissingEnvironment(description: "\(name) is unset: run the tests with `make test`, which starts a throwaway PostgreSQL")
        }
        return value
    }

    /// Rewrites a URL's database name (test harness only; the product never builds conninfo).
    static func url(_ base: String, database: String) throws -> String {
        guard var components = URLComponents(string: base) else {
            throw MissingEnvironment(description: "unreadable database URL in the environment")
        }
        // Never touch anything but a local cluster.
        guard let host = components.host, ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) else {
            throw MissingEnvironment(description: "tests refuse to run against a non-local database host")
        }
        components.path = "/" + database
        return components.string!
    }

    public static let migrationsDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Migrations")

    static let logger: Logger = {
        var logger = Logger(label: "relance.test")
        logger.logLevel = .warning
        return logger
    }()

    /// Superuser pool on the `postgres` database, shared by all tests of the process.
    static let adminPool: PostgresPool? = {
        guard let url = try? environment("RELANCE_ADMIN_DATABASE_URL") else { return nil }
        return PostgresPool(configuration: .init(conninfo: url, maxConnections: 4, acquireTimeout: .seconds(60)), logger: logger)
    }()

    /// The migrated template, made once per test process.
    static let template = Task<String, any Error> {
        guard let admin = adminPool else { _ = try environment("RELANCE_ADMIN_DATABASE_URL"); fatalError() }
        let name = "relance_tmpl_\(ProcessInfo.processInfo.processIdentifier)"
        try await admin.execute(SQL(unsafeRaw: "DROP DATABASE IF EXISTS \(name)"))
        try await admin.execute(SQL(unsafeRaw: "CREATE DATABASE \(name) OWNER relance_owner"))
        let pool = PostgresPool(configuration: .init(conninfo: try url(try environment("RELANCE_MIGRATION_DATABASE_URL"), database: name)), logger: logger)
        do {
            try await Migrator(directory: migrationsDirectory, logger: logger).migrate(on: pool)
            try await pool.close()
        } catch {
            try? await pool.close()
            throw error
        }
        return name
    }

    /// Creates a fresh migrated database, runs `body`, then drops it.
    public static func withDatabase<T>(_ body: (Database) async throws -> T) async throws -> T {
        let templateName = try await template.value
        guard let admin = adminPool else { throw MissingEnvironment(description: "RELANCE_ADMIN_DATABASE_URL is unset") }
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await admin.execute(
            SQL(unsafeRaw: "CREATE DATABASE \(name) TEMPLATE \(templateName) STRATEGY FILE_COPY OWNER relance_owner"))
        let database = Database(
            name: String(name),
            appURL: try url(try environment("RELANCE_DATABASE_URL"), database: String(name)),
            ownerURL: try url(try environment("RELANCE_MIGRATION_DATABASE_URL"), database: String(name)),
            adminURL: try url(try environment("RELANCE_ADMIN_DATABASE_URL"), database: String(name))
        )
        do {
            let result = try await body(database)
            try await admin.execute(SQL(unsafeRaw: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            return result
        } catch {
            _ = try? await admin.execute(SQL(unsafeRaw: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            throw error
        }
    }

    /// A fresh database and a pool on it as the service role; the pool is closed after.
    public static func withPool<T>(
        // Generous: the whole suite runs in parallel on two cores; tests of the timeout set their own.
        maxConnections: Int = 4, acquireTimeout: Duration = .seconds(60), role: Role = .app,
        _ body: (PostgresPool, Database) async throws -> T
    ) async throws -> T {
        try await withDatabase { database in
            let url: String
            switch role {
            case .app: url = database.appURL
            case .owner: url = database.ownerURL
            case .admin: url = database.adminURL
            }
            let pool = PostgresPool(
                configuration: .init(conninfo: url, maxConnections: maxConnections, acquireTimeout: acquireTimeout), logger: logger)
            do {
                let result = try await body(pool, database)
                try await pool.close()
                return result
            } catch {
                try? await pool.close()
                throw error
            }
        }
    }

    public enum Role: Sendable {
        case app, owner, admin
    }
}
