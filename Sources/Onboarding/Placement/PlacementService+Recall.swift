import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

// Recall: the creditor withdraws claims.
extension PlacementService {
    // MARK: - Recall

    /// The creditor withdraws claims by reference; a case whose claims are all recalled is
    /// recalled. Unknown references are reported, not an error.
    public func recall(references: [String], creditor: UUID, by actor: Principal, requestID: String?) async throws -> (recalled: [String], unknown: [String]) {
        let unique = Array(Set(references)).sorted()
        return try await pool.transaction(as: actor) { tx in
            let recalled = try await tx.query(
                """
                UPDATE claims SET status = 'recalled', recalled_at = now(), updated_at = now()
                WHERE creditor_id = \(creditor) AND creditor_reference = ANY(\(unique)) AND status = 'open'
                RETURNING creditor_reference, case_id
                """)
            let known = try await tx.query(
                "SELECT creditor_reference FROM claims WHERE creditor_id = \(creditor) AND creditor_reference = ANY(\(unique))")
            let cases = Array(Set(try recalled.map { try $0.decode(UUID.self, "case_id") }))
            try await tx.execute(
                """
                UPDATE cases cs SET status = CASE WHEN t.open_claims = 0 THEN 'recalled' ELSE cs.status END,
                       closed_at = CASE WHEN t.open_claims = 0 THEN now() ELSE cs.closed_at END,
                       close_reason = CASE WHEN t.open_claims = 0 THEN 'recalled' ELSE cs.close_reason END,
                       principal_minor = t.principal, balance_minor = t.balance, updated_at = now()
                FROM (SELECT cs2.id, count(cl.id) FILTER (WHERE cl.status = 'open') AS open_claims,
                             coalesce(sum(cl.principal_minor) FILTER (WHERE cl.status = 'open'), 0) AS principal,
                             coalesce(sum(cl.balance_minor) FILTER (WHERE cl.status = 'open'), 0) AS balance
                      FROM cases cs2 LEFT JOIN claims cl ON cl.creditor_id = cs2.creditor_id AND cl.case_id = cs2.id
                      WHERE cs2.creditor_id = \(creditor) AND cs2.id = ANY(\(cases)) GROUP BY cs2.id) t
                WHERE cs.creditor_id = \(creditor) AND cs.id = t.id
                """)
            let recalledRefs = try recalled.map { try $0.decode(String.self, "creditor_reference") }.sorted()
            let knownRefs = Set(try known.map { try $0.decode(String.self, "creditor_reference") })
            try await AuditLog.append(
                AuditEntry(action: "claims.recall", objectType: "creditor", objectID: creditor.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return (recalledRefs, unique.filter { !knownRefs.contains($0) })
        }
    }
}
