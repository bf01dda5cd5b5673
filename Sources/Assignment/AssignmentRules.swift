import Core
import Foundation
import Postgres

/// The assignment rules: an ordered list, each a condition on a case selecting a team or a named
/// pool of agents, and a default for the rest. Kept as data; each change of the list is a new
/// version (the assigner records the version with every assignment), audited.
public struct RuleBook: Sendable {
    public let pool: PostgresPool
    let wake: @Sendable () -> Void

    public init(pool: PostgresPool, wake: @escaping @Sendable () -> Void = {}) {
        self.pool = pool
        self.wake = wake
    }

    /// What a case must be for the rule to take it; absent: any.
    public struct Conditions: Sendable, Codable, Equatable {
        public var creditorId: UUID?
        /// The case's balance, in minor units: at least `minBalanceMinor`, below `maxBalanceMinor`.
        public var minBalanceMinor: Int?
        public var maxBalanceMinor: Int?
        /// Days from the oldest due date to placement: from `minAgeDays` to `maxAgeDays`.
        public var minAgeDays: Int?
        public var maxAgeDays: Int?
        public var debtorKind: String?
        public var languages: [String]?
        public var countries: [String]?
        public var stages: [String]?

        public init(
            creditorId: UUID? = nil, minBalanceMinor: Int? = nil, maxBalanceMinor: Int? = nil, minAgeDays: Int? = nil, maxAgeDays: Int? = nil,
            debtorKind: String? = nil, languages: [String]? = nil, countries: [String]? = nil, stages: [String]? = nil
        ) {
            self.creditorId = creditorId
            self.minBalanceMinor = minBalanceMinor
            self.maxBalanceMinor = maxBalanceMinor
            self.minAgeDays = minAgeDays
            self.maxAgeDays = maxAgeDays
            self.debtorKind = debtorKind
            self.languages = languages
            self.countries = countries
            self.stages = stages
        }

        public var isEmpty: Bool { self == Conditions() }

        /// Whether every case these conditions admit, `other` admits too.
        func isCovered(by other: Conditions) -> Bool {
            func range(_ lo: Int?, _ hi: Int?, within oLo: Int?, _ oHi: Int?) -> Bool {
                (oLo ?? Int.min) <= (lo ?? Int.min) && (oHi ?? Int.max) >= (hi ?? Int.max)
            }
            func set(_ mine: [String]?, within theirs: [String]?) -> Bool {
                guard let theirs else { return true }
                guard let mine else { return false }
                return Set(mine).isSubset(of: Set(theirs))
            }
            return (other.creditorId == nil || other.creditorId == creditorId)
                && range(minBalanceMinor, maxBalanceMinor, within: other.minBalanceMinor, other.maxBalanceMinor)
                && range(minAgeDays, maxAgeDays, within: other.minAgeDays, other.maxAgeDays)
                && (other.debtorKind == nil || other.debtorKind == debtorKind)
                && set(languages, within: other.languages) && set(countries, within: other.countries) && set(stages, within: other.stages)
        }
    }

    /// A named pool of agents.
    public struct Pool: Sendable, Codable, Equatable {
        public var name: String
        public var agents: [UUID]

        public init(name: String, agents: [UUID]) {
            self.name = name
            self.agents = agents
        }
    }

    /// Where a rule sends its cases: a team, or a pool.
    public struct Target: Sendable, Codable, Equatable {
        public var team: UUID?
        public var pool: Pool?

        public init(team: UUID? = nil, pool: Pool? = nil) {
            self.team = team
            self.pool = pool
        }
    }

    public struct Rule: Sendable, Codable, Equatable {
        public var name: String
        public var when: Conditions
        public var team: UUID?
        public var pool: Pool?

        public init(name: String, when: Conditions, team: UUID? = nil, pool: Pool? = nil) {
            self.name = name
            self.when = when
            self.team = team
            self.pool = pool
        }

        var target: Target { Target(team: team, pool: pool) }
    }

