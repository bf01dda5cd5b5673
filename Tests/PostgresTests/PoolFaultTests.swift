import Foundation
@_spi(Testing) import Postgres
import TestSupport
import Testing

@Suite("Pool and session faults")
struct PoolFaultTests {
    /// A waiter whose id was taken just before a release used to miss the connection released
    /// in between: it was parked idle and the waiter timed out. Short calls over one connection
    /// with a short acquire timeout: none may time out, since there is always a connection free
    /// well within it.
    @Test func aWaiterNeverMissesAReleasedConnection() async throws {
        try await TestDatabase.withPool(maxConnections: 1, acquireTimeout: .seconds(2)) { pool, _ in
            var timeouts = 0
            for _ in 0..<150 {
                timeouts += await withTaskGroup(of: Int.self) { group in
                    for _ in 0..<4 {
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
