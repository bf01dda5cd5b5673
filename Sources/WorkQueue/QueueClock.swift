import Core
import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// The work queue's clock, on every node: wakes the items whose time has come (due, no longer
/// capped, lease expired), scoring them as they wake, and keeps each zone's calling window
/// (`contact_zones`) from the rules, through the gate's own arithmetic. Work is claimed with
/// `FOR UPDATE SKIP LOCKED`, in batches, so nodes share it and agents' claims never wait on it.
public final class QueueClock: Service, Sendable {
    let pool: PostgresPool
    let logger: Logger
    let interval: Duration
    let clock: @Sendable () -> Date
    private let wakeups: AsyncStream<Bool>
    private let continuation: AsyncStream<Bool>.Continuation

    public init(pool: PostgresPool, logger: Logger, interval: Duration = .seconds(5), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.logger = logger
        self.interval = interval
        self.clock = clock
        (wakeups, continuation) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The rules changed: recompute the zones now.
    public func wake() {
        continuation.yield(true)
    }

    /// One tick: zones, commitments and holds, then items. Returns how many items woke.
    @discardableResult
    public func tick(recomputeAllZones: Bool = false) async throws -> Int {
        var made = 0
        while true {
            let n = try await makeItems(limit: 10_000)
            made += n
            if n < 10_000 { break }
        }
        if made > 0 { logger.debug("work queue: items made", metadata: ["count": "\(made)"]) }
        try await refreshZones(all: recomputeAllZones)
        try await sweepCommitments()
        var woken = 0
        while true {
            let n = try await wakeBatch(limit: 5000)
            woken += n
            if n < 5000 { break }
        }
        return woken
    }

    /// Cases that got their first agent, noted in the inbox by the trigger on cases (migration
    /// 0021), get their work items: a new placement, due now, in the debtor's zone (a zone met
    /// for the first time is added, its window computed next). The item follows the case as it
    /// is now: a case moved again before its item was made (noted twice) ends with its latest
    /// agent and status, and an item made meanwhile is brought in line, its lease ended.
    /// - Returns: how many inbox entries were taken.
    func makeItems(limit: Int) async throws -> Int {
        let now = clock()
        return try await pool.transaction(asSystemJob: .workQueue) { tx in
            try await tx.one(
                """
                WITH taken AS (
                    DELETE FROM work_item_inbox
                    WHERE seq IN (SELECT seq FROM work_item_inbox ORDER BY seq LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                    RETURNING creditor_id, case_id
                ), current AS (
                    SELECT DISTINCT ON (c.creditor_id, c.id) c.creditor_id, c.id, c.assigned_agent_id AS agent_id, c.status = 'open' AS case_open,
                           d.country || ' ' || d.time_zone AS zone
                    FROM taken t
                    JOIN cases c ON c.creditor_id = t.creditor_id AND c.id = t.case_id
                    JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
                    ORDER BY c.creditor_id, c.id
                ), ended AS (
                    UPDATE work_leases l SET ended_at = clock_timestamp(), end_reason = 'moved'
                    FROM work_items w JOIN current c ON c.creditor_id = w.creditor_id AND c.id = w.case_id
                    WHERE w.lease_id IS NOT NULL AND NOT (c.case_open AND c.agent_id IS NOT DISTINCT FROM w.agent_id)
                      AND l.creditor_id = w.creditor_id AND l.lease_id = w.lease_id AND l.ended_at IS NULL
                ), items AS (
                    INSERT INTO work_items AS w (creditor_id, case_id, agent_id, case_open, level, due_at, zone)
                    SELECT creditor_id, id, agent_id, case_open, \(QueueLevel.newPlacement.rawValue), \(now), zone FROM current
                    WHERE agent_id IS NOT NULL
                    ON CONFLICT (creditor_id, case_id) DO UPDATE SET
                        agent_id = excluded.agent_id,
                        case_open = excluded.case_open,
                        ready = w.ready AND excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id,
                        lease_id = CASE WHEN excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id THEN w.lease_id END,
                        leased_by = CASE WHEN excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id THEN w.leased_by END,
                        leased_at = CASE WHEN excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id THEN w.leased_at END,
                        lease_until = CASE WHEN excluded.case_open AND excluded.agent_id IS NOT DISTINCT FROM w.agent_id THEN w.lease_until END,
                        updated_at = now()
                    WHERE w.agent_id IS DISTINCT FROM excluded.agent_id OR w.case_open <> excluded.case_open
                ), zones AS (
                    INSERT INTO contact_zones (zone, jurisdiction, time_zone)
                    SELECT DISTINCT zone, split_part(zone, ' ', 1), split_part(zone, ' ', 2) FROM current WHERE agent_id IS NOT NULL
                    ON CONFLICT (zone) DO NOTHING
                )
                SELECT count(*)::int8 AS taken FROM taken
                """)!.decode(Int.self, "taken")
        }
    }

    /// Promises past their date and grace are broken, instalments past theirs missed (their plans
    /// broken), holds that start or end move their cases: each puts its case where its agent
    /// will see it.
    func sweepCommitments() async throws {
        let now = clock()
        let today = CalendarDate(now)
        try await pool.transaction(asSystemJob: .workQueue) { tx in
            let broken = try await Promises.breakOverdue(today: today, now: now, in: tx)
            let missed = try await PaymentPlans.breakMissed(today: today, now: now, in: tx)
            let holds = try await CaseStanding.sweepHolds(today: today, in: tx)
            if broken + missed + holds > 0 {
                logger.info("work queue: commitments swept", metadata: ["promises_broken": "\(broken)", "plans_broken": "\(missed)", "holds_moved": "\(holds)"])
            }
        }
    }

    /// Items whose wake time passed become ready, their lease (if it expired) ended and their
    /// score computed now.
    func wakeBatch(limit: Int) async throws -> Int {
        let now = clock()
        return try await pool.transaction(asSystemJob: .workQueue) { tx in
            try await tx.query(
                """
                WITH due AS (
                    SELECT creditor_id, case_id, lease_id, lease_until FROM work_items
                    WHERE NOT ready AND wakes_at <= \(now)::timestamptz ORDER BY wakes_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                ), expired AS (
                    UPDATE work_leases l SET ended_at = clock_timestamp(), end_reason = 'expired'
                    FROM due WHERE due.lease_id IS NOT NULL AND l.creditor_id = due.creditor_id AND l.lease_id = due.lease_id AND l.ended_at IS NULL
                )
                UPDATE work_items w SET ready = true, lease_id = NULL, leased_by = NULL, leased_at = NULL, lease_until = NULL,
                    score = (SELECT sum(x)::int FROM unnest(work_score_parts(c.balance_minor, c.oldest_due_date, d.kind, w.last_contact_at, \(now)::timestamptz)) x),
                    updated_at = now()
                FROM due, cases c, debtors d
                WHERE w.creditor_id = due.creditor_id AND w.case_id = due.case_id
                  AND c.creditor_id = w.creditor_id AND c.id = w.case_id AND d.creditor_id = c.creditor_id AND d.id = c.debtor_id
                RETURNING w.case_id
                """
            ).count
        }
    }

    /// Zones whose window closed (or never computed, or all after a change of rules) get their
    /// current or next window.
    func refreshZones(all: Bool) async throws {
        let now = clock()
        try await pool.transaction(asSystemJob: .workQueue) { tx in
            let stale = try await tx.query(
                """
                SELECT zone, jurisdiction, time_zone FROM contact_zones
                WHERE \(all) OR closes_at IS NULL OR closes_at <= \(now)::timestamptz
                FOR UPDATE SKIP LOCKED
                """)
            guard !stale.isEmpty else { return }
            let rules = try await ContactRuleBook.all(in: tx)
            for row in stale {
                let zone = try row.decode(String.self, "zone")
                let country = try row.decode(String.self, "jurisdiction")
                let applicable = rules.first { $0.jurisdiction == country } ?? rules.first { $0.jurisdiction == "*" }
                var window: (opens: Date, closes: Date)?
                if let applicable, let tz = TimeZone(identifier: try row.decode(String.self, "time_zone")) {
                    window = ContactGate.callWindow(at: now, rules: applicable, timeZone: tz)
                }
                try await tx.execute(
                    """
                    UPDATE contact_zones SET opens_at = \(window?.opens), closes_at = \(window?.closes ?? now.addingTimeInterval(86_400)), computed_at = now()
                    WHERE zone = \(zone)
                    """)
            }
        }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            await withThrowingTaskGroup(of: Void.self) { group in
                continuation.yield(true)
                group.addTask { [continuation, interval] in
                    while !Task.isCancelled {
                        try await Task.sleep(for: interval)
                        continuation.yield(false)
                    }
                }
                for await all in wakeups {
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    do {
                        let woken = try await tick(recomputeAllZones: all)
                        if woken > 0 { logger.debug("work queue: items woke", metadata: ["count": "\(woken)"]) }
                    } catch {
                        logger.warning("work queue clock: will retry", metadata: ["error": "\(String(describing: type(of: error)))"])
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: { [continuation] in
            continuation.finish()
        }
    }
}
