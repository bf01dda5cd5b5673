import Core
import Foundation
import Portfolio
import Postgres

/// The agents' next case: one statement leases the best workable case among the agent's own
/// (then, where the agent's team shares its cases, the team's), on an index made for it
/// (`work_items_claim`), with `FOR UPDATE SKIP LOCKED` so two agents never take one case. The
/// gate then confirms a call is allowed now; a case it refuses is put aside until it allows,
/// and the next one is taken. Docs/work-queue.md.
public struct WorkQueue: Sendable {
    public let pool: PostgresPool
    public let leaseDuration: Duration
    let clock: @Sendable () -> Date

    public init(pool: PostgresPool, leaseDuration: Duration = .seconds(600), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.leaseDuration = leaseDuration
        self.clock = clock
    }

    var leaseSeconds: Int { Int(leaseDuration.components.seconds) }

    /// A case held by an agent for a time.
    public struct Lease: Codable, Sendable, Equatable {
        public var id: UUID
        public var caseId: UUID
        public var creditorId: UUID
        public var agentId: UUID
        public var leasedAt: Date
        public var expiresAt: Date
    }

    /// Why this case, as an agent and a supervisor read it.
    public struct Why: Codable, Sendable, Equatable {
        public var level: QueueLevel
        /// 1 (first) to 7.
        public var rank: Int
        public var dueAt: Date
        /// The score the case was ordered by (computed when it became ready).
        public var score: Int
        /// The score's parts as of now.
        public var scoreParts: ScoreParts
        public var explanation: String
    }

    /// The case to work, or when the next one becomes available.
    public struct Next: Codable, Sendable, Equatable {
        public struct CaseBrief: Codable, Sendable, Equatable {
            public var id: UUID
            public var creditorId: UUID
            public var debtorName: String
            public var balanceMinor: Int
            public var currency: String
        }

        public var lease: Lease?
        public var `case`: CaseBrief?
        public var why: Why?
        /// The gate's answer for the level's channel (allowed, when a case is handed out).
        public var contact: ContactDecision?
        /// With no case: the earliest a case of the agent's may become workable (nil: none
        /// waits; the agent has no active case).
        public var nextAvailableAt: Date?
        /// With no case: why, in words.
        public var message: String?
    }

    /// The claim of the agent's own cases, one statement (benchmarked against pgbench running the
    /// same text: `scripts/bench-work-next.sh`). A lease the agent already holds is answered
    /// again, so a retried request never takes a second case. The case comes back with what the
    /// gate weighs (`ContactSituationRows.columns`), read in the same statement. `agent` takes from the cases of
    /// `pool` (its own, or its team's), for `seconds`, in zones open at `at` (the queue's clock);
    /// the lease is kept in `work_leases`.
    public static func claimSQL(agent: UUID, from pool: SQL, seconds: Int, at: Date) -> SQL {
        """
        WITH held AS (
            SELECT creditor_id, case_id, lease_id, leased_at, lease_until, level, due_at, score, last_contact_at FROM work_items
            WHERE leased_by = \(agent) AND lease_until > \(at)::timestamptz LIMIT 1
        ), next AS (
            SELECT w.creditor_id, w.case_id FROM work_items w
            WHERE \(pool) AND w.ready AND NOT EXISTS (SELECT 1 FROM held)
              AND EXISTS (SELECT 1 FROM contact_zones z WHERE z.zone = w.zone AND z.opens_at <= \(at)::timestamptz AND z.closes_at > \(at)::timestamptz)
            ORDER BY w.level, w.score DESC, w.case_id
            LIMIT 1 FOR UPDATE OF w SKIP LOCKED
        ), claimed AS (
            UPDATE work_items w SET ready = false, lease_id = gen_random_uuid(), leased_by = \(agent), leased_at = \(at)::timestamptz,
                lease_until = \(at)::timestamptz + make_interval(secs => \(seconds)), updated_at = now()
            FROM next WHERE w.creditor_id = next.creditor_id AND w.case_id = next.case_id
            RETURNING w.creditor_id, w.case_id, w.lease_id, w.leased_at, w.lease_until, w.level, w.due_at, w.score, w.last_contact_at
        ), logged AS (
            INSERT INTO work_leases (creditor_id, lease_id, case_id, agent_id, leased_at)
            SELECT creditor_id, lease_id, case_id, \(agent), clock_timestamp() FROM claimed
        ), picked AS (
            SELECT * FROM claimed UNION ALL SELECT * FROM held
        )
        SELECT p.creditor_id, p.case_id, p.lease_id, p.leased_at, p.lease_until, p.level, p.due_at, p.score,
               \(ContactSituationRows.columns(lastContact: "p.last_contact_at", at: at))
        FROM picked p
        JOIN cases c ON c.creditor_id = p.creditor_id AND c.id = p.case_id
        \(ContactSituationRows.joins)
        """
    }

