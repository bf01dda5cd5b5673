import Core
import Foundation
import Portfolio
import Postgres

/// Agents as assignment sees them: a profile on a staff user of role agent (team, skills,
/// capacity) and absences. Managed by the agency's administrators and supervisors, audited; a
/// change wakes the assigner (cases waiting for someone like this agent are given at once).
public struct AgentBook: Sendable {
    public let pool: PostgresPool
    let wake: @Sendable () -> Void
    /// Emptied when a profile changes (an agent's team is part of who they are: Principal.team).
    let credentials: CredentialCache

    public init(pool: PostgresPool, credentials: CredentialCache = .off, wake: @escaping @Sendable () -> Void = {}) {
        self.pool = pool
        self.credentials = credentials
        self.wake = wake
    }

    public enum Stage: String, Sendable, Codable, CaseIterable, PostgresDecodable {
        case amicableCalls = "amicable_calls"
        case letters
        case escalation
    }

    public enum DebtorKind: String, Sendable, Codable, CaseIterable, PostgresDecodable {
        case person
        case company
    }

    public struct Profile: Sendable, Codable, Equatable {
        public var userId: UUID
        public var displayName: String
        public var email: String
        public var teamId: UUID?
        public var languages: [String]
        public var debtorKinds: [String]
        public var maxBalanceMinor: Int?
        public var stages: [String]
        public var capacity: Int
        /// Live cases (open, paused, disputed) assigned to the agent now.
        public var load: Int
        public var absentNow: Bool
        public var lastAssignedAt: Date?
        public var updatedAt: Date
    }

    public struct ProfileInput: Sendable, Decodable {
        public var teamId: UUID?
        public var languages: [String]?
        public var debtorKinds: [String]?
        public var maxBalanceMinor: Int?
        public var stages: [String]?
        public var capacity: Int?

        public init(teamId: UUID? = nil, languages: [String]?, debtorKinds: [String]?, maxBalanceMinor: Int? = nil, stages: [String]?, capacity: Int?) {
            self.teamId = teamId
            self.languages = languages
            self.debtorKinds = debtorKinds
            self.maxBalanceMinor = maxBalanceMinor
            self.stages = stages
            self.capacity = capacity
        }
    }

    public struct Absence: Sendable, Codable, Equatable {
        public var id: UUID
        public var userId: UUID
        public var startsAt: Date
        public var endsAt: Date
        public var reason: String
        public var createdAt: Date
    }

    public struct AbsenceInput: Sendable, Decodable {
        public var startsAt: Date?
        public var endsAt: Date?
        public var reason: String?

        public init(startsAt: Date?, endsAt: Date?, reason: String?) {
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.reason = reason
        }
    }

    public static let absenceReasons = ["leave", "sick", "training", "other"]

    static let columns: SQL = """
        p.user_id, u.display_name, u.email, p.team_id, p.languages, p.debtor_kinds, p.max_balance_minor, p.stages, p.capacity,
        nullif(p.last_assigned_at, '-infinity') AS last_assigned_at, p.updated_at,
        \(load(of: "p.user_id")) AS load,
        \(absent(of: "p.user_id", at: "now()")) AS absent_now
        """

    /// An agent's load, the one definition capacity is measured against: the live cases (open,
    /// paused, disputed) they hold.
    static func load(of agent: SQL) -> SQL {
        "(SELECT count(*)::int8 FROM cases c WHERE c.assigned_agent_id = \(agent) AND c.status IN \(CaseStatus.liveList))"
    }

    /// Whether an absence covers `time` for the agent: the one definition the profile, the
    /// assigner, reassignment and rebalancing share.
    static func absent(of agent: SQL, at time: SQL) -> SQL {
        "EXISTS (SELECT 1 FROM agent_absences a WHERE a.user_id = \(agent) AND a.starts_at <= \(time) AND a.ends_at > \(time))"
    }

    static func load(of agent: UUID, in tx: PostgresTransaction) async throws -> Int {
        try await tx.one("SELECT \(load(of: "\(agent)")) AS n")!.decode(Int.self, "n")
    }

    static func decode(_ row: PostgresRow) throws -> Profile {
        Profile(
            userId: try row.decode(UUID.self, "user_id"), displayName: try row.decode(String.self, "display_name"),
            email: try row.decode(String.self, "email"), teamId: try row.decode(UUID?.self, "team_id"),
            languages: try row.decode([String].self, "languages"), debtorKinds: try row.decode([String].self, "debtor_kinds"),
            maxBalanceMinor: try row.decode(Int?.self, "max_balance_minor"), stages: try row.decode([String].self, "stages"),
            capacity: try row.decode(Int.self, "capacity"), load: try row.decode(Int.self, "load"),
            absentNow: try row.decode(Bool.self, "absent_now"), lastAssignedAt: try row.decode(Date?.self, "last_assigned_at"),
            updatedAt: try row.decode(Date.self, "updated_at"))
    }

