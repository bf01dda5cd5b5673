import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

// Finishing: identifiers and acknowledgement written beside the merge.
extension PlacementService {
    // MARK: - Finishing: identifiers and acknowledgement beside the merge

    /// The transaction writing an all-new placement's identifiers and acknowledgement beside its
    /// merge transaction. It holds the placement's finishing lock from before the merge commits
    /// `merged` until it commits `completed` or rolls back.
    struct Finishing: Sendable {
        let task: Task<Void, any Error>
    }

    /// The finishing transaction found the merge rolled back (the placement still `staged`).
    struct MergeRolledBack: Error {}
    /// Another transaction holds the placement's finishing lock.
    struct FinishingElsewhere: Error {}

    static func finishingLock(_ placement: UUID) -> SQL {
        "hashtextextended(\("placement-finish:" + placement.uuidString.lowercased()), 0)"
    }

    /// Starts the finishing transaction of placement `p` on a connection of its own.
    /// - Returns: nil when it did not get as far as holding the finishing lock (it has then
    ///   rolled back, and the merge transaction writes everything itself).
    func startFinishing(creditor c: UUID, placement p: UUID) async -> Finishing? {
        let (held, signal) = AsyncStream.makeStream(of: Bool.self)
        let task = Task {
            defer { signal.finish() }
            try await pool.transaction(as: .system, .init(statementTimeout: .seconds(3600), maxAttempts: 1)) { tx in
                guard try await tx.one("SELECT pg_try_advisory_xact_lock(\(Self.finishingLock(p))) AS held")!.decode(Bool.self, "held") else {
                    throw FinishingElsewhere()
                }
                signal.yield(true)
                try await writeIdentifiersAndAcknowledgement(creditor: c, placement: p, in: tx)
                // The merge transaction holds the placement's row (FOR UPDATE): locking it waits
                // for that transaction's end and reads the row as it left it. Committed, the
                // placement is `merged` and this completes it; rolled back, it is still `staged`,
                // and this rolls back too. (An UPDATE ... WHERE status = 'merged' would not wait:
                // its snapshot's row says `staged`, so it would skip the row.) The weakest lock
                // does: while this rolls back, it must not make `recordFailure` (FOR NO KEY
                // UPDATE SKIP LOCKED) skip counting the failed merge.
                let row = try await tx.one("SELECT status FROM placements WHERE creditor_id = \(c) AND id = \(p) FOR KEY SHARE")
                guard try row?.decode(String.self, "status") == "merged" else { throw MergeRolledBack() }
                try await tx.execute("UPDATE placements SET status = 'completed', completed_at = now() WHERE creditor_id = \(c) AND id = \(p)")
            }
        }
        for await isHeld in held where isHeld { return Finishing(task: task) }
        if case .failure(let error) = await task.result {
            logger.warning("placement finishing did not start; the merge writes everything", metadata: ["placement": "\(p)", "error": "\(error)"])
        }
        return nil
    }

    /// Finishes a placement left `merged` (its finishing transaction failed, or the process
    /// died between the two commits): its identifiers and acknowledgement from its staged rows,
    /// then `completed`.
    /// - Parameter only: that placement (creditor, placement) only; otherwise the oldest one
    ///   that no transaction is finishing.
    /// - Returns: the placement finished, or nil.
    @discardableResult
    public func finishMerged(placement only: (creditor: UUID, placement: UUID)? = nil) async throws -> UUID? {
        let filter: SQL = only.map { "AND creditor_id = \($0.creditor) AND id = \($0.placement)" } ?? ""
        let finished = try await pool.transaction(as: .system, .init(statementTimeout: .seconds(3600), maxAttempts: 3)) { tx -> (UUID, UUID)? in
            guard let row = try await tx.one(
                "SELECT creditor_id, id FROM placements WHERE status = 'merged' \(filter) ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED")
            else { return nil }
            let c = try row.decode(UUID.self, "creditor_id")
            let p = try row.decode(UUID.self, "id")
            guard try await tx.one("SELECT pg_try_advisory_xact_lock(\(Self.finishingLock(p))) AS held")!.decode(Bool.self, "held") else {
                return nil  // its own finishing transaction is still at work
            }
            try await writeIdentifiersAndAcknowledgement(creditor: c, placement: p, in: tx)
            try await tx.execute("UPDATE placements SET status = 'completed', completed_at = now() WHERE creditor_id = \(c) AND id = \(p)")
            try await AuditLog.append(
                AuditEntry(action: "placement.finish", objectType: "placement", objectID: p.uuidString.lowercased(), creditorID: c),
                actor: .system, requestID: nil, in: tx)
            return (c, p)
        }
        guard let (c, p) = finished else { return nil }
        logger.info("merged placement finished", metadata: ["placement": "\(p)"])
        await clearStagedRows(creditor: c, placement: p)
        return p
    }

    /// Writes the identifiers of an all-new placement's debtors (`debtor_keys`) and its
    /// acknowledgement (`placement_outcomes`) from its staged rows, acting for that creditor.
    func writeIdentifiersAndAcknowledgement(creditor c: UUID, placement p: UUID, in tx: PostgresTransaction) async throws {
        try await tx.act(for: .placementMerge, creditor: c)
        try await tx.execute("SET LOCAL work_mem = '256MB'")
        try await tx.execute("SET LOCAL jit = off")
        try await tx.execute("SET LOCAL enable_memoize = off")
        // A reference repeated within the file is refused by the merge transaction, whose marks
        // a transaction beside it does not see: the same rule finds those rows here.
        try await tx.execute(
            """
            CREATE TEMP TABLE placement_repeats ON COMMIT DROP AS
            SELECT row_number FROM (SELECT row_number, min(row_number) OVER (PARTITION BY creditor_reference) AS first_row
                                    FROM placement_rows WHERE creditor_id = \(c) AND placement_id = \(p) AND reject_field IS NULL) d
            WHERE row_number > first_row
            """)
        var good: SQL = "creditor_id = \(c) AND placement_id = \(p) AND reject_field IS NULL"
        if try await tx.one("SELECT EXISTS (SELECT 1 FROM placement_repeats) AS repeats")!.decode(Bool.self, "repeats") {
            good = "\(good) AND row_number NOT IN (SELECT row_number FROM placement_repeats)"
        }
        // An identifier given by two new debtors stays with the first. None is known yet
        // (`meetsKnownData`), and merges of one creditor are serialised: no conflict to handle.
        // A debtor's rows repeat its keys (2.35M keys for 1.2M distinct in the benchmark's
        // file): they are folded by hashing first, so the sort is half as long. The keys are
        // unnested in the select list (one pass, value per call) rather than by a lateral
        // function scan, which fills a tuplestore for every row (1.4 s less for 1M rows).
        try await tx.execute(
            """
            INSERT INTO debtor_keys (creditor_id, key, debtor_id)
            SELECT DISTINCT ON (k) \(c), k, debtor_id
            FROM (SELECT k, debtor_id, min(row_number) AS first_row
                  FROM (SELECT unnest(match_keys) AS k, debtor_id, row_number FROM placement_rows WHERE \(good)) u
                  GROUP BY k, debtor_id) d
            ORDER BY k, first_row
            """)
        try await tx.execute(
            """
            INSERT INTO placement_outcomes (creditor_id, placement_id, row_number, creditor_reference, outcome, claim_id, case_id)
            SELECT \(c), \(p), row_number, creditor_reference, 'accepted', claim_id, case_id FROM placement_rows WHERE \(good)
            """)
    }
}