    /// Leases the agent's next case (POST /v1/work/next).
    public func next(for agent: Principal) async throws -> Next {
        guard let me = agent.id, agent.role == .agent else { throw Problem.forbidden }
        // The usual case in one round trip: the claim of the agent's own cases as a transaction
        // of its own (harmless to repeat: a retry answers the lease just taken). A case the gate
        // refuses stays leased to the agent, so nobody takes it while the path below, which
        // answers the held lease first, puts it aside.
        let now = clock()
        if let row = try await pool.statement(as: agent, Self.claimSQL(agent: me, from: "w.agent_id = \(me)", seconds: leaseSeconds, at: now)).one(),
            let next = try Self.handOut(row, agent: me, at: now)
        {
            return next
        }
        return try await pool.transaction(as: agent) { tx in
            // The team's agents are looked up only when the agent's own queue is empty.
            var team: [UUID]?
            var putAside = 0
            while putAside < 20 {
                let now = clock()
                var row = try await tx.one(Self.claimSQL(agent: me, from: "w.agent_id = \(me)", seconds: leaseSeconds, at: now))
                if row == nil {
                    if team == nil { team = try await Self.teamSharing(me, in: tx) }
                    if let team, !team.isEmpty {
                        row = try await tx.one(Self.claimSQL(agent: me, from: "w.agent_id = ANY(\(team))", seconds: leaseSeconds, at: now))
                    }
                }
                guard let row else { break }
                if let next = try Self.handOut(row, agent: me, at: now) { return next }
                let lease = try Self.decodeLease(row, agent: me)
                let level = QueueLevel(rawValue: try row.decode(Int.self, "level")) ?? .followUp
                let decision = ContactSituationRows.decision(level.channel, try ContactSituationRows.decode(row), at: now)
                try await Self.putAside(lease.caseId, creditor: lease.creditorId, decision, in: tx)
                try await Self.endLease(lease.id, creditor: lease.creditorId, reason: "put_aside", at: now, in: tx)
                putAside += 1
            }
            if team == nil { team = try await Self.teamSharing(me, in: tx) }
            let (at, message) = try await Self.nextAvailable(me, team: team ?? [], at: clock(), in: tx)
            return Next(nextAvailableAt: at, message: message)
        }
    }

    /// The claimed case as the agent gets it, when the gate allows a contact on its level's
    /// channel now; nil when it refuses.
    static func handOut(_ row: PostgresRow, agent: UUID, at now: Date) throws -> Next? {
        let level = QueueLevel(rawValue: try row.decode(Int.self, "level")) ?? .followUp
        let found = try ContactSituationRows.decode(row)
        let decision = ContactSituationRows.decision(level.channel, found, at: now)
        guard decision.allowed else { return nil }
        let score = try row.decode(Int.self, "score")
        return Next(
            lease: try decodeLease(row, agent: agent),
            case: .init(id: found.caseId, creditorId: found.creditorId, debtorName: found.debtorName, balanceMinor: found.balanceMinor, currency: found.currency),
            why: Why(
                level: level, rank: level.rawValue, dueAt: try row.decode(Date.self, "due_at"), score: score, scoreParts: found.scoreParts,
                explanation: "\(level.explanation); ordered by score \(score) (now: balance \(found.scoreParts.balance), age \(found.scoreParts.age), limitation \(found.scoreParts.limitation), last contact \(found.scoreParts.lastContact))"),
            contact: decision)
    }