    /// Checks a profile as sent; every fault named.
    static func check(_ input: ProfileInput) throws -> (languages: [String], kinds: [String], stages: [String], capacity: Int) {
        var errors: [Problem.FieldError] = []
        func list(_ values: [String]?, _ field: String, allowed: [String]?, pattern: (String) -> Bool = { _ in true }, what: String) -> [String] {
            guard let values, !values.isEmpty else {
                errors.append(.init(field: field, reason: "is required: at least one \(what)"))
                return []
            }
            for (i, value) in values.enumerated() {
                if let allowed, !allowed.contains(value) {
                    errors.append(.init(field: "\(field)[\(i)]", reason: "'\(Problem.showable(value.prefix(40).description))' is not one of \(allowed.joined(separator: ", "))"))
                } else if !pattern(value) {
                    errors.append(.init(field: "\(field)[\(i)]", reason: "'\(Problem.showable(value.prefix(40).description))' is not \(what)"))
                }
            }
            if Set(values).count != values.count { errors.append(.init(field: field, reason: "names a value twice")) }
            return values
        }
        let languages = list(input.languages, "languages", allowed: nil, pattern: Self.isLanguage, what: "an ISO 639-1 language code (fr, en, de, ...)")
        let kinds = list(input.debtorKinds, "debtorKinds", allowed: DebtorKind.allCases.map(\.rawValue), what: "debtor kind")
        let stages = list(input.stages, "stages", allowed: Stage.allCases.map(\.rawValue), what: "stage")
        var capacity = 0
        if let value = input.capacity {
            if (0...100_000).contains(value) { capacity = value } else { errors.append(.init(field: "capacity", reason: "must be from 0 to 100000 cases")) }
        } else {
            errors.append(.init(field: "capacity", reason: "is required: the most live cases the agent may hold"))
        }
        if let max = input.maxBalanceMinor, max <= 0 { errors.append(.init(field: "maxBalanceMinor", reason: "must be above 0 (or absent: no limit)")) }
        guard errors.isEmpty else { throw Problem.validation(errors, detail: "The agent profile is not valid.") }
        return (languages, kinds, stages, capacity)
    }

    static func isLanguage(_ code: String) -> Bool {
        code.count == 2 && code.unicodeScalars.allSatisfy { ("a"..."z").contains($0) }
    }

    /// Sets (creates or replaces) an agent's profile. The user must be an agent of the agency;
    /// the capacity may not fall below the cases the agent holds today.
    public func put(_ userID: UUID, _ input: ProfileInput, by actor: Principal, requestID: String?) async throws -> Profile {
        let checked = try Self.check(input)
        defer { credentials.invalidateAll() }
        let profile = try await pool.transaction(as: actor) { tx -> Profile in
            guard let user = try await tx.one("SELECT role FROM users WHERE id = \(userID) AND creditor_id IS NULL") else { throw Problem.notFound("agent") }
            guard try user.decode(String.self, "role") == "agent" else {
                throw Problem.validation([.init(field: "userId", reason: "is not an agent: only users of role agent take cases")])
            }
            if let team = input.teamId, try await tx.one("SELECT 1 AS one FROM teams WHERE id = \(team)") == nil {
                throw Problem.validation([.init(field: "teamId", reason: "is not a team of the agency")])
            }
            // Written first, so the row is locked (created or not) while the load is counted under
            // it: the assigner and reassignments count loads under the same lock.
            try await tx.execute(
                """
                INSERT INTO agent_profiles (user_id, team_id, languages, debtor_kinds, max_balance_minor, stages, capacity)
                VALUES (\(userID), \(input.teamId), \(checked.languages), \(checked.kinds), \(input.maxBalanceMinor), \(checked.stages), \(checked.capacity))
                ON CONFLICT (user_id) DO UPDATE SET team_id = excluded.team_id, languages = excluded.languages,
                    debtor_kinds = excluded.debtor_kinds, max_balance_minor = excluded.max_balance_minor, stages = excluded.stages,
                    capacity = excluded.capacity, updated_at = now()
                """)
            let load = try await Self.load(of: userID, in: tx)
            if checked.capacity < load {
                throw Problem.validation([.init(field: "capacity", reason: "is below the \(load) live cases the agent holds today: reassign some first")])
            }
            try await AuditLog.append(
                AuditEntry(action: "agent_profile.save", objectType: "agent_profile", objectID: userID.uuidString.lowercased()),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM agent_profiles p JOIN users u ON u.id = p.user_id WHERE p.user_id = \(userID)")!)
        }
        wake()
        return profile
    }

    public func list(team: UUID?, as actor: Principal) async throws -> [Profile] {
        let filter: SQL = team.map { "WHERE p.team_id = \($0)" } ?? ""
        return try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query("SELECT \(Self.columns) FROM agent_profiles p JOIN users u ON u.id = p.user_id \(filter) ORDER BY u.display_name, p.user_id").map(Self.decode)
        }
    }

