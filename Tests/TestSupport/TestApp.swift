import App
import Foundation
import Logging
import Postgres

/// Builds the real application against a fresh test database.
public enum TestApp {
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A self-signed certificate for the tests' HTTPS server, made once per process.
    public static let certificate: (cert: String, key: String) = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relance-test-tls-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent("scripts/dev-cert.sh")
        process.arguments = [dir.path]
        process.standardOutput = FileHandle.nullDevice
        try? ProcessLauncher.run(process)
        process.waitUntilExit()
        return (dir.appendingPathComponent("dev-cert.pem").path, dir.appendingPathComponent("dev-key.pem").path)
    }()

    /// A random data key per test process.
    public static let dataKey: String = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    /// The environment a test server runs with; `extra` overrides.
    public static func environment(_ database: TestDatabase.Database, _ extra: [String: String] = [:]) -> [String: String] {
        var env = [
            "RELANCE_DATABASE_URL": database.appURL,
            "RELANCE_MIGRATION_DATABASE_URL": database.ownerURL,
            "RELANCE_TLS_CERT": certificate.cert,
            "RELANCE_TLS_KEY": certificate.key,
            "RELANCE_HOME": repositoryRoot.path,
            "RELANCE_PORT": "0",
            "RELANCE_LOG_LEVEL": "warning",
            "RELANCE_DATA_KEY": dataKey,
        ]
        env.merge(extra) { _, new in new }
        return env
    }

    /// Runs `body` with a configuration and pool on a fresh migrated database.
    public static func withApp<T>(
        _ extra: [String: String] = [:], _ body: (AppConfiguration, PostgresPool, TestDatabase.Database) async throws -> T
    ) async throws -> T {
        try await TestDatabase.withDatabase { database in
            let configuration = try AppConfiguration.fromEnvironment(environment(database, extra))
            let pool = PostgresPool(
                configuration: .init(conninfo: configuration.databaseURL, maxConnections: 4, acquireTimeout: .seconds(60)), logger: logger)
            do {
                let result = try await body(configuration, pool, database)
                try await pool.close()
                return result
            } catch {
                try? await pool.close()
                throw error
            }
        }
    }

    public static let logger: Logger = {
        var logger = Logger(label: "relance.test.app")
        logger.logLevel = .warning
        return logger
    }()

    /// The `relance` executable built next to the test bundle.
    public static var executable: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("relance")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug/relance")
    }
}

extension TestDatabase {
    /// An empty database (no migrations applied), dropped after `body`.
    public static func withEmptyDatabase<T>(_ body: (Database) async throws -> T) async throws -> T {
        guard let admin = adminPool else { throw MissingEnvironment(description: "RELANCE_ADMIN_DATABASE_URL is unset") }
        let name = "e_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await admin.execute(SQL(unsafeRaw: "CREATE DATABASE \(name) OWNER relance_owner"))
        let database = Database(
            name: String(name),
            appURL: try url(try environment("RELANCE_DATABASE_URL"), database: String(name)),
            ownerURL: try url(try environment("RELANCE_MIGRATION_DATABASE_URL"), database: String(name)),
            adminURL: try url(try environment("RELANCE_ADMIN_DATABASE_URL"), database: String(name)))
        do {
            let result = try await body(database)
            try await admin.execute(SQL(unsafeRaw: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            return result
        } catch {
            _ = try? await admin.execute(SQL(unsafeRaw: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            throw error
        }
    }
}

/// Starts child processes one at a time. Foundation's `Process.run()` on Linux is not safe to
/// call from two threads at once (a test run crashed in its copy of the environment while four
/// tasks launched `curl`), so every test launches through here.
public enum ProcessLauncher {
    private static let lock = NSLock()

    public static func run(_ process: Process) throws {
        try lock.withLock { try process.run() }
    }
}
