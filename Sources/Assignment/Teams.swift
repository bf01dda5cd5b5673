import Core
import Foundation
import Postgres

/// The agency's teams: a name, a supervisor, and whether its agents see one another's cases.
/// Managed by the agency's administrators and supervisors, audited.
public struct TeamBook: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public struct Team: Sendable, Codable, Equatable {
        public var id: UUID
        public var name: String
        public var supervisorId: UUID?
        /// Whether the team's agents see the cases of every agent of the team.
        public var sharesCases: Bool
        /// The team's agents (with a profile in it).
        public var agents: Int
        public var createdAt: Date
        public var updatedAt: Date
    }

    public struct Input: Sendable, Decodable {
        public var name: String?
        public var supervisorId: UUID??
        public var sharesCases: Bool?

        public init(name: String? = nil, supervisorId: UUID?? = nil, sharesCases: Bool? = nil) {
            self.name = name
            self.supervisorId = supervisorId
            self.sharesCases = sharesCases
        }

        enum CodingKeys: String, CodingKey { case name, supervisorId, sharesCases }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            // Absent: unchanged; null: no supervisor.
            supervisorId = c.contains(.supervisorId) ? .some(try c.decodeIfPresent(UUID.self, forKey: .supervisorId)) : nil
            sharesCases = try c.decodeIfPresent(Bool.self, forKey: .sharesCases)
        }
    }

    static let columns: SQL = """
        t.id, t.name, t.supervisor_id, t.shares_cases, t.created_at, t.updated_at,
        (SELECT count(*)::int8 FROM agent_profiles p WHERE p.team_id = t.id) AS agents
        """

    static func decode(_ row: PostgresRow) throws -> Team {
        Team(
            id: try row.decode(UUID.self, "id"), name: try row.decode(String.self, "name"),
            supervisorId: try row.decode(UUID?.self, "supervisor_id"), sharesCases: try row.decode(Bool.self, "shares_cases"),
            agents: try row.decode(Int.self, "agents"), createdAt: try row.decode(Date.self, "created_at"),
            updatedAt: try row.decode(Date.self, "updated_at"))
    }

    static func checkName(_ name: String?, required: Bool) throws -> String? {
        guard let name else {
            if required { throw Problem.validation([.init(field: "name", reason: "is required")]) }
            return nil
        }
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard (1...100).contains(trimmed.count), !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Problem.validation([.init(field: "name", reason: "must be 1 to 100 characters on one line")])
        }
        return trimmed
    }

    /// 422 unless `id` is an active member of staff who supervises (a supervisor or an admin).
    static func checkSupervisor(_ id: UUID, in tx: PostgresTransaction) async throws {
        let row = try await tx.one("SELECT role, status FROM users WHERE id = \(id) AND creditor_id IS NULL")
        guard let row, ["supervisor", "admin"].contains(try row.decode(String.self, "role")), try row.decode(String.self, "status") == "active" else {
            throw Problem.validation([.init(field: "supervisorId", reason: "is not an active supervisor or administrator of the agency")])
        }
    }

    public func create(_ input: Input, by actor: Principal, requestID: String?) async throws -> Team {
        let name = try Self.checkName(input.name, required: true)!
        return try await pool.transaction(as: actor) { tx in
            if case .some(.some(let supervisor)) = input.supervisorId { try await Self.checkSupervisor(supervisor, in: tx) }
            let id = UUID()
            do {
                try await tx.execute(
                    """
                    INSERT INTO teams (id, name, supervisor_id, shares_cases)
                    VALUES (\(id), \(name), \(input.supervisorId ?? nil), \(input.sharesCases ?? false))
                    """)
            } catch let error as PostgresError where error.sqlState == "23505" {
                throw Problem.conflict("A team is already named '\(name)'.")
            }
            try await AuditLog.append(AuditEntry(action: "team.create", objectType: "team", objectID: id.uuidString.lowercased()), actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM teams t WHERE t.id = \(id)")!)
        }
    }

    public func update(_ id: UUID, _ input: Input, by actor: Principal, requestID: String?) async throws -> Team {
        let name = try Self.checkName(input.name, required: false)
        return try await pool.transaction(as: actor) { tx in
            guard try await tx.one("SELECT id FROM teams WHERE id = \(id) FOR UPDATE") != nil else { throw Problem.notFound("team") }
            if case .some(.some(let supervisor)) = input.supervisorId { try await Self.checkSupervisor(supervisor, in: tx) }
            let supervisor: SQL = input.supervisorId.map { "\($0)" } ?? "supervisor_id"
            do {
                try await tx.execute(
                    """
                    UPDATE teams SET name = coalesce(\(name), name), supervisor_id = \(supervisor),
                        shares_cases = coalesce(\(input.sharesCases), shares_cases), updated_at = now()
                    WHERE id = \(id)
                    """)
            } catch let error as PostgresError where error.sqlState == "23505" {
                throw Problem.conflict("A team is already named '\(name ?? "")'.")
            }
            try await AuditLog.append(AuditEntry(action: "team.update", objectType: "team", objectID: id.uuidString.lowercased()), actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM teams t WHERE t.id = \(id)")!)
        }
    }

    public func list(as actor: Principal) async throws -> [Team] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query("SELECT \(Self.columns) FROM teams t ORDER BY t.name").map(Self.decode)
        }
    }

    public func get(_ id: UUID, as actor: Principal) async throws -> Team {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let row = try await tx.one("SELECT \(Self.columns) FROM teams t WHERE t.id = \(id)") else { throw Problem.notFound("team") }
            return try Self.decode(row)
        }
    }
}
