import Core
import Foundation
import Portfolio
import Postgres

/// Promises to pay: an amount by a date, with grace days. At most one is open per case (a new
/// one replaces it). Kept when the payments recorded reach its amount; broken when its date and
/// grace pass short of it (a partial payment keeps it open until then); a broken promise puts
/// the case at the top of its agent's routine work (Docs/work-queue.md).
public struct Promises: Sendable {
    public let pool: PostgresPool
    let clock: @Sendable () -> Date

    public init(pool: PostgresPool, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.clock = clock
    }

    public struct Input: Sendable, Decodable {
        public var amountMinor: Int?
        public var dueDate: CalendarDate?
        public var graceDays: Int?

        public init(amountMinor: Int?, dueDate: CalendarDate?, graceDays: Int? = nil) {
            self.amountMinor = amountMinor
            self.dueDate = dueDate
            self.graceDays = graceDays
        }
    }

    public struct Promise: Sendable, Codable, Equatable {
        public var id: UUID
        public var caseId: UUID
        public var amountMinor: Int
        public var currency: String
        public var dueDate: CalendarDate
        public var graceDays: Int
        public var paidMinor: Int
        /// `open`, `kept`, `broken`, `cancelled` (replaced by a newer promise, or by a plan).
        public var status: String
        public var createdBy: UUID?
        public var createdAt: Date
        public var decidedAt: Date?
    }

    static let columns: SQL = "id, case_id, amount_minor, currency, due_date, grace_days, paid_minor, status, created_by, created_at, decided_at"

    static func decode(_ row: PostgresRow) throws -> Promise {
        Promise(
            id: try row.decode(UUID.self, "id"), caseId: try row.decode(UUID.self, "case_id"), amountMinor: try row.decode(Int.self, "amount_minor"),
            currency: try row.decode(String.self, "currency"), dueDate: try row.decode(CalendarDate.self, "due_date"),
            graceDays: try row.decode(Int.self, "grace_days"), paidMinor: try row.decode(Int.self, "paid_minor"), status: try row.decode(String.self, "status"),
            createdBy: try row.decode(UUID?.self, "created_by"), createdAt: try row.decode(Date.self, "created_at"),
            decidedAt: try row.decode(Date?.self, "decided_at"))
    }

    /// Records a promise on a live case (POST /v1/cases/{id}/promises). The case's item waits for
    /// the promise's date (a courtesy call that day).
    public func create(case caseID: UUID, _ input: Input, by actor: Principal, requestID: String?) async throws -> Promise {
        let now = clock()
        let today = CalendarDate(now)
        var faults: [Problem.FieldError] = []
        if input.amountMinor == nil || input.amountMinor! <= 0 { faults.append(.init(field: "amountMinor", reason: "is required: a positive amount in minor units")) }
        if let due = input.dueDate {
            if due < today { faults.append(.init(field: "dueDate", reason: "must not be in the past")) }
            if due > today.adding(days: 366) { faults.append(.init(field: "dueDate", reason: "must be within a year")) }
        } else {
            faults.append(.init(field: "dueDate", reason: "is required (YYYY-MM-DD)"))
        }
        let grace = input.graceDays ?? 3
        if !(0...30).contains(grace) { faults.append(.init(field: "graceDays", reason: "must be 0 to 30")) }
        guard faults.isEmpty, let amount = input.amountMinor, let due = input.dueDate else { throw Problem.validation(faults) }
        return try await pool.transaction(as: actor) { tx in
            let found = try await CaseLock.live(caseID, in: tx)
            if amount > found.balanceMinor {
                throw Problem.validation([.init(field: "amountMinor", reason: "must not exceed the case's balance (\(found.balanceMinor))")])
            }
            try await tx.execute(
                """
                UPDATE promises SET status = 'cancelled', decided_at = \(now) WHERE creditor_id = \(found.creditorId) AND case_id = \(caseID) AND status = 'open'
                """)
            let id = UUID()
            try await tx.execute(
                """
                INSERT INTO promises (creditor_id, id, case_id, amount_minor, currency, due_date, grace_days, created_by, created_at)
                VALUES (\(found.creditorId), \(id), \(caseID), \(amount), \(found.currency), \(due), \(grace), \(actor.id), \(now))
                """)
            try await WorkItems.schedule(caseID, creditor: found.creditorId, level: .promiseDue, at: Self.morning(of: due), now: now, in: tx)
            try await AuditLog.append(
                AuditEntry(action: "promise.create", objectType: "case", objectID: caseID.uuidString.lowercased(), creditorID: found.creditorId),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM promises WHERE creditor_id = \(found.creditorId) AND id = \(id)")!)
        }
    }

    /// A date's start in UTC: when a promise or an instalment falls due in the queue.
    static func morning(of date: CalendarDate) -> Date {
        Date(timeIntervalSince1970: Double(date.daysSinceEpoch) * 86_400)
    }

    public func list(case caseID: UUID, as actor: Principal) async throws -> [Promise] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let found = try await PortfolioRows.case(caseID, in: tx) else { throw Problem.notFound("case") }
            return try await Self.list(case: caseID, creditor: found.creditorId, in: tx)
        }
    }

    static func list(case caseID: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> [Promise] {
        try await tx.query("SELECT \(columns) FROM promises WHERE creditor_id = \(creditor) AND case_id = \(caseID) ORDER BY created_at DESC, id")
            .map(decode)
    }

    /// Open promises whose date and grace passed short of their amount become broken; their
    /// cases go to the top of their agents' routine work. Run by the queue's clock, as the
    /// system; returns how many broke.
    static func breakOverdue(today: CalendarDate, now: Date, in tx: PostgresTransaction) async throws -> Int {
        let broken = try await tx.query(
            """
            UPDATE promises SET status = 'broken', decided_at = \(now)
            WHERE status = 'open' AND (due_date + grace_days) < \(today) AND paid_minor < amount_minor
            RETURNING creditor_id, case_id
            """)
        for row in broken {
            try await WorkItems.schedule(
                try row.decode(UUID.self, "case_id"), creditor: try row.decode(UUID.self, "creditor_id"), level: .brokenPromise, at: now, now: now, in: tx)
        }
        return broken.count
    }
}

