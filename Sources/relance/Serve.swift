import App
import Core
import ArgumentParser
import Foundation
import Logging
import Platform
import Postgres
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the HTTPS API.")

    @Flag(help: "Apply pending migrations before serving (otherwise pending migrations stop start-up).")
    var migrate = false

    func run() async throws {
        let config = try loadConfiguration(needsTLS: true)
        let logger = bootstrapLogging(config)
        if migrate {
            try await applyMigrations(config, logger: logger)
        }
        let pool = PostgresPool(
            configuration: .init(conninfo: config.databaseURL, maxConnections: config.poolSize, statementTimeout: config.statementTimeout),
            logger: logger)
        let pending: [Migration]
        do {
            try await ServiceRoleCheck.verify(pool)
            pending = try await Migrator(directory: config.migrationsDirectory, logger: logger).pending(on: pool)
        } catch let error as ServiceRoleCheck.Unsafe {
            try? await pool.close()
            throw ValidationError(error.description)
        } catch {
            try? await pool.close()
            FileHandle.standardError.write(Data("relance: cannot start: \(error)\n".utf8))
            throw ExitCode(1)
        }
        guard pending.isEmpty else {
            try? await pool.close()
            throw ValidationError(
                "\(pending.count) pending migration(s), first \(pending[0].version)_\(pending[0].name): run `relance migrate` or start with --migrate")
        }
        let readiness = Readiness()
        let app = try await buildApplication(configuration: config, pool: pool, logger: logger, readiness: readiness)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app), .init(service: DrainService(readiness: readiness, drain: config.shutdownDrain, logger: logger))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info("serving", metadata: ["url": "https://\(config.host):\(config.port)"])
        try await group.run()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations (as RELANCE_MIGRATION_DATABASE_URL).")

    @Flag(help: "Only list pending migrations; exit 1 when there are some.")
    var check = false

    func run() async throws {
        let config = try loadConfiguration(needsTLS: false, needsDataKey: false)
        let logger = bootstrapLogging(config)
        if check {
            let pool = PostgresPool(configuration: .init(conninfo: config.migrationDatabaseURL, maxConnections: 1), logger: logger)
            defer { Task { try? await pool.close() } }
            let pending = try await Migrator(directory: config.migrationsDirectory, logger: logger).pending(on: pool)
            for migration in pending { print("pending \(migration.version)_\(migration.name)") }
            if !pending.isEmpty { throw ExitCode(1) }
            print("up to date")
            return
        }
        let applied = try await applyMigrations(config, logger: logger)
        print(applied.isEmpty ? "up to date" : "applied \(applied.count) migration(s)")
    }
}

@discardableResult
func applyMigrations(_ config: AppConfiguration, logger: Logger) async throws -> [Migration] {
    let pool = PostgresPool(configuration: .init(conninfo: config.migrationDatabaseURL, maxConnections: 1), logger: logger)
    do {
        let applied = try await Migrator(directory: config.migrationsDirectory, logger: logger).migrate(on: pool)
        try await pool.close()
        return applied
    } catch {
        try? await pool.close()
        throw error
    }
}

func loadConfiguration(needsTLS: Bool, needsDataKey: Bool = true) throws -> AppConfiguration {
    do {
        return try AppConfiguration.fromEnvironment(needsTLS: needsTLS, needsDataKey: needsDataKey)
    } catch let error as AppConfiguration.Invalid {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(78)  // EX_CONFIG
    }
}

func bootstrapLogging(_ config: AppConfiguration) -> Logger {
    let level = Logger.Level(rawValue: config.logLevel) ?? .info
    LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
    return Logger(label: "relance")
}
