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
