import Core
import Foundation
import Postgres
import TestSupport
import Testing

/// Wall 2: row-level security, proven with queries that forget their WHERE clause.
@Suite("Row-level security")
struct TenancyTests {
    @Test func aCreditorScopedTransactionSeesOnlyItsOwnRowsEvenWithoutAWhereClause() async throws {
        try await TestDatabase.withPool { pool, database in
            // setup: two creditors, users and keys in each
            let fixtures = try Fixtures(database)
            let a = try await fixtures.creditor("A")
            let b = try await fixtures.creditor("B")
            for creditor in [a, b] {
                _ = try await fixtures.user(.creditorAdmin, creditor: creditor)
                _ = try await fixtures.user(.creditorViewer, creditor: creditor)
                _ = try await fixtures.apiKey(creditor: creditor)
            }
            _ = try await fixtures.user(.agent)
            try await fixtures.close()
            let callerOfA = Principal(kind: .creditorUser, id: UUID(), role: .creditorAdmin, creditorID: a)
            // act: the forgetful queries
            let seen = try await pool.transaction(as: callerOfA) { tx in
                (
                    creditors: try await tx.query("SELECT id FROM creditors").map { try $0.decode(UUID.self, "id") },
                    users: try await tx.query("SELECT creditor_id FROM users").map { try $0.decode(UUID?.self, "creditor_id") },
                    keys: try await tx.query("SELECT creditor_id FROM api_keys").map { try $0.decode(UUID.self, "creditor_id") }
                )
            }
            // verify
            #expect(seen.creditors == [a])
            #expect(seen.users.count == 2 && seen.users.allSatisfy { $0 == a })
            #expect(seen.keys == [a])
            // Writing into another creditor is refused by the policy's WITH CHECK.
            let error = await #expect(throws: PostgresError.self) {
                try await pool.transaction(as: callerOfA) { tx in
                    try await tx.execute(
                        "INSERT INTO api_keys (creditor_id, id, prefix, secret_hash, name, scopes) VALUES (\(b), \(UUID()), 'rk_x', '\\x00', 'n', ARRAY['reports'])")
                }
            }
            #expect(error?.code == .insufficientPrivilege || error?.sqlState == "42501")
            // An UPDATE without WHERE touches only the caller's rows.
            let touched = try await pool.transaction(as: callerOfA) { tx in try await tx.execute("UPDATE api_keys SET name = 'renamed'") }
            #expect(touched == 1)
        }
    }

    @Test func noPrincipalMeansNoRows() async throws {
        try await TestDatabase.withPool { pool, database in
            let fixtures = try Fixtures(database)
            _ = try await fixtures.creditor()
            try await fixtures.close()
            // A transaction that forgot to say who it runs for sees nothing.
            let count = try await pool.withTransaction { tx in try await tx.one("SELECT count(*)::int8 AS n FROM creditors")!.decode(Int.self, "n") }
            #expect(count == 0)
            let asSystem = try await pool.transaction(as: .system) { tx in try await tx.one("SELECT count(*)::int8 AS n FROM creditors")!.decode(Int.self, "n") }
            #expect(asSystem == 0)
            let asStaff = try await pool.transaction(as: Principal(kind: .staff, id: UUID(), role: .agent)) { tx in
                try await tx.one("SELECT count(*)::int8 AS n FROM creditors")!.decode(Int.self, "n")
            }
            #expect(asStaff == 1)
        }
    }

    @Test func theServiceRoleOwnsNothingAndCannotBypass() async throws {
        try await TestDatabase.withPool { pool, _ in
            try await ServiceRoleCheck.verify(pool)
            let forced = try await pool.query(
                "SELECT relname FROM pg_class WHERE relname IN ('creditors','users','api_keys','audit_log') AND relrowsecurity AND relforcerowsecurity")
            #expect(forced.count == 4)
        }
        try await TestDatabase.withPool(role: .owner) { pool, _ in
            await #expect(throws: ServiceRoleCheck.Unsafe.self) { try await ServiceRoleCheck.verify(pool) }
        }
    }
}

