import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

/// Portfolio placement: a creditor's file of claims becomes debtors, cases and claims.
///
/// 1. **Stage** (the upload request): the body is parsed as it streams in, each row checked,
///    and good rows (and the reasons for bad ones) go to `placement_rows` by COPY, all in one
///    transaction with the placement record. A killed upload leaves nothing.
/// 2. **Merge** (`processNext`, run by the placement worker): one transaction takes a staged
///    placement (`FOR UPDATE SKIP LOCKED`, so any number of nodes can run workers), matches
///    debtors, opens or joins cases, inserts new claims, updates changed ones and records
///    every row's outcome, set-based. A killed merge rolls back and is taken again.
public struct PlacementService: Sendable {
    public let pool: PostgresPool
    let logger: Logger
    /// Largest file accepted.
    public var maxBytes: Int

    public init(pool: PostgresPool, maxBytes: Int = 1 << 30, logger: Logger = Logger(label: "relance.placements")) {
        self.pool = pool
        self.maxBytes = maxBytes
        self.logger = logger
    }

    public enum Format: String, Codable, Sendable {
        case csv
        case json
        case ndjson
    }

    public struct Placement: Codable, Sendable, Equatable {
        public var id: UUID
        public var creditorId: UUID
        /// `staged` (queued for merging), `completed` or `failed`.
        public var status: String
        public var format: String
        public var fileSha256: String
        public var byteCount: Int
        public var received: Int
        public var accepted: Int
        public var rejected: Int
        public var unchanged: Int
        public var updated: Int
        public var createdAt: Date
        public var completedAt: Date?
        public var failure: String?
    }

    /// Counts and digest gathered while streaming.
    final class Tally {
        var bytes = 0
        var received = 0
        var rejected = 0
        var hasher = SHA256()
    }

    // MARK: - Stage

