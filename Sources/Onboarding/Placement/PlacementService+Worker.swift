import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

// The worker's side of a merge: taking a staged placement, retries and failures, the sweeps.
extension PlacementService {
    // MARK: - Merge

    /// Merges the oldest staged placement, if any. Safe to call from any number of nodes.
    /// - Parameter completed: called as soon as the placement is `completed` (committed), before
    ///   its staged rows are deleted and the tables' statistics refreshed: what follows a
    ///   placement (its cases' assignment) need not wait for that housekeeping.
    /// - Returns: the placement merged, or nil when none was waiting.
    @discardableResult
    public func processNext(completed: @Sendable () -> Void = {}) async throws -> UUID? {
        // A placement left `merged` (its finishing transaction failed, or the process died
        // between the two commits) comes first: later merges of its creditor wait for it.
        if let finished = try await finishMerged() {
            completed()
            return finished
        }
        var taken: (creditor: UUID, placement: UUID)? = nil
        do {
            // Fresh statistics for the staged rows and the tables merged into (Migrations/0005
            // and 0006), when there is a placement no other worker holds (a node waiting on
            // another's merge skips them). The probe's KEY SHARE lock skips placements a merge
            // holds (FOR UPDATE) without stopping `recordFailure` (NO KEY UPDATE) from counting
            // a failed attempt.
            let waiting = try await pool.transaction(as: .system) { tx in
                try await tx.one("SELECT id FROM placements WHERE status = 'staged' LIMIT 1 FOR KEY SHARE SKIP LOCKED") != nil
            }
            guard waiting else { return nil }
            await refreshStatistics("placement_merge_analyze")
            do {
                return try await mergeNext(taken: &taken, completed: completed)
            } catch is WaitedForAnotherMerge {
                // Another merge of the same creditor ran while this one waited: the statistics
                // refreshed above describe the tables before it. Refresh, then merge.
                await refreshStatistics("placement_merge_analyze")
                do {
                    return try await mergeNext(taken: &taken, mayWait: true, completed: completed)
                } catch is WaitedForAnotherMerge {
                    return nil  // still waiting after the statement timeout: the worker comes back
                }
            }
        } catch let error as PostgresError
            where !error.isConnectionLoss && error.kind != .poolClosed && error.kind != .commitOutcomeUnknown
            && !(error.code == .queryCanceled && Task.isCancelled)
        {
            // A statement timeout counts as a failed attempt; a cancel at shutdown does not.
            // A placement that cannot be merged must not block the queue: count the attempt,
            // give up after three (its staged rows, personal data, are deleted then).
            guard let taken else { throw error }
            try await recordFailure(error, creditor: taken.creditor, placement: taken.placement)
            return nil
        }
    }

    /// Thrown when a merge had to wait for another merge of the same creditor (and rolled back).
    struct WaitedForAnotherMerge: Error {}

    /// One merge transaction, and what follows its commit.
    /// - Parameter mayWait: false: give up (`WaitedForAnotherMerge`) after waiting for another
    ///   merge of the same creditor; true: merge after waiting.
    func mergeNext(
        taken: inout (creditor: UUID, placement: UUID)?, mayWait: Bool = false, completed: @Sendable () -> Void = {}
    ) async throws -> UUID? {
        // The finishing transaction of this merge, if it has one (`startFinishing`): cancelled
        // with this task, and before a retry of the merge transaction.
        let finishing = Mutex<Finishing?>(nil)
        defer { finishing.withLock { $0?.task.cancel() } }
        do {
            let merged = try await withTaskCancellationHandler {
                try await pool.transaction(as: .system, .init(statementTimeout: .seconds(3600), maxAttempts: 3)) { tx -> (UUID, UUID, Int, Finishing?)? in
                    if let previous = finishing.withLock({ f in defer { f = nil }; return f }) {
                        previous.task.cancel()
                        _ = await previous.task.result
                    }
                    guard let next = try await tx.one(
                        "SELECT creditor_id, id FROM placements WHERE status = 'staged' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED")
                    else { return nil }
                    let creditor = try next.decode(UUID.self, "creditor_id")
                    let placement = try next.decode(UUID.self, "id")
                    taken = (creditor, placement)
                    // One merge per creditor at a time: two placements of one creditor may share
                    // debtors. Having waited for another, give up unless told not to.
                    let lock: SQL = "hashtextextended(\("placement:" + creditor.uuidString.lowercased()), 0)"
                    if try await tx.one("SELECT pg_try_advisory_xact_lock(\(lock)) AS free")!.decode(Bool.self, "free") == false {
                        do {
                            try await tx.execute("SELECT pg_advisory_xact_lock(\(lock))")
                        } catch let error as PostgresError where error.code == .queryCanceled && !Task.isCancelled {
                            throw WaitedForAnotherMerge()  // waited out the statement timeout: not a failed merge
                        }
                        if !mayWait { throw WaitedForAnotherMerge() }
                    }
                    // A placement of this creditor merged but not finished: its identifiers are not
                    // committed yet, and this merge would not see its debtors as known. Wait for its
                    // finishing transaction; should it have failed, the next pass finishes it.
                    if let pending = try await tx.one("SELECT id FROM placements WHERE creditor_id = \(creditor) AND status = 'merged' LIMIT 1") {
                        let other = try pending.decode(UUID.self, "id")
                        do {
                            try await tx.execute("SELECT pg_advisory_xact_lock_shared(\(Self.finishingLock(other)))")
                        } catch let error as PostgresError where error.code == .queryCanceled && !Task.isCancelled {
                            throw WaitedForAnotherMerge()
                        }
                        if try await tx.one("SELECT 1 AS merged FROM placements WHERE creditor_id = \(creditor) AND id = \(other) AND status = 'merged'") != nil {
                            throw WaitedForAnotherMerge()
                        }
                    }
                    // From here on, act for that creditor only: row-level security confines every statement.
                    try await tx.act(for: .placementMerge, creditor: creditor)
                    let (written, finisher) = try await merge(creditor: creditor, placement: placement, in: tx) { started in
                        finishing.withLock { $0 = started }
                    }
                    try await AuditLog.append(
                        AuditEntry(action: "placement.merge", objectType: "placement", objectID: placement.uuidString.lowercased(), creditorID: creditor),
                        actor: .system, requestID: nil, in: tx)
                    return (creditor, placement, written, finisher)
                }
            } onCancel: {
                finishing.withLock { $0?.task.cancel() }
            }
            guard let (creditor, placement, written, finisher) = merged else { return nil }
            if let finisher {
                // Committed `merged`: its finishing transaction now takes the placement's row and
                // commits `completed`. Should it fail, the placement is finished here, from its
                // staged rows (kept until then).
                do {
                    try await finisher.task.value
                } catch {
                    logger.warning("placement finishing failed; finishing again", metadata: ["placement": "\(placement)", "error": "\(error)"])
                    guard try await finishMerged(placement: (creditor, placement)) != nil else { return placement }
                }
            }
            completed()
            await clearStagedRows(creditor: creditor, placement: placement)
            if written >= 1000 {
                // A large merge changed the tables the next one reads: their statistics now,
                // rather than when autovacuum comes by (see Migrations/0006).
                await refreshStatistics("placement_tables_analyze")
            }
            return placement
        } catch is WaitedForAnotherMerge {
            taken = nil  // rolled back before anything was attempted: no failure to count
            throw WaitedForAnotherMerge()
        } catch {
            // The merge failed: its finishing transaction rolls back too. Wait for that, so the
            // placement's row is free when the failure is counted.
            if let task = finishing.withLock({ $0?.task }) {
                task.cancel()
                _ = await task.result
            }
            throw error
        }
    }