    /// The agents of the agent's team when it shares its cases (the agent excluded); empty
    /// otherwise.
    static func teamSharing(_ agent: UUID, in tx: PostgresTransaction) async throws -> [UUID] {
        let visible = try await tx.one("SELECT app_visible_agents()::text[] AS a")!.decode([String].self, "a").compactMap(UUID.init(uuidString:))
        return visible.filter { $0 != agent }
    }

    /// A case the gate refused: its lease ends, and it waits until the gate allows (or, for a
    /// reason only a person lifts, until that person changes something: parked).
    static func putAside(_ caseID: UUID, creditor: UUID, _ decision: ContactDecision, in tx: PostgresTransaction) async throws {
        let parked: String? = decision.nextAllowedAt == nil ? decision.reasons.filter { $0.until == nil }.map(\.code).joined(separator: ",") : nil
        try await tx.execute(
            """
            UPDATE work_items SET lease_id = NULL, leased_by = NULL, leased_at = NULL, lease_until = NULL, ready = false,
                contact_from = coalesce(\(decision.nextAllowedAt), contact_from), parked_reason = \(parked), updated_at = now()
            WHERE creditor_id = \(creditor) AND case_id = \(caseID)
            """)
    }

    /// Ends a lease in the history (`completed`, `released`, `put_aside`). The history is
    /// stamped by the database's own clock as each statement runs, so the order of its
    /// timestamps is the order in which leases were really taken and ended.
    public static func endLease(_ lease: UUID, creditor: UUID, reason: String, at: Date, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            "UPDATE work_leases SET ended_at = clock_timestamp(), end_reason = \(reason) WHERE creditor_id = \(creditor) AND lease_id = \(lease) AND ended_at IS NULL")
    }

    /// When the agent's next case may become workable: the earliest of their active items'
    /// wake times, each moved to its zone's next window.
    static func nextAvailable(_ agent: UUID, team: [UUID], at now: Date, in tx: PostgresTransaction) async throws -> (Date?, String) {
        let row = try await tx.one(
            """
            SELECT min(CASE WHEN z.opens_at IS NULL THEN NULL
                            WHEN t.at < z.opens_at THEN z.opens_at
                            WHEN t.at < z.closes_at THEN t.at
                            ELSE t.at END) AS at,
                   count(*)::int8 AS active
            FROM (SELECT w.zone, CASE WHEN w.ready THEN \(now)::timestamptz ELSE w.wakes_at END AS at
                  FROM work_items w WHERE w.agent_id = ANY(\([agent] + team)) AND (w.ready OR w.wakes_at IS NOT NULL)) t
            LEFT JOIN contact_zones z ON z.zone = t.zone
            """)!
        let at = try row.decode(Date?.self, "at")
        if try row.decode(Int.self, "active") == 0 {
            return (nil, "No case of yours is waiting to be worked: none is assigned to you, or every one is paused, disputed or may not be called.")
        }
        return (at, "No case of yours can be worked now: the next becomes workable when it falls due and its debtor may be called.")
    }

    // MARK: leases

    /// Renews a lease the agent holds (POST /v1/work/leases/{id}/renew).
    public func renew(_ lease: UUID, by agent: Principal) async throws -> Lease {
        guard let me = agent.id else { throw Problem.forbidden }
        let now = clock()
        return try await pool.transaction(as: agent) { tx in
            guard
                let row = try await tx.one(
                    """
                    UPDATE work_items SET lease_until = \(now)::timestamptz + make_interval(secs => \(leaseSeconds)), updated_at = now()
                    WHERE lease_id = \(lease) AND leased_by = \(me) AND lease_until > \(now)::timestamptz
                    RETURNING creditor_id, case_id, lease_id, leased_at, lease_until
                    """)
            else { throw try await Self.missingLease(lease, agent: me, in: tx) }
            return try Self.decodeLease(row, agent: me)
        }
    }

    public struct Release: Codable, Sendable {
        /// When to come back to the case (a follow-up); absent: as it was due.
        public var followUpAt: Date?

        public init(followUpAt: Date? = nil) {
            self.followUpAt = followUpAt
        }
    }

    /// Gives a case back (POST /v1/work/leases/{id}/release), optionally with a follow-up.
    public func release(_ lease: UUID, _ input: Release, by agent: Principal) async throws {
        guard let me = agent.id else { throw Problem.forbidden }
        let now = clock()
        if let at = input.followUpAt, at < now.addingTimeInterval(-60) {
            throw Problem.validation([.init(field: "followUpAt", reason: "must not be in the past")])
        }
        // One statement, one round trip: the item given back and the lease ended in the history.
        // Harmless to repeat (a repeat finds no lease and answers how it ended).
        let released = try await pool.statement(
            as: agent,
            """
            WITH released AS (
                UPDATE work_items SET lease_id = NULL, leased_by = NULL, leased_at = NULL, lease_until = NULL,
                    level = CASE WHEN \(input.followUpAt)::timestamptz IS NULL THEN level ELSE \(QueueLevel.followUp.rawValue) END,
                    due_at = coalesce(\(input.followUpAt)::timestamptz, due_at),
                    ready = greatest(coalesce(\(input.followUpAt)::timestamptz, due_at), contact_from) <= \(now)::timestamptz AND parked_reason IS NULL
                        AND case_open AND agent_id IS NOT NULL,
                    updated_at = now()
                WHERE lease_id = \(lease) AND leased_by = \(me) AND lease_until > \(now)::timestamptz
                RETURNING creditor_id
            ), ended AS (
                UPDATE work_leases l SET ended_at = clock_timestamp(), end_reason = 'released'
                FROM released r WHERE l.creditor_id = r.creditor_id AND l.lease_id = \(lease) AND l.ended_at IS NULL
            )
            SELECT creditor_id FROM released
            """)
        if released.isEmpty {
            throw try await pool.transaction(as: agent, .init(readOnly: true)) { tx in try await Self.missingLease(lease, agent: me, in: tx) }
        }
    }

    /// 409 for a lease of the caller's that ended (expired, completed, released, put aside, or
    /// moved with its case), saying how; 404 for a lease that is not the caller's or does not exist.
    static func missingLease(_ lease: UUID, agent: UUID, in tx: PostgresTransaction) async throws -> Problem {
        if let row = try await tx.one("SELECT end_reason FROM work_leases WHERE lease_id = \(lease) AND agent_id = \(agent)") {
            let how = try row.decode(String?.self, "end_reason") ?? "expired"
            return Problem(
                status: 409, code: "lease-ended", title: "Lease ended",
                detail: "The lease ended (\(how)): ask for your next case again.", errors: [.init(field: "leaseId", reason: "ended: \(how)")])
        }
        return Problem.notFound("lease")
    }

    static func decodeLease(_ row: PostgresRow, agent: UUID) throws -> Lease {
        Lease(
            id: try row.decode(UUID.self, "lease_id"), caseId: try row.decode(UUID.self, "case_id"), creditorId: try row.decode(UUID.self, "creditor_id"),
            agentId: agent, leasedAt: try row.decode(Date.self, "leased_at"), expiresAt: try row.decode(Date.self, "lease_until"))
    }

    /// The lease the caller holds on a case, if any (activities end or renew it).
    public static func heldLease(on caseID: UUID, creditor: UUID, by agent: UUID, at now: Date, in tx: PostgresTransaction) async throws -> UUID? {
        try await tx.one(
            """
            SELECT lease_id FROM work_items WHERE creditor_id = \(creditor) AND case_id = \(caseID) AND leased_by = \(agent) AND lease_until > \(now)::timestamptz
            FOR UPDATE
            """)?.decode(UUID.self, "lease_id")
    }
}
