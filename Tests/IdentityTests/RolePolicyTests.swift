import Core
import Foundation
import Postgres
import TestSupport
import Testing

/// Wall 2 on its own: for each role, each single API-key scope and the placement job, a
/// transaction opened as the service would tries select on every creditor table (creditor A's
/// rows and creditor B's), and insert, update and delete on each kind, on A's rows (its own, for
/// A's principals). The outcomes must be the tables of Docs/security.md ("Who may read what",
/// "Who may write what").
@Suite("Row security by role and scope")
struct RolePolicyTests {
    enum Caller: String, CaseIterable, Sendable {
        case system, placementJob, admin, supervisor, agent, dpo
        case creditorAdmin, creditorViewer, keyPlacements, keyCases, keyReports
    }

    enum Operation: String, CaseIterable { case insert, update, delete }

    /// Docs/security.md, "Who may write what": for every creditor table, the callers that may
    /// insert, update and delete its rows (a creditor's own, for callers bound to one). The
    /// system principal writes the placements queue (its own policy) and sweeps staged rows; it
    /// acts for a creditor as the placement job. A missing operation: nobody (the service role
    /// holds no such grant: contracts, accounts and keys are ended by update, never deleted).
    static let writers: [String: [Operation: Set<Caller>]] = {
        let portfolio: Set<Caller> = [.placementJob, .admin, .creditorAdmin, .keyPlacements]
        let all = { (callers: Set<Caller>) in [Operation.insert: callers, .update: callers, .delete: callers] }
        let access: Set<Caller> = [.admin, .creditorAdmin]
        return [
            "debtors": all(portfolio), "debtor_keys": all(portfolio), "claims": all(portfolio),
            // Supervisors (re)assign cases (0017).
            "cases": [.insert: portfolio, .update: portfolio.union([.supervisor]), .delete: portfolio],
            // The assignment history and the rules (whose creditor is a condition): written by
            // those who assign, never changed.
            "case_assignments": [.insert: [.admin, .supervisor]],
            "assignment_rules": [.insert: [.system, .admin, .supervisor]],
            // The work queue (0018): items follow cases, so whoever writes cases writes them (through
            // the cases' trigger), and agents claim their own; activities and preferences are
            // recorded by those who work cases (agents on theirs: this one holds none), the DPO
            // too for preferences (restriction). Nothing is deleted.
            "work_items": [.insert: portfolio.union([.supervisor]), .update: portfolio.union([.supervisor])],
            "work_leases": [.insert: [.admin, .supervisor], .update: portfolio.union([.supervisor])],
            // (0021) A case's first agent is noted for the queue's clock by whoever writes cases;
            // only the clock's job reads and empties the inbox.
            "work_item_inbox": [.insert: portfolio.union([.supervisor])],
            "case_activities": [.insert: [.admin, .supervisor]],
            // Commitments (0019): recorded by those who work cases; holds also by the creditor
            // (a pause); a creditor's plan terms by the agency's administrators.
            "promises": [.insert: [.admin, .supervisor], .update: [.admin, .supervisor]],
            "payment_plans": [.insert: [.admin, .supervisor], .update: [.admin, .supervisor]],
            "plan_instalments": [.insert: [.admin, .supervisor], .update: [.admin, .supervisor]],
            "disputes": [.insert: [.admin, .supervisor], .update: [.admin, .supervisor]],
            "case_holds": [.insert: portfolio.union([.supervisor]), .update: portfolio.union([.supervisor])],
            "plan_policies": [.insert: [.admin], .update: [.admin]],
            "contact_preferences": [.insert: [.admin, .supervisor, .dpo], .update: [.admin, .supervisor, .dpo]],
            "placements": all(portfolio.union([.system])),
            "placement_rejects": all(portfolio), "placement_outcomes": all(portfolio),
            "placement_rows": [.update: [.system, .placementJob], .delete: [.system, .placementJob]],
            "creditors": [.insert: [.admin], .update: [.admin]],
            "mandates": [.insert: [.admin], .update: [.admin]],
            "fee_schedules": [.insert: [.admin]],
            "column_mappings": [.insert: [.admin, .creditorAdmin]],
            "users": [.insert: access, .update: access],
            "api_keys": [.insert: access, .update: access],
        ]
    }()