    /// Deletes a merged placement's staged rows (personal data), in a transaction of its own
    /// right after the merge commits. Should this fail, or the process die in between,
    /// `sweepStagedRows` deletes them (workers sweep at start and every ten minutes).
    func clearStagedRows(creditor: UUID, placement: UUID) async {
        do {
            try await pool.transaction(as: .system, .init(statementTimeout: .seconds(600), maxAttempts: 3)) { tx in
                try await tx.execute("DELETE FROM placement_rows WHERE creditor_id = \(creditor) AND placement_id = \(placement)")
            }
        } catch {
            logger.warning("merged placement's staged rows not deleted yet", metadata: ["placement": "\(placement)", "error": "\(error)"])
        }
    }

    /// Deletes staged rows left behind by placements no longer waiting for a merge (completed
    /// or failed; see `clearStagedRows`). Rows of uploads in progress are not visible here.
    /// - Returns: how many rows were deleted.
    @discardableResult
    public func sweepStagedRows() async throws -> Int {
        try await pool.transaction(as: .system, .init(statementTimeout: .seconds(600))) { tx in
            try await tx.execute(
                """
                DELETE FROM placement_rows r USING placements p
                WHERE p.creditor_id = r.creditor_id AND p.id = r.placement_id AND p.status NOT IN ('staged', 'merged')
                """)
        }
    }

    /// Statistics help the merge plan well; failing to refresh them must not stop merging.
    func refreshStatistics(_ function: String) async {
        do {
            try await pool.transaction(as: .system, .init(statementTimeout: .seconds(600), maxAttempts: 1)) { tx in
                try await tx.query(SQL(unsafeRaw: "SELECT \(function)()"))
            }
        } catch {
            logger.warning("placement statistics not refreshed", metadata: ["function": "\(function)", "error": "\(error)"])
        }
    }

    func recordFailure(_ error: PostgresError, creditor: UUID, placement: UUID) async throws {
        logger.error("placement merge failed", metadata: ["error": "\(error)", "placement": "\(placement)"])
        try await pool.transaction(as: .system) { tx in
            guard let row = try await tx.one(
                "SELECT attempts FROM placements WHERE creditor_id = \(creditor) AND id = \(placement) AND status = 'staged' FOR NO KEY UPDATE SKIP LOCKED")
            else { return }
            let attempts = try row.decode(Int.self, "attempts") + 1
            try await tx.execute(
                """
                UPDATE placements SET attempts = \(attempts),
                       status = CASE WHEN \(attempts) >= 3 THEN 'failed' ELSE status END,
                       failure = \(attempts >= 3 ? "merge failed (\(error.sqlState ?? "unknown")); contact support" : nil)
                WHERE creditor_id = \(creditor) AND id = \(placement)
                """)
            if attempts >= 3 {
                try await tx.execute("DELETE FROM placement_rows WHERE creditor_id = \(creditor) AND placement_id = \(placement)")
            }
        }
    }
}