    /// Streams a file into a new staged placement.
    /// - Returns: the placement, and whether it is an earlier one replayed for the same
    ///   `Idempotency-Key` and the same bytes.
    /// - Throws: `Problem`: 404 unknown creditor, 409 no active mandate or creditor not active,
    ///   409/422 idempotency conflicts, 413 too large, 422 unreadable file or header.
    public func stage<Body: AsyncSequence>(
        creditor: UUID, format: Format, body: Body, idempotencyKey: String?, by actor: Principal, requestID: String?
    ) async throws -> (Placement, replayed: Bool) where Body.Element == [UInt8] {
        if let key = idempotencyKey {
            if let existing = try await find(key: key, creditor: creditor, as: actor) {
                let tally = Tally()
                for try await chunk in body {
                    tally.bytes += chunk.count
                    if tally.bytes > maxBytes { throw Problem.tooLarge(limit: maxBytes) }
                    tally.hasher.update(data: chunk)
                }
                guard hex(tally.hasher.finalize()) == existing.fileSha256 else {
                    throw Problem(
                        status: 422, code: "idempotency-key-reused", title: "Idempotency key reused",
                        detail: "This Idempotency-Key was used for another file.", errors: [.init(field: "Idempotency-Key", reason: "was used for another file")])
                }
                return (existing, true)
            }
        }
        let id = UUID()
        let tally = Tally()
        do {
            let placement = try await pool.transaction(as: actor, .init(statementTimeout: .seconds(3600), maxAttempts: 1)) { tx -> Placement in
                guard let owner = try await tx.one("SELECT status, default_currency, jurisdiction FROM creditors WHERE id = \(creditor)") else {
                    throw Problem.notFound("creditor")
                }
                guard try owner.decode(String.self, "status") == "active" else {
                    throw Problem(status: 409, code: "creditor-not-active", title: "Creditor not active", detail: "Placements are accepted from active creditors only.")
                }
                guard try await MandateBook.hasActiveMandate(creditor: creditor, in: tx) else {
                    throw Problem(
                        status: 409, code: "mandate-required", title: "No active mandate",
                        detail: "Placements are refused until a signed mandate (CPCE R124-3) is recorded and in force for this creditor.")
                }
                let validator = PlacementRowValidator(
                    defaultCurrency: try owner.decode(String.self, "default_currency"), defaultCountry: try owner.decode(String.self, "jurisdiction"),
                    today: CalendarDate(Date()))
                let rows = PlacementCopyStream(
                    base: body, format: format, validator: validator, creditor: CopyBinary.uuidBytes(creditor),
                    placement: CopyBinary.uuidBytes(id), maxBytes: maxBytes, tally: tally,
                    ids: PlacementIDs(placement: id, defaultCurrency: validator.defaultCurrency))
                try await tx.copyFrom(SQL(unsafeRaw: "COPY placement_rows_upload (\(CopyBinary.columns)) FROM STDIN WITH (FORMAT binary)"), chunks: rows)
                guard tally.received > 0 else {
                    throw Problem.validation([.init(field: "file", reason: "has no data rows")])
                }
                if let idempotencyKey {
                    // Keys live 24 hours: an older placement gives its key up.
                    try await tx.execute(
                        """
                        UPDATE placements SET idempotency_key = NULL
                        WHERE creditor_id = \(creditor) AND idempotency_key = \(idempotencyKey) AND created_at <= now() - interval '24 hours'
                        """)
                }
                let row = try await tx.one(
                    """
                    INSERT INTO placements (creditor_id, id, status, format, file_sha256, byte_count, idempotency_key, received, rejected, created_by_kind, created_by)
                    VALUES (\(creditor), \(id), 'staged', \(format.rawValue), \(PostgresBytes(Array(tally.hasher.finalize()))), \(tally.bytes),
                            \(idempotencyKey), \(tally.received), \(tally.rejected), \(actor.kind.rawValue), \(actor.id))
                    RETURNING \(Self.columns)
                    """)
                try await AuditLog.append(
                    AuditEntry(action: "placement.stage", objectType: "placement", objectID: id.uuidString.lowercased(), creditorID: creditor),
                    actor: actor, requestID: requestID, in: tx)
                return try Self.decode(row!)
            }
            return (placement, false)
        } catch let error as PostgresError where error.code == .uniqueViolation && error.constraint == "placements_idempotency_key" {
            throw Problem(status: 409, code: "idempotency-in-progress", title: "Request in progress", detail: "Another upload with this Idempotency-Key is running or just finished; retry to get its result.")
        } catch let error as CSVStreamParser.Malformed {
            throw Problem.validation([.init(field: "row \(error.line)", reason: error.reason)], detail: "The file could not be read.")
        } catch let error as JSONRecordSplitter.Malformed {
            throw Problem.validation([.init(field: "record \(error.record)", reason: error.reason)], detail: "The file could not be read.")
        } catch let error as PlacementColumn.HeaderProblem {
            throw Problem.validation(error.reasons.map { .init(field: "header", reason: $0) }, detail: "The header row is not usable. See Docs/placements.md.")
        }
    }

    // MARK: - Merge