    struct Rollback: Error {}

    enum Outcome: Equatable { case allowed, denied }

    struct World: Sendable {
        let a: UUID
        let b: UUID
        let principals: [Caller: Principal]
        let caseOfB: UUID
        let placementOfA: UUID
        let userOfA: UUID
        let userOfB: UUID
        let keyOfA: UUID
        let keyOfB: UUID
        /// One row of each table for each creditor, as JSON: table -> creditor -> row.
        let rows: [String: [UUID: String]]
    }

    /// Runs `sql` as `caller` in a transaction that is always rolled back.
    static func attempt(_ caller: Caller, _ world: World, _ pool: PostgresPool, _ sql: SQL) async throws -> Outcome {
        var outcome = Outcome.denied
        func body(_ tx: PostgresTransaction) async throws {
            if caller == .placementJob { try await tx.act(for: .placementMerge, creditor: world.a) }
            do {
                outcome = try await tx.execute(sql) > 0 ? .allowed : .denied
            } catch let error as PostgresError where error.sqlState == "42501" {
                outcome = .denied
            } catch let error as PostgresError where error.kind == .server {
                // A constraint (a unique reference, a foreign key) checked after the row passed
                // the policies: the policies allowed it.
                outcome = .allowed
            }
            throw Rollback()
        }
        do {
            if caller == .system || caller == .placementJob {
                try await pool.transaction(as: .system) { try await body($0) }
            } else {
                try await pool.transaction(as: world.principals[caller]!) { try await body($0) }
            }
        } catch is Rollback {}
        return outcome
    }

    /// The column an update sets to itself (the service role's UPDATE grant on staged rows is
    /// two columns).
    static let updatedColumn: [String: String] = ["placement_rows": "reject_reason", "creditors": "legal_name", "users": "display_name"]

    /// Which of a creditor's rows a statement touches: for users and API keys one that is not
    /// the caller's own (a user may update their own row; tried in `ownRowsAndOtherCreditors`).
    static func target(_ table: String, of creditor: UUID, _ w: World) -> SQL {
        switch table {
        case "creditors": return "id = \(creditor)"
        case "users": return "id = \(creditor == w.a ? w.userOfA : w.userOfB)"
        case "api_keys": return "id = \(creditor == w.a ? w.keyOfA : w.keyOfB)"
        default: return "creditor_id = \(creditor)"
        }
    }

    /// The statements tried on one creditor's rows of every table. An insert writes a copy of
    /// one of that creditor's rows (read beforehand as a superuser, so the caller's reads do
    /// not matter) under a new id, so only the policies (or a unique column, whose error means
    /// the policies let the row through) can refuse it.
    static func statements(of creditor: UUID, _ w: World) -> [(what: String, table: String, operation: Operation, sql: SQL)] {
        writers.keys.sorted().flatMap { table -> [(String, String, Operation, SQL)] in
            let name = creditor == w.a ? "A" : "B"
            let row = w.rows[table]![creditor]!
            let column = updatedColumn[table] ?? "creditor_id"
            // A generated column is left out of a copy (work_items.wakes_at).
            let insert: SQL = table == "work_items"
                ? "INSERT INTO work_items (creditor_id, case_id, agent_id, case_open, level, due_at, zone) SELECT creditor_id, case_id, agent_id, case_open, level, due_at, zone FROM jsonb_populate_record(NULL::work_items, \(row)::jsonb)"
                : "INSERT INTO \(unsafeRaw: table) OVERRIDING SYSTEM VALUE SELECT (jsonb_populate_record(NULL::\(unsafeRaw: table), \(row)::jsonb || jsonb_build_object('id', gen_random_uuid()))).*"
            return [
                ("insert \(table) of \(name)", table, .insert, insert),
                ("update \(table) of \(name)", table, .update,
                 "UPDATE \(unsafeRaw: table) SET \(unsafeRaw: column) = \(unsafeRaw: column) WHERE \(target(table, of: creditor, w))"),
                ("delete \(table) of \(name)", table, .delete, "DELETE FROM \(unsafeRaw: table) WHERE \(target(table, of: creditor, w))"),
            ]
        }
    }

