import Core
import Foundation
import Postgres

/// The queues as supervisors watch them: per agent, the cases ready now per level, those
/// waiting for their time, those parked by the gate, the oldest ready item and the leases held.
public struct QueueBoard: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public struct LeaseHeld: Codable, Sendable, Equatable {
        public var leaseId: UUID
        public var caseId: UUID
        public var leasedAt: Date
        public var expiresAt: Date
    }

    public struct AgentQueue: Codable, Sendable, Equatable {
        public var agentId: UUID
        public var displayName: String?
        /// Ready now, per level name (every level present, zero included).
        public var ready: [String: Int]
        public var readyTotal: Int
        /// Active cases whose time has not come (a follow-up, a callback, a capped contact).
        public var waiting: Int
        /// Cases the gate parked: only a person can make them callable again.
        public var parked: Int
        /// The oldest due time among the ready cases.
        public var oldestReadyDueAt: Date?
        public var leases: [LeaseHeld]
    }

    public struct Board: Codable, Sendable, Equatable {
        public var agents: [AgentQueue]
        /// The same counts over every agent shown.
        public var ready: [String: Int]
        public var readyTotal: Int
        public var waiting: Int
        public var parked: Int
        public var leased: Int
    }

    /// The board of one agent, a team's agents, or every agent with a profile.
    public func board(team: UUID?, agent: UUID?, as actor: Principal) async throws -> Board {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            var agents: SQL = "SELECT user_id FROM agent_profiles"
            if let agent { agents = "SELECT \(agent)::uuid" } else if let team { agents = "SELECT user_id FROM agent_profiles WHERE team_id = \(team)" }
            let people = try await tx.query(
                "SELECT u.id, u.display_name FROM users u WHERE u.id IN (\(agents)) ORDER BY u.display_name, u.id")
            var byAgent: [UUID: AgentQueue] = [:]
            var order: [UUID] = []
            let zero = Dictionary(uniqueKeysWithValues: QueueLevel.allCases.map { ($0.name, 0) })
            for row in people {
                let id = try row.decode(UUID.self, "id")
                order.append(id)
                byAgent[id] = AgentQueue(
                    agentId: id, displayName: try row.decode(String?.self, "display_name"), ready: zero, readyTotal: 0, waiting: 0, parked: 0,
                    oldestReadyDueAt: nil, leases: [])
            }
            let counts = try await tx.query(
                """
                SELECT agent_id, level, count(*) FILTER (WHERE ready)::int8 AS ready,
                       count(*) FILTER (WHERE NOT ready AND lease_id IS NULL AND parked_reason IS NULL)::int8 AS waiting,
                       count(*) FILTER (WHERE parked_reason IS NOT NULL)::int8 AS parked,
                       min(due_at) FILTER (WHERE ready) AS oldest
                FROM work_items WHERE case_open AND agent_id IN (\(agents)) GROUP BY agent_id, level
                """)
            for row in counts {
                let id = try row.decode(UUID.self, "agent_id")
                guard var q = byAgent[id], let level = QueueLevel(rawValue: try row.decode(Int.self, "level")) else { continue }
                let ready = try row.decode(Int.self, "ready")
                q.ready[level.name, default: 0] += ready
                q.readyTotal += ready
                q.waiting += try row.decode(Int.self, "waiting")
                q.parked += try row.decode(Int.self, "parked")
                if let oldest = try row.decode(Date?.self, "oldest") { q.oldestReadyDueAt = min(q.oldestReadyDueAt ?? oldest, oldest) }
                byAgent[id] = q
            }
            let leases = try await tx.query(
                """
                SELECT leased_by, lease_id, case_id, leased_at, lease_until FROM work_items
                WHERE lease_id IS NOT NULL AND lease_until > now() AND leased_by IN (\(agents)) ORDER BY leased_at
                """)
            for row in leases {
                let id = try row.decode(UUID.self, "leased_by")
                byAgent[id]?.leases.append(
                    LeaseHeld(
                        leaseId: try row.decode(UUID.self, "lease_id"), caseId: try row.decode(UUID.self, "case_id"),
                        leasedAt: try row.decode(Date.self, "leased_at"), expiresAt: try row.decode(Date.self, "lease_until")))
            }
            let list = order.compactMap { byAgent[$0] }
            var total = zero
            for q in list { for (k, v) in q.ready { total[k, default: 0] += v } }
            return Board(
                agents: list, ready: total, readyTotal: list.map(\.readyTotal).reduce(0, +), waiting: list.map(\.waiting).reduce(0, +),
                parked: list.map(\.parked).reduce(0, +), leased: list.map(\.leases.count).reduce(0, +))
        }
    }
}
