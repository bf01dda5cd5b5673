import Foundation
import Postgres
import TestSupport
import Testing

/// Reading a statement's rows a chunk at a time (single-row mode): what reports and exports use.
@Suite("Rows read in chunks")
struct StreamTests {
    struct Stop: Error {}

    @Test func rowsArriveInOrderAChunkAtATime() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            // act: 25,001 rows in chunks of 1,000
            var sizes: [Int] = []
            var seen: [Int] = []
            var labels: [String] = []
            let total = try await pool.withTransaction { tx in
                try await tx.stream(
                    "SELECT n, 'Échéance n°' || n AS label FROM generate_series(1, \(25_001)) AS n ORDER BY n", chunkSize: 1000
                ) { rows in
                    sizes.append(rows.count)
                    for row in rows {
                        seen.append(try row.decode(Int.self, "n"))
                        if labels.count < 2 { labels.append(try row.decode(String.self, "label")) }
                    }
                }
            }
            // verify
            #expect(total == 25_001)
            #expect(seen == Array(1...25_001))
            #expect(sizes.count == 26 && sizes.dropLast().allSatisfy { $0 == 1000 } && sizes.last == 1)
            #expect(labels == ["Échéance n°1", "Échéance n°2"])
        }
    }

    @Test func anEmptyResultCallsNothing() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            var calls = 0
            let total = try await pool.withTransaction { tx in
                try await tx.stream("SELECT n FROM generate_series(1, 0) AS n") { _ in calls += 1 }
            }
            #expect(total == 0 && calls == 0)
        }
    }

    @Test func aServerErrorMidwayStopsTheStreamAndTheConnectionStaysUsable() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE streamed (n int)")
            var read = 0
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withTransaction { tx in
                    try await tx.execute("INSERT INTO streamed VALUES (1)")
                    try await tx.stream("SELECT 100 / (5000 - n) AS q FROM generate_series(1, 10000) AS n", chunkSize: 100) { rows in
                        read += rows.count
                    }
                }
            }
            // verify: the error is the server's; what came before it was delivered; nothing kept
            #expect(error?.sqlState == "22012")
            #expect(read > 0 && read < 5000)
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM streamed")?.decode(Int.self, "c") == 0)
            #expect(try await pool.one("SELECT 1 AS one")?.decode(Int.self, "one") == 1)
        }
    }

    @Test func aConsumerThatStopsCancelsTheStatement() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE streamed (n int)")
            // act: the consumer gives up after the first chunk of a long statement
            var chunks = 0
            let started = ContinuousClock.now
            await #expect(throws: Stop.self) {
                try await pool.withTransaction { tx in
                    try await tx.execute("INSERT INTO streamed VALUES (1)")
                    try await tx.stream(
                        "SELECT n, pg_sleep(CASE WHEN n = 2000 THEN 60 ELSE 0 END) AS streamed_marker FROM generate_series(1, 3000) AS n",
                        chunkSize: 500
                    ) { _ in
                        chunks += 1
                        throw Stop()
                    }
                }
            }
            // verify: one chunk read, the write rolled back, the statement no longer runs, the pool answers
            #expect(chunks == 1)
            #expect(ContinuousClock.now - started < .seconds(10), "the rollback waited for the statement instead of cancelling it")
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM streamed")?.decode(Int.self, "c") == 0)
            let running = try await pool.one(
                "SELECT count(*)::int8 AS c FROM pg_stat_activity WHERE query LIKE '%streamed_marker%' AND state = 'active' AND pid <> pg_backend_pid()")
            #expect(try running?.decode(Int.self, "c") == 0)
        }
    }
}