    /// The upload's COPY target: insert only, by anyone the service acts for (the one exception
    /// of the catalog test; nothing written there is read but through placement_rows).
    static func uploadPartitionStatements(_ w: World) -> [(what: String, sql: SQL, allowed: Set<Caller>)] {
        [
            ("insert placement_rows_upload", "INSERT INTO placement_rows_upload (creditor_id, placement_id, row_number) VALUES (\(w.a), \(w.placementOfA), 8)",
             Set(Caller.allCases)),
            ("update placement_rows_upload", "UPDATE placement_rows_upload SET reject_reason = reject_reason WHERE creditor_id = \(w.a)", []),
            ("delete placement_rows_upload", "DELETE FROM placement_rows_upload WHERE creditor_id = \(w.a)", []),
        ]
    }

    /// Docs/security.md, "Who may read what": the callers that see a creditor's rows of each table
    /// (callers of creditor A, and A's placement job, see A's rows only; the system and staff, any
    /// creditor's). Agents are narrowed to their own cases by the assignment module.
    static let readers: [String: Set<Caller>] = {
        let everyone = Set(Caller.allCases)
        let portfolio = everyone.subtracting([.system])
        let keys: Set<Caller> = [.keyPlacements, .keyCases, .keyReports]
        return [
            // Agents see the cases assigned to them (this one holds none) and what hangs off them.
            "debtors": portfolio.subtracting([.agent]), "debtor_keys": portfolio.subtracting([.agent]),
            "cases": portfolio.subtracting([.agent]), "claims": portfolio.subtracting([.agent]),
            "case_assignments": portfolio.subtracting([.agent]),
            "assignment_rules": [.system, .admin, .supervisor, .agent, .dpo],
            // The queue's items are the agency's but follow the creditor's writes to cases; the
            // agency's activities and notes are read by its staff only.
            "work_items": portfolio.subtracting([.agent]),
            "work_leases": portfolio.subtracting([.agent]),
            "work_item_inbox": [],
            "case_activities": [.admin, .supervisor, .dpo],
            "contact_preferences": portfolio.subtracting([.agent]),
            // The creditor reads what was promised, planned, disputed and held on its cases.
            "promises": portfolio.subtracting([.agent]), "payment_plans": portfolio.subtracting([.agent]),
            "plan_instalments": portfolio.subtracting([.agent]), "disputes": portfolio.subtracting([.agent]),
            "case_holds": portfolio.subtracting([.agent]), "plan_policies": portfolio,
            "creditors": portfolio,
            "placements": everyone.subtracting([.agent, .dpo]),
            "placement_rejects": portfolio.subtracting([.agent, .dpo]),
            "placement_outcomes": portfolio.subtracting([.agent, .dpo]),
            "placement_rows": [.system, .placementJob],
            "mandates": keys.union([.placementJob, .admin, .supervisor, .creditorAdmin, .creditorViewer]),
            "fee_schedules": keys.union([.placementJob, .admin, .supervisor, .creditorAdmin, .creditorViewer]),
            "column_mappings": keys.union([.placementJob, .admin, .supervisor, .creditorAdmin, .creditorViewer]),
            "users": [.admin, .supervisor, .dpo, .creditorAdmin],
            "api_keys": [.admin, .creditorAdmin],
        ]
    }()

    /// Callers bound to creditor A, who never see B's rows.
    static let boundToA: Set<Caller> = [.placementJob, .creditorAdmin, .creditorViewer, .keyPlacements, .keyCases, .keyReports]