    /// Merges the oldest staged placement, if any. Safe to call from any number of nodes.
    /// - Returns: the placement merged, or nil when none was waiting.
    @discardableResult
    public func processNext() async throws -> UUID? {
        // A placement left `merged` (its finishing transaction failed, or the process died
        // between the two commits) comes first: later merges of its creditor wait for it.
        if let finished = try await finishMerged() { return finished }
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
                return try await mergeNext(taken: &taken)
            } catch is WaitedForAnotherMerge {
                // Another merge of the same creditor ran while this one waited: the statistics
                // refreshed above describe the tables before it. Refresh, then merge.
                await refreshStatistics("placement_merge_analyze")
                do {
                    return try await mergeNext(taken: &taken, mayWait: true)
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
    private func mergeNext(taken: inout (creditor: UUID, placement: UUID)?, mayWait: Bool = false) async throws -> UUID? {
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
    private func clearStagedRows(creditor: UUID, placement: UUID) async {
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
    private func refreshStatistics(_ function: String) async {
        do {
            try await pool.transaction(as: .system, .init(statementTimeout: .seconds(600), maxAttempts: 1)) { tx in
                try await tx.query(SQL(unsafeRaw: "SELECT \(function)()"))
            }
        } catch {
            logger.warning("placement statistics not refreshed", metadata: ["function": "\(function)", "error": "\(error)"])
        }
    }

    private func recordFailure(_ error: PostgresError, creditor: UUID, placement: UUID) async throws {
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
        // A reference twice in one file: the first row counts, the others are refused.
        try await tx.execute(
            """
            UPDATE placement_rows r SET reject_field = 'creditor_reference',
                   reject_reason = 'appears again in this file (first at row ' || d.first_row || ')'
            FROM (SELECT row_number, min(row_number) OVER (PARTITION BY creditor_reference) AS first_row
                  FROM placement_rows WHERE \(scope) AND reject_field IS NULL) d
            WHERE r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = d.row_number AND d.row_number > d.first_row
            """)
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

    /// Whether any good row of the placement names a claim already placed, or identifies a
    /// debtor already known. A creditor's first placement, or a batch of new debtors, meets
    /// nothing, and takes the plain path.
    func meetsKnownData(creditor c: UUID, placement p: UUID, in tx: PostgresTransaction) async throws -> Bool {
        let rows: SQL = "FROM placement_rows r WHERE r.creditor_id = \(c) AND r.placement_id = \(p) AND r.reject_field IS NULL"
        // Staged before migration 0005, rows have no ids of their own: only the general path
        // mints them (a placement's rows all have ids, or none has).
        if let first = try await tx.one("SELECT r.debtor_id IS NULL AS old \(rows) LIMIT 1"), try first.decode(Bool.self, "old") {
            return true
        }
        let known = try await tx.one(
            """
            SELECT EXISTS (SELECT 1 FROM claims WHERE creditor_id = \(c)) AS claims,
                   EXISTS (SELECT 1 FROM debtor_keys WHERE creditor_id = \(c)) AS debtors
            """)!
        if try known.decode(Bool.self, "claims") {
            let hit = try await tx.one(
                """
                SELECT EXISTS (SELECT 1 \(rows) AND EXISTS (
                    SELECT 1 FROM claims cl WHERE cl.creditor_id = \(c) AND cl.creditor_reference = r.creditor_reference)) AS hit
                """)!
            if try hit.decode(Bool.self, "hit") { return true }
        }
        if try known.decode(Bool.self, "debtors") {
            let hit = try await tx.one(
                """
                SELECT EXISTS (SELECT 1 \(rows) AND EXISTS (
                    SELECT 1 FROM debtor_keys dk WHERE dk.creditor_id = \(c) AND dk.key = ANY(r.match_keys))) AS hit
                """)!
            if try hit.decode(Bool.self, "hit") { return true }
        }
        return false
    }

    /// Every good row is a new claim of a new debtor: the ids minted at upload hold, and rows
    /// move by plain INSERT ... SELECT, one pass over the staged rows per table.
    func mergeAllNew(creditor c: UUID, placement p: UUID, in tx: PostgresTransaction) async throws -> (accepted: Int, updated: Int, unchanged: Int) {
        let good: SQL = "creditor_id = \(c) AND placement_id = \(p) AND reject_field IS NULL"
        // One debtor per identifier group, described by its first row, with the emails and
        // phones of all its rows.
        try await tx.execute(
            """
            INSERT INTO debtors (creditor_id, id, kind, name, first_name, last_name, siren, birth_date, emails, phones,
                                 address_line1, address_line2, postal_code, city, country, time_zone, language)
            SELECT \(c), r.debtor_id, r.debtor_kind, r.debtor_name, r.first_name, r.last_name, r.siren, r.birth_date, g.emails, g.phones,
                   r.address_line1, r.address_line2, r.postal_code, r.city, r.country, r.time_zone, r.language
            FROM (SELECT debtor_id, min(row_number) AS first_row,
                         coalesce(array_agg(DISTINCT email ORDER BY email) FILTER (WHERE email IS NOT NULL), '{}') AS emails,
                         coalesce(array_agg(DISTINCT phone ORDER BY phone) FILTER (WHERE phone IS NOT NULL), '{}') AS phones
                  FROM placement_rows WHERE \(good) GROUP BY debtor_id) g
            JOIN placement_rows r ON r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = g.first_row
            """)
        // One case per debtor and currency, with its totals.
        try await tx.execute(
            """
            INSERT INTO cases (creditor_id, id, debtor_id, currency, first_placement_id, principal_minor, balance_minor, oldest_due_date)
            SELECT \(c), case_id, debtor_id, currency, \(p), sum(principal_minor), sum(principal_minor), min(due_date)
            FROM placement_rows WHERE \(good) GROUP BY case_id, debtor_id, currency ORDER BY case_id
            """)
        let accepted = try await tx.execute(
            """
            INSERT INTO claims (creditor_id, id, case_id, debtor_id, creditor_reference, invoice_number, issue_date, due_date,
                                principal_minor, balance_minor, currency, row_hash, first_placement_id, last_placement_id)
            SELECT \(c), claim_id, case_id, debtor_id, creditor_reference, invoice_number, issue_date, due_date,
                   principal_minor, principal_minor, currency, row_hash, \(p), \(p)
            FROM placement_rows WHERE \(good)
            """)
        return (accepted, 0, 0)
    }

    /// Rows that may name placed claims or known debtors: a working table pairs each row
    /// with what exists, then debtors, cases and claims are matched, opened or updated.
    func mergeWithKnown(creditor c: UUID, placement p: UUID, in tx: PostgresTransaction) async throws -> (accepted: Int, updated: Int, unchanged: Int) {
        // The working set: each good row with what already exists for its reference.
        try await tx.execute(
            """
            CREATE TEMP TABLE m ON COMMIT DROP AS
            SELECT r.row_number, r.creditor_reference, r.row_hash, r.group_key, r.match_keys, r.currency,
                   c.id AS claim_id, c.case_id AS existing_case_id, c.row_hash AS old_hash, c.status AS claim_status,
                   c.currency AS old_currency, cs.status AS case_status,
                   NULL::uuid AS debtor_id, NULL::uuid AS case_id, coalesce(r.claim_id, gen_random_uuid()) AS new_claim_id
            FROM placement_rows r
            LEFT JOIN claims c ON c.creditor_id = \(c) AND c.creditor_reference = r.creditor_reference
            LEFT JOIN cases cs ON cs.creditor_id = \(c) AND cs.id = c.case_id
            WHERE r.creditor_id = \(c) AND r.placement_id = \(p) AND r.reject_field IS NULL
            """)
        // A claim keeps its currency.
        try await tx.execute(
            """
            INSERT INTO placement_rejects (creditor_id, placement_id, row_number, field, reason)
            SELECT \(c), \(p), row_number, 'currency', 'differs from the currency of the claim already placed (' || old_currency || ')'
            FROM m WHERE claim_id IS NOT NULL AND old_currency <> currency
            """)
        try await tx.execute("DELETE FROM m WHERE claim_id IS NOT NULL AND old_currency <> currency")
        try await tx.execute("CREATE INDEX ON m (row_number)")
        try await tx.execute("ANALYZE m")
        // What this placement meets: claims already placed, debtors already known. A first
        // placement meets neither, and skips the statements that would find nothing.
        let seen = try await tx.one(
            """
            SELECT count(*) FILTER (WHERE claim_id IS NOT NULL)::int8 AS existing,
                   EXISTS (SELECT 1 FROM debtor_keys WHERE creditor_id = \(c)) AS has_debtors
            FROM m
            """)!
        let existingClaims = try seen.decode(Int.self, "existing")
        var knownDebtors = 0
        if try seen.decode(Bool.self, "has_debtors") {
            // Known debtors, by any identifier.
            knownDebtors = try await tx.execute(
                """
                UPDATE m SET debtor_id = (SELECT dk.debtor_id FROM debtor_keys dk
                                          WHERE dk.creditor_id = \(c) AND dk.key = ANY(m.match_keys) ORDER BY dk.debtor_id LIMIT 1)
                WHERE claim_id IS NULL AND cardinality(match_keys) > 0
                  AND EXISTS (SELECT 1 FROM debtor_keys dk WHERE dk.creditor_id = \(c) AND dk.key = ANY(m.match_keys))
                """)
        }
        // New debtors: one per identifier group, described by its first row.
        try await tx.execute(
            """
            CREATE TEMP TABLE nd ON COMMIT DROP AS
            SELECT m.group_key, gen_random_uuid() AS id, min(m.row_number) AS first_row,
                   coalesce(array_agg(DISTINCT r.email ORDER BY r.email) FILTER (WHERE r.email IS NOT NULL), '{}') AS emails,
                   coalesce(array_agg(DISTINCT r.phone ORDER BY r.phone) FILTER (WHERE r.phone IS NOT NULL), '{}') AS phones
            FROM m JOIN placement_rows r ON r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = m.row_number
            WHERE m.claim_id IS NULL AND m.debtor_id IS NULL GROUP BY m.group_key
            """)
        try await tx.execute(
            """
            INSERT INTO debtors (creditor_id, id, kind, name, first_name, last_name, siren, birth_date, emails, phones,
                                 address_line1, address_line2, postal_code, city, country, time_zone, language)
            SELECT \(c), nd.id, r.debtor_kind, r.debtor_name, r.first_name, r.last_name, r.siren, r.birth_date, nd.emails, nd.phones,
                   r.address_line1, r.address_line2, r.postal_code, r.city, r.country, r.time_zone, r.language
            FROM nd JOIN placement_rows r ON r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = nd.first_row
            """)
        try await tx.execute(
            "UPDATE m SET debtor_id = nd.id FROM nd WHERE m.claim_id IS NULL AND m.debtor_id IS NULL AND m.group_key = nd.group_key")
        if existingClaims > 0 || knownDebtors > 0 {
            // New emails and phones given for a known debtor (or by a changed row of an already
            // placed claim) are added to it; nothing a debtor already has is removed. An
            // unchanged row is a no-op: it gave its emails and phones when it was placed, and
            // one the agency removed since (a debtor who asked not to be written to there)
            // must not come back with next month's identical file.
            try await tx.execute(
                """
                UPDATE debtors d SET emails = ARRAY(SELECT DISTINCT e FROM unnest(d.emails || x.emails) AS e ORDER BY e),
                       phones = ARRAY(SELECT DISTINCT p FROM unnest(d.phones || x.phones) AS p ORDER BY p), updated_at = now()
                FROM (SELECT coalesce(c.debtor_id, m.debtor_id) AS debtor,
                             coalesce(array_agg(DISTINCT r.email) FILTER (WHERE r.email IS NOT NULL), '{}') AS emails,
                             coalesce(array_agg(DISTINCT r.phone) FILTER (WHERE r.phone IS NOT NULL), '{}') AS phones
                      FROM m JOIN placement_rows r ON r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = m.row_number
                      LEFT JOIN claims c ON c.creditor_id = \(c) AND c.id = m.claim_id
                      WHERE (m.claim_id IS NOT NULL AND m.old_hash IS DISTINCT FROM m.row_hash)
                         OR (m.claim_id IS NULL AND m.debtor_id NOT IN (SELECT id FROM nd))
                      GROUP BY 1) x
                WHERE d.creditor_id = \(c) AND d.id = x.debtor AND NOT (x.emails <@ d.emails AND x.phones <@ d.phones)
                """)
        }
        try await tx.execute(
            """
            INSERT INTO debtor_keys (creditor_id, key, debtor_id)
            SELECT \(c), k, coalesce(m.debtor_id, cl.debtor_id) FROM m
            LEFT JOIN claims cl ON cl.creditor_id = \(c) AND cl.id = m.claim_id, unnest(m.match_keys) AS k
            WHERE m.claim_id IS NULL OR m.old_hash <> m.row_hash  -- an unchanged row gave its identifiers already
            ON CONFLICT DO NOTHING
            """)
        // Cases: join the known debtor's live case in that currency, or open one.
        if knownDebtors > 0 {
            try await tx.execute(
                """
                UPDATE m SET case_id = cs.id FROM cases cs
                WHERE m.claim_id IS NULL AND cs.creditor_id = \(c) AND cs.debtor_id = m.debtor_id AND cs.currency = m.currency
                  AND cs.status IN ('open', 'paused', 'disputed')
                """)
        }
        // New cases get their totals at once; only cases that existed are re-totalled below.
        try await tx.execute(
            """
            CREATE TEMP TABLE nc ON COMMIT DROP AS
            SELECT m.debtor_id, m.currency, gen_random_uuid() AS id, sum(r.principal_minor) AS principal, min(r.due_date) AS oldest
            FROM m JOIN placement_rows r ON r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = m.row_number
            WHERE m.claim_id IS NULL AND m.case_id IS NULL GROUP BY m.debtor_id, m.currency
            """)
        try await tx.execute(
            """
            INSERT INTO cases (creditor_id, id, debtor_id, currency, first_placement_id, principal_minor, balance_minor, oldest_due_date)
            SELECT \(c), id, debtor_id, currency, \(p), principal, principal, oldest FROM nc
            """)
        try await tx.execute(
            """
            UPDATE m SET case_id = nc.id FROM nc
            WHERE m.claim_id IS NULL AND m.case_id IS NULL AND nc.debtor_id = m.debtor_id AND nc.currency = m.currency
            """)
        // New claims.
        try await tx.execute(
            """
            INSERT INTO claims (creditor_id, id, case_id, debtor_id, creditor_reference, invoice_number, issue_date, due_date,
                                principal_minor, balance_minor, currency, row_hash, first_placement_id, last_placement_id)
            SELECT \(c), m.new_claim_id, m.case_id, m.debtor_id, r.creditor_reference, r.invoice_number, r.issue_date, r.due_date,
                   r.principal_minor, r.principal_minor, r.currency, r.row_hash, \(p), \(p)
            FROM m JOIN placement_rows r ON r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = m.row_number
            WHERE m.claim_id IS NULL
            """)
        // Changed claims of live cases: new amounts and dates; the balance moves by the change
        // of principal (never below zero). Closed or recalled claims stay as they are.
        if existingClaims > 0 {
        try await tx.execute(
            """
            UPDATE claims c SET invoice_number = r.invoice_number, issue_date = r.issue_date, due_date = r.due_date,
                   balance_minor = greatest(0, c.balance_minor + r.principal_minor - c.principal_minor),
                   principal_minor = r.principal_minor, row_hash = r.row_hash, last_placement_id = \(p), updated_at = now()
            FROM m JOIN placement_rows r ON r.creditor_id = \(c) AND r.placement_id = \(p) AND r.row_number = m.row_number
            WHERE c.creditor_id = \(c) AND c.id = m.claim_id AND m.claim_status = 'open'
              AND m.case_status IN ('open', 'paused', 'disputed') AND m.old_hash <> m.row_hash
            """)
        }
        try await tx.execute(
            """
            INSERT INTO placement_outcomes (creditor_id, placement_id, row_number, creditor_reference, outcome, claim_id, case_id)
            SELECT \(c), \(p), row_number, creditor_reference,
                   CASE WHEN claim_id IS NULL THEN 'accepted'
                        WHEN claim_status <> 'open' OR case_status NOT IN ('open', 'paused', 'disputed') THEN 'closed'
                        WHEN old_hash = row_hash THEN 'unchanged'
                        ELSE 'updated' END,
                   coalesce(claim_id, new_claim_id), coalesce(existing_case_id, case_id)
            FROM m
            """)
        // Totals of the cases that existed before and got new or changed claims.
        if existingClaims > 0 || knownDebtors > 0 {
            try await tx.execute(
                """
                UPDATE cases cs SET principal_minor = t.principal, balance_minor = t.balance, oldest_due_date = t.oldest, updated_at = now()
                FROM (SELECT case_id, sum(principal_minor) AS principal, sum(balance_minor) AS balance, min(due_date) AS oldest
                      FROM claims WHERE creditor_id = \(c) AND status = 'open'
                        AND case_id IN (SELECT case_id FROM m WHERE claim_id IS NULL AND case_id NOT IN (SELECT id FROM nc)
                                        UNION SELECT existing_case_id FROM m WHERE claim_id IS NOT NULL AND old_hash <> row_hash)
                      GROUP BY case_id) t
                WHERE cs.creditor_id = \(c) AND cs.id = t.case_id
                """)
        }
        let outcome = try await tx.one(
            """
            SELECT count(*) FILTER (WHERE outcome = 'accepted') AS accepted, count(*) FILTER (WHERE outcome = 'updated') AS updated,
                   count(*) FILTER (WHERE outcome IN ('unchanged', 'closed')) AS unchanged
            FROM placement_outcomes WHERE creditor_id = \(c) AND placement_id = \(p)
            """)!
        return (try outcome.decode(Int.self, "accepted"), try outcome.decode(Int.self, "updated"), try outcome.decode(Int.self, "unchanged"))
    }

    // MARK: - Reading

    static let columns: SQL = """
        id, creditor_id, status, format, file_sha256, byte_count, received, accepted, rejected, unchanged, updated, created_at, completed_at, failure
        """

    static func decode(_ row: PostgresRow) throws -> Placement {
        Placement(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"), status: try row.decode(String.self, "status"),
            format: try row.decode(String.self, "format"), fileSha256: hex(try row.decode(PostgresBytes.self, "file_sha256").bytes),
            byteCount: try row.decode(Int.self, "byte_count"), received: try row.decode(Int.self, "received"),
            accepted: try row.decode(Int.self, "accepted"), rejected: try row.decode(Int.self, "rejected"),
            unchanged: try row.decode(Int.self, "unchanged"), updated: try row.decode(Int.self, "updated"),
            createdAt: try row.decode(Date.self, "created_at"), completedAt: try row.decode(Date?.self, "completed_at"),
            failure: try row.decode(String?.self, "failure"))
    }

    /// A placement the actor can see (row-level security applies).
    public func find(_ id: UUID, as actor: Principal) async throws -> Placement? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.one("SELECT \(Self.columns) FROM placements WHERE id = \(id)").map(Self.decode)
        }
    }

    func find(key: String, creditor: UUID, as actor: Principal) async throws -> Placement? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.one(
                """
                SELECT \(Self.columns) FROM placements
                WHERE creditor_id = \(creditor) AND idempotency_key = \(key) AND created_at > now() - interval '24 hours'
                """
            ).map(Self.decode)
        }
    }

    /// Newest first; `before` is the last placement of the previous page.
    public func list(creditor: UUID, as actor: Principal, limit: Int, before: UUID?) async throws -> [Placement] {
        let page: SQL = before.map {
            "AND (created_at, id) < (SELECT created_at, id FROM placements WHERE creditor_id = \(creditor) AND id = \($0))"
        } ?? ""
        return try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query("SELECT \(Self.columns) FROM placements WHERE creditor_id = \(creditor) \(page) ORDER BY created_at DESC, id DESC LIMIT \(limit)")
                .map(Self.decode)
        }
    }

