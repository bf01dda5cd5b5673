import Core
import Foundation
import Logging
import Portfolio
import Postgres

/// Gives every open case without an agent to one, in bulk, set-based: a million cases are not
/// assigned one by one from Swift. One pass, in one transaction:
///
/// 1. the rules in force pick each case's pool (the first rule whose conditions it meets, else
///    the default), as one `CASE` expression built from the rules' data;
/// 2. consolidation: a case whose debtor (the same debtor, or one sharing a SIREN, an email or a
///    name and birth date with a debtor of another creditor) has a live case with an agent who
///    may take it and has room goes to that agent;
/// 3. the rest, class by class (same pool and the same skills needed), fill the eligible agents'
///    free places least loaded first relative to capacity, ties to whoever received a case
///    longest ago: exactly what giving the cases one by one to the least loaded would do;
/// 4. cases nobody can take keep waiting with the reason (`no_rule`, `pool_absent`,
///    `skill_missing`, `pool_full`).
///
/// Runs are serialised across nodes by an advisory lock, and hold every agent profile's row
/// while they count loads: reassignments, which take the target's row, wait; no agent goes over
/// capacity and no case is given twice.
public struct Assigner: Sendable {
    public let pool: PostgresPool
    /// The time absences are judged at (tests move it).
    public let clock: @Sendable () -> Date
    /// Each step's time, at debug level (where a pass spends it).
    let logger: Logger