    /// The query counting one creditor's rows of a table (another's user or key row, for users
    /// and API keys, so that nobody's own row counts).
    static func rows(_ table: String, of creditor: UUID, _ w: World) -> SQL {
        switch table {
        case "creditors": return "SELECT count(*)::int8 FROM creditors WHERE id = \(creditor)"
        case "users": return "SELECT count(*)::int8 FROM users WHERE id = \(creditor == w.a ? w.userOfA : w.userOfB)"
        case "api_keys": return "SELECT count(*)::int8 FROM api_keys WHERE id = \(creditor == w.a ? w.keyOfA : w.keyOfB)"
        default: return "SELECT count(*)::int8 FROM \(unsafeRaw: table) WHERE creditor_id = \(creditor)"
        }
    }

    /// Whether `caller` sees any of the rows `sql` counts.
    static func sees(_ caller: Caller, _ world: World, _ pool: PostgresPool, _ sql: SQL) async throws -> Bool {
        func body(_ tx: PostgresTransaction) async throws -> Bool {
            if caller == .placementJob { try await tx.act(for: .placementMerge, creditor: world.a) }
            do {
                return try await tx.one(sql)!.decode(Int.self, at: 0) > 0
            } catch let error as PostgresError where error.sqlState == "42501" {
                return false
            }
        }
        if caller == .system || caller == .placementJob {
            return try await pool.transaction(as: .system) { try await body($0) }
        }
        return try await pool.transaction(as: world.principals[caller]!) { try await body($0) }
    }

