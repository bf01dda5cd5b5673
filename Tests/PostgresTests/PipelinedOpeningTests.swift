import Foundation
import Postgres
import TestSupport
import Testing

/// A transaction's BEGIN and settings travel with its first statement, and `statement` sends a
/// whole one-statement transaction at once (ADR 0014): the same outcomes as one call at a time.
@Suite("Transactions opened with their first statement")
struct PipelinedOpeningTests {
    @Test func aFailingFirstStatementRollsBackAndLeavesTheConnectionClean() async throws {
        try await TestDatabase.withPool(maxConnections: 1, role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE t (n int PRIMARY KEY)")
            try await pool.execute("INSERT INTO t VALUES (1)")
            // act: the opening and a failing statement in one round trip
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withTransaction(.init(settings: [("app.mark", "first")], maxAttempts: 1)) { tx in
                    try await tx.execute("INSERT INTO t VALUES (1)")
                }
            }
            // verify: the server's error, and the one connection serves the next transaction
            // without the failed one's settings
            #expect(error?.code == .uniqueViolation)
            #expect(pool.usage.open == 1)
            let mark = try await pool.withTransaction { tx in
                try await tx.one("SELECT coalesce(current_setting('app.mark', true), '') AS v, (SELECT count(*) FROM t)::int8 AS c")!
            }
            #expect(try mark.decode(String.self, "v") == "")
            #expect(try mark.decode(Int.self, "c") == 1)
        }
    }

    @Test func aTransactionThatSendsNothingCostsNothing() async throws {
        try await TestDatabase.withPool(maxConnections: 1) { pool, _ in
            let before = try await pool.one("SELECT pg_backend_pid()::int8 AS pid")!.decode(Int.self, "pid")
            // act
            let value = try await pool.withTransaction(.init(settings: [("app.mark", "x")])) { _ in 7 }
            // verify: same connection, and nothing of the empty transaction left to travel with
            // the next statement (its settings would show, and leave a transaction open)
            #expect(value == 7)
            let after = try await pool.one("SELECT pg_backend_pid()::int8 AS pid, coalesce(current_setting('app.mark', true), '') AS mark")!
            #expect(try after.decode(Int.self, "pid") == before)
            #expect(try after.decode(String.self, "mark") == "")
            #expect(try await pool.one("SELECT coalesce(current_setting('app.mark', true), '') AS mark")!.decode(String.self, "mark") == "")
        }
    }

    @Test func scriptsAndStreamsSendTheOpeningFirst() async throws {
        try await TestDatabase.withPool(maxConnections: 1, role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE t (n int)")
            // act: a stream as the first statement, inside the transaction and its settings
            var seen: [String] = []
            _ = try await pool.withTransaction(.init(settings: [("app.mark", "streamed")])) { tx in
                try await tx.stream("SELECT current_setting('app.mark') AS v FROM generate_series(1, 3)", chunkSize: 2) { rows in
                    seen += try rows.map { try $0.decode(String.self, "v") }
                }
            }
            // verify
            #expect(seen == ["streamed", "streamed", "streamed"])
        }
    }

    @Test func oneStatementTransactionsCommitOrRollBackWhole() async throws {
        try await TestDatabase.withPool(maxConnections: 1, role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE t (n int PRIMARY KEY, mark text)")
            // act: settings apply to the statement, and it is committed
            let rows = try await pool.statement(
                "INSERT INTO t VALUES (1, current_setting('app.mark')) RETURNING mark", options: .init(settings: [("app.mark", "one")]))
            #expect(try rows.one()?.decode(String.self, "mark") == "one")
            // a failing one leaves nothing, and the connection goes on, with no setting left
            let error = await #expect(throws: PostgresError.self) {
                try await pool.statement("INSERT INTO t VALUES (2, 'a'), (1, 'b')", options: .init(settings: [("app.mark", "two")], maxAttempts: 1))
            }
            #expect(error?.code == .uniqueViolation)
            let timeout = await #expect(throws: PostgresError.self) {
                try await pool.statement("SELECT pg_sleep(2)", options: .init(statementTimeout: .milliseconds(50), maxAttempts: 1))
            }
            #expect(timeout?.code == .queryCanceled)
            // verify
            let left = try await pool.query("SELECT n, mark, coalesce(current_setting('app.mark', true), '') AS s FROM t ORDER BY n")
            #expect(try left.map { try $0.decode(Int.self, "n") } == [1])
            #expect(try left.map { try $0.decode(String.self, "s") } == [""])
            #expect(pool.usage.open == 1)
        }
    }

    @Test func aStatementInsideARequestTransactionJoinsIt() async throws {
        struct Boom: Error {}
        try await TestDatabase.withPool(maxConnections: 2, role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE t (n int)")
            // act: the request's transaction fails after the statement ran in it
            await #expect(throws: Boom.self) {
                try await pool.withRequestTransaction { _ in
                    try await pool.statement("INSERT INTO t VALUES (1)")
                    throw Boom()
                }
            }
            // verify: rolled back with it
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM t")!.decode(Int.self, "c") == 0)
        }
    }
}
