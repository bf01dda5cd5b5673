import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Type round trips and decoding errors")
struct CodingTests {
    @Test func roundTripsEveryTypeIncludingNullAndNonASCII() async throws {
        try await TestDatabase.withPool { pool, _ in
            // setup
            let text = "Élodie Ç'est \"ça\" ; 日本語 🙂 \\ back"
            let id = UUID()
            let instant = Date(timeIntervalSince1970: 1_795_000_000.123456)
            let due = CalendarDate(year: 2024, month: 2, day: 29)!
            let bytes = PostgresBytes([0, 1, 2, 255, 0, 92, 120])
            let json = PostgresJSON(text: #"{"nom": "Dupont", "montant": 123456}"#)
            // act
            let row = try await pool.one(
                """
                SELECT \(text)::text AS t, \(Int.max) AS i8, \(Int32.min) AS i4, \(Int16(7)) AS i2, \(true) AS b,
                       \(3.25) AS f, \(id) AS u, \(instant) AS ts, \(due) AS d, \(bytes) AS bin,
                       \(json) AS j, \(["a,b", "c\"d", "é"]) AS arr, \([id]) AS uarr, \([1, 2, 3]) AS iarr,
                       \(String?.none)::text AS nt, \(Int?.none)::int8 AS ni, \(Date?.none) AS nts, \(UUID?.none) AS nu
                """)!
            // verify
            #expect(try row.decode(String.self, "t") == text)
            #expect(try row.decode(Int.self, "i8") == Int.max)
            #expect(try row.decode(Int32.self, "i4") == Int32.min)
            #expect(try row.decode(Int16.self, "i2") == 7)
            #expect(try row.decode(Bool.self, "b") == true)
            #expect(try row.decode(Double.self, "f") == 3.25)
            #expect(try row.decode(UUID.self, "u") == id)
            #expect(try row.decode(Date.self, "ts") == instant)
            #expect(try row.decode(CalendarDate.self, "d") == due)
            #expect(try row.decode(PostgresBytes.self, "bin") == bytes)
            #expect(try row.decode(PostgresJSON.self, "j").decode([String: AnyCodableValue].self)["nom"] == .string("Dupont"))
            #expect(try row.decode([String].self, "arr") == ["a,b", "c\"d", "é"])
            #expect(try row.decode([UUID].self, "uarr") == [id])
            #expect(try row.decode([Int].self, "iarr") == [1, 2, 3])
            #expect(try row.decode(String?.self, "nt") == nil)
            #expect(try row.decode(Int?.self, "ni") == nil)
            #expect(try row.decode(Date?.self, "nts") == nil)
            #expect(try row.decode(UUID?.self, "nu") == nil)
            #expect(row.isNull("nt"))
        }
    }

    @Test func storesAndReadsBackThroughATable() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            // setup
            try await pool.execute("CREATE TABLE t (id uuid PRIMARY KEY, name text, born date, at timestamptz, n bigint)")
            let id = UUID()
            // act
            try await pool.execute(
                "INSERT INTO t VALUES (\(id), \("Ὀδυσσεύς"), \(CalendarDate(year: 1970, month: 1, day: 1)!), \(Date(timeIntervalSince1970: 0)), \(Int?.none))"
            )
            let row = try await pool.one("SELECT * FROM t WHERE id = \(id)")!
            // verify
            #expect(try row.decode(String.self, "name") == "Ὀδυσσεύς")
            #expect(try row.decode(CalendarDate.self, "born").description == "1970-01-01")
            #expect(try row.decode(Date.self, "at") == Date(timeIntervalSince1970: 0))
            #expect(try row.decode(Int?.self, "n") == nil)
        }
    }

    @Test func typeMismatchNamesTheColumnButNotTheValue() async throws {
        try await TestDatabase.withPool { pool, _ in
            let row = try await pool.one("SELECT 'jeanne.dupont@example.fr'::text AS email")!
            let error = #expect(throws: PostgresError.self) { try row.decode(Int.self, "email") }
            #expect(error?.kind == .decoding)
            #expect(error?.description.contains("email") == true)
            #expect(error?.description.contains("jeanne") == false)
            #expect(throws: PostgresError.self) { try row.decode(Int.self, "missing") }
            let null = try await pool.one("SELECT NULL::int AS n")!
            #expect(throws: PostgresError.self) { try null.decode(Int.self, "n") }
        }
    }

    @Test func timestampTextRoundTrips() throws {
        for text in ["1969-12-31 00:00:00.500000+00", "1970-01-01 00:00:00.000000+00", "2000-02-29 00:00:00.000001+00",
                     "2026-11-17 06:13:20.999999+00", "2100-01-01 00:00:00.000000+00"] {
            let date = try #require(PostgresTime.parse(Substring(text)))
            #expect(PostgresTime.format(date) == text)
        }
        #expect(PostgresTime.parse("2026-11-22 10:00:00+02") == PostgresTime.parse("2026-11-22 08:00:00+00"))
        #expect(PostgresTime.parse("2026-11-22 10:00:00+05:30") == PostgresTime.parse("2026-11-22 04:30:00Z"))
        #expect(PostgresTime.parse("not a date") == nil)
        #expect(CalendarDate(year: 2023, month: 2, day: 29) == nil)
        #expect(CalendarDate(iso: "2024-12-31")?.adding(days: 1).description == "2025-01-01")
    }

    @Test func sqlFragmentsRenumberTheirParameters() {
        let condition: SQL = "a = \(1) AND b = \("x")"
        let sql: SQL = "SELECT * FROM t WHERE \(condition) AND c = \(true)"
        let (text, binds) = sql.render()
        #expect(text == "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3")
        #expect(binds.count == 3)
        // Parameters never appear in the description (safe to log).
        #expect(!"\(sql)".contains("x\""))
    }
}

/// Minimal JSON value for assertions.
enum AnyCodableValue: Codable, Equatable {
    case string(String), number(Double), other

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .string(s) } else if let n = try? c.decode(Double.self) { self = .number(n) } else { self = .other }
    }

    func encode(to encoder: any Encoder) throws {}
}

@testable import Postgres

@Suite("Error classification")
struct ErrorClassificationTests {
    @Test func aLostCommitIsNeverRetryable() {
        let lost = PostgresError(kind: .commitOutcomeUnknown, sqlState: "08006", reason: "lost during COMMIT")
        #expect(!lost.isConnectionLoss)
        #expect(!lost.isTransientTransactionFailure)
        let broken = PostgresError(kind: .connection, sqlState: "08006", reason: "lost")
        #expect(broken.isConnectionLoss)
        let serialization = PostgresError(kind: .server, sqlState: "40001", reason: "conflict")
        #expect(serialization.isTransientTransactionFailure)
    }
}
