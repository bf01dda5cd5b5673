import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Pool, transactions, failures")
struct PoolTests {
    @Test func fiveHundredConcurrentQueriesOverEightConnections() async throws {
        try await TestDatabase.withPool(maxConnections: 8, acquireTimeout: .seconds(60)) { pool, _ in
            // act
            let sum = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<500 {
                    group.addTask {
                        let row = try await pool.one("SELECT \(i)::int8 + 1 AS v, pg_sleep(0.001)")!
                        return try row.decode(Int.self, "v")
                    }
                }
                return try await group.reduce(0, +)
            }
            // verify
            #expect(sum == (1...500).reduce(0, +))
            #expect(pool.usage.open <= 8)
            #expect(pool.usage.inUse == 0)
        }
    }

    @Test func recoversAfterEveryBackendIsTerminated() async throws {
        try await TestDatabase.withPool(maxConnections: 4) { pool, database in
            // setup: open all four connections
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await pool.execute("SELECT pg_sleep(0.05)") } }
                try await group.waitForAll()
            }
            #expect(pool.usage.open == 4)
            // act: kill every backend of the database from outside
            let admin = PostgresPool(configuration: .init(conninfo: database.adminURL, maxConnections: 1))
            let killed = try await admin.one(
                "SELECT count(pg_terminate_backend(pid))::int8 AS n FROM pg_stat_activity WHERE datname = \(database.name) AND pid <> pg_backend_pid()"
            )!.decode(Int.self, "n")
            #expect(killed >= 4)
            // Until the backends are gone (their goodbye then sent): a fixed pause was too short
            // on a loaded machine, and a connection looked alive when checked out.
            for _ in 0..<100 {
                let left = try await admin.one(
                    "SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE datname = \(database.name) AND pid <> pg_backend_pid()")!.decode(Int.self, "n")
                if left == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            try await admin.close()
            try await Task.sleep(for: .milliseconds(100))
            // verify: the very next requests succeed
            for i in 0..<8 {
                let row = try await pool.one("SELECT \(i)::int8 AS v")!
                #expect(try row.decode(Int.self, "v") == i)
            }
            let inTx = try await pool.withTransaction { tx in try await tx.one("SELECT 42::int8 AS v")!.decode(Int.self, "v") }
            #expect(inTx == 42)
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() async throws {
        struct Boom: Error {}
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            // setup
            try await pool.execute("CREATE TABLE t (n int)")
            // act
            await #expect(throws: Boom.self) {
                try await pool.withTransaction { tx in
                    try await tx.execute("INSERT INTO t VALUES (1)")
                    throw Boom()
                }
            }
            try await pool.withTransaction { tx in try await tx.execute("INSERT INTO t VALUES (2)") }
            // verify
            let rows = try await pool.query("SELECT n FROM t")
            #expect(try rows.map { try $0.decode(Int.self, "n") } == [2])
        }
    }

    @Test func refusesToCommitAfterASwallowedError() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE t (n int PRIMARY KEY)")
            await #expect(throws: PostgresError.self) {
                try await pool.withTransaction { tx in
                    try await tx.execute("INSERT INTO t VALUES (1)")
                    _ = try? await tx.execute("INSERT INTO t VALUES (1)")  // unique violation swallowed
                }
            }
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM t")!.decode(Int.self, "c") == 0)
        }
    }

    @Test func retriesTheWholeTransactionOnSerializationFailure() async throws {
        actor Counter {
            var value = 0
            func next() -> Int {
                value += 1
                return value
            }
        }
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            // setup
            try await pool.execute("CREATE TABLE t (n int)")
            let attempts = Counter()
            // act
            try await pool.withTransaction { tx in
                try await tx.execute("INSERT INTO t VALUES (1)")
                if await attempts.next() == 1 {
                    try await tx.execute("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$")
                }
            }
            // verify: one row (the failed attempt rolled back), two attempts
            #expect(await attempts.value == 2)
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM t")!.decode(Int.self, "c") == 1)
        }
    }

    @Test func concurrentSerializableIncrementsAllLand() async throws {
        try await TestDatabase.withPool(maxConnections: 8, role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE counter (n int)")
            try await pool.execute("INSERT INTO counter VALUES (0)")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await pool.withTransaction(.init(isolation: .serializable, maxAttempts: 50)) { tx in
                            let n = try await tx.one("SELECT n FROM counter")!.decode(Int.self, "n")
                            try await tx.execute("UPDATE counter SET n = \(n + 1)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await pool.one("SELECT n::int8 FROM counter")!.decode(Int.self, "n") == 20)
        }
    }

    @Test func errorsCarryTheSQLStateButNoRowData() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE t_debtors (email text CONSTRAINT t_debtors_email_key UNIQUE)")
            try await pool.execute("CREATE TABLE t_claims (debtor text REFERENCES t_debtors(email))")
            try await pool.execute("INSERT INTO t_debtors VALUES (\("jeanne@example.fr"))")
            let unique = await #expect(throws: PostgresError.self) {
                try await pool.execute("INSERT INTO t_debtors VALUES (\("jeanne@example.fr"))")
            }
            #expect(unique?.code == .uniqueViolation)
            #expect(unique?.sqlState == "23505")
            #expect(unique?.constraint == "t_debtors_email_key")
            #expect(unique?.description.contains("jeanne") == false)
            #expect(unique?.debugDescription.contains("jeanne") == true)
            let fk = await #expect(throws: PostgresError.self) {
                try await pool.execute("INSERT INTO t_claims VALUES (\("paul@example.fr"))")
            }
            #expect(fk?.code == .foreignKeyViolation)
            #expect(fk?.description.contains("paul") == false)
        }
    }

    @Test func cancellingTheTaskCancelsTheStatement() async throws {
        try await TestDatabase.withPool(maxConnections: 2) { pool, _ in
            // act
            let started = ContinuousClock.now
            let task = Task { try await pool.execute("SELECT pg_sleep(30) AS cancel_me") }
            // Cancel only once the statement runs on the server (the suite may be busy).
            var running = false
            for _ in 0..<500 where !running {
                let row = try await pool.one(
                    "SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30) AS cancel_me%' AND state = 'active'")
                running = try row!.decode(Int.self, "n") == 1
                if !running { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(running)
            task.cancel()
            let result = await task.result
            // verify: it ended long before 30 s, with the server's query_canceled
            #expect(ContinuousClock.now - started < .seconds(25))
            guard case .failure(let error) = result else {
                Issue.record("the statement was not cancelled")
                return
            }
            #expect((error as? PostgresError)?.code == .queryCanceled)
            // The pool still works.
            #expect(try await pool.one("SELECT 1::int8 AS one")!.decode(Int.self, "one") == 1)
        }
    }

    @Test func statementTimeoutStopsRunawayStatements() async throws {
        try await TestDatabase.withPool { pool, _ in
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withTransaction(.init(statementTimeout: .milliseconds(100))) { tx in
                    try await tx.execute("SELECT pg_sleep(5)")
                }
            }
            #expect(error?.code == .queryCanceled)
        }
    }

    @Test func transactionSettingsAreLocalToTheTransaction() async throws {
        try await TestDatabase.withPool(maxConnections: 1) { pool, _ in
            let inside = try await pool.withTransaction(.init(settings: [("app.creditor_id", "c-1")])) { tx in
                try await tx.one("SELECT current_setting('app.creditor_id', true) AS v")!.decode(String.self, "v")
            }
            #expect(inside == "c-1")
            let after = try await pool.one("SELECT coalesce(current_setting('app.creditor_id', true), '') AS v")!
            #expect(try after.decode(String.self, "v") == "")
        }
    }

    @Test func acquireTimesOutWhenThePoolIsExhausted() async throws {
        try await TestDatabase.withPool(maxConnections: 1, acquireTimeout: .milliseconds(200)) { pool, _ in
            try await pool.withConnection { _ in
                let error = await #expect(throws: PostgresError.self) { try await pool.execute("SELECT 1") }
                #expect(error?.kind == .poolTimeout)
            }
            try await pool.execute("SELECT 1")
        }
    }

    @Test func failedConnectReportsAConnectionError() async throws {
        let pool = PostgresPool(configuration: .init(conninfo: "postgresql://nobody:wrong@127.0.0.1:1/none?connect_timeout=2"))
        let error = await #expect(throws: PostgresError.self) { try await pool.execute("SELECT 1") }
        #expect(error?.kind == .connection)
        #expect(error?.isConnectionLoss == true)
        #expect(pool.usage.open == 0)
        try await pool.close()
    }
}