@Suite("Audit log")
struct AuditLogTests {
    let staff = Principal(kind: .staff, id: UUID(), role: .admin)

    @Test func concurrentWritersNeverForkAChainAndVerifyPasses() async throws {
        try await TestDatabase.withPool(maxConnections: 8) { pool, database in
            // setup
            let fixtures = try Fixtures(database)
            let creditor = try await fixtures.creditor()
            try await fixtures.close()
            let actor = staff
            // act: 40 writers on one chain, 10 on the agency chain
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        try await pool.transaction(as: actor) { tx in
                            try await AuditLog.append(
                                AuditEntry(action: "test.write", objectType: "thing", objectID: "\(i)", creditorID: i < 40 ? creditor : nil),
                                actor: actor, requestID: "r\(i)", in: tx)
                        }
                    }
                }
                try await group.waitForAll()
            }
            // verify
            let seqs = try await pool.transaction(as: actor) { tx in
                try await tx.query("SELECT seq FROM audit_log WHERE chain_id = \(creditor) ORDER BY seq").map { try $0.decode(Int.self, "seq") }
            }
            #expect(seqs == Array(1...40))
            let result = try await AuditLog.verify(pool: pool)
            #expect(result.isIntact, "\(result)")
            #expect(result.chains == 2)
            #expect(result.entries == 50)
        }
    }

    @Test func theServiceRoleCannotUpdateOrDeleteEntries() async throws {
        try await TestDatabase.withPool { pool, database in
            let actor = staff
            try await pool.transaction(as: actor) { tx in
                try await AuditLog.append(AuditEntry(action: "x", objectType: "y"), actor: actor, requestID: nil, in: tx)
            }
            await #expect(throws: PostgresError.self) {
                try await pool.transaction(as: actor) { tx in try await tx.execute("UPDATE audit_log SET action = 'z'") }
            }
            await #expect(throws: PostgresError.self) {
                try await pool.transaction(as: actor) { tx in try await tx.execute("DELETE FROM audit_log") }
            }
            // Even the owner is stopped by the trigger.
            let owner = PostgresPool(configuration: .init(conninfo: database.ownerURL, maxConnections: 1))
            let error = await #expect(throws: PostgresError.self) {
                try await owner.withTransaction(.init(settings: [("app.principal_kind", "staff")])) { tx in try await tx.execute("DELETE FROM audit_log") }
            }
            #expect(error?.sqlState == "42501")
            try await owner.close()
        }
    }

    @Test func tamperingBySuperuserIsDetectedAtTheFirstBrokenEntry() async throws {
        try await TestDatabase.withPool { pool, database in
            // setup: a chain of 5
            let fixtures = try Fixtures(database)
            let creditor = try await fixtures.creditor()
            let actor = staff
            for i in 1...5 {
                try await pool.transaction(as: actor) { tx in
                    try await AuditLog.append(AuditEntry(action: "step\(i)", objectType: "thing", creditorID: creditor), actor: actor, requestID: nil, in: tx)
                }
            }
            #expect(try await AuditLog.verify(pool: pool).isIntact)
            // act: a superuser rewrites entry 3 behind the triggers' back
            try await fixtures.admin.withTransaction { tx in
                try await tx.execute("SET LOCAL session_replication_role = replica")
                try await tx.execute("UPDATE audit_log SET action = 'forged' WHERE chain_id = \(creditor) AND seq = 3")
            }
            // verify
            let result = try await AuditLog.verify(pool: pool)
            #expect(!result.isIntact)
            #expect(result.broken.first?.seq == 3)
            #expect(result.broken.first?.chain == creditor)
            // Deleting an entry is caught too.
            try await fixtures.admin.withTransaction { tx in
                try await tx.execute("SET LOCAL session_replication_role = replica")
                try await tx.execute("UPDATE audit_log SET action = 'step3' WHERE chain_id = \(creditor) AND seq = 3")
                try await tx.execute("DELETE FROM audit_log WHERE chain_id = \(creditor) AND seq = 2")
            }
            let afterDelete = try await AuditLog.verify(pool: pool)
            #expect(afterDelete.broken.first?.seq == 2)
            try await fixtures.close()
        }
    }
}
