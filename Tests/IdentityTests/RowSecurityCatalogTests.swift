import Core
import Foundation
import Postgres
import TestSupport
import Testing

/// Every table that holds a creditor's data or personal data is under row-level security,
/// enabled and forced. A new table that forgets fails here.
@Suite("Row-level security catalog")
struct RowSecurityCatalogTests {
    /// Tables without a `creditor_id` column that hold personal data.
    static let personalData: Set<String> = ["users", "sessions", "auth_throttle", "idempotency_keys", "audit_log", "creditors"]

    /// Exceptions, each with its reason. Each is also checked for what its reason claims.
    static let exceptions: [String: String] = [
        "placement_rows_upload":
            "The one partition of placement_rows (migration 0014, ADR 0010): PostgreSQL refuses COPY FROM into a table under "
            + "row-level security, so uploads COPY into this partition, which the service role may only insert into; every read, "
            + "update and delete goes through placement_rows, whose policies apply.",
    ]

    /// What the exception's reason says holds: the service role may insert into the upload
    /// partition and nothing else, and it is a partition of the table under row security.
    @Test func theStagingPartitionIsWriteOnlyBehindItsParent() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            let row = try await pool.one(
                """
                SELECT has_table_privilege('relance_app', 'placement_rows_upload', 'INSERT') AS insert,
                       has_table_privilege('relance_app', 'placement_rows_upload', 'SELECT') AS select,
                       has_table_privilege('relance_app', 'placement_rows_upload', 'UPDATE') AS update,
                       has_table_privilege('relance_app', 'placement_rows_upload', 'DELETE') AS delete,
                       has_any_column_privilege('relance_app', 'placement_rows_upload', 'SELECT, UPDATE') AS columns,
                       (SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                        WHERE i.inhrelid = 'placement_rows_upload'::regclass) AS parent
                """)!
            #expect(try row.decode(Bool.self, "insert"))
            #expect(try !row.decode(Bool.self, "select"))
            #expect(try !row.decode(Bool.self, "update"))
            #expect(try !row.decode(Bool.self, "delete"))
            #expect(try !row.decode(Bool.self, "columns"))
            #expect(try row.decode(String?.self, "parent") == "placement_rows")
        }
    }

    @Test func everyCreditorOrPersonalTableIsUnderForcedRowSecurity() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            let rows = try await pool.query(
                """
                SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'creditor_id' AND NOT a.attisdropped) AS tenant
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                """)
            var covered: Set<String> = []
            for row in rows {
                let name = try row.decode(String.self, "name")
                guard try row.decode(Bool.self, "tenant") || Self.personalData.contains(name) else { continue }
                if Self.exceptions[name] != nil { continue }
                covered.insert(name)
                #expect(try row.decode(Bool.self, "enabled"), "\(name): row-level security is not enabled")
                #expect(try row.decode(Bool.self, "forced"), "\(name): row-level security is not forced")
            }
            // The query saw the tables it should have.
            #expect(covered.isSuperset(of: ["creditors", "users", "sessions", "api_keys", "claims", "idempotency_keys", "auth_throttle", "placement_rows"]))
        }
    }

    /// The three tables put under it by migration 0012: each readable only by who uses it.
    @Test func sessionsThrottleAndIdempotencyRecordsAreReadOnlyByTheirUsers() async throws {
        try await TestDatabase.withPool { pool, database in
            let fixtures = try Fixtures(database)
            let a = try await fixtures.creditor("A")
            let b = try await fixtures.creditor("B")
            let userOfA = try await fixtures.user(.creditorAdmin, creditor: a)
            let userOfB = try await fixtures.user(.creditorAdmin, creditor: b)
            for user in [userOfA, userOfB] {
                try await fixtures.admin.execute(
                    "INSERT INTO sessions (id, token_hash, user_id, expires_at) VALUES (\(UUID()), \(PostgresBytes([UInt8](UUID().uuidString.utf8))), \(user.id), now() + interval '1 hour')")
            }
            try await fixtures.admin.execute("INSERT INTO auth_throttle (key, window_start, failures) VALUES ('addr:192.0.2.7', now(), 3)")
            try await fixtures.admin.execute(
                "INSERT INTO idempotency_keys (principal, key, request_hash, state, status, body) VALUES ('staff:x', 'k', '\\x00', 'done', 201, '\\x7b7d')")
            try await fixtures.close()
            let callerOfA = Principal(kind: .creditorUser, id: userOfA.id, role: .creditorAdmin, creditorID: a)
            let keyOfA = Principal(kind: .apiKey, id: UUID(), creditorID: a, scopes: [.reports])
            let admin = Principal(kind: .staff, id: UUID(), role: .admin)
            func count(_ table: String, as principal: Principal) async throws -> Int {
                try await pool.transaction(as: principal) { tx in
                    try await tx.one(SQL(unsafeRaw: "SELECT count(*)::int8 AS n FROM \(table)"))!.decode(Int.self, "n")
                }
            }
            #expect(try await count("sessions", as: callerOfA) == 1)
            #expect(try await count("sessions", as: keyOfA) == 0)
            #expect(try await count("sessions", as: admin) == 2)
            for principal in [callerOfA, keyOfA, admin] {
                #expect(try await count("auth_throttle", as: principal) == 0)
                #expect(try await count("idempotency_keys", as: principal) == 0)
            }
            #expect(try await count("auth_throttle", as: .system) == 1)
            #expect(try await count("idempotency_keys", as: .system) == 1)
            // Writing another creditor's user's session is refused.
            await #expect(throws: PostgresError.self) {
                try await pool.transaction(as: callerOfA) { tx in
                    try await tx.execute(
                        "INSERT INTO sessions (id, token_hash, user_id, expires_at) VALUES (\(UUID()), '\\x01', \(userOfB.id), now() + interval '1 hour')")
                }
            }
        }
    }
}
