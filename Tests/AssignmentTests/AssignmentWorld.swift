import Assignment
import Core
import Foundation
import Onboarding
import Postgres
import TestSupport

/// An agency to assign in: creditors with mandates, agents with profiles, teams, rules, and
/// placements made the way creditors make them.
struct AssignmentWorld: Sendable {
    let pool: PostgresPool
    let fixtures: Fixtures
    let admin: Principal
    let supervisor: Principal
    let teams: TeamBook
    let agents: AgentBook
    let rules: RuleBook
    let assigner: Assigner
    let reassignments: Reassignments

    /// `now` moves the assigner's clock (absences are judged at it).
    static func with<T>(
        now: @escaping @Sendable () -> Date = { Date() }, maxConnections: Int = 4,
        _ body: @Sendable (AssignmentWorld) async throws -> T
    ) async throws -> T {
        try await TestDatabase.withPool(maxConnections: maxConnections) { pool, database in
            let fixtures = try Fixtures(database)
            let adminUser = try await fixtures.user(.admin)
            let supervisorUser = try await fixtures.user(.supervisor)
            let assigner = Assigner(pool: pool, clock: now)
            let world = AssignmentWorld(
                pool: pool, fixtures: fixtures, admin: Principal(kind: .staff, id: adminUser.id, role: .admin),
                supervisor: Principal(kind: .staff, id: supervisorUser.id, role: .supervisor),
                teams: TeamBook(pool: pool), agents: AgentBook(pool: pool), rules: RuleBook(pool: pool), assigner: assigner,
                reassignments: Reassignments(assigner: assigner))
            do {
                let result = try await body(world)
                try await fixtures.close()
                return result
            } catch {
                try? await fixtures.close()
                throw error
            }
        }
    }

    func creditor(_ name: String = "Fournitures Durand SAS") async throws -> UUID {
        let id = try await fixtures.creditor(name)
        try await fixtures.mandate(creditor: id)
        return id
    }

    func team(_ name: String, sharesCases: Bool = false) async throws -> UUID {
        try await teams.create(.init(name: name, sharesCases: sharesCases), by: supervisor, requestID: nil).id
    }

    /// A new agent with a profile.
    func agent(
        team: UUID?, languages: [String] = ["fr"], kinds: [String] = ["person", "company"], stages: [String] = ["amicable_calls", "letters"],
        capacity: Int = 100, maxBalance: Int? = nil
    ) async throws -> UUID {
        let user = try await fixtures.user(.agent)
        _ = try await agents.put(
            user.id, .init(teamId: team, languages: languages, debtorKinds: kinds, maxBalanceMinor: maxBalance, stages: stages, capacity: capacity),
            by: supervisor, requestID: nil)
        return user.id
    }

    /// One row of a placement file.
    struct Row: Sendable {
        var reference: String
        var name: String
        var amount: String = "100,00"
        var kind: String = "particulier"
        var language: String = "fr"
        var siren: String = ""
        var email: String = ""
    }

    /// Places the rows for the creditor (a CSV as creditors send it) and merges them.
    @discardableResult
    func place(_ creditor: UUID, _ rows: [Row]) async throws -> UUID {
        var text = "reference;nom;montant;echeance;type;langue;siren;email\n"
        for row in rows {
            text += "\(row.reference);\(row.name);\(row.amount);01/01/2025;\(row.kind);\(row.language);\(row.siren);\(row.email)\n"
        }
        let bytes = Array(text.utf8)
        let service = PlacementService(pool: pool)
        let (placement, _) = try await service.stage(
            creditor: creditor, format: .csv, body: AsyncStream { c in c.yield(bytes); c.finish() }, idempotencyKey: nil, by: admin, requestID: nil)
        while try await service.processNext() != nil {}
        return placement.id
    }

    /// Rows of distinct debtors.
    static func rows(_ count: Int, prefix: String, amount: String = "100,00", kind: String = "particulier", language: String = "fr") -> [Row] {
        (0..<count).map { Row(reference: "\(prefix)-\($0)", name: "\(prefix) Débiteur \($0)", amount: amount, kind: kind, language: language) }
    }

    func saveRules(_ rules: [RuleBook.Rule], default target: RuleBook.Target) async throws -> Int {
        try await self.rules.save(.init(rules: rules, default: target), by: supervisor, requestID: nil).0.version
    }

    /// Agent of each case of the creditor, by claim reference.
    func agentsByReference(_ creditor: UUID) async throws -> [String: UUID?] {
        let rows = try await fixtures.admin.query(
            """
            SELECT cl.creditor_reference, c.assigned_agent_id FROM claims cl JOIN cases c ON c.creditor_id = cl.creditor_id AND c.id = cl.case_id
            WHERE cl.creditor_id = \(creditor)
            """)
        return Dictionary(uniqueKeysWithValues: try rows.map { (try $0.decode(String.self, "creditor_reference"), try $0.decode(UUID?.self, "assigned_agent_id")) })
    }

    /// Live cases per agent.
    func loads() async throws -> [UUID: Int] {
        let rows = try await fixtures.admin.query(
            "SELECT assigned_agent_id, count(*)::int8 AS n FROM cases WHERE assigned_agent_id IS NOT NULL AND status IN ('open', 'paused', 'disputed') GROUP BY 1")
        return Dictionary(uniqueKeysWithValues: try rows.map { (try $0.decode(UUID.self, "assigned_agent_id"), try $0.decode(Int.self, "n")) })
    }

    func count(_ sql: SQL) async throws -> Int {
        try await fixtures.admin.one(sql)!.decode(Int.self, at: 0)
    }
}
