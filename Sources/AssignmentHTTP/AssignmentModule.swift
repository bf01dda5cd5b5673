import Assignment
import Core
import Foundation
import Hummingbird
import Logging
import Postgres
import ServiceLifecycle
import Web

/// Case assignment: teams, agent profiles and absences, the rules, the assigner that runs after
/// each placement and whenever someone becomes eligible, and what supervisors do (reassign,
/// move, cover, the unassigned queue).
public struct AssignmentModule: HTTPModule {
    public let name = "assignment"

    public let assigner: Assigner
    public let worker: AssignmentWorker
    public let agents: AgentBook
    let teams: TeamBook
    let rules: RuleBook
    let reassignments: Reassignments

    public init(pool: PostgresPool, logger: Logger, credentials: CredentialCache = .off, clock: @escaping @Sendable () -> Date = { Date() }) {
        let assigner = Assigner(pool: pool, clock: clock)
        let worker = AssignmentWorker(assigner: assigner, logger: logger)
        self.assigner = assigner
        self.worker = worker
        self.agents = AgentBook(pool: pool, credentials: credentials, wake: { worker.wake() })
        self.teams = TeamBook(pool: pool)
        self.rules = RuleBook(pool: pool, wake: { worker.wake() })
        self.reassignments = Reassignments(assigner: assigner)
    }

    public func routes() -> ModuleRoutes {
        let routes = ModuleRoutes()
        TeamRoutes(teams: teams, wake: { worker.wake() }).add(to: routes)
        AgentRoutes(agents: agents, reassignments: reassignments).add(to: routes)
        RuleRoutes(rules: rules).add(to: routes)
        ReassignmentRoutes(assigner: assigner, reassignments: reassignments, rebalancer: Rebalancer(assigner: assigner)).add(to: routes)
        return routes
    }

    public var services: [any Service] { [worker] }
    public var migrations: [String] { ["0017_assignment.sql"] }
}

extension TeamBook.Team: ResponseEncodable {}
extension AgentBook.Profile: ResponseEncodable {}
extension AgentBook.Absence: ResponseEncodable {}
extension RuleBook.RuleSet: ResponseEncodable {}
extension Reassignments.Entry: ResponseEncodable {}
extension Reassignments.Moved: ResponseEncodable {}
extension Assigner.Run: ResponseEncodable {}
extension Rebalancer.Plan: ResponseEncodable {}
