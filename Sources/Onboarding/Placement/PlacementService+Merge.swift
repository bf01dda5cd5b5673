import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

// One merge: refused rows, then the all-new or the general path.
extension PlacementService {
    /// - Returns: how many claims it inserted or updated, and the finishing transaction started
    ///   beside this one (the placement is then left `merged` for it to complete).
    /// - Parameter started: told of the finishing transaction as soon as it holds its lock.
    func merge(
        creditor c: UUID, placement p: UUID, in tx: PostgresTransaction, started: (Finishing) -> Void = { _ in }
    ) async throws -> (Int, Finishing?) {
        // One merge per creditor at a time (taken by `mergeNext` already; held until commit).
        try await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(\("placement:" + c.uuidString.lowercased()), 0))")
        // Sorts and hashes over a whole placement stay in memory (this transaction only). JIT
        // compilation costs a few hundred milliseconds per statement and gains nothing on
        // statements that mostly write; memoizing `unnest(match_keys)` per distinct array only
        // adds a hash table (every row's keys differ).
        try await tx.execute("SET LOCAL work_mem = '256MB'")
        try await tx.execute("SET LOCAL jit = off")
        try await tx.execute("SET LOCAL enable_memoize = off")
        let scope: SQL = "creditor_id = \(c) AND placement_id = \(p)"
        try await Self.refuseRepeatedReferences(creditor: c, placement: p, in: tx)
        // Rows refused while streaming, and repeated references.
        try await tx.execute(
            """
            INSERT INTO placement_rejects (creditor_id, placement_id, row_number, field, reason)
            SELECT creditor_id, placement_id, row_number, reject_field, reject_reason FROM placement_rows WHERE \(scope) AND reject_field IS NOT NULL
            """)
        let counts: (accepted: Int, updated: Int, unchanged: Int)
        var finishing: Finishing? = nil
        if try await meetsKnownData(creditor: c, placement: p, in: tx) {
            counts = try await mergeWithKnown(creditor: c, placement: p, in: tx)
        } else {
            // Nothing here depends on what this transaction writes: the identifiers and the
            // acknowledgement are written beside it, on a second connection (and core). Should
            // that transaction not start, this one writes them.
            finishing = await startFinishing(creditor: c, placement: p)
            if let finishing { started(finishing) }
            counts = try await mergeAllNew(creditor: c, placement: p, in: tx)
            if finishing == nil { try await writeIdentifiersAndAcknowledgement(creditor: c, placement: p, in: tx) }
        }
        let status = finishing == nil ? "completed" : "merged"
        try await tx.execute(
            """
            UPDATE placements SET status = \(status), completed_at = CASE WHEN \(status) = 'completed' THEN now() END,
                   attempts = attempts + 1, accepted = \(counts.accepted), updated = \(counts.updated), unchanged = \(counts.unchanged),
                   rejected = (SELECT count(DISTINCT row_number) FROM placement_rejects WHERE creditor_id = \(c) AND placement_id = \(p))
            WHERE creditor_id = \(c) AND id = \(p)
            """)
        // The staged rows (personal data) are deleted right after the placement completes
        // (`clearStagedRows`): deleting a million rows here would only delay the placement.
        return (counts.accepted + counts.updated, finishing)
    }

    /// A reference twice in one file: the first row counts, the others are refused.
    static func refuseRepeatedReferences(creditor c: UUID, placement p: UUID, in tx: PostgresTransaction) async throws {
        try await tx.execute(
            """
            UPDATE placement_rows r SET reject_field = 'creditor_reference',
                   reject_reason = 'appears again in this file (first at row ' || d.first_row || ')'
            FROM (SELECT row_number, min(row_number) OVER (PARTITION BY creditor_reference) AS first_row
                  FROM placement_rows WHERE creditor_id = \(c) AND placement_id = \(p) AND reject_field IS NULL) d
            WHERE r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = d.row_number AND d.row_number > d.first_row
            """)
    }
}
