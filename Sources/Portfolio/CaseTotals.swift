import Foundation
import Postgres

/// A case's amounts are its open claims' sums: principal, balance and the oldest due date. This
/// is the one place that recomputes them; every change to claims (placement, recall, and the
/// payments and disputes of later modules) calls it in the same transaction, for the cases it
/// touched, set-based.
public enum CaseTotals {
    /// Recomputes the totals of `creditor`'s cases whose ids `cases` selects (a subquery
    /// returning case ids; `recompute(creditor:ids:in:)` takes a list). A case
    /// left without open claims gets zero amounts and no oldest due date.
    public static func recompute(creditor: UUID, cases: SQL, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            """
            UPDATE cases cs SET principal_minor = t.principal, balance_minor = t.balance, oldest_due_date = t.oldest, updated_at = now()
            FROM (SELECT cs2.id, coalesce(sum(cl.principal_minor), 0) AS principal, coalesce(sum(cl.balance_minor), 0) AS balance,
                         min(cl.due_date) AS oldest
                  FROM cases cs2 LEFT JOIN claims cl ON cl.creditor_id = cs2.creditor_id AND cl.case_id = cs2.id AND cl.status = 'open'
                  WHERE cs2.creditor_id = \(creditor) AND cs2.id IN (\(cases))
                  GROUP BY cs2.id) t
            WHERE cs.creditor_id = \(creditor) AND cs.id = t.id
            """)
    }

    /// The same for a list of case ids.
    public static func recompute(creditor: UUID, ids: [UUID], in tx: PostgresTransaction) async throws {
        guard !ids.isEmpty else { return }
        try await recompute(creditor: creditor, cases: "SELECT unnest(\(ids)::uuid[])", in: tx)
    }
}
