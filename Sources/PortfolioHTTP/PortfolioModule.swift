import Core
import Foundation
import Hummingbird
import Portfolio
import Postgres
import Web

/// Cases over HTTP: the list and one case, scoped to the caller in both walls (the route's
/// permission; row-level security: an agent sees the cases of the agents they may see).
public struct PortfolioModule: HTTPModule {
    public let name = "portfolio"

    let cases: CaseDirectory
    /// A team's agents, for `?teamId=` (teams are assignment's); nil: no such team.
    let teamAgents: @Sendable (UUID, Principal) async throws -> [UUID]?
    /// One case in full (the work queue's case file: contacts, history, commitments, the gate);
    /// nil: the portfolio's own view.
    let caseFile: CaseFileSource?

    public init(
        pool: PostgresPool, teamAgents: @escaping @Sendable (UUID, Principal) async throws -> [UUID]?, caseFile: CaseFileSource? = nil
    ) {
        self.cases = CaseDirectory(pool: pool)
        self.teamAgents = teamAgents
        self.caseFile = caseFile
    }

    public func routes() -> ModuleRoutes {
        let routes = ModuleRoutes()
        CaseRoutes(cases: cases, teamAgents: teamAgents, caseFile: caseFile).add(to: routes)
        return routes
    }

    /// The tables are placement's (0004) and assignment's (0017).
    public var migrations: [String] { [] }
}

extension Permission {
    /// Listing and reading cases: every member of staff (agents their own: row-level security),
    /// the creditor's users, its keys with the `cases` scope.
    static let casesRead = Permission("cases.read", staff: allStaff, creditor: allCreditorUsers, keys: .scope(.cases))
}

extension CaseDirectory.Summary: ResponseEncodable {}
extension CaseDirectory.View: ResponseEncodable {}

/// Where one case's full view comes from, when another module composes it (`App` wires the
/// work queue's case file): a value encoded as the response.
public struct CaseFileSource: Sendable {
    let build: @Sendable (UUID, Principal, String?) async throws -> any Encodable & Sendable

    public init(_ build: @escaping @Sendable (UUID, Principal, String?) async throws -> any Encodable & Sendable) {
        self.build = build
    }
}

/// An encodable value of a type this module does not know, sent as JSON.
struct EncodedValue: ResponseEncodable, Sendable {
    let value: any Encodable & Sendable

    func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
    }
}

struct CaseRoutes {
    let cases: CaseDirectory
    let teamAgents: @Sendable (UUID, Principal) async throws -> [UUID]?
    let caseFile: CaseFileSource?

    func add(to routes: ModuleRoutes) {
        routes.get("/v1/cases", .casesRead) { request, context in
            let page = try Page(request)
            let query = request.uri.queryParameters
            var filter = CaseDirectory.Filter(
                creditorId: try request.uuidQuery("creditorId", what: "a creditor"), agentId: try request.uuidQuery("agentId", what: "an agent"),
                placementId: try request.uuidQuery("placementId", what: "a placement"))
            if let text = query.get("status") {
                guard let status = CaseStatus(rawValue: text) else {
                    throw Problem.validation([.init(field: "status", reason: "must be one of \(CaseStatus.allCases.map(\.rawValue).joined(separator: ", "))")])
                }
                filter.status = status
            }
            if let text = query.get("unassigned") {
                guard let value = Bool(text) else { throw Problem.validation([.init(field: "unassigned", reason: "must be true or false")]) }
                filter.unassigned = value
            }
            if let team = try request.uuidQuery("teamId", what: "a team") {
                guard context.principal.isStaff, let agents = try await teamAgents(team, context.principal) else {
                    throw Problem.validation([.init(field: "teamId", reason: "is not a team of the agency")])
                }
                filter.agents = agents
            }
            let items = try await cases.list(filter, after: page.after, limit: page.limit, as: context.principal)
            return Paged(items: items, limit: page.limit, id: \.id)
        }
        routes.get("/v1/cases/{caseId}", .casesRead) { _, context in
            let id = try context.parameters.requireUUID("caseId", what: "case")
            if let caseFile { return EncodedValue(value: try await caseFile.build(id, context.principal, context.requestID)) }
            return EncodedValue(value: try await cases.get(id, as: context.principal))
        }
    }
}
