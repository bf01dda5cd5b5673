import Foundation
@_spi(Testing) import Postgres
import TestSupport
import Testing

@Suite("Pool and session faults")
struct PoolFaultTests {
    /// A waiter whose id was taken just before a release used to miss the connection released
    /// in between: it was parked idle and the waiter timed out. Pairs of short calls over one
    /// connection, with an acquire timeout far above what two such calls take even on a loaded
    /// machine: none may time out. (With two callers, a waiter that misses the release has
    /// nobody left to release again; before the fix this failed within the first thousand
    /// rounds.)
    @Test func aWaiterNeverMissesAReleasedConnection() async throws {
        try await TestDatabase.withPool(maxConnections: 1, acquireTimeout: .seconds(3)) { pool, _ in
            var timeouts = 0
            for _ in 0..<1500 {
                timeouts += await withTaskGroup(of: Int.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            do {
                                try await pool.execute("SELECT 1")
                                return 0
                            } catch let error as PostgresError where error.kind == .poolTimeout {
                                return 1
                            } catch {
                                return 0
                            }
                        }
                    }
                    return await group.reduce(0, +)
                }
                if timeouts > 0 { break }
            }
            #expect(timeouts == 0)
            #expect(pool.usage.inUse == 0)
            #expect(pool.usage.waiting == 0)
        }
    }

    /// Two tasks on one session would interleave libpq calls on one `PGconn`: the second is
    /// refused (in release builds; debug builds stop at an assertion, so the refusal is what a
    /// release build does and is tested through the flag itself).
    @Test func aSessionRefusesASecondConcurrentCall() async throws {
        try await TestDatabase.withPool(maxConnections: 2) { pool, _ in
            try await pool.withConnection { (session: PostgresSession) async throws in
                #expect(session.tryBeginUse())
                #expect(!session.tryBeginUse())
                session.endUse()
                #expect(session.tryBeginUse())
                session.endUse()
                // The session still works after the refused attempt.
                let seven = try await session.query("SELECT 7 AS n").one()?.decode(Int.self, "n")
                #expect(seven == 7)
            }
        }
    }

    /// A demoted primary answers 25006 (read-only transaction): the connection is thrown away so
    /// the next checkout reaches the new primary, as with a lost connection.
    @Test func aReadOnlyTransactionErrorDiscardsTheConnection() async throws {
        try await TestDatabase.withPool(maxConnections: 1, role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE ro (n int)")
            let before = try await pool.one("SELECT pg_backend_pid() AS pid")!.decode(Int.self, "pid")
            await #expect {
                try await pool.withTransaction(.init(readOnly: true, maxAttempts: 1)) { tx in
                    try await tx.execute("INSERT INTO ro VALUES (1)")
                }
            } throws: { error in
                (error as? PostgresError)?.sqlState == "25006" && (error as? PostgresError)?.isConnectionLoss == false
            }
            let after = try await pool.one("SELECT pg_backend_pid() AS pid")!.decode(Int.self, "pid")
            #expect(before != after)
        }
    }

    /// Connections get a connect timeout, keepalives and a TCP user timeout unless the
    /// connection string sets its own.
    @Test func connectionsHaveNetworkTimeoutsTheConnectionStringCanOverride() async throws {
        try await TestDatabase.withDatabase { database in
            let plain = try PostgresConnection.connect(conninfo: database.appURL)
            defer { plain.close() }
            #expect(plain.connectionOption("connect_timeout") == "10")
            #expect(plain.connectionOption("keepalives") == "1")
            #expect(plain.connectionOption("keepalives_idle") == "30")
            #expect(plain.connectionOption("tcp_user_timeout") == "60000")
            let separator = database.appURL.contains("?") ? "&" : "?"
            let tuned = try PostgresConnection.connect(conninfo: database.appURL + separator + "keepalives_idle=5&connect_timeout=3")
            defer { tuned.close() }
            #expect(tuned.connectionOption("keepalives_idle") == "5")
            #expect(tuned.connectionOption("connect_timeout") == "3")
            #expect(tuned.connectionOption("tcp_user_timeout") == "60000")
        }
    }
}