    public func get(_ userID: UUID, as actor: Principal) async throws -> Profile {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let row = try await tx.one("SELECT \(Self.columns) FROM agent_profiles p JOIN users u ON u.id = p.user_id WHERE p.user_id = \(userID)") else {
                throw Problem.notFound("agent profile")
            }
            return try Self.decode(row)
        }
    }

    /// A team's agents; nil when there is no such team.
    public func members(ofTeam team: UUID, as actor: Principal) async throws -> [UUID]? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard try await tx.one("SELECT 1 AS one FROM teams WHERE id = \(team)") != nil else { return nil }
            return try await tx.query("SELECT user_id FROM agent_profiles WHERE team_id = \(team)").map { try $0.decode(UUID.self, "user_id") }
        }
    }

    // MARK: - Absences

    static func decodeAbsence(_ row: PostgresRow) throws -> Absence {
        Absence(
            id: try row.decode(UUID.self, "id"), userId: try row.decode(UUID.self, "user_id"), startsAt: try row.decode(Date.self, "starts_at"),
            endsAt: try row.decode(Date.self, "ends_at"), reason: try row.decode(String.self, "reason"), createdAt: try row.decode(Date.self, "created_at"))
    }

    public func addAbsence(_ userID: UUID, _ input: AbsenceInput, by actor: Principal, requestID: String?) async throws -> Absence {
        var errors: [Problem.FieldError] = []
        if input.startsAt == nil { errors.append(.init(field: "startsAt", reason: "is required (RFC 3339 time)")) }
        if input.endsAt == nil { errors.append(.init(field: "endsAt", reason: "is required (RFC 3339 time)")) }
        if let start = input.startsAt, let end = input.endsAt, end <= start {
            errors.append(.init(field: "endsAt", reason: "must be after startsAt"))
        }
        if let reason = input.reason {
            if !Self.absenceReasons.contains(reason) {
                errors.append(.init(field: "reason", reason: "must be one of \(Self.absenceReasons.joined(separator: ", ")) (a code: never a diagnosis)"))
            }
        } else {
            errors.append(.init(field: "reason", reason: "is required: one of \(Self.absenceReasons.joined(separator: ", "))"))
        }
        guard errors.isEmpty, let start = input.startsAt, let end = input.endsAt, let reason = input.reason else {
            throw Problem.validation(errors, detail: "The absence is not valid.")
        }
        let absence = try await pool.transaction(as: actor) { tx -> Absence in
            guard try await tx.one("SELECT 1 AS one FROM agent_profiles WHERE user_id = \(userID)") != nil else { throw Problem.notFound("agent profile") }
            let id = UUID()
            let row = try await tx.one(
                """
                INSERT INTO agent_absences (id, user_id, starts_at, ends_at, reason, created_by)
                VALUES (\(id), \(userID), \(start), \(end), \(reason), \(actor.id))
                RETURNING id, user_id, starts_at, ends_at, reason, created_at
                """)!
            try await AuditLog.append(
                AuditEntry(action: "agent_absence.create", objectType: "agent_absence", objectID: id.uuidString.lowercased()),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decodeAbsence(row)
        }
        wake()
        return absence
    }

    public func absences(_ userID: UUID, as actor: Principal) async throws -> [Absence] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard try await tx.one("SELECT 1 AS one FROM agent_profiles WHERE user_id = \(userID)") != nil else { throw Problem.notFound("agent profile") }
            return try await tx.query(
                "SELECT id, user_id, starts_at, ends_at, reason, created_at FROM agent_absences WHERE user_id = \(userID) ORDER BY starts_at DESC"
            ).map(Self.decodeAbsence)
        }
    }

    /// Ends an absence early (or removes one planned by mistake).
    public func removeAbsence(_ userID: UUID, _ id: UUID, by actor: Principal, requestID: String?) async throws {
        try await pool.transaction(as: actor) { tx in
            guard try await tx.execute("DELETE FROM agent_absences WHERE id = \(id) AND user_id = \(userID)") == 1 else { throw Problem.notFound("absence") }
            try await AuditLog.append(
                AuditEntry(action: "agent_absence.delete", objectType: "agent_absence", objectID: id.uuidString.lowercased()),
                actor: actor, requestID: requestID, in: tx)
        }
        wake()
    }
}
