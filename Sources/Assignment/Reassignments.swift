import Core
import Foundation
import Portfolio
import Postgres

/// What supervisors do with assignments: give one case to an agent, move many by filter, hand
/// an absent agent's cases to others (cover), and read a case's history and the cases waiting.
public struct Reassignments: Sendable {
    public let pool: PostgresPool
    public let assigner: Assigner

    public init(assigner: Assigner) {
        self.pool = assigner.pool
        self.assigner = assigner
    }

    /// One line of a case's assignment history.
    public struct Entry: Sendable, Codable, Equatable {
        public var at: Date
        public var agentId: UUID
        public var previousAgentId: UUID?
        /// `rule`, `consolidation`, `reassignment`, `cover`.
        public var kind: String
        public var ruleVersion: Int?
        public var rulePosition: Int?
        public var ruleName: String?
        /// Who, when a person did it.
        public var actorId: UUID?
        public var reason: String
    }

    static let entryColumns: SQL = "at, agent_id, previous_agent_id, kind, rule_version, rule_position, rule_name, actor_id, reason"

    static func decodeEntry(_ row: PostgresRow) throws -> Entry {
        Entry(
            at: try row.decode(Date.self, "at"), agentId: try row.decode(UUID.self, "agent_id"),
            previousAgentId: try row.decode(UUID?.self, "previous_agent_id"), kind: try row.decode(String.self, "kind"),
            ruleVersion: try row.decode(Int?.self, "rule_version"), rulePosition: try row.decode(Int?.self, "rule_position"),
            ruleName: try row.decode(String?.self, "rule_name"), actorId: try row.decode(UUID?.self, "actor_id"),
            reason: try row.decode(String.self, "reason"))
    }

