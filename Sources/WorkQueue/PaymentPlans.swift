import Core
import Foundation
import Portfolio
import Postgres

/// Payment plans (échéanciers): the case's balance split into dated instalments within the
/// creditor's terms (least instalment, most instalments; as data, `plan_policies`), approved by
/// a supervisor above the creditor's threshold, broken when an instalment is still short after
/// its grace days, completed when the last is paid (Docs/work-queue.md).
public struct PaymentPlans: Sendable {
    public let pool: PostgresPool
    let clock: @Sendable () -> Date

    public init(pool: PostgresPool, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.clock = clock
    }

    /// A creditor's terms.
    public struct Policy: Sendable, Codable, Equatable {
        public var minInstalmentMinor: Int
        public var maxInstalments: Int
        /// Plans whose total is above this wait for a supervisor's approval.
        public var approvalAboveMinor: Int
        public var graceDays: Int

        public init(minInstalmentMinor: Int, maxInstalments: Int, approvalAboveMinor: Int, graceDays: Int) {
            self.minInstalmentMinor = minInstalmentMinor
            self.maxInstalments = maxInstalments
            self.approvalAboveMinor = approvalAboveMinor
            self.graceDays = graceDays
        }

        /// Without a creditor's own: 30.00 at least, 12 instalments at most, approval above
        /// 5,000.00, 5 days' grace.
        public static let standard = Policy(minInstalmentMinor: 3_000, maxInstalments: 12, approvalAboveMinor: 500_000, graceDays: 5)

        func faults() -> [Problem.FieldError] {
            var faults: [Problem.FieldError] = []
            if minInstalmentMinor <= 0 { faults.append(.init(field: "minInstalmentMinor", reason: "must be positive")) }
            if !(1...120).contains(maxInstalments) { faults.append(.init(field: "maxInstalments", reason: "must be 1 to 120")) }
            if approvalAboveMinor < 0 { faults.append(.init(field: "approvalAboveMinor", reason: "must not be negative")) }
            if !(0...30).contains(graceDays) { faults.append(.init(field: "graceDays", reason: "must be 0 to 30")) }
            return faults
        }
    }

    public struct InstalmentInput: Sendable, Codable {
        public var dueDate: CalendarDate?
        public var amountMinor: Int?

        public init(dueDate: CalendarDate?, amountMinor: Int?) {
            self.dueDate = dueDate
            self.amountMinor = amountMinor
        }
    }

    public struct Input: Sendable, Decodable {
        public var instalments: [InstalmentInput]?

        public init(instalments: [InstalmentInput]?) {
            self.instalments = instalments
        }
    }

    public struct Instalment: Sendable, Codable, Equatable {
        public var seq: Int
        public var dueDate: CalendarDate
        public var amountMinor: Int
        public var paidMinor: Int
        /// `due`, `paid`, `missed`.
        public var status: String
    }

    public struct Plan: Sendable, Codable, Equatable {
        public var id: UUID
        public var caseId: UUID
        public var currency: String
        public var totalMinor: Int
        public var graceDays: Int
        /// `pending_approval`, `active`, `completed`, `broken`, `cancelled`, `rejected`.
        public var status: String
        public var createdBy: UUID?
        public var createdAt: Date
        public var approvedBy: UUID?
        public var approvedAt: Date?
        public var decidedAt: Date?
        public var instalments: [Instalment]
    }

    static func policy(creditor: UUID, in tx: PostgresTransaction) async throws -> Policy {
        guard
            let row = try await tx.one(
                "SELECT min_instalment_minor, max_instalments, approval_above_minor, grace_days FROM plan_policies WHERE creditor_id = \(creditor)")
        else { return .standard }
        return Policy(
            minInstalmentMinor: try row.decode(Int.self, "min_instalment_minor"), maxInstalments: try row.decode(Int.self, "max_instalments"),
            approvalAboveMinor: try row.decode(Int.self, "approval_above_minor"), graceDays: try row.decode(Int.self, "grace_days"))
    }

