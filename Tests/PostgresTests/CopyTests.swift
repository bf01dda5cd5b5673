import Foundation
import Postgres
import TestSupport
import Testing

@Suite("COPY FROM STDIN")
struct CopyTests {
    @Test func streamsRowsInArbitraryChunks() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            // setup: 10,000 rows cut into chunks that split rows and UTF-8 sequences
            try await pool.execute("CREATE TABLE staging (n int, label text)")
            var payload: [UInt8] = []
            for i in 0..<10_000 { payload += Array("\(i)\tÉchéance n°\(i)\n".utf8) }
            let chunks = stride(from: 0, to: payload.count, by: 4093).map { Array(payload[$0..<min($0 + 4093, payload.count)]) }
            // act
            let copied = try await pool.withTransaction { tx in
                try await tx.copyFrom("COPY staging (n, label) FROM STDIN", chunks: AsyncStream { c in
                    for chunk in chunks { c.yield(chunk) }
                    c.finish()
                })
            }
            // verify
            #expect(copied == 10_000)
            let row = try await pool.one("SELECT count(*)::int8 AS c, max(label) FILTER (WHERE n = 9999) AS l FROM staging")!
            #expect(try row.decode(Int.self, "c") == 10_000)
            #expect(try row.decode(String.self, "l") == "Échéance n°9999")
        }
    }

    @Test func aBadRowVoidsTheWholeCopy() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE staging (n int)")
            let error = await #expect(throws: PostgresError.self) {
                try await pool.withTransaction { tx in
                    try await tx.copyFrom("COPY staging FROM STDIN", chunks: AsyncStream { c in
                        c.yield(Array("1\n2\nnot-a-number\n".utf8))
                        c.finish()
                    })
                }
            }
            #expect(error?.code == .invalidTextRepresentation)
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM staging")!.decode(Int.self, "c") == 0)
            try await pool.execute("INSERT INTO staging VALUES (3)")  // the connection is usable again
        }
    }

    @Test func aFailingSourceAbortsTheCopy() async throws {
        struct SourceFailed: Error {}
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE staging (n int)")
            await #expect(throws: SourceFailed.self) {
                try await pool.withTransaction { tx in
                    try await tx.copyFrom("COPY staging FROM STDIN", chunks: AsyncThrowingStream<[UInt8], any Error> { c in
                        c.yield(Array("1\n2\n".utf8))
                        c.finish(throwing: SourceFailed())
                    })
                }
            }
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM staging")!.decode(Int.self, "c") == 0)
        }
    }

    /// A chunk is sent while the next is produced: a source failing then must still end the
    /// COPY cleanly, on a connection that stays usable.
    @Test func aSourceFailingWhileAChunkIsSentLeavesTheConnectionUsable() async throws {
        struct SourceFailed: Error {}
        try await TestDatabase.withPool(maxConnections: 1, role: .owner) { pool, _ in
            try await pool.execute("CREATE TABLE staging (n int, label text)")
            let chunk = Array((0..<4_000).map { "\($0)\tÉchéance n°\($0)\n" }.joined().utf8)
            let backend = try await pool.one("SELECT pg_backend_pid() AS pid")!.decode(Int.self, "pid")
            for _ in 0..<3 {
                await #expect(throws: SourceFailed.self) {
                    try await pool.withTransaction { tx in
                        try await tx.copyFrom("COPY staging FROM STDIN", chunks: AsyncThrowingStream<[UInt8], any Error> { c in
                            for _ in 0..<50 { c.yield(chunk) }
                            c.finish(throwing: SourceFailed())
                        })
                    }
                }
            }
            let copied = try await pool.withTransaction { tx in
                try await tx.copyFrom("COPY staging FROM STDIN", chunks: AsyncStream { c in
                    for _ in 0..<50 { c.yield(chunk) }
                    c.finish()
                })
            }
            #expect(copied == 200_000)
            // The same connection all along: no statement was cancelled, none was lost.
            #expect(try await pool.one("SELECT pg_backend_pid() AS pid")!.decode(Int.self, "pid") == backend)
            #expect(try await pool.one("SELECT count(*)::int8 AS c FROM staging")!.decode(Int.self, "c") == 200_000)
        }
    }
}