    /// A case's history, the latest first (404 when the caller may not see the case).
    public func history(ofCase id: UUID, as actor: Principal) async throws -> [Entry] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let row = try await tx.one("SELECT creditor_id FROM cases WHERE id = \(id)") else { throw Problem.notFound("case") }
            let creditor = try row.decode(UUID.self, "creditor_id")
            return try await tx.query(
                "SELECT \(Self.entryColumns) FROM case_assignments WHERE creditor_id = \(creditor) AND case_id = \(id) ORDER BY seq DESC"
            ).map(Self.decodeEntry)
        }
    }

    public struct Request: Sendable, Decodable {
        public var agentId: UUID?
        /// The agent the caller saw on the case (null: unassigned); another change since: 409.
        public var expectedAgentId: UUID??
        /// Why, for the history (at most 500 characters).
        public var note: String?

        enum CodingKeys: String, CodingKey { case agentId, expectedAgentId, note }

        public init(agentId: UUID?, expectedAgentId: UUID?? = nil, note: String? = nil) {
            self.agentId = agentId
            self.expectedAgentId = expectedAgentId
            self.note = note
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            agentId = try c.decodeIfPresent(UUID.self, forKey: .agentId)
            expectedAgentId = c.contains(.expectedAgentId) ? .some(try c.decodeIfPresent(UUID.self, forKey: .expectedAgentId)) : nil
            note = try c.decodeIfPresent(String.self, forKey: .note)
        }
    }

    static func checkNote(_ note: String?) throws -> String? {
        guard let note else { return nil }
        let trimmed = note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count <= 500 else { throw Problem.validation([.init(field: "note", reason: "is longer than 500 characters")]) }
        return trimmed.isEmpty ? nil : trimmed
    }

    /// Gives one live case to one agent: the agent must be at work, have the skills the case
    /// needs and room. Two supervisors at once: one wins, the other gets 409.
    public func reassign(case id: UUID, _ request: Request, by actor: Principal, requestID: String?) async throws -> Entry {
        guard let agent = request.agentId else { throw Problem.validation([.init(field: "agentId", reason: "is required")]) }
        let note = try Self.checkNote(request.note)
        return try await pool.transaction(as: actor) { tx in
            // The target's profile first (the assigner takes profiles before cases: the same order).
            guard let profile = try await tx.one(
                """
                SELECT p.languages, p.debtor_kinds, p.max_balance_minor, p.stages, p.capacity, u.status,
                       \(AgentBook.absent(of: "p.user_id", at: "\(assigner.clock())")) AS absent
                FROM agent_profiles p JOIN users u ON u.id = p.user_id WHERE p.user_id = \(agent) FOR UPDATE OF p
                """)
            else { throw Problem.validation([.init(field: "agentId", reason: "is not an agent with a profile")]) }
            let row: PostgresRow?
            do {
                row = try await tx.one(
                    """
                    SELECT c.creditor_id, c.assigned_agent_id, c.status, c.balance_minor, c.stage, d.kind, d.language
                    FROM cases c JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
                    WHERE c.id = \(id) FOR UPDATE OF c NOWAIT
                    """)
            } catch let error as PostgresError where error.sqlState == "55P03" {
                throw Problem.conflict("Someone else is changing this case's assignment right now: read it again.")
            }
            guard let row else { throw Problem.notFound("case") }
            let creditor = try row.decode(UUID.self, "creditor_id")
            let current = try row.decode(UUID?.self, "assigned_agent_id")
            let status = try row.decode(String.self, "status")
            guard ["open", "paused", "disputed"].contains(status) else { throw Problem.conflict("The case is \(status): it is no longer worked.") }
            if case .some(let expected) = request.expectedAgentId, expected != current {
                throw Problem.conflict("The case is now with \(current?.uuidString.lowercased() ?? "nobody"), not \(expected?.uuidString.lowercased() ?? "nobody"): read it again.")
            }
            guard current != agent else { throw Problem.validation([.init(field: "agentId", reason: "already holds this case")]) }
            var unfit: [String] = []
            if try profile.decode(String.self, "status") != "active" { unfit.append("the account is disabled") }
            if try profile.decode(Bool.self, "absent") { unfit.append("absent now") }
            let language = try row.decode(String.self, "language")
            if try !profile.decode([String].self, "languages").contains(language) { unfit.append("does not speak '\(language)'") }
            let kind = try row.decode(String.self, "kind")
            if try !profile.decode([String].self, "debtor_kinds").contains(kind) { unfit.append("does not take \(kind) debtors") }
            let stage = try row.decode(String.self, "stage")
            if try !profile.decode([String].self, "stages").contains(stage) { unfit.append("does not work the \(stage) stage") }
            let balance = try row.decode(Int.self, "balance_minor")
            if let max = try profile.decode(Int?.self, "max_balance_minor"), balance > max { unfit.append("may hold balances up to \(max), the case's is \(balance)") }
            guard unfit.isEmpty else {
                throw Problem.validation([.init(field: "agentId", reason: "cannot take this case: \(unfit.joined(separator: "; "))")])
            }
            let load = try await AgentBook.load(of: agent, in: tx)
            let capacity = try profile.decode(Int.self, "capacity")
            guard load < capacity else { throw Problem.conflict("The agent holds \(load) live cases, their capacity: raise it or choose another agent.") }
            try await tx.execute(
                "UPDATE cases SET assigned_agent_id = \(agent), assigned_at = now(), unassigned_reason = NULL, updated_at = now() WHERE creditor_id = \(creditor) AND id = \(id)")
            let reason = "reassigned by a supervisor" + (note.map { ": \($0)" } ?? "")
            let entry = try await tx.one(
                """
                INSERT INTO case_assignments (creditor_id, case_id, agent_id, previous_agent_id, kind, actor_id, reason)
                VALUES (\(creditor), \(id), \(agent), \(current), 'reassignment', \(actor.id), \(reason))
                RETURNING \(Self.entryColumns)
                """)!
            try await tx.execute("UPDATE agent_profiles SET last_assigned_at = now() WHERE user_id = \(agent)")
            try await AuditLog.append(
                AuditEntry(action: "case.reassign", objectType: "case", objectID: id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decodeEntry(entry)
        }
    }

    /// Which live cases a move takes; at least one condition.
    public struct Filter: Sendable, Codable, Equatable {
        public var agentId: UUID?
        public var teamId: UUID?
        public var creditorId: UUID?
        public var placementId: UUID?

        public init(agentId: UUID? = nil, teamId: UUID? = nil, creditorId: UUID? = nil, placementId: UUID? = nil) {
            self.agentId = agentId
            self.teamId = teamId
            self.creditorId = creditorId
            self.placementId = placementId
        }
    }

    /// Where moved cases go: these agents, or a team's.
    public struct Target: Sendable, Codable, Equatable {
        public var agents: [UUID]?
        public var teamId: UUID?

        public init(agents: [UUID]? = nil, teamId: UUID? = nil) {
            self.agents = agents
            self.teamId = teamId
        }
    }

    public struct MoveRequest: Sendable, Decodable {
        public var filter: Filter?
        public var to: Target?
        public var note: String?

        public init(filter: Filter?, to: Target?, note: String?) {
            self.filter = filter
            self.to = to
            self.note = note
        }
    }

    /// The agents a target names, without `excluding`; 422 naming what is unknown.
    func agents(of target: Target?, field: String, excluding: UUID?, in tx: PostgresTransaction) async throws -> (agents: [UUID], name: String) {
        switch (target?.agents, target?.teamId) {
        case (let agents?, nil):
            guard !agents.isEmpty, agents.count <= 500 else { throw Problem.validation([.init(field: "\(field).agents", reason: "must name 1 to 500 agents")]) }
            let known = Set(try await tx.query("SELECT user_id FROM agent_profiles WHERE user_id = ANY(\(agents))").map { try $0.decode(UUID.self, "user_id") })
            let errors = agents.enumerated().filter { !known.contains($0.element) }.map {
                Problem.FieldError(field: "\(field).agents[\($0.offset)]", reason: "is not an agent with a profile")
            }
            guard errors.isEmpty else { throw Problem.validation(errors) }
            return (agents.filter { $0 != excluding }, "agents chosen by a supervisor")
        case (nil, let team?):
            guard let row = try await tx.one("SELECT name FROM teams WHERE id = \(team)") else {
                throw Problem.validation([.init(field: "\(field).teamId", reason: "is not a team of the agency")])
            }
            let members = try await tx.query("SELECT user_id FROM agent_profiles WHERE team_id = \(team)").map { try $0.decode(UUID.self, "user_id") }
            return (members.filter { $0 != excluding }, "team '\(try row.decode(String.self, "name"))'")
        default:
            throw Problem.validation([.init(field: field, reason: "must name either agents or a teamId")])
        }
    }

    /// What a move did.
    public struct Moved: Sendable, Codable, Equatable {
        public var matched: Int
        public var moved: Int
        /// Left with their agent: no one in the target had the skills or room.
        public var left: Int

        public init(matched: Int, moved: Int, left: Int) {
            self.matched = matched
            self.moved = moved
            self.left = left
        }
    }

    /// Moves the live cases a filter selects to the target's agents (least loaded first, within
    /// skills, presence and capacity); cases no one can take stay where they are.
    public func move(_ request: MoveRequest, kind: String = "reassignment", by actor: Principal, requestID: String?) async throws -> Moved {
        let filter = request.filter ?? Filter()
        guard filter != Filter() else {
            throw Problem.validation([.init(field: "filter", reason: "needs at least one of agentId, teamId, creditorId, placementId")])
        }
        let note = try Self.checkNote(request.note)
        let target = try await pool.transaction(as: actor, .init(readOnly: true)) { tx -> (agents: [UUID], name: String) in
            if let agent = filter.agentId, try await tx.one("SELECT 1 AS one FROM agent_profiles WHERE user_id = \(agent)") == nil {
                throw Problem.validation([.init(field: "filter.agentId", reason: "is not an agent with a profile")])
            }
            if let team = filter.teamId, try await tx.one("SELECT 1 AS one FROM teams WHERE id = \(team)") == nil {
                throw Problem.validation([.init(field: "filter.teamId", reason: "is not a team of the agency")])
            }
            if let creditor = filter.creditorId, try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") == nil {
                throw Problem.validation([.init(field: "filter.creditorId", reason: "is not a creditor of the agency")])
            }
            return try await agents(of: request.to, field: "to", excluding: filter.agentId, in: tx)
        }
        var scope: [SQL] = ["c.status IN \(CaseStatus.liveList)", "c.assigned_agent_id IS NOT NULL"]
        if let v = filter.agentId { scope.append("c.assigned_agent_id = \(v)") }
        if let v = filter.teamId { scope.append("c.assigned_agent_id IN (SELECT user_id FROM agent_profiles WHERE team_id = \(v))") }
        if let v = filter.creditorId { scope.append("c.creditor_id = \(v)") }
        if let v = filter.placementId { scope.append("c.first_placement_id = \(v)") }
        let run = try await assigner.pass(
            .init(scope: SQL.joined(scope, separator: " AND "), kind: kind, pool: target, actor: actor.id, note: note)).run
        try await pool.transaction(as: actor) { tx in
            try await AuditLog.append(
                AuditEntry(action: "cases.\(kind == "cover" ? "cover" : "reassign")", objectType: "cases", objectID: filter.agentId?.uuidString.lowercased()),
                actor: actor, requestID: requestID, in: tx)
        }
        return Moved(matched: run.considered, moved: run.assigned, left: run.considered - run.assigned)
    }

    /// Hands an agent's live cases to others (by default, the agent's team mates): for an
    /// absence. The agent's return does not bring them back.
    public func cover(agent: UUID, to target: Target?, note: String?, by actor: Principal, requestID: String?) async throws -> Moved {
        var to = target
        if to == nil {
            let team = try await pool.transaction(as: actor, .init(readOnly: true)) { tx -> UUID? in
                guard let row = try await tx.one("SELECT team_id FROM agent_profiles WHERE user_id = \(agent)") else { throw Problem.notFound("agent profile") }
                return try row.decode(UUID?.self, "team_id")
            }
            guard let team else { throw Problem.validation([.init(field: "to", reason: "is required: the agent has no team to cover them")]) }
            to = Target(teamId: team)
        }
        return try await move(MoveRequest(filter: Filter(agentId: agent), to: to, note: note), kind: "cover", by: actor, requestID: requestID)
    }

    /// A case waiting for an agent.
    public struct Waiting: Sendable, Codable, Equatable {
        public var caseId: UUID
        public var creditorId: UUID
        public var debtorName: String
        public var balanceMinor: Int
        public var currency: String
        public var placedAt: Date
        /// `no_rule`, `pool_absent`, `pool_full`, `skill_missing`; nil until the assigner saw it.
        public var reason: String?
    }

    /// The unassigned queue, oldest placement first, `after` a case for the next page.
    public func waiting(reason: String?, creditor: UUID?, after: UUID?, limit: Int, as actor: Principal) async throws -> [Waiting] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            var conditions: [SQL] = ["c.assigned_agent_id IS NULL", "c.status = 'open'"]
            if let reason { conditions.append("c.unassigned_reason = \(reason)") }
            if let creditor { conditions.append("c.creditor_id = \(creditor)") }
            if let after {
                conditions.append("(c.placed_at, c.creditor_id, c.id) > (SELECT placed_at, creditor_id, id FROM cases WHERE id = \(after))")
            }
            return try await tx.query(
                """
                SELECT c.id, c.creditor_id, d.name, c.balance_minor, c.currency, c.placed_at, c.unassigned_reason
                FROM cases c JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
                WHERE \(SQL.joined(conditions, separator: " AND "))
                ORDER BY c.placed_at, c.creditor_id, c.id LIMIT \(limit)
                """
            ).map {
                Waiting(
                    caseId: try $0.decode(UUID.self, "id"), creditorId: try $0.decode(UUID.self, "creditor_id"),
                    debtorName: try $0.decode(String.self, "name"), balanceMinor: try $0.decode(Int.self, "balance_minor"),
                    currency: try $0.decode(String.self, "currency"), placedAt: try $0.decode(Date.self, "placed_at"),
                    reason: try $0.decode(String?.self, "unassigned_reason"))
            }
        }
    }
}