    /// Rejected rows, in row order, a page at a time: (row, field, reason).
    public func rejects(_ placement: UUID, creditor: UUID, as actor: Principal, afterRow: Int, limit: Int) async throws -> [(Int, String, String)] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query(
                """
                SELECT row_number, field, reason FROM placement_rejects
                WHERE creditor_id = \(creditor) AND placement_id = \(placement) AND row_number > \(afterRow)
                ORDER BY row_number, field LIMIT \(limit)
                """
            ).map { (try $0.decode(Int.self, "row_number"), try $0.decode(String.self, "field"), try $0.decode(String.self, "reason")) }
        }
    }

    /// What became of accepted rows, in row order, a page at a time.
    public func outcomes(_ placement: UUID, creditor: UUID, as actor: Principal, afterRow: Int, limit: Int) async throws
        -> [(row: Int, reference: String, outcome: String, claim: UUID, case: UUID)]
    {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query(
                """
                SELECT row_number, creditor_reference, outcome, claim_id, case_id FROM placement_outcomes
                WHERE creditor_id = \(creditor) AND placement_id = \(placement) AND row_number > \(afterRow)
                ORDER BY row_number LIMIT \(limit)
                """
            ).map {
                (try $0.decode(Int.self, "row_number"), try $0.decode(String.self, "creditor_reference"), try $0.decode(String.self, "outcome"),
                 try $0.decode(UUID.self, "claim_id"), try $0.decode(UUID.self, "case_id"))
            }
        }
    }

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

func hex(_ digest: some Sequence<UInt8>) -> String {
    digest.map { String(format: "%02x", $0) }.joined()
}
