import Core
import Foundation
import Portfolio
import Postgres

/// Where a case's promises and plans meet the payments: the interface the payments module calls,
/// in its own transaction, for every payment it records on a case; and the one rule for when a
/// case with a commitment comes back to its agent.
public enum Commitments {
    /// What a payment did to the case's commitments.
    public struct PaymentEffect: Sendable, Codable, Equatable {
        /// The open promise it counted for, and whether it is now kept.
        public var promiseId: UUID?
        public var promiseKept: Bool
        /// The instalments it paid in full.
        public var instalmentsPaid: [Int]
        public var planCompleted: Bool
    }

    /// A payment of `amountMinor` received on a case (the payments module calls this after the
    /// case's lock, in its transaction). It counts for the open promise (kept when its amount is
    /// reached; a partial payment keeps it open until its date and grace), and is allocated to
    /// the active plan's instalments in order (completed when the last is paid). The case then
    /// waits for what is left of its commitments.
    public static func paymentReceived(
        case caseID: UUID, creditor: UUID, amountMinor: Int, at now: Date, in tx: PostgresTransaction
    ) async throws -> PaymentEffect {
        precondition(amountMinor > 0)
        var effect = PaymentEffect(promiseId: nil, promiseKept: false, instalmentsPaid: [], planCompleted: false)
        if let row = try await tx.one(
            """
            UPDATE promises SET paid_minor = paid_minor + \(amountMinor),
                status = CASE WHEN paid_minor + \(amountMinor) >= amount_minor THEN 'kept' ELSE status END,
                decided_at = CASE WHEN paid_minor + \(amountMinor) >= amount_minor THEN \(now) END
            WHERE creditor_id = \(creditor) AND case_id = \(caseID) AND status = 'open'
            RETURNING id, status
            """)
        {
            effect.promiseId = try row.decode(UUID.self, "id")
            effect.promiseKept = try row.decode(String.self, "status") == "kept"
        }
        if let plan = try await tx.one(
            "SELECT id FROM payment_plans WHERE creditor_id = \(creditor) AND case_id = \(caseID) AND status = 'active' FOR UPDATE")?.decode(UUID.self, "id")
        {
            var left = amountMinor
            for row in try await tx.query(
                "SELECT seq, amount_minor, paid_minor FROM plan_instalments WHERE creditor_id = \(creditor) AND plan_id = \(plan) AND status = 'due' ORDER BY seq")
            {
                guard left > 0 else { break }
                let seq = try row.decode(Int.self, "seq")
                let owed = try row.decode(Int.self, "amount_minor") - (try row.decode(Int.self, "paid_minor"))
                let paid = min(left, owed)
                left -= paid
                try await tx.execute(
                    """
                    UPDATE plan_instalments SET paid_minor = paid_minor + \(paid), status = CASE WHEN \(paid) >= \(owed) THEN 'paid' ELSE status END
                    WHERE creditor_id = \(creditor) AND plan_id = \(plan) AND seq = \(seq)
                    """)
                if paid >= owed { effect.instalmentsPaid.append(seq) }
            }
            if try await tx.one("SELECT 1 AS x FROM plan_instalments WHERE creditor_id = \(creditor) AND plan_id = \(plan) AND status <> 'paid' LIMIT 1") == nil {
                try await tx.execute("UPDATE payment_plans SET status = 'completed', decided_at = \(now) WHERE creditor_id = \(creditor) AND id = \(plan)")
                effect.planCompleted = true
            }
        }
        try await reschedule(caseID, creditor: creditor, now: now, in: tx)
        return effect
    }

    /// When a case with a commitment comes back: with an active plan, the day after the next
    /// instalment's grace (the clock marks it missed then); with an open promise, its date (a
    /// courtesy call). Without either, the case's item is left as it is.
    static func reschedule(_ caseID: UUID, creditor: UUID, now: Date, in tx: PostgresTransaction) async throws {
        if let row = try await tx.one(
            """
            SELECT i.due_date + p.grace_days + 1 AS at FROM payment_plans p
            JOIN plan_instalments i ON i.creditor_id = p.creditor_id AND i.plan_id = p.id AND i.status = 'due'
            WHERE p.creditor_id = \(creditor) AND p.case_id = \(caseID) AND p.status = 'active'
            ORDER BY i.seq LIMIT 1
            """)
        {
            try await WorkItems.schedule(caseID, creditor: creditor, level: .followUp, at: Promises.morning(of: try row.decode(CalendarDate.self, "at")), now: now, in: tx)
            return
        }
        if let row = try await tx.one(
            "SELECT due_date FROM promises WHERE creditor_id = \(creditor) AND case_id = \(caseID) AND status = 'open'")
        {
            try await WorkItems.schedule(caseID, creditor: creditor, level: .promiseDue, at: Promises.morning(of: try row.decode(CalendarDate.self, "due_date")), now: now, in: tx)
        }
    }

    /// Whether the case has an open promise or an active plan.
    static func pending(_ caseID: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> Bool {
        try await tx.one(
            """
            SELECT (EXISTS (SELECT 1 FROM promises WHERE creditor_id = \(creditor) AND case_id = \(caseID) AND status = 'open')
                 OR EXISTS (SELECT 1 FROM payment_plans WHERE creditor_id = \(creditor) AND case_id = \(caseID) AND status = 'active')) AS x
            """)!.decode(Bool.self, "x")
    }
}
