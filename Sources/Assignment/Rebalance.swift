import Core
import Foundation
import Portfolio
import Postgres

/// Evening out a team's loads after capacities or members changed: a preview (what would move,
/// and why), then the same computed again and done. Only what needs moving moves: agents more
/// than `tolerance` above the team's fill give their excess (their most recently received open
/// cases, the least worked), to the team's agents below it, within skills and room. After a
/// rebalance every agent is within the tolerance, so a second one moves nothing: it never
/// thrashes.
public struct Rebalancer: Sendable {
    public let assigner: Assigner

    public init(assigner: Assigner) {
        self.assigner = assigner
    }

    public struct Request: Sendable, Decodable {
        public var teamId: UUID?
        /// Percentage points above the team's fill an agent may be before giving cases (default 10).
        public var tolerancePercent: Int?
        public var note: String?

        public init(teamId: UUID?, tolerancePercent: Int? = nil, note: String? = nil) {
            self.teamId = teamId
            self.tolerancePercent = tolerancePercent
            self.note = note
        }
    }

    public struct AgentLoad: Sendable, Codable, Equatable {
        public var agentId: UUID
        public var load: Int
        public var capacity: Int
        public var present: Bool
        /// Cases the agent gives (above the team's fill by more than the tolerance).
        public var excess: Int
        /// The load once the moves are made.
        public var after: Int
    }

    public struct Plan: Sendable, Codable, Equatable {
        public var teamId: UUID
        /// Live cases over capacity of the team's agents at work, in percent.
        public var fillPercent: Double
        public var tolerancePercent: Int
        public var agents: [AgentLoad]
        public var moves: [Assigner.Move]
        /// False for a preview.
        public var executed: Bool
    }

    /// What a rebalance of the team would move (nothing is changed).
    public func preview(_ request: Request, as actor: Principal) async throws -> Plan {
        try await plan(request, execute: false, by: actor, requestID: nil)
    }

    /// Rebalances the team now; the moves are in the cases' history (`rebalance`), audited.
    public func execute(_ request: Request, by actor: Principal, requestID: String?) async throws -> Plan {
        try await plan(request, execute: true, by: actor, requestID: requestID)
    }

    func plan(_ request: Request, execute: Bool, by actor: Principal, requestID: String?) async throws -> Plan {
        guard let team = request.teamId else { throw Problem.validation([.init(field: "teamId", reason: "is required: the team to rebalance")]) }
        let tolerance = request.tolerancePercent ?? 10
        guard (0...100).contains(tolerance) else {
            throw Problem.validation([.init(field: "tolerancePercent", reason: "must be from 0 to 100 percentage points")])
        }
        let note = try Reassignments.checkNote(request.note)
        let now = assigner.clock()
        // The team's agents, their loads, who gives how many.
        let (members, fill) = try await assigner.pool.transaction(as: actor, .init(readOnly: true)) { tx -> ([AgentLoad], Double) in
            guard try await tx.one("SELECT 1 AS one FROM teams WHERE id = \(team)") != nil else {
                throw Problem.validation([.init(field: "teamId", reason: "is not a team of the agency")])
            }
            let rows = try await tx.query(
                """
                SELECT p.user_id, p.capacity,
                       \(AgentBook.load(of: "p.user_id")) AS load,
                       (u.status = 'active' AND NOT \(AgentBook.absent(of: "p.user_id", at: "\(now)"))) AS present
                FROM agent_profiles p JOIN users u ON u.id = p.user_id WHERE p.team_id = \(team) ORDER BY p.user_id
                """)
            var agents = try rows.map {
                AgentLoad(
                    agentId: try $0.decode(UUID.self, "user_id"), load: try $0.decode(Int.self, "load"), capacity: try $0.decode(Int.self, "capacity"),
                    present: try $0.decode(Bool.self, "present"), excess: 0, after: 0)
            }
            let working = agents.filter { $0.present && $0.capacity > 0 }
            let capacity = working.reduce(0) { $0 + $1.capacity }
            let fill = capacity == 0 ? 0 : Double(working.reduce(0) { $0 + $1.load }) / Double(capacity)
            for i in agents.indices where agents[i].present && agents[i].capacity > 0 {
                let own = Double(agents[i].load) / Double(agents[i].capacity)
                if own > fill + Double(tolerance) / 100 {
                    agents[i].excess = agents[i].load - Int((fill * Double(agents[i].capacity)).rounded(.up))
                }
            }
            return (agents, fill)
        }
        let givers = members.filter { $0.excess > 0 }
        let takers = members.filter { $0.present && $0.capacity > 0 && Double($0.load) / Double($0.capacity) < fill }.map(\.agentId)
        var moves: [Assigner.Move] = []
        if !givers.isEmpty && !takers.isEmpty {
            // Each giver's excess: its open cases received most recently.
            var picks: [SQL] = []
            for giver in givers {
                picks.append(
                    """
                    (SELECT x.id FROM cases x WHERE x.assigned_agent_id = \(giver.agentId) AND x.status = 'open'
                     ORDER BY x.assigned_at DESC NULLS LAST, x.id LIMIT \(giver.excess))
                    """)
            }
            let scope: SQL = "c.status = 'open' AND c.id IN (\(SQL.joined(picks, separator: " UNION ALL ")))"
            let result = try await assigner.pass(
                .init(
                    scope: scope, kind: "rebalance", pool: (takers, "the team's less loaded agents"), actor: actor.id,
                    note: note ?? "the agent was more than \(tolerance) points above the team's fill", dryRun: !execute))
            moves = result.moves
        }
        var agents = members
        for i in agents.indices {
            let id = agents[i].agentId
            agents[i].after = agents[i].load - moves.filter { $0.fromAgentId == id }.count + moves.filter { $0.toAgentId == id }.count
        }
        if execute {
            try await assigner.pool.transaction(as: actor) { tx in
                try await AuditLog.append(
                    AuditEntry(action: "cases.rebalance", objectType: "team", objectID: team.uuidString.lowercased()), actor: actor, requestID: requestID, in: tx)
            }
        }
        return Plan(
            teamId: team, fillPercent: (fill * 1000).rounded() / 10, tolerancePercent: tolerance, agents: agents, moves: moves, executed: execute)
    }
}
