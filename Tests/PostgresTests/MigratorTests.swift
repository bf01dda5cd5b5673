import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Migrations")
struct MigratorTests {

    @Test func appliesInOrderOnceAndRecordsChecksums() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            // setup
            let migrator = try Migrator(directory: TestDatabase.migrationsDirectory)
            let extra = Migrator(migrations: migrator.migrations + [
                Migration(version: 9001, name: "create_a", sql: "CREATE TABLE a (n int);", checksum: "a1"),
                Migration(version: 9002, name: "fill_a", sql: "INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);", checksum: "b1"),
            ])
            // act
            let first = try await extra.migrate(on: pool)
            let second = try await extra.migrate(on: pool)
            // verify
            #expect(first.map(\.version) == [9001, 9002])
            #expect(second.isEmpty)
            #expect(try await extra.pending(on: pool).isEmpty)
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM a")!.decode(Int.self, "c") == 2)
            let recorded = try await pool.one("SELECT checksum FROM schema_migrations WHERE version = 9002")!
            #expect(try recorded.decode(String.self, "checksum") == "b1")
        }
    }

    @Test func anEditedAppliedMigrationStopsEverything() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            let base = try Migrator(directory: TestDatabase.migrationsDirectory).migrations
            try await Migrator(migrations: base + [Migration(version: 9001, name: "x", sql: "SELECT 1;", checksum: "one")]).migrate(on: pool)
            let edited = Migrator(migrations: base + [Migration(version: 9001, name: "x", sql: "SELECT 2;", checksum: "two")])
            let error = await #expect(throws: MigrationError.self) { try await edited.migrate(on: pool) }
            #expect(error?.description.contains("edited") == true)
            await #expect(throws: MigrationError.self) { try await edited.pending(on: pool) }
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            let base = try Migrator(directory: TestDatabase.migrationsDirectory).migrations
            let broken = Migrator(migrations: base + [
                Migration(version: 9001, name: "half", sql: "CREATE TABLE h (n int); SELECT * FROM no_such_table;", checksum: "h")
            ])
            await #expect(throws: MigrationError.self) { try await broken.migrate(on: pool) }
            #expect(try await pool.one("SELECT to_regclass('h') IS NULL AS gone")!.decode(Bool.self, "gone"))
            #expect(try await broken.pending(on: pool).map(\.version) == [9001])
        }
    }

    @Test func twoInstancesMigratingAtOnceApplyEachMigrationOnce() async throws {
        try await TestDatabase.withDatabase { database in
            // setup: an empty database (drop what the template brought)
            let admin = PostgresPool(configuration: .init(conninfo: database.ownerURL, maxConnections: 1))
            try await admin.execute("CREATE TABLE log (n int)")
            try await admin.close()
            let base = try Migrator(directory: TestDatabase.migrationsDirectory).migrations
            let migrator = Migrator(migrations: base + [
                Migration(version: 9001, name: "slow", sql: "SELECT pg_sleep(0.3); INSERT INTO log VALUES (1);", checksum: "s"),
                Migration(version: 9002, name: "next", sql: "INSERT INTO log VALUES (2);", checksum: "n"),
            ])
            // act
            let applied = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        let pool = PostgresPool(configuration: .init(conninfo: database.ownerURL, maxConnections: 1))
                        let done = try await migrator.migrate(on: pool).count
                        try await pool.close()
                        return done
                    }
                }
                return try await group.reduce(0, +)
            }
            // verify
            #expect(applied == 2)
            let pool = PostgresPool(configuration: .init(conninfo: database.ownerURL, maxConnections: 1))
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM log")!.decode(Int.self, "c") == 2)
            try await pool.close()
        }
    }

    @Test func rejectsMisnamedFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "SELECT 1;".write(to: dir.appendingPathComponent("1_bad.sql"), atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.self) { try Migrator(directory: dir) }
    }

    /// A migration waits for its table's lock only briefly, lets the traffic through, and tries
    /// again until the long transaction in its way ends.
    @Test func aMigrationBehindALongTransactionGivesWayAndRetries() async throws {
        try await TestDatabase.withPool(maxConnections: 3, role: .owner) { pool, database in
            try await pool.execute("CREATE TABLE busy (n int)")
            try await pool.execute("INSERT INTO busy VALUES (1)")
            let base = try Migrator(directory: TestDatabase.migrationsDirectory).migrations
            var migrator = Migrator(migrations: base + [
                Migration(version: 9001, name: "alter_busy", sql: "ALTER TABLE busy ADD COLUMN m int;", checksum: "m")
            ])
            migrator.lockTimeout = .milliseconds(100)
            migrator.lockAttempts = 40
            let patient = migrator
            let blocker = PostgresPool(configuration: .init(conninfo: database.ownerURL, maxConnections: 1))
            try await blocker.withConnection { long in
                // A long reader holds ACCESS SHARE on the table.
                try await long.executeScript("BEGIN; SELECT * FROM busy;")
                let migrating = Task { try await patient.migrate(on: pool) }
                // Meanwhile other readers are not queued behind the migration's ALTER: queued,
                // they would wait until the long transaction ends, after this loop (never). The
                // bound is far from that and far above a slow machine's (2 s was once exceeded
                // while the whole suite ran beside a cold build: 2.8 s).
                let clock = ContinuousClock()
                for _ in 0..<5 {
                    let start = clock.now
                    _ = try await pool.one("SELECT count(*) AS c FROM busy")
                    #expect(clock.now - start < .seconds(10))
                    try await Task.sleep(for: .milliseconds(150))
                }
                try await long.executeScript("COMMIT")
                let applied = try await migrating.value
                #expect(applied.map(\.version) == [9001])
            }
            try await blocker.close()
            #expect(try await pool.one("SELECT count(m) AS c FROM busy")?.decode(Int.self, "c") == 0)
        }
    }

    /// Migrations run without the service's statement timeout, which is put back after.
    @Test func aMigrationLongerThanTheStatementTimeoutCompletes() async throws {
        try await TestDatabase.withDatabase { database in
            let pool = PostgresPool(configuration: .init(
                conninfo: database.ownerURL, maxConnections: 1,
                sessionSettings: PostgresConnection.defaultSessionSettings + "; SET statement_timeout TO '300ms'"))
            let base = try Migrator(directory: TestDatabase.migrationsDirectory).migrations
            let slow = Migrator(migrations: base + [
                Migration(version: 9001, name: "slow", sql: "SELECT pg_sleep(0.6); CREATE TABLE slow_done (n int);", checksum: "s")
            ])
            let applied = try await slow.migrate(on: pool)
            #expect(applied.last?.version == 9001)
            #expect(try await pool.one("SELECT current_setting('statement_timeout') AS t")?.decode(String.self, "t") == "300ms")
            try await pool.close()
        }
    }
}