    static func world(_ fixtures: Fixtures, _ pool: PostgresPool) async throws -> World {
        let a = try await fixtures.creditor("A")
        let b = try await fixtures.creditor("B")
        for creditor in [a, b] {
            try await fixtures.mandate(creditor: creditor)
            _ = try await fixtures.placement(creditor: creditor, pool: pool)
        }
        func one(_ sql: SQL) async throws -> UUID { try await fixtures.admin.one(sql)!.decode(UUID.self, at: 0) }
        let key = { (scope: APIScope) in Principal(kind: .apiKey, id: UUID(), creditorID: a, scopes: [scope]) }
        let viewer = try await fixtures.user(.creditorViewer, creditor: a)
        // Rows the fixture placements do not leave: a debtor's identifier, a refused row, staged
        // rows, a fee schedule, a column mapping.
        for creditor in [a, b] {
            try await fixtures.admin.execute(
                "INSERT INTO debtor_keys (creditor_id, key, debtor_id) SELECT creditor_id, 'email:martin@example.test', id FROM debtors WHERE creditor_id = \(creditor) LIMIT 1")
            let placement = try await one("SELECT id FROM placements WHERE creditor_id = \(creditor) LIMIT 1")
            try await fixtures.admin.execute(
                "INSERT INTO placement_rejects (creditor_id, placement_id, row_number, field, reason) VALUES (\(creditor), \(placement), 9, 'due_date', 'is missing')")
            try await fixtures.admin.execute(
                "INSERT INTO placement_rows (creditor_id, placement_id, row_number, creditor_reference) VALUES (\(creditor), \(placement), 9, 'STAGED-9')")
            try await fixtures.admin.execute(
                """
                INSERT INTO fee_schedules (creditor_id, id, effective_from, currency, basis, tiers)
                VALUES (\(creditor), \(UUID()), current_date, 'EUR', 'flat', '[{"from": 0, "rateBasisPoints": 1500}]')
                """)
            try await fixtures.admin.execute(
                """
                INSERT INTO column_mappings (creditor_id, version, columns, created_by_kind)
                VALUES (\(creditor), 1, '{"Code affaire": "creditor_reference"}', 'system')
                """)
        }
        // An assignment line for a case of each creditor, and a rule version whose rules name them.
        try await fixtures.admin.execute("INSERT INTO assignment_rule_versions (version, created_by_kind) VALUES (1, 'system')")
        for (position, creditor) in [a, b].enumerated() {
            try await fixtures.admin.execute(
                """
                INSERT INTO case_assignments (creditor_id, case_id, agent_id, kind, reason)
                SELECT creditor_id, id, \(UUID()), 'reassignment', 'test' FROM cases WHERE creditor_id = \(creditor) LIMIT 1
                """)
            try await fixtures.admin.execute(
                """
                INSERT INTO assignment_rules (version, position, name, creditor_id, pool_name, pool_agents)
                VALUES (1, \(position + 1), 'rule', \(creditor), 'pool', ARRAY[\(UUID())]::uuid[])
                """)
        }
        // The work queue's rows: an item, an activity, a debtor's preferences per creditor.
        for creditor in [a, b] {
            try await fixtures.admin.execute(
                """
                INSERT INTO work_items (creditor_id, case_id, case_open, level, due_at, zone)
                SELECT creditor_id, id, true, 5, now(), 'FR Europe/Paris' FROM cases WHERE creditor_id = \(creditor) LIMIT 1
                """)
            try await fixtures.admin.execute(
                """
                INSERT INTO case_activities (creditor_id, id, case_id, kind, outcome, occurred_at, recorded_by_kind)
                SELECT creditor_id, gen_random_uuid(), id, 'call', 'no_answer', now(), 'staff' FROM cases WHERE creditor_id = \(creditor) LIMIT 1
                """)
            try await fixtures.admin.execute(
                """
                INSERT INTO work_leases (creditor_id, lease_id, case_id, agent_id, leased_at)
                SELECT creditor_id, gen_random_uuid(), id, gen_random_uuid(), now() FROM cases WHERE creditor_id = \(creditor) LIMIT 1
                """)
            try await fixtures.admin.execute(
                "INSERT INTO contact_preferences (creditor_id, debtor_id, written_only) SELECT creditor_id, id, true FROM debtors WHERE creditor_id = \(creditor) LIMIT 1")
            try await fixtures.admin.execute(
                "INSERT INTO work_item_inbox (creditor_id, case_id) SELECT creditor_id, id FROM cases WHERE creditor_id = \(creditor) LIMIT 1")
        }
        // Commitments: a promise, a plan and its instalment, a dispute, a hold, plan terms.
        for creditor in [a, b] {
            let plan = UUID()
            for sql: SQL in [
                "INSERT INTO promises (creditor_id, id, case_id, amount_minor, currency, due_date, grace_days, created_at) SELECT creditor_id, gen_random_uuid(), id, 100, 'EUR', current_date, 0, now() FROM cases WHERE creditor_id = \(creditor) LIMIT 1",
                "INSERT INTO payment_plans (creditor_id, id, case_id, currency, total_minor, grace_days, status, created_at) SELECT creditor_id, \(plan), id, 'EUR', 100, 0, 'cancelled', now() FROM cases WHERE creditor_id = \(creditor) LIMIT 1",
                "INSERT INTO plan_instalments (creditor_id, plan_id, seq, due_date, amount_minor) VALUES (\(creditor), \(plan), 1, current_date, 100)",
                "INSERT INTO disputes (creditor_id, id, case_id, reason, status, opened_by_kind, opened_at, resolved_at) SELECT creditor_id, gen_random_uuid(), id, 'not_me', 'resumed', 'staff', now(), now() FROM cases WHERE creditor_id = \(creditor) LIMIT 1",
                "INSERT INTO case_holds (creditor_id, id, case_id, starts_on, ends_on, reason, created_by_kind, created_at) SELECT creditor_id, gen_random_uuid(), id, current_date + 30, current_date + 40, 'other', 'staff', now() FROM cases WHERE creditor_id = \(creditor) LIMIT 1",
                "INSERT INTO plan_policies (creditor_id, min_instalment_minor, max_instalments, approval_above_minor, grace_days) VALUES (\(creditor), 3000, 12, 500000, 5)",
            ] {
                try await fixtures.admin.execute(sql)
            }
        }
        let principals: [Caller: Principal] = [
            .admin: Principal(kind: .staff, id: UUID(), role: .admin),
            .supervisor: Principal(kind: .staff, id: UUID(), role: .supervisor),
            .agent: Principal(kind: .staff, id: UUID(), role: .agent),
            .dpo: Principal(kind: .staff, id: UUID(), role: .dpo),
            .creditorAdmin: Principal(kind: .creditorUser, id: UUID(), role: .creditorAdmin, creditorID: a),
            .creditorViewer: Principal(kind: .creditorUser, id: viewer.id, role: .creditorViewer, creditorID: a),
            .keyPlacements: key(.placements), .keyCases: key(.cases), .keyReports: key(.reports),
        ]
        let userOfA = try await fixtures.user(.creditorViewer, creditor: a).id
        let userOfB = try await fixtures.user(.creditorViewer, creditor: b).id
        let keyOfA = try await fixtures.apiKey(creditor: a).0
        let keyOfB = try await fixtures.apiKey(creditor: b).0
        var rows: [String: [UUID: String]] = [:]
        for table in writers.keys {
            for (creditor, user, key) in [(a, userOfA, keyOfA), (b, userOfB, keyOfB)] {
                let condition: SQL = switch table {
                case "creditors": "x.id = \(creditor)"
                case "users": "x.id = \(user)"
                case "api_keys": "x.id = \(key)"
                default: "x.creditor_id = \(creditor)"
                }
                let row = try await fixtures.admin.one("SELECT to_jsonb(x)::text FROM \(unsafeRaw: table) x WHERE \(condition) LIMIT 1")
                rows[table, default: [:]][creditor] = try #require(try row?.decode(String.self, at: 0), "no row of \(table)")
            }
        }
        return World(
            a: a, b: b, principals: principals,
            caseOfB: try await one("SELECT id FROM cases WHERE creditor_id = \(b) LIMIT 1"),
            placementOfA: try await one("SELECT id FROM placements WHERE creditor_id = \(a) LIMIT 1"),
            userOfA: userOfA, userOfB: userOfB, keyOfA: keyOfA, keyOfB: keyOfB, rows: rows)
    }

