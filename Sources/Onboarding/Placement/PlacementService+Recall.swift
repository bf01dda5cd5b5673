import Core
import Crypto
import Foundation
import Logging
import Portfolio
import Postgres
import Synchronization

// Recall: the creditor withdraws claims.
extension PlacementService {
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
            try await CaseTotals.recompute(creditor: creditor, ids: cases, in: tx)
            // A live case whose claims are all recalled is recalled.
            try await tx.execute(
                """
                UPDATE cases cs SET status = 'recalled', closed_at = now(), close_reason = 'recalled', updated_at = now()
                WHERE cs.creditor_id = \(creditor) AND cs.id = ANY(\(cases)) AND cs.status IN \(CaseStatus.liveList)
                  AND NOT EXISTS (SELECT 1 FROM claims cl WHERE cl.creditor_id = cs.creditor_id AND cl.case_id = cs.id AND cl.status = 'open')
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