    public func policy(creditor: UUID, as actor: Principal) async throws -> Policy {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await Self.requireCreditor(creditor, in: tx)
            return try await Self.policy(creditor: creditor, in: tx)
        }
    }

    /// 404 for a creditor the caller cannot see (or that does not exist).
    static func requireCreditor(_ creditor: UUID, in tx: PostgresTransaction) async throws {
        guard try await tx.one("SELECT 1 AS x FROM creditors WHERE id = \(creditor)") != nil else { throw Problem.notFound("creditor") }
    }

    /// Sets a creditor's terms (PUT /v1/creditors/{id}/plan-policy; administrators).
    public func setPolicy(creditor: UUID, _ policy: Policy, by actor: Principal, requestID: String?) async throws -> Policy {
        let faults = policy.faults()
        guard faults.isEmpty else { throw Problem.validation(faults) }
        return try await pool.transaction(as: actor) { tx in
            try await Self.requireCreditor(creditor, in: tx)
            try await tx.execute(
                """
                INSERT INTO plan_policies (creditor_id, min_instalment_minor, max_instalments, approval_above_minor, grace_days, updated_by)
                VALUES (\(creditor), \(policy.minInstalmentMinor), \(policy.maxInstalments), \(policy.approvalAboveMinor), \(policy.graceDays), \(actor.id))
                ON CONFLICT (creditor_id) DO UPDATE SET min_instalment_minor = excluded.min_instalment_minor, max_instalments = excluded.max_instalments,
                    approval_above_minor = excluded.approval_above_minor, grace_days = excluded.grace_days, updated_by = excluded.updated_by, updated_at = now()
                """)
            try await AuditLog.append(
                AuditEntry(action: "plan_policy.save", objectType: "creditor", objectID: creditor.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return try await Self.policy(creditor: creditor, in: tx)
        }
    }

    /// Every fault of a proposed plan for a balance, each naming its field.
    static func faults(_ instalments: [InstalmentInput], balance: Int, policy: Policy, today: CalendarDate) -> [Problem.FieldError] {
        var faults: [Problem.FieldError] = []
        if instalments.isEmpty { return [.init(field: "instalments", reason: "is required: at least one instalment")] }
        if instalments.count > policy.maxInstalments {
            faults.append(.init(field: "instalments", reason: "at most \(policy.maxInstalments) instalments for this creditor"))
        }
        var previous: CalendarDate?
        var total = 0
        for (i, item) in instalments.enumerated() {
            guard let amount = item.amountMinor, amount > 0 else {
                faults.append(.init(field: "instalments[\(i)].amountMinor", reason: "is required: a positive amount in minor units"))
                continue
            }
            total += amount
            if amount < policy.minInstalmentMinor && i < instalments.count - 1 {
                faults.append(.init(field: "instalments[\(i)].amountMinor", reason: "is below this creditor's least instalment (\(policy.minInstalmentMinor)); only the last may be smaller"))
            }
            guard let due = item.dueDate else {
                faults.append(.init(field: "instalments[\(i)].dueDate", reason: "is required (YYYY-MM-DD)"))
                continue
            }
            if due < today { faults.append(.init(field: "instalments[\(i)].dueDate", reason: "must not be in the past")) }
            if let previous, due <= previous { faults.append(.init(field: "instalments[\(i)].dueDate", reason: "must come after the previous instalment's")) }
            previous = due
        }
        if faults.isEmpty && total != balance {
            faults.append(.init(field: "instalments", reason: "add up to \(total), not the case's balance of \(balance)"))
        }
        return faults
    }

    /// Proposes a plan for a live case (POST /v1/cases/{id}/payment-plans): active at once within
    /// the approval threshold, otherwise pending a supervisor's approval. It replaces an open
    /// promise and a pending plan.
    public func create(case caseID: UUID, _ input: Input, by actor: Principal, requestID: String?) async throws -> Plan {
        let now = clock()
        return try await pool.transaction(as: actor) { tx in
            let found = try await CaseLock.live(caseID, in: tx)
            let policy = try await Self.policy(creditor: found.creditorId, in: tx)
            let instalments = input.instalments ?? []
            let faults = Self.faults(instalments, balance: found.balanceMinor, policy: policy, today: CalendarDate(now))
            guard faults.isEmpty else { throw Problem.validation(faults) }
            if try await tx.one("SELECT 1 AS x FROM payment_plans WHERE creditor_id = \(found.creditorId) AND case_id = \(caseID) AND status = 'active' LIMIT 1") != nil {
                throw Problem(
                    status: 409, code: "plan-active", title: "A plan is active",
                    detail: "The case already has an active payment plan.", errors: [.init(field: "caseId", reason: "has an active payment plan")])
            }
            try await tx.execute(
                """
                UPDATE payment_plans SET status = 'cancelled', decided_at = \(now)
                WHERE creditor_id = \(found.creditorId) AND case_id = \(caseID) AND status = 'pending_approval'
                """)
            let total = instalments.compactMap(\.amountMinor).reduce(0, +)
            let needsApproval = total > policy.approvalAboveMinor
            let id = UUID()
            try await tx.execute(
                """
                INSERT INTO payment_plans (creditor_id, id, case_id, currency, total_minor, grace_days, status, created_by, created_at, approved_at)
                VALUES (\(found.creditorId), \(id), \(caseID), \(found.currency), \(total), \(policy.graceDays),
                        \(needsApproval ? "pending_approval" : "active"), \(actor.id), \(now), \(needsApproval ? nil : now))
                """)
            for (i, item) in instalments.enumerated() {
                try await tx.execute(
                    """
                    INSERT INTO plan_instalments (creditor_id, plan_id, seq, due_date, amount_minor)
                    VALUES (\(found.creditorId), \(id), \(i + 1), \(item.dueDate!), \(item.amountMinor!))
                    """)
            }
            if !needsApproval { try await Self.activate(caseID, creditor: found.creditorId, now: now, in: tx) }
            try await AuditLog.append(
                AuditEntry(action: needsApproval ? "plan.propose" : "plan.create", objectType: "case", objectID: caseID.uuidString.lowercased(), creditorID: found.creditorId),
                actor: actor, requestID: requestID, in: tx)
            return try await Self.get(id, creditor: found.creditorId, in: tx)!
        }
    }

    /// A plan in force replaces an open promise; the case waits for the instalments.
    static func activate(_ caseID: UUID, creditor: UUID, now: Date, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            "UPDATE promises SET status = 'cancelled', decided_at = \(now) WHERE creditor_id = \(creditor) AND case_id = \(caseID) AND status = 'open'")
        try await Commitments.reschedule(caseID, creditor: creditor, now: now, in: tx)
    }

    /// Approves or rejects a pending plan (POST …/payment-plans/{planId}/approve|reject;
    /// supervisors and administrators).
    public func decide(case caseID: UUID, plan planID: UUID, approve: Bool, by actor: Principal, requestID: String?) async throws -> Plan {
        let now = clock()
        return try await pool.transaction(as: actor) { tx in
            let found = try await CaseLock.live(caseID, in: tx)
            guard let plan = try await Self.get(planID, creditor: found.creditorId, in: tx), plan.caseId == caseID else { throw Problem.notFound("payment plan") }
            guard plan.status == "pending_approval" else {
                throw Problem(
                    status: 409, code: "plan-not-pending", title: "The plan is not pending approval",
                    detail: "The plan is \(plan.status).", errors: [.init(field: "planId", reason: "is \(plan.status)")])
            }
            if approve, plan.instalments.map(\.amountMinor).reduce(0, +) != found.balanceMinor {
                throw Problem(
                    status: 409, code: "plan-outdated", title: "The balance changed",
                    detail: "The case's balance changed since the plan was proposed: propose it again.",
                    errors: [.init(field: "planId", reason: "no longer adds up to the case's balance")])
            }
            try await tx.execute(
                """
                UPDATE payment_plans SET status = \(approve ? "active" : "rejected"), approved_by = \(approve ? actor.id : nil),
                    approved_at = \(approve ? now : nil), decided_at = \(approve ? nil : now)
                WHERE creditor_id = \(found.creditorId) AND id = \(planID)
                """)
            if approve { try await Self.activate(caseID, creditor: found.creditorId, now: now, in: tx) }
            try await AuditLog.append(
                AuditEntry(action: approve ? "plan.approve" : "plan.reject", objectType: "case", objectID: caseID.uuidString.lowercased(), creditorID: found.creditorId),
                actor: actor, requestID: requestID, in: tx)
            return try await Self.get(planID, creditor: found.creditorId, in: tx)!
        }
    }

    static func get(_ id: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> Plan? {
        guard
            let row = try await tx.one(
                """
                SELECT id, case_id, currency, total_minor, grace_days, status, created_by, created_at, approved_by, approved_at, decided_at
                FROM payment_plans WHERE creditor_id = \(creditor) AND id = \(id)
                """)
        else { return nil }
        let instalments = try await tx.query(
            "SELECT seq, due_date, amount_minor, paid_minor, status FROM plan_instalments WHERE creditor_id = \(creditor) AND plan_id = \(id) ORDER BY seq"
        ).map {
            Instalment(
                seq: try $0.decode(Int.self, "seq"), dueDate: try $0.decode(CalendarDate.self, "due_date"), amountMinor: try $0.decode(Int.self, "amount_minor"),
                paidMinor: try $0.decode(Int.self, "paid_minor"), status: try $0.decode(String.self, "status"))
        }
        return Plan(
            id: try row.decode(UUID.self, "id"), caseId: try row.decode(UUID.self, "case_id"), currency: try row.decode(String.self, "currency"),
            totalMinor: try row.decode(Int.self, "total_minor"), graceDays: try row.decode(Int.self, "grace_days"), status: try row.decode(String.self, "status"),
            createdBy: try row.decode(UUID?.self, "created_by"), createdAt: try row.decode(Date.self, "created_at"),
            approvedBy: try row.decode(UUID?.self, "approved_by"), approvedAt: try row.decode(Date?.self, "approved_at"),
            decidedAt: try row.decode(Date?.self, "decided_at"), instalments: instalments)
    }

    public func list(case caseID: UUID, as actor: Principal) async throws -> [Plan] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let found = try await PortfolioRows.case(caseID, in: tx) else { throw Problem.notFound("case") }
            return try await Self.list(case: caseID, creditor: found.creditorId, in: tx)
        }
    }

    static func list(case caseID: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> [Plan] {
        var plans: [Plan] = []
        for row in try await tx.query("SELECT id FROM payment_plans WHERE creditor_id = \(creditor) AND case_id = \(caseID) ORDER BY created_at DESC, id") {
            if let plan = try await get(try row.decode(UUID.self, "id"), creditor: creditor, in: tx) { plans.append(plan) }
        }
        return plans
    }

    /// Instalments still short after their grace days are missed, and their plans broken; the
    /// cases go to their agents' queues (`plan_missed`). Run by the queue's clock.
    static func breakMissed(today: CalendarDate, now: Date, in tx: PostgresTransaction) async throws -> Int {
        let missed = try await tx.query(
            """
            WITH missed AS (
                UPDATE plan_instalments i SET status = 'missed'
                FROM payment_plans p
                WHERE i.status = 'due' AND i.creditor_id = p.creditor_id AND i.plan_id = p.id AND p.status = 'active'
                  AND i.due_date + p.grace_days < \(today) AND i.paid_minor < i.amount_minor
                RETURNING i.creditor_id, i.plan_id
            )
            UPDATE payment_plans p SET status = 'broken', decided_at = \(now)
            FROM (SELECT DISTINCT creditor_id, plan_id FROM missed) m
            WHERE p.creditor_id = m.creditor_id AND p.id = m.plan_id
            RETURNING p.creditor_id, p.case_id
            """)
        for row in missed {
            try await WorkItems.schedule(
                try row.decode(UUID.self, "case_id"), creditor: try row.decode(UUID.self, "creditor_id"), level: .planMissed, at: now, now: now, in: tx)
        }
        return missed.count
    }
}
