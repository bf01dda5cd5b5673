import Core
import Foundation
import Postgres
import TestSupport
import Testing

/// Wall 2 on its own: for each role, each single API-key scope and the placement job, a
/// transaction opened as the service would tries insert, update and delete on each kind of
/// creditor table, on creditor A's rows (its own, for A's principals). The outcomes must be the
/// table of Docs/security.md ("Who may write what").
@Suite("Row security by role and scope")
struct RolePolicyTests {
    enum Caller: String, CaseIterable, Sendable {
        case system, placementJob, admin, supervisor, agent, dpo
        case creditorAdmin, creditorViewer, keyPlacements, keyCases, keyReports
    }

    enum Group: CaseIterable {
        /// debtors, cases, claims, placements (and debtor_keys, placement_rejects, placement_outcomes).
        case portfolio
        /// creditors, mandates, fee_schedules.
        case contracts
        /// users, api_keys.
        case access
    }

    /// Docs/security.md, "Who may write what": the callers that may insert, update and delete.
    /// The system principal writes only the placements queue (its own policy); it acts for a
    /// creditor as the placement job.
    static let writers: [Group: Set<Caller>] = [
        .portfolio: [.placementJob, .admin, .creditorAdmin, .keyPlacements],
        .contracts: [.admin],
        .access: [.admin, .creditorAdmin],
    ]

    struct Rollback: Error {}

    enum Outcome: Equatable { case allowed, denied }

    struct World: Sendable {
        let a: UUID
        let b: UUID
        let principals: [Caller: Principal]
        let caseOfA: UUID
        let caseOfB: UUID
        let claimOfA: UUID
        let debtorOfA: UUID
        let placementOfA: UUID
        let mandateOfA: UUID
        let userOfA: UUID
        let keyOfA: UUID
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

    /// A copy of one row with a new id, so only the policies (or a unique column) can refuse it.
    static func copy(_ table: String, where condition: SQL) -> SQL {
        "INSERT INTO \(unsafeRaw: table) SELECT (jsonb_populate_record(NULL::\(unsafeRaw: table), to_jsonb(x) || jsonb_build_object('id', gen_random_uuid()))).* FROM \(unsafeRaw: table) x WHERE \(condition)"
    }

    /// The statements tried on creditor A's rows, with who may run them: their group's writers,
    /// or the set given (deletes the service role was never granted: nobody).
    static func statements(_ w: World) -> [(what: String, sql: SQL, allowed: Set<Caller>)] {
        let portfolio = writers[.portfolio]!, contracts = writers[.contracts]!, access = writers[.access]!
        return [
            ("insert debtors", copy("debtors", where: "x.creditor_id = \(w.a) AND x.id = \(w.debtorOfA)"), portfolio),
            ("update cases", "UPDATE cases SET status = status WHERE creditor_id = \(w.a) AND id = \(w.caseOfA)", portfolio),
            ("delete claims", "DELETE FROM claims WHERE creditor_id = \(w.a) AND id = \(w.claimOfA)", portfolio),
            ("insert cases", copy("cases", where: "x.creditor_id = \(w.a) AND x.id = \(w.caseOfA)"), portfolio),
            ("update placements", "UPDATE placements SET status = status WHERE creditor_id = \(w.a) AND id = \(w.placementOfA)", portfolio.union([.system])),
            // Its cases still point at it: a foreign-key error means the policies let it through.
            ("delete debtors", "DELETE FROM debtors WHERE creditor_id = \(w.a) AND id = \(w.debtorOfA)", portfolio),
            ("update creditors", "UPDATE creditors SET legal_name = legal_name WHERE id = \(w.a)", contracts),
            ("insert mandates", copy("mandates", where: "x.creditor_id = \(w.a) AND x.id = \(w.mandateOfA)"), contracts),
            ("update mandates", "UPDATE mandates SET reference = reference WHERE creditor_id = \(w.a) AND id = \(w.mandateOfA)", contracts),
            ("delete mandates", "DELETE FROM mandates WHERE creditor_id = \(w.a) AND id = \(w.mandateOfA)", []),
            ("insert users", copy("users", where: "x.id = \(w.userOfA)"), access),
            ("update users", "UPDATE users SET display_name = display_name WHERE id = \(w.userOfA)", access),
            ("insert api_keys", copy("api_keys", where: "x.creditor_id = \(w.a) AND x.id = \(w.keyOfA)"), access),
            ("update api_keys", "UPDATE api_keys SET name = name WHERE creditor_id = \(w.a) AND id = \(w.keyOfA)", access),
            ("delete api_keys", "DELETE FROM api_keys WHERE creditor_id = \(w.a) AND id = \(w.keyOfA)", []),
        ]
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
        let principals: [Caller: Principal] = [
            .admin: Principal(kind: .staff, id: UUID(), role: .admin),
            .supervisor: Principal(kind: .staff, id: UUID(), role: .supervisor),
            .agent: Principal(kind: .staff, id: UUID(), role: .agent),
            .dpo: Principal(kind: .staff, id: UUID(), role: .dpo),
            .creditorAdmin: Principal(kind: .creditorUser, id: UUID(), role: .creditorAdmin, creditorID: a),
            .creditorViewer: Principal(kind: .creditorUser, id: viewer.id, role: .creditorViewer, creditorID: a),
            .keyPlacements: key(.placements), .keyCases: key(.cases), .keyReports: key(.reports),
        ]
        return World(
            a: a, b: b, principals: principals,
            caseOfA: try await one("SELECT id FROM cases WHERE creditor_id = \(a) LIMIT 1"),
            caseOfB: try await one("SELECT id FROM cases WHERE creditor_id = \(b) LIMIT 1"),
            claimOfA: try await one("SELECT id FROM claims WHERE creditor_id = \(a) LIMIT 1"),
            debtorOfA: try await one("SELECT id FROM debtors WHERE creditor_id = \(a) LIMIT 1"),
            placementOfA: try await one("SELECT id FROM placements WHERE creditor_id = \(a) LIMIT 1"),
            mandateOfA: try await one("SELECT id FROM mandates WHERE creditor_id = \(a) LIMIT 1"),
            userOfA: try await fixtures.user(.creditorViewer, creditor: a).id,
            keyOfA: try await fixtures.apiKey(creditor: a).0)
    }

    @Test func everyCallerWritesExactlyWhatTheTableSays() async throws {
        try await TestDatabase.withPool { pool, database in
            let fixtures = try Fixtures(database)
            let w = try await Self.world(fixtures, pool)
            try await fixtures.close()
            var failures: [String] = []
            for (what, sql, allowed) in Self.statements(w) {
                for caller in Caller.allCases {
                    let expected: Outcome = allowed.contains(caller) ? .allowed : .denied
                    let got = try await Self.attempt(caller, w, pool, sql)
                    if got != expected { failures.append("\(what) as \(caller): \(got), expected \(expected)") }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
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
