import Foundation
import Postgres
import TestSupport
import Testing

/// Functions that run with their owner's rights cannot be fed another table of the same name.
@Suite("SECURITY DEFINER functions")
struct DefinerFunctionTests {
    /// Every SECURITY DEFINER function, and every function that sets a search_path at all, names
    /// pg_temp last: a new one that forgets fails here.
    @Test func everyDefinerFunctionPinsItsSearchPathWithPgTempLast() async throws {
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            let rows = try await pool.query(
                """
                SELECT p.oid::regprocedure::text AS name, p.prosecdef AS definer,
                       (SELECT substr(c, length('search_path=') + 1) FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%') AS path
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'public'
                """)
            var checked = 0
            for row in rows {
                let name = try row.decode(String.self, "name")
                let definer = try row.decode(Bool.self, "definer")
                let path = try row.decode(String?.self, "path")
                guard definer || path != nil else { continue }
                checked += 1
                let entries = (path ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                #expect(entries.last == "pg_temp", "\(name): search_path is \(path ?? "not set")")
            }
            // The three login functions, the statistics ones, the triggers: the query found them.
            #expect(checked >= 7)
        }
    }

    /// The attack the pinned path stops: the service role shadows `users` with a temporary table
    /// holding an administrator of its own; the login function must not read it. (Before
    /// migration 0011 it did: `auth_user_by_email` returned the intruder, role `admin`.)
    @Test func aTemporaryUsersTableCannotShadowTheLoginLookup() async throws {
        try await TestDatabase.withPool(maxConnections: 1) { pool, _ in
            let found = try await pool.withTransaction { tx in
                try await tx.execute("CREATE TEMP TABLE users (LIKE public.users INCLUDING DEFAULTS) ON COMMIT DROP")
                // Its creator lets the function's owner read it.
                try await tx.execute("GRANT SELECT ON pg_temp.users TO PUBLIC")
                try await tx.execute(
                    """
                    INSERT INTO pg_temp.users (id, email, role, password_hash)
                    VALUES (gen_random_uuid(), 'intruder@example.test', 'admin', 'not-a-real-hash')
                    """)
                return try await tx.query("SELECT id FROM auth_user_by_email('intruder@example.test')").count
            }
            #expect(found == 0)
        }
    }
}
