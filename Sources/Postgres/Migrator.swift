import Crypto
import Foundation
import Logging

/// One migration file, `Migrations/NNNN_verb_object.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// SHA-256 of the file's bytes, hex.
    public let checksum: String

    public init(version: Int, name: String, sql: String, checksum: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = checksum
    }
}

public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// Applies `Migrations/*.sql` in order, each in its own transaction, recording them in
/// `schema_migrations` with a checksum. A session advisory lock serialises instances that
/// migrate at the same time; an applied file whose checksum changed stops everything.
public struct Migrator: Sendable {
    /// Key of the advisory lock held while migrating ("relance" in ASCII).
    static let lockKey: Int64 = 0x72_65_6c_61_6e_63_65

    public let migrations: [Migration]
    let logger: Logger
    /// How long one migration waits for a table lock before it gives up and tries again. An
    /// `ALTER` queued behind a long transaction would otherwise block every query on that
    /// table behind it for as long as it waits.
    public var lockTimeout: Duration = .seconds(5)
    /// Attempts per migration when its locks are not granted in time (the first included).
    public var lockAttempts = 10

    /// Reads and validates the migration files of a directory.
    /// - Throws: `MigrationError` for a misnamed file or a duplicate version.
    public init(directory: URL, logger: Logger = Logger(label: "relance.migrate")) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        var migrations: [Migration] = []
        var seen: [Int: String] = [:]
        for file in files {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"),
                let version = Int(stem[..<underscore]),
                stem[..<underscore].count == 4
            else {
                throw MigrationError(description: "migration file \(file) is not named NNNN_name.sql")
            }
            if let other = seen[version] {
                throw MigrationError(description: "migrations \(other) and \(file) share version \(version)")
            }
            seen[version] = file
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            guard let sql = String(data: data, encoding: .utf8) else {
                throw MigrationError(description: "migration \(file) is not UTF-8")
            }
            let checksum = Array(SHA256.hash(data: data)).hexString
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql, checksum: checksum))
        }
        self.init(migrations: migrations, logger: logger)
    }

    public init(migrations: [Migration], logger: Logger = Logger(label: "relance.migrate")) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// The migrations not yet applied.
    /// - Throws: `MigrationError` when an applied migration's file changed or disappeared.
    public func pending(on pool: PostgresPool) async throws -> [Migration] {
        try await pool.withConnection { session in
            try await pending(applied: appliedMigrations(session))
        }
    }

    /// Applies every pending migration.
    /// - Returns: the migrations applied by this call (another instance may have done some).
    @discardableResult
    public func migrate(on pool: PostgresPool) async throws -> [Migration] {
        try await pool.withConnection { session in
            // Migrations have no statement timeout (an index build on a large table takes what
            // it takes, and so may another instance's migrations this one waits for); the
            // session's own is put back after.
            let previous = try await session.one("SELECT current_setting('statement_timeout') AS t")?.decode(String.self, "t") ?? "0"
            try await session.query("SELECT set_config('statement_timeout', '0', false)")
            do {
                try await session.query("SELECT pg_advisory_lock(\(Self.lockKey))")
                let applied = try await applyPending(session)
                try await session.query("SELECT pg_advisory_unlock(\(Self.lockKey))")
                try await session.query("SELECT set_config('statement_timeout', \(previous), false)")
                return applied
            } catch {
                _ = try? await session.query("SELECT pg_advisory_unlock(\(Self.lockKey))")
                _ = try? await session.query("SELECT set_config('statement_timeout', \(previous), false)")
                throw error
            }
        }
    }

    private func applyPending(_ session: PostgresSession) async throws -> [Migration] {
        try await session.executeScript(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let todo = try pending(applied: try await appliedMigrations(session))
        for migration in todo {
            logger.info("applying migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            var attempt = 0
            while true {
                attempt += 1
                do {
                    try await apply(migration, session)
                    break
                } catch let error as PostgresError where error.code == .lockNotAvailable && attempt < lockAttempts {
                    // Gave way to the traffic on a table it needs: try again shortly, so a long
                    // transaction delays the migration, never the service.
                    let pause = Duration.milliseconds(Int.random(in: 200...500) * min(attempt, 10))
                    logger.warning(
                        "migration waiting for a table lock; trying again",
                        metadata: ["version": "\(migration.version)", "attempt": "\(attempt)", "pause_ms": "\(pause.milliseconds)"])
                    try await Task.sleep(for: pause)
                } catch {
                    throw MigrationError(description: "migration \(migration.version)_\(migration.name) failed: \(error)")
                }
            }
        }
        return todo
    }

    /// One migration in one transaction with a short lock timeout (`migrate` has already lifted
    /// the session's statement timeout).
    private func apply(_ migration: Migration, _ session: PostgresSession) async throws {
        try await session.executeScript("BEGIN")
        do {
            try await session.query(
                "SELECT set_config('lock_timeout', \(String(lockTimeout.milliseconds)), true)")
            try await session.executeScript(migration.sql)
            try await session.query(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))"
            )
            try await session.executeScript("COMMIT")
        } catch {
            _ = try? await session.executeScript("ROLLBACK")
            throw error
        }
    }

    private func appliedMigrations(_ session: PostgresSession) async throws -> [Int: (name: String, checksum: String)] {
        let exists = try await session.one("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try exists?.decode(Bool.self, "present") == true else { return [:] }
        var applied: [Int: (String, String)] = [:]
        for row in try await session.query("SELECT version, name, checksum FROM schema_migrations") {
            applied[try row.decode(Int.self, "version")] = (try row.decode(String.self, "name"), try row.decode(String.self, "checksum"))
        }
        return applied
    }

    private func pending(applied: [Int: (name: String, checksum: String)]) throws -> [Migration] {
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, record) in applied.sorted(by: { $0.key < $1.key }) {
            guard let file = known[version] else {
                throw MigrationError(description: "migration \(version)_\(record.name) is applied but its file is missing")
            }
            if file.checksum != record.checksum {
                throw MigrationError(
                    description: "migration \(version)_\(record.name) was edited after it was applied (checksum differs); add a new migration instead")
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }
}