    /// The rules as sent.
    public struct Input: Sendable, Codable {
        public var rules: [Rule]?
        public var `default`: Target?

        public init(rules: [Rule]?, default: Target?) {
            self.rules = rules
            self.default = `default`
        }
    }

    /// One version of the rules.
    public struct RuleSet: Sendable, Codable, Equatable {
        public var version: Int
        public var createdAt: Date
        public var rules: [Rule]
        public var `default`: Target
    }

    static let maxRules = 200

    /// Checks the list as sent: every fault named (`rules[2].when.maxBalanceMinor`, ...), rules no
    /// case could ever reach included.
    static func check(_ input: Input, in tx: PostgresTransaction) async throws -> (rules: [Rule], default: Target) {
        var errors: [Problem.FieldError] = []
        let rules = input.rules ?? []
        if input.rules == nil { errors.append(.init(field: "rules", reason: "is required (an empty list sends every case to the default)")) }
        if rules.count > Self.maxRules { errors.append(.init(field: "rules", reason: "holds more than \(Self.maxRules) rules")) }
        func checkTarget(_ target: Target, _ field: String) async throws {
            switch (target.team, target.pool) {
            case (let team?, nil):
                if try await tx.one("SELECT 1 AS one FROM teams WHERE id = \(team)") == nil {
                    errors.append(.init(field: "\(field).team", reason: "is not a team of the agency"))
                }
            case (nil, let pool?):
                let name = pool.name.trimmingCharacters(in: .whitespaces)
                if !(1...100).contains(name.count) { errors.append(.init(field: "\(field).pool.name", reason: "must be 1 to 100 characters")) }
                if pool.agents.isEmpty || pool.agents.count > 500 { errors.append(.init(field: "\(field).pool.agents", reason: "must name 1 to 500 agents")) }
                if Set(pool.agents).count != pool.agents.count { errors.append(.init(field: "\(field).pool.agents", reason: "names an agent twice")) }
                let known = Set(try await tx.query("SELECT user_id FROM agent_profiles WHERE user_id = ANY(\(pool.agents))").map { try $0.decode(UUID.self, "user_id") })
                for (i, agent) in pool.agents.enumerated() where !known.contains(agent) {
                    errors.append(.init(field: "\(field).pool.agents[\(i)]", reason: "is not an agent with a profile"))
                }
            case (nil, nil):
                errors.append(.init(field: field, reason: "names neither a team nor a pool"))
            case (_?, _?):
                errors.append(.init(field: field, reason: "names both a team and a pool: one only"))
            }
        }
        for (i, rule) in rules.enumerated() {
            let field = "rules[\(i)]"
            let name = rule.name.trimmingCharacters(in: .whitespaces)
            if !(1...100).contains(name.count) || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                errors.append(.init(field: "\(field).name", reason: "must be 1 to 100 characters on one line"))
            }
            let w = rule.when
            if w.isEmpty {
                errors.append(.init(field: "\(field).when", reason: "has no condition: it would take every case, which is the default's job"))
            }
            if let creditor = w.creditorId, try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") == nil {
                errors.append(.init(field: "\(field).when.creditorId", reason: "is not a creditor of the agency"))
            }
            if let min = w.minBalanceMinor, min < 0 { errors.append(.init(field: "\(field).when.minBalanceMinor", reason: "must not be negative")) }
            if let max = w.maxBalanceMinor, max <= (w.minBalanceMinor ?? 0) {
                errors.append(.init(field: "\(field).when.maxBalanceMinor", reason: "must be above minBalanceMinor (\(w.minBalanceMinor ?? 0)): no balance is in this band"))
            }
            if let min = w.minAgeDays, min < 0 { errors.append(.init(field: "\(field).when.minAgeDays", reason: "must not be negative")) }
            if let max = w.maxAgeDays, max < (w.minAgeDays ?? 0) {
                errors.append(.init(field: "\(field).when.maxAgeDays", reason: "must be at least minAgeDays (\(w.minAgeDays ?? 0)): no age is in this range"))
            }
            if let kind = w.debtorKind, !AgentBook.DebtorKind.allCases.map(\.rawValue).contains(kind) {
                errors.append(.init(field: "\(field).when.debtorKind", reason: "must be person or company"))
            }
            func codes(_ values: [String]?, _ key: String, valid: (String) -> Bool, what: String) {
                guard let values else { return }
                if values.isEmpty { errors.append(.init(field: "\(field).when.\(key)", reason: "is empty: no case would match (leave it out to take any)")) }
                for (j, value) in values.enumerated() where !valid(value) {
                    errors.append(.init(field: "\(field).when.\(key)[\(j)]", reason: "'\(Problem.showable(String(value.prefix(40))))' is not \(what)"))
                }
            }
            codes(w.languages, "languages", valid: AgentBook.isLanguage, what: "an ISO 639-1 language code (fr, de, ...)")
            codes(w.countries, "countries", valid: { $0.count == 2 && $0.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) } }, what: "an ISO 3166 country code (FR, BE, ...)")
            codes(w.stages, "stages", valid: { AgentBook.Stage(rawValue: $0) != nil }, what: "a stage (amicable_calls, letters, escalation)")
            // A rule every case of which an earlier rule takes first can never match.
            if !w.isEmpty, let earlier = rules[..<i].firstIndex(where: { !$0.when.isEmpty && w.isCovered(by: $0.when) }) {
                errors.append(.init(field: field, reason: "can never match: rule \(earlier) ('\(Problem.showable(rules[earlier].name))') takes every case it would"))
            }
            try await checkTarget(rule.target, field)
        }
        if let target = input.default {
            try await checkTarget(target, "default")
        } else {
            errors.append(.init(field: "default", reason: "is required: the team or pool that takes the cases no rule does"))
        }
        guard errors.isEmpty, let target = input.default else { throw Problem.validation(errors, detail: "The assignment rules are not valid.") }
        let trimmed = rules.map { rule -> Rule in
            var rule = rule
            rule.name = rule.name.trimmingCharacters(in: .whitespaces)
            if let pool = rule.pool { rule.pool?.name = pool.name.trimmingCharacters(in: .whitespaces) }
            return rule
        }
        var defaultTarget = target
        if let pool = target.pool { defaultTarget.pool?.name = pool.name.trimmingCharacters(in: .whitespaces) }
        return (trimmed, defaultTarget)
    }

    /// Saves a new version, unless it says what the version in force says.
    /// - Returns: the version in force, and whether it is new.
    public func save(_ input: Input, by actor: Principal, requestID: String?) async throws -> (RuleSet, created: Bool) {
        let result = try await pool.transaction(as: actor) { tx -> (RuleSet, Bool) in
            try await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('assignment_rules', 0))")
            let (rules, target) = try await Self.check(input, in: tx)
            let current = try await Self.current(in: tx)
            if let current, current.rules == rules, current.default == target { return (current, false) }
            let version = (current?.version ?? 0) + 1
            try await tx.execute(
                "INSERT INTO assignment_rule_versions (version, created_by_kind, created_by) VALUES (\(version), \(actor.kind.rawValue), \(actor.id))")
            for (i, rule) in rules.enumerated() {
                try await Self.insert(version: version, position: i + 1, name: rule.name, when: rule.when, target: rule.target, isDefault: false, in: tx)
            }
            try await Self.insert(version: version, position: rules.count + 1, name: "default", when: Conditions(), target: target, isDefault: true, in: tx)
            try await AuditLog.append(
                AuditEntry(action: "assignment_rules.save", objectType: "assignment_rules", objectID: String(version)),
                actor: actor, requestID: requestID, in: tx)
            return (try await Self.version(version, in: tx)!, true)
        }
        if result.1 { wake() }
        return result
    }

    static func insert(version: Int, position: Int, name: String, when w: Conditions, target: Target, isDefault: Bool, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            """
            INSERT INTO assignment_rules (version, position, name, is_default, creditor_id, min_balance_minor, max_balance_minor, min_age_days,
                max_age_days, debtor_kind, languages, countries, stages, team_id, pool_name, pool_agents)
            VALUES (\(version), \(position), \(name), \(isDefault), \(w.creditorId), \(w.minBalanceMinor), \(w.maxBalanceMinor), \(w.minAgeDays),
                \(w.maxAgeDays), \(w.debtorKind), \(w.languages), \(w.countries), \(w.stages), \(target.team), \(target.pool?.name), \(target.pool?.agents))
            """)
    }

    static func current(in tx: PostgresTransaction) async throws -> RuleSet? {
        guard let row = try await tx.one("SELECT max(version) AS v FROM assignment_rule_versions"), let version = try row.decode(Int?.self, "v") else { return nil }
        return try await self.version(version, in: tx)
    }

    static func version(_ version: Int, in tx: PostgresTransaction) async throws -> RuleSet? {
        guard let head = try await tx.one("SELECT created_at FROM assignment_rule_versions WHERE version = \(version)") else { return nil }
        let rows = try await tx.query(
            """
            SELECT name, is_default, creditor_id, min_balance_minor, max_balance_minor, min_age_days, max_age_days, debtor_kind, languages,
                countries, stages, team_id, pool_name, pool_agents
            FROM assignment_rules WHERE version = \(version) ORDER BY position
            """)
        var rules: [Rule] = []
        var target = Target()
        for row in rows {
            let poolName = try row.decode(String?.self, "pool_name")
            let pool = try poolName.map { Pool(name: $0, agents: try row.decode([UUID].self, "pool_agents")) }
            let team = try row.decode(UUID?.self, "team_id")
            if try row.decode(Bool.self, "is_default") {
                target = Target(team: team, pool: pool)
                continue
            }
            rules.append(
                Rule(
                    name: try row.decode(String.self, "name"),
                    when: Conditions(
                        creditorId: try row.decode(UUID?.self, "creditor_id"), minBalanceMinor: try row.decode(Int?.self, "min_balance_minor"),
                        maxBalanceMinor: try row.decode(Int?.self, "max_balance_minor"), minAgeDays: try row.decode(Int?.self, "min_age_days"),
                        maxAgeDays: try row.decode(Int?.self, "max_age_days"), debtorKind: try row.decode(String?.self, "debtor_kind"),
                        languages: try row.decode([String]?.self, "languages"), countries: try row.decode([String]?.self, "countries"),
                        stages: try row.decode([String]?.self, "stages")),
                    team: team, pool: pool))
        }
        return RuleSet(version: version, createdAt: try head.decode(Date.self, "created_at"), rules: rules, default: target)
    }

    /// The version in force, or nil before any.
    public func current(as actor: Principal) async throws -> RuleSet? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { try await Self.current(in: $0) }
    }

    public func version(_ version: Int, as actor: Principal) async throws -> RuleSet {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let set = try await Self.version(version, in: tx) else { throw Problem.notFound("rules version") }
            return set
        }
    }

    public struct VersionSummary: Sendable, Codable, Equatable {
        public var version: Int
        public var createdAt: Date
        public var createdBy: UUID?
        public var rules: Int
    }

    /// Every version, the latest first.
    public func versions(as actor: Principal) async throws -> [VersionSummary] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query(
                """
                SELECT v.version, v.created_at, v.created_by, (SELECT count(*)::int8 - 1 FROM assignment_rules r WHERE r.version = v.version) AS rules
                FROM assignment_rule_versions v ORDER BY v.version DESC
                """
            ).map {
                VersionSummary(
                    version: try $0.decode(Int.self, "version"), createdAt: try $0.decode(Date.self, "created_at"),
                    createdBy: try $0.decode(UUID?.self, "created_by"), rules: try $0.decode(Int.self, "rules"))
            }
        }
    }
}