/// The one place a case's work item is moved to a level and a time (promises, plans, holds end).
enum WorkItems {
    static func schedule(_ caseID: UUID, creditor: UUID, level: QueueLevel, at due: Date, now: Date, in tx: PostgresTransaction) async throws {
        // Not ready until the clock wakes it at its new time; a leased item (never ready) keeps its
        // lease, and its level and time apply when the lease ends.
        try await ensure(caseID, creditor: creditor, now: now, in: tx)
        try await tx.execute(
            """
            UPDATE work_items SET level = \(level.rawValue), due_at = \(due), ready = false, updated_at = now()
            WHERE creditor_id = \(creditor) AND case_id = \(caseID)
            """)
    }

    /// A case assigned moments ago may not have its item yet (the queue's clock makes it from the
    /// inbox, migration 0021): made here as the clock would make it, so that what is scheduled
    /// on it now is not lost. Nothing when the item exists or the case has no agent.
    static func ensure(_ caseID: UUID, creditor: UUID, now: Date, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            """
            INSERT INTO work_items (creditor_id, case_id, agent_id, case_open, level, due_at, zone)
            SELECT c.creditor_id, c.id, c.assigned_agent_id, c.status = 'open', \(QueueLevel.newPlacement.rawValue), \(now), d.country || ' ' || d.time_zone
            FROM cases c JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
            WHERE c.creditor_id = \(creditor) AND c.id = \(caseID) AND c.assigned_agent_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM work_items w WHERE w.creditor_id = c.creditor_id AND w.case_id = c.id)
            ON CONFLICT (creditor_id, case_id) DO NOTHING
            """)
    }
}

/// A case locked for a change, as its writers take it first (two writers never interleave).
enum CaseLock {
    /// The case, locked; 404 if the caller cannot see it, 409 naming `caseId` unless it is live.
    static func live(_ caseID: UUID, in tx: PostgresTransaction) async throws -> Case {
        guard let found = try await PortfolioRows.case(caseID, forUpdate: true, in: tx) else { throw Problem.notFound("case") }
        guard found.status.isLive else {
            throw Problem(
                status: 409, code: "case-not-live", title: "The case is over",
                detail: "The case is \(found.status.rawValue): nothing more is recorded on it.", errors: [.init(field: "caseId", reason: "is \(found.status.rawValue)")])
        }
        return found
    }
}