    @Test func everyCallerWritesExactlyWhatTheTableSays() async throws {
        try await TestDatabase.withPool { pool, database in
            let fixtures = try Fixtures(database)
            let w = try await Self.world(fixtures, pool)
            try await fixtures.close()
            var failures: [String] = []
            for creditor in [w.a, w.b] {
                for (what, table, operation, sql) in Self.statements(of: creditor, w) {
                    let allowed = Self.writers[table]![operation] ?? []
                    for caller in Caller.allCases {
                        // Callers bound to creditor A never write B's rows.
                        let expected: Outcome = allowed.contains(caller) && (creditor == w.a || !Self.boundToA.contains(caller)) ? .allowed : .denied
                        let got = try await Self.attempt(caller, w, pool, sql)
                        if got != expected { failures.append("\(what) as \(caller): \(got), expected \(expected)") }
                    }
                }
            }
            for (what, sql, allowed) in Self.uploadPartitionStatements(w) {
                for caller in Caller.allCases {
                    let expected: Outcome = allowed.contains(caller) ? .allowed : .denied
                    let got = try await Self.attempt(caller, w, pool, sql)
                    if got != expected { failures.append("\(what) as \(caller): \(got), expected \(expected)") }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }

    @Test func everyCallerReadsExactlyWhatTheTableSays() async throws {
        try await TestDatabase.withPool { pool, database in
            let fixtures = try Fixtures(database)
            let w = try await Self.world(fixtures, pool)
            try await fixtures.close()
            var failures: [String] = []
            for (table, readers) in Self.readers.sorted(by: { $0.key < $1.key }) {
                for caller in Caller.allCases {
                    let ownSees = try await Self.sees(caller, w, pool, Self.rows(table, of: w.a, w))
                    if ownSees != readers.contains(caller) { failures.append("select \(table) of A as \(caller): \(ownSees), expected \(!ownSees)") }
                    let otherExpected = readers.contains(caller) && !Self.boundToA.contains(caller)
                    let otherSees = try await Self.sees(caller, w, pool, Self.rows(table, of: w.b, w))
                    if otherSees != otherExpected { failures.append("select \(table) of B as \(caller): \(otherSees), expected \(otherExpected)") }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
            // Every table with a creditor_id the catalog test covers is in the table above.
            let tables = try await pool.transaction(as: .system) { tx in
                try await tx.query(
                    """
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'creditor_id' AND NOT a.attisdropped)
                    """).map { try $0.decode(String.self, at: 0) }
            }
            #expect(Set(tables).subtracting(["audit_log"]).subtracting(Self.readers.keys).isEmpty, "tables missing from the read table: \(tables)")
        }
    }

    /// Everyone reads their own account, a key its own row; nobody else's session but those who
    /// manage access.
    @Test func ownAccountsAndSessions() async throws {
        try await TestDatabase.withPool { pool, database in
            let fixtures = try Fixtures(database)
            let w = try await Self.world(fixtures, pool)
            let (keyID, _) = try await fixtures.apiKey(creditor: w.a, scopes: ["reports"])
            let agent = try await fixtures.user(.agent)
            for user in [agent.id, w.principals[.creditorViewer]!.id!] {
                try await fixtures.admin.execute(
                    "INSERT INTO sessions (id, token_hash, user_id, expires_at) VALUES (\(UUID()), \(PostgresBytes([UInt8](UUID().uuidString.utf8))), \(user), now() + interval '1 hour')")
            }
            try await fixtures.close()
            let agentCaller = Principal(kind: .staff, id: agent.id, role: .agent)
            let viewer = w.principals[.creditorViewer]!
            let key = Principal(kind: .apiKey, id: keyID, creditorID: w.a, scopes: [.reports])
            func count(_ sql: SQL, as principal: Principal) async throws -> Int {
                try await pool.transaction(as: principal) { try await $0.one(sql)!.decode(Int.self, at: 0) }
            }
            #expect(try await count("SELECT count(*)::int8 FROM users", as: agentCaller) == 1)
            #expect(try await count("SELECT count(*)::int8 FROM users", as: viewer) == 1)
            #expect(try await count("SELECT count(*)::int8 FROM api_keys", as: key) == 1)
            #expect(try await count("SELECT count(*)::int8 FROM sessions", as: agentCaller) == 1)
            #expect(try await count("SELECT count(*)::int8 FROM sessions", as: viewer) == 1)
            #expect(try await count("SELECT count(*)::int8 FROM sessions", as: w.principals[.supervisor]!) == 0)
            #expect(try await count("SELECT count(*)::int8 FROM sessions", as: w.principals[.admin]!) == 2)
            #expect(try await count("SELECT count(*)::int8 FROM sessions", as: w.principals[.creditorAdmin]!) == 1)
        }
    }

    /// Beside the table: everyone records their own login (their user row), a key its own last
    /// use, and nobody writes another creditor's rows.
    @Test func ownRowsAndOtherCreditors() async throws {
        try await TestDatabase.withPool { pool, database in
            let fixtures = try Fixtures(database)
            let w = try await Self.world(fixtures, pool)
            let keyID = try await fixtures.apiKey(creditor: w.a, scopes: ["reports"]).0
            try await fixtures.close()
            let viewer = w.principals[.creditorViewer]!
            #expect(try await pool.transaction(as: viewer) { try await $0.execute("UPDATE users SET last_login_at = now() WHERE id = \(viewer.id!)") } == 1)
            let key = Principal(kind: .apiKey, id: keyID, creditorID: w.a, scopes: [.reports])
            #expect(try await pool.transaction(as: key) { try await $0.execute("UPDATE api_keys SET last_used_at = now() WHERE id = \(keyID)") } == 1)
            // Another key's row: not its own.
            #expect(try await pool.transaction(as: key) { try await $0.execute("UPDATE api_keys SET last_used_at = now() WHERE id = \(w.keyOfA)") } == 0)
            // A's administrator and A's placement key cannot reach B's cases.
            for caller in [Caller.creditorAdmin, .keyPlacements] {
                let touched = try await pool.transaction(as: w.principals[caller]!) {
                    try await $0.execute("UPDATE cases SET status = status WHERE creditor_id = \(w.b) AND id = \(w.caseOfB)")
                }
                #expect(touched == 0, "\(caller)")
            }
        }
    }
}