    public init(pool: PostgresPool, clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "relance.assignment")) {
        self.pool = pool
        self.clock = clock
        self.logger = logger
    }

    /// What one pass did.
    public struct Run: Sendable, Codable, Equatable {
        /// The rules' version in force, nil before any rule was saved.
        public var version: Int?
        /// Open cases without an agent at the start.
        public var considered: Int
        /// Given by their rule.
        public var assigned: Int
        /// Given to the agent of the debtor's other case.
        public var consolidated: Int
        /// Left waiting, by reason.
        public var unassigned: [String: Int]
    }

    static let live = CaseStatus.liveList

    /// What a pass works on and how it records what it does.
    struct Pass: Sendable {
        /// Which cases (over `cases c`).
        var scope: SQL
        /// `rule`, or for moves of cases that have an agent: `reassignment`, `cover`.
        var kind: String
        /// The pool moves go to (instead of the rules), and how the history names it.
        var pool: (agents: [UUID], name: String)?
        var actor: UUID?
        var note: String?
        /// Work it all out, answer what would be done, and roll back (a preview).
        var dryRun = false

        static let waiting = Pass(scope: "c.assigned_agent_id IS NULL AND c.status = 'open'", kind: "rule")
        var isMove: Bool { pool != nil }
    }

    /// One pass over every open case without an agent.
    public func run() async throws -> Run {
        try await pass(.waiting).run
    }

    /// A case a move gives to another agent.
    public struct Move: Sendable, Codable, Equatable {
        public var caseId: UUID
        public var creditorId: UUID
        public var fromAgentId: UUID?
        public var toAgentId: UUID
        public var reason: String
    }

    struct Preview: Error {
        let run: Run
        let moves: [Move]
    }

    func pass(_ pass: Pass) async throws -> (run: Run, moves: [Move]) {
        do {
            return try await self.run(pass)
        } catch let preview as Preview {
            return (preview.run, preview.moves)
        }
    }

    private func run(_ pass: Pass) async throws -> (run: Run, moves: [Move]) {
        let now = clock()
        var lap = ContinuousClock.now
        let logger = self.logger
        func step(_ name: String) {
            let elapsed = ContinuousClock.now - lap
            lap = ContinuousClock.now
            logger.debug("assignment step", metadata: ["step": "\(name)", "ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)"])
        }
        return try await pool.transaction(asSystemJob: .assignment, .init(statementTimeout: .seconds(1800))) { tx in
            lap = ContinuousClock.now
            try await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('assignment', 0))")
            try await tx.execute("SELECT user_id FROM agent_profiles ORDER BY user_id FOR UPDATE")
            let version = try await tx.one("SELECT max(version) AS v FROM assignment_rule_versions")?.decode(Int?.self, "v")
            try await Self.loadAgents(now: now, in: tx)
            // The placements this pass answers for: those completed before it looked at the
            // cases (one completing meanwhile is left for the next pass, its cases unseen here).
            if !pass.isMove {
                try await tx.execute(
                    """
                    CREATE TEMP TABLE asg_placements ON COMMIT DROP AS
                    SELECT creditor_id, id FROM placements WHERE status = 'completed' AND assigned_at IS NULL
                    """)
            }
            let rules: [LoadedRule]
            if let target = pass.pool {
                rules = [LoadedRule(position: 1, name: target.name, isDefault: false, conditions: "true", pool: target.agents, target: target.name)]
            } else {
                rules = try await Self.loadRules(version: version, in: tx)
            }
            step("agents and rules")
            let considered = try await Self.loadCases(rules: rules, scope: pass.scope, in: tx)
            step("cases")
            var run = Run(version: version, considered: considered, assigned: 0, consolidated: 0, unassigned: [:])
            guard considered > 0 else {
                if !pass.isMove { try await Self.finishPlacements(now: now, in: tx) }
                return (run, [])
            }
            try await tx.execute(
                """
                CREATE TEMP TABLE asg_result (
                    creditor_id uuid NOT NULL, case_id uuid NOT NULL, previous uuid, agent uuid NOT NULL, kind text NOT NULL, rule int,
                    rule_name text, reason text NOT NULL
                ) ON COMMIT DROP
                """)
            try await tx.execute(
                """
                CREATE TEMP TABLE asg_reasons (rule int, kind text, language text, stage text, tier int8, reason text NOT NULL) ON COMMIT DROP
                """)
            if !pass.isMove { run.consolidated = try await Self.consolidate(in: tx) }
            step("consolidation")
            let classes = try await Self.classes(in: tx)
            for cls in classes {
                let (given, reason, waiting) = try await Self.distribute(cls, rules: rules, pass: pass, in: tx)
                run.assigned += given
                if let reason, waiting > 0 { run.unassigned[reason, default: 0] += waiting }
            }
            if !pass.isMove { try await Self.markWaiting(in: tx) }
            step("distribution (\(classes.count) classes)")
            try await Self.apply(now: now, version: version, pass: pass, in: tx)
            step("apply")
            guard pass.isMove else {
                try await Self.finishPlacements(now: now, in: tx)
                return (run, [])
            }
            let moves = try await tx.query(
                "SELECT case_id, creditor_id, previous, agent, reason FROM asg_result WHERE agent IS DISTINCT FROM previous ORDER BY previous, case_id"
            ).map {
                Move(
                    caseId: try $0.decode(UUID.self, "case_id"), creditorId: try $0.decode(UUID.self, "creditor_id"),
                    fromAgentId: try $0.decode(UUID?.self, "previous"), toAgentId: try $0.decode(UUID.self, "agent"),
                    reason: try $0.decode(String.self, "reason"))
            }
            if pass.dryRun { throw Preview(run: run, moves: moves) }
            return (run, moves)
        }
    }

    // MARK: - The steps

    /// The agents, their load (live cases), whether they are at work now.
    static func loadAgents(now: Date, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            """
            CREATE TEMP TABLE asg_agents ON COMMIT DROP AS
            SELECT p.user_id AS agent, p.languages, p.debtor_kinds, coalesce(p.max_balance_minor, 9223372036854775807) AS max_balance,
                   p.stages, p.capacity, p.last_assigned_at, coalesce(l.n, 0)::int AS load,
                   (u.status = 'active' AND NOT \(AgentBook.absent(of: "p.user_id", at: "\(now)"))) AS present
            FROM agent_profiles p
            JOIN users u ON u.id = p.user_id
            LEFT JOIN (SELECT assigned_agent_id, count(*) AS n FROM cases
                       WHERE assigned_agent_id IS NOT NULL AND status IN \(live) GROUP BY assigned_agent_id) l ON l.assigned_agent_id = p.user_id
            """)
    }

    /// A rule as the assigner applies it: its position, name, conditions and its pool's agents.
    struct LoadedRule: Sendable {
        let position: Int
        let name: String
        let isDefault: Bool
        let conditions: SQL
        let pool: [UUID]
        let target: String
    }

    static func loadRules(version: Int?, in tx: PostgresTransaction) async throws -> [LoadedRule] {
        guard let version else { return [] }
        let rows = try await tx.query(
            """
            SELECT r.position, r.name, r.is_default, r.creditor_id, r.min_balance_minor, r.max_balance_minor, r.min_age_days, r.max_age_days,
                   r.debtor_kind, r.languages, r.countries, r.stages, r.pool_name, t.name AS team_name,
                   CASE WHEN r.team_id IS NOT NULL
                        THEN (SELECT coalesce(array_agg(p.user_id), '{}') FROM agent_profiles p WHERE p.team_id = r.team_id)
                        ELSE r.pool_agents END AS pool
            FROM assignment_rules r LEFT JOIN teams t ON t.id = r.team_id
            WHERE r.version = \(version) ORDER BY r.position
            """)
        return try rows.map { row in
            var parts: [SQL] = []
            if let v = try row.decode(UUID?.self, "creditor_id") { parts.append("c.creditor_id = \(v)") }
            if let v = try row.decode(Int?.self, "min_balance_minor") { parts.append("c.balance_minor >= \(v)") }
            if let v = try row.decode(Int?.self, "max_balance_minor") { parts.append("c.balance_minor < \(v)") }
            let age: SQL = "((c.placed_at AT TIME ZONE 'UTC')::date - c.oldest_due_date)"
            if let v = try row.decode(Int?.self, "min_age_days") { parts.append("\(age) >= \(v)") }
            if let v = try row.decode(Int?.self, "max_age_days") { parts.append("\(age) <= \(v)") }
            if let v = try row.decode(String?.self, "debtor_kind") { parts.append("d.kind = \(v)") }
            if let v = try row.decode([String]?.self, "languages") { parts.append("d.language = ANY(\(v))") }
            if let v = try row.decode([String]?.self, "countries") { parts.append("d.country = ANY(\(v))") }
            if let v = try row.decode([String]?.self, "stages") { parts.append("c.stage = ANY(\(v))") }
            let target = try row.decode(String?.self, "team_name").map { "team '\($0)'" } ?? "pool '\(try row.decode(String?.self, "pool_name") ?? "")'"
            return LoadedRule(
                position: try row.decode(Int.self, "position"), name: try row.decode(String.self, "name"),
                isDefault: try row.decode(Bool.self, "is_default"),
                conditions: parts.isEmpty ? "true" : SQL.joined(parts, separator: " AND "),
                pool: try row.decode([UUID].self, "pool"), target: target)
        }
    }

    /// The open cases without an agent, each with its rule and the class of agents it needs
    /// (pool, kind of debtor, language, stage, and the lowest balance ceiling that admits it).
    static func loadCases(rules: [LoadedRule], scope: SQL, in tx: PostgresTransaction) async throws -> Int {
        var pick = SQL(unsafeRaw: "CASE")
        for rule in rules { pick.append(" WHEN \(rule.conditions) THEN \(rule.position)") }
        pick.append(" END")
        if rules.isEmpty { pick = "NULL::int" }
        // Balance ceilings of the agents: a case needs an agent whose ceiling is at least the
        // smallest ceiling at or above its balance.
        let ceilings = try await tx.query("SELECT DISTINCT max_balance FROM asg_agents ORDER BY max_balance").map { try $0.decode(Int.self, "max_balance") }
        var tier = SQL(unsafeRaw: "CASE")
        for ceiling in ceilings { tier.append(" WHEN c.balance_minor <= \(ceiling) THEN \(ceiling)") }
        tier.append(" END")
        if ceilings.isEmpty { tier = "NULL::int8" }
        // Hashed, not a lookup of each case's debtor: the planner, reading fresh cases through
        // their policies, guesses a handful and picks the nested loop (4.1 s for 518,000 cases).
        try await tx.execute("SET LOCAL enable_nestloop = off")
        let count = try await tx.execute(
            """
            CREATE TEMP TABLE asg_cases ON COMMIT DROP AS
            SELECT c.creditor_id, c.id, c.debtor_id, c.balance_minor, c.stage, d.kind, d.language, c.placed_at, c.oldest_due_date,
                   c.assigned_agent_id AS previous, c.unassigned_reason AS old_reason,
                   coalesce((\(pick))::int, 0) AS rule, coalesce((\(tier))::int8, 9223372036854775807) AS tier
            FROM cases c JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
            WHERE \(scope)
            """)
        try await tx.execute("SET LOCAL enable_nestloop = on")
        try await tx.execute("CREATE INDEX asg_cases_class ON asg_cases (rule, kind, language, stage, tier, placed_at, oldest_due_date, id)")
        try await tx.execute("ANALYZE asg_cases")
        return count
    }

    /// Step 2: cases following the debtor's other live case to its agent, within skills and
    /// room.
    static func consolidate(in tx: PostgresTransaction) async throws -> Int {
        // Agents holding a live case of a debtor of this batch: the same debtor first, then
        // one of another creditor sharing an identity key.
        let holders = try await tx.execute(
            """
            CREATE TEMP TABLE asg_holders ON COMMIT DROP AS
            SELECT DISTINCT ON (b.creditor_id, b.id) b.creditor_id, b.id, c.assigned_agent_id AS agent,
                   'the debtor''s other case is with this agent'::text AS why
            FROM asg_cases b
            JOIN cases c ON c.creditor_id = b.creditor_id AND c.debtor_id = b.debtor_id
            WHERE c.assigned_agent_id IS NOT NULL AND c.status IN \(live)
            ORDER BY b.creditor_id, b.id, c.assigned_at DESC
            """)
        let sharedHeld = try await tx.execute(
            """
            CREATE TEMP TABLE asg_held_keys ON COMMIT DROP AS
            SELECT k.key, c.assigned_agent_id AS agent, c.assigned_at
            FROM cases c JOIN debtor_keys k ON k.creditor_id = c.creditor_id AND k.debtor_id = c.debtor_id
            WHERE c.assigned_agent_id IS NOT NULL AND c.status IN \(live)
              AND (k.key LIKE 'siren:%' OR k.key LIKE 'email:%' OR k.key LIKE 'nb:%')
            """)
        if sharedHeld > 0 {
            try await tx.execute("ANALYZE asg_held_keys")
            try await tx.execute(
                """
                INSERT INTO asg_holders (creditor_id, id, agent, why)
                SELECT DISTINCT ON (b.creditor_id, b.id) b.creditor_id, b.id, h.agent,
                       'the same debtor''s case for another creditor is with this agent'
                FROM asg_cases b
                JOIN debtor_keys k ON k.creditor_id = b.creditor_id AND k.debtor_id = b.debtor_id
                JOIN asg_held_keys h ON h.key = k.key
                WHERE NOT EXISTS (SELECT 1 FROM asg_holders x WHERE x.creditor_id = b.creditor_id AND x.id = b.id)
                ORDER BY b.creditor_id, b.id, h.assigned_at DESC
                """)
        } else if holders == 0 {
            return 0
        }
        let given = try await tx.execute(
            """
            INSERT INTO asg_result (creditor_id, case_id, agent, kind, rule, reason)
            SELECT creditor_id, id, agent, 'consolidation', NULL, why FROM (
                SELECT b.creditor_id, b.id, h.agent, h.why,
                       row_number() OVER (PARTITION BY h.agent ORDER BY b.placed_at, b.id) AS n, a.capacity - a.load AS room
                FROM asg_holders h
                JOIN asg_cases b ON b.creditor_id = h.creditor_id AND b.id = h.id
                JOIN asg_agents a ON a.agent = h.agent
                WHERE a.present AND b.language = ANY(a.languages) AND b.kind = ANY(a.debtor_kinds)
                  AND b.balance_minor <= a.max_balance AND b.stage = ANY(a.stages)
            ) x WHERE n <= room
            """)
        if given > 0 {
            try await tx.execute(
                """
                UPDATE asg_agents a SET load = a.load + r.n, last_assigned_at = now()
                FROM (SELECT agent, count(*)::int AS n FROM asg_result GROUP BY agent) r WHERE r.agent = a.agent
                """)
            try await tx.execute("DELETE FROM asg_cases b USING asg_result r WHERE r.creditor_id = b.creditor_id AND r.case_id = b.id")
        }
        return given
    }

    /// Cases needing the same agents: one rule, one kind of debtor, one language, one stage,
    /// one balance ceiling.
    struct CaseClass: Sendable {
        let rule: Int?
        let kind: String
        let language: String
        let stage: String
        let tier: Int?
        let count: Int
    }

    static func classes(in tx: PostgresTransaction) async throws -> [CaseClass] {
        try await tx.query(
            """
            SELECT rule, kind, language, stage, tier, count(*)::int8 AS n FROM asg_cases
            GROUP BY rule, kind, language, stage, tier ORDER BY min(placed_at), rule, kind, language, stage, tier
            """
        ).map {
            // Rule 0: none matched; the largest ceiling: only agents without one.
            CaseClass(
                rule: try $0.decode(Int.self, "rule").nonZero, kind: try $0.decode(String.self, "kind"),
                language: try $0.decode(String.self, "language"), stage: try $0.decode(String.self, "stage"),
                tier: try $0.decode(Int.self, "tier").belowMax, count: try $0.decode(Int.self, "n"))
        }
    }

    /// Step 3 for one class: its cases, oldest placement first, take the eligible agents' free
    /// places in the order the one-by-one rule would give them. The cases left get the reason.
    /// - Returns: cases given, the reason of those left, how many were left.
    static func distribute(_ cls: CaseClass, rules: [LoadedRule], pass: Pass, in tx: PostgresTransaction) async throws -> (Int, String?, Int) {
        // Equalities on the class's index (asg_cases_class): a class's cases are found, not scanned for.
        let inClass: SQL = """
            b.rule = \(cls.rule ?? 0) AND b.kind = \(cls.kind) AND b.language = \(cls.language)
            AND b.stage = \(cls.stage) AND b.tier = \(cls.tier ?? Int.max)
            """
        guard let position = cls.rule, let rule = rules.first(where: { $0.position == position }) else {
            if !pass.isMove { try await noteWaiting(cls, reason: "no_rule", in: tx) }
            return (0, "no_rule", cls.count)
        }
        let skilled: SQL = """
            a.agent = ANY(\(rule.pool)) AND \(cls.language) = ANY(a.languages) AND \(cls.kind) = ANY(a.debtor_kinds)
            AND a.max_balance >= coalesce(\(cls.tier), 9223372036854775807) AND \(cls.stage) = ANY(a.stages)
            """
        let counts = try await tx.one(
            """
            SELECT count(*) FILTER (WHERE \(skilled))::int8 AS skilled,
                   count(*) FILTER (WHERE \(skilled) AND a.present)::int8 AS present
            FROM asg_agents a
            """)!
        let skilledCount = try counts.decode(Int.self, "skilled")
        let presentCount = try counts.decode(Int.self, "present")
        var given = 0
        if presentCount > 0 {
            // No agent's fill ends above `level`, the class spread over all its eligible agents:
            // none needs more places than that, and one more for ties.
            let reason = pass.isMove
                ? "\(pass.kind) to \(rule.target): least loaded eligible agent" + (pass.note.map { "; \($0)" } ?? "")
                : rule.isDefault
                ? "default rule (no rule matched) → \(rule.target): least loaded eligible agent"
                : "rule \(rule.position) '\(rule.name)' → \(rule.target): least loaded eligible agent"
            given = try await tx.one(
                """
                WITH eligible AS (
                    SELECT a.agent, a.capacity, a.load, a.last_assigned_at,
                           (\(cls.count) + sum(a.load) OVER ())::float8 / sum(a.capacity) OVER () AS level
                    FROM asg_agents a
                    WHERE \(skilled) AND a.present AND a.load < a.capacity
                ), slots AS (
                    SELECT e.agent, row_number() OVER (ORDER BY (e.load + k)::float8 / e.capacity, e.last_assigned_at, k, e.agent) AS n
                    FROM eligible e CROSS JOIN LATERAL generate_series(
                        0, least(e.capacity - e.load, \(cls.count), ceil(e.level * e.capacity)::int - e.load + 1) - 1) AS k
                ), waiting AS (
                    SELECT b.creditor_id, b.id, b.previous, row_number() OVER (ORDER BY b.placed_at, b.oldest_due_date, b.id) AS n
                    FROM asg_cases b WHERE \(inClass)
                ), given AS (
                    INSERT INTO asg_result (creditor_id, case_id, previous, agent, kind, rule, rule_name, reason)
                    SELECT w.creditor_id, w.id, w.previous, s.agent, \(pass.kind), \(pass.isMove ? Int?.none : position),
                           \(pass.isMove ? String?.none : rule.name), \(reason)
                    FROM waiting w JOIN slots s ON s.n = w.n
                    RETURNING agent
                ), counted AS (
                    SELECT agent, count(*)::int AS n FROM given GROUP BY agent
                ), loaded AS (
                    UPDATE asg_agents a SET load = a.load + c.n, last_assigned_at = now() FROM counted c WHERE c.agent = a.agent
                )
                SELECT coalesce(sum(n), 0)::int8 AS given FROM counted
                """)!.decode(Int.self, "given")
        }
        let left = cls.count - given
        guard left > 0 else { return (given, nil, 0) }
        guard !pass.isMove else { return (given, "pool_full", left) }
        let reason = rule.pool.isEmpty ? "pool_absent" : skilledCount == 0 ? "skill_missing" : presentCount == 0 ? "pool_absent" : "pool_full"
        try await noteWaiting(cls, reason: reason, in: tx)
        return (given, reason, left)
    }

    /// Notes why a class's cases left without an agent wait (written by `markWaiting`, once).
    static func noteWaiting(_ cls: CaseClass, reason: String, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            """
            INSERT INTO asg_reasons (rule, kind, language, stage, tier, reason)
            VALUES (\(cls.rule ?? 0), \(cls.kind), \(cls.language), \(cls.stage), \(cls.tier ?? Int.max), \(reason))
            """)
    }

    /// Records why the cases left without an agent wait, in one statement, only where the reason
    /// changed (a waiting case is not rewritten by every pass).
    static func markWaiting(in tx: PostgresTransaction) async throws {
        // Counted first, and hashed: unanalysed, the temporary tables looked small enough for a
        // nested loop over the results for each waiting case (minutes on 470,000 results).
        try await tx.execute("ANALYZE asg_result, asg_reasons")
        try await tx.execute("SET LOCAL enable_nestloop = off")
        try await tx.execute(
            """
            UPDATE cases c SET unassigned_reason = w.reason
            FROM (
                SELECT b.creditor_id, b.id, x.reason
                FROM asg_cases b
                JOIN asg_reasons x ON x.rule = b.rule AND x.kind = b.kind AND x.language = b.language AND x.stage = b.stage AND x.tier = b.tier
                WHERE b.old_reason IS DISTINCT FROM x.reason
                  AND NOT EXISTS (SELECT 1 FROM asg_result r WHERE r.creditor_id = b.creditor_id AND r.case_id = b.id)
            ) w
            WHERE c.creditor_id = w.creditor_id AND c.id = w.id
            """)
        try await tx.execute("SET LOCAL enable_nestloop = on")
    }

    /// Step 4: the cases get their agents (only if no one changed them meanwhile), the history its
    /// lines, the agents their time.
    static func apply(now: Date, version: Int?, pass: Pass, in tx: PostgresTransaction) async throws {
        // In the order of the cases' keys, not of a hash table: case IDs are minted in time
        // order, so the cases' pages and their indexes' are each visited once, in order. Hashed,
        // the same update of 470,000 cases wrote pages at random (20 s of a 30 s pass, measured).
        try await tx.execute("SET LOCAL enable_hashjoin = off")
        try await tx.execute(
            """
            WITH moved AS (
                UPDATE cases c SET assigned_agent_id = r.agent, assigned_at = \(now), unassigned_reason = NULL, updated_at = now()
                FROM (SELECT * FROM asg_result WHERE agent IS DISTINCT FROM previous ORDER BY creditor_id, case_id) r
                WHERE c.creditor_id = r.creditor_id AND c.id = r.case_id AND c.assigned_agent_id IS NOT DISTINCT FROM r.previous
                  AND c.status IN \(live)
                RETURNING c.creditor_id, c.id, r.agent, r.previous, r.kind, r.rule, r.rule_name, r.reason
            )
            INSERT INTO case_assignments (creditor_id, case_id, at, agent_id, previous_agent_id, kind, rule_version, rule_position, rule_name,
                actor_id, reason)
            SELECT creditor_id, id, \(now), agent, previous, kind, \(version), rule, rule_name, \(pass.actor), reason FROM moved
            """)
        try await tx.execute("SET LOCAL enable_hashjoin = on")
        try await tx.execute("UPDATE agent_profiles p SET last_assigned_at = \(now) WHERE p.user_id IN (SELECT DISTINCT agent FROM asg_result)")
    }

    /// Completed placements not yet through assignment: now they are, with their counts.
    static func finishPlacements(now: Date, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            """
            UPDATE placements p SET assigned_at = \(now), cases_assigned = x.assigned, cases_unassigned = x.unassigned
            FROM (
                SELECT p.creditor_id, p.id,
                       count(c.id) FILTER (WHERE c.assigned_agent_id IS NOT NULL)::int AS assigned,
                       count(c.id) FILTER (WHERE c.assigned_agent_id IS NULL AND c.status = 'open')::int AS unassigned
                FROM asg_placements p LEFT JOIN cases c ON c.creditor_id = p.creditor_id AND c.first_placement_id = p.id
                GROUP BY p.creditor_id, p.id
            ) x
            WHERE p.creditor_id = x.creditor_id AND p.id = x.id AND p.assigned_at IS NULL
            """)
    }
}

extension Int {
    fileprivate var nonZero: Int? { self == 0 ? nil : self }
    fileprivate var belowMax: Int? { self == .max ? nil : self }
}
