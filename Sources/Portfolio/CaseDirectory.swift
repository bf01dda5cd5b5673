import Core
import Foundation
import Postgres

/// Cases as the API lists and shows them, scoped to the caller by row-level security: an agent
/// sees the cases of the agents they may see (their own, or their sharing team's), staff every
/// case, a creditor's users and keys their creditor's.
public struct CaseDirectory: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Which cases a list shows; every condition optional.
    public struct Filter: Sendable {
        public var creditorId: UUID?
        public var status: CaseStatus?
        public var agentId: UUID?
        /// The agents of a team (resolved by the caller).
        public var agents: [UUID]?
        /// Only cases no agent holds.
        public var unassigned: Bool?
        public var placementId: UUID?

        public init(
            creditorId: UUID? = nil, status: CaseStatus? = nil, agentId: UUID? = nil, agents: [UUID]? = nil, unassigned: Bool? = nil,
            placementId: UUID? = nil
        ) {
            self.creditorId = creditorId
            self.status = status
            self.agentId = agentId
            self.agents = agents
            self.unassigned = unassigned
            self.placementId = placementId
        }
    }

    /// A case in a list: enough to choose which to open.
    public struct Summary: Sendable, Codable, Equatable {
        public var id: UUID
        public var creditorId: UUID
        public var debtorId: UUID
        public var debtorName: String
        public var currency: String
        public var status: CaseStatus
        public var stage: String
        public var principalMinor: Int
        public var balanceMinor: Int
        public var oldestDueDate: CalendarDate?
        public var placedAt: Date
        public var assignedAgentId: UUID?
        public var assignedAt: Date?
        public var unassignedReason: String?
    }

    /// Who a case's debtor is, in short (the full record, contacts included, is read where a
    /// case is worked, and audited there).
    public struct DebtorSummary: Sendable, Codable, Equatable {
        public var id: UUID
        public var kind: Debtor.Kind
        public var name: String
        public var country: String
        public var language: String
        public var timeZone: String
    }

    /// The agent holding a case; the name only for callers who may read staff accounts.
    public struct AgentSummary: Sendable, Codable, Equatable {
        public var id: UUID
        public var displayName: String?

        public init(id: UUID, displayName: String?) {
            self.id = id
            self.displayName = displayName
        }
    }

    /// One case: itself, its debtor, its claims, its agent.
    public struct View: Sendable, Codable, Equatable {
        public var `case`: Case
        public var debtor: DebtorSummary
        public var claims: [Claim]
        public var agent: AgentSummary?
    }

    public func list(_ filter: Filter, after: UUID?, limit: Int, as actor: Principal) async throws -> [Summary] {
        var conditions: [SQL] = []
        if let v = filter.creditorId { conditions.append("c.creditor_id = \(v)") }
        if let v = filter.status { conditions.append("c.status = \(v.rawValue)") }
        if let v = filter.agentId { conditions.append("c.assigned_agent_id = \(v)") }
        if let v = filter.agents { conditions.append("c.assigned_agent_id = ANY(\(v))") }
        if let v = filter.unassigned { conditions.append(v ? "c.assigned_agent_id IS NULL" : "c.assigned_agent_id IS NOT NULL") }
        if let v = filter.placementId { conditions.append("c.first_placement_id = \(v)") }
        if let after { conditions.append("(c.creditor_id, c.id) > (SELECT x.creditor_id, x.id FROM cases x WHERE x.id = \(after))") }
        let condition = conditions.isEmpty ? SQL(unsafeRaw: "true") : SQL.joined(conditions, separator: " AND ")
        return try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query(
                """
                SELECT c.id, c.creditor_id, c.debtor_id, d.name, c.currency, c.status, c.stage, c.principal_minor, c.balance_minor,
                       c.oldest_due_date, c.placed_at, c.assigned_agent_id, c.assigned_at, c.unassigned_reason
                FROM cases c JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
                WHERE \(condition) ORDER BY c.creditor_id, c.id LIMIT \(limit)
                """
            ).map { row in
                Summary(
                    id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"),
                    debtorId: try row.decode(UUID.self, "debtor_id"), debtorName: try row.decode(String.self, "name"),
                    currency: try row.decode(String.self, "currency"), status: try row.decode(CaseStatus.self, "status"),
                    stage: try row.decode(String.self, "stage"), principalMinor: try row.decode(Int.self, "principal_minor"),
                    balanceMinor: try row.decode(Int.self, "balance_minor"), oldestDueDate: try row.decode(CalendarDate?.self, "oldest_due_date"),
                    placedAt: try row.decode(Date.self, "placed_at"), assignedAgentId: try row.decode(UUID?.self, "assigned_agent_id"),
                    assignedAt: try row.decode(Date?.self, "assigned_at"), unassignedReason: try row.decode(String?.self, "unassigned_reason"))
            }
        }
    }

    /// One case as the caller may see it; 404 otherwise (another creditor's, another agent's).
    public func get(_ id: UUID, as actor: Principal) async throws -> View {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let found = try await PortfolioRows.case(id, in: tx), let debtor = try await PortfolioRows.debtor(found.debtorId, creditor: found.creditorId, in: tx)
            else { throw Problem.notFound("case") }
            let claims = try await PortfolioRows.claims(ofCase: id, creditor: found.creditorId, in: tx)
            var agent: AgentSummary?
            if let agentID = found.assignedAgentId {
                let name = try await tx.one("SELECT display_name FROM users WHERE id = \(agentID)")?.decode(String.self, "display_name")
                agent = AgentSummary(id: agentID, displayName: name)
            }
            return View(
                case: found,
                debtor: DebtorSummary(
                    id: debtor.id, kind: debtor.kind, name: debtor.name, country: debtor.address.country, language: debtor.language,
                    timeZone: debtor.timeZone),
                claims: claims, agent: agent)
        }
    }
}
