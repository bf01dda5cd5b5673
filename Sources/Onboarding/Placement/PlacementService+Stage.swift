import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

// Staging: the upload streams into the staged rows, in one transaction with the placement record.
extension PlacementService {
    // MARK: - Stage

    /// Streams a file into a new staged placement.
    /// - Returns: the placement, and whether it is an earlier one replayed for the same
    ///   `Idempotency-Key` and the same bytes.
    /// - Throws: `Problem`: 404 unknown creditor, 409 no active mandate or creditor not active,
    ///   409/422 idempotency conflicts, 413 too large, 422 unreadable file or header.
    ///   - mapping: a mapping for this upload alone; nil: the creditor's saved mapping, if any.
    public func stage<Body: AsyncSequence>(
        creditor: UUID, format: Format, body: Body, idempotencyKey: String?, mapping: ColumnMapping? = nil, by actor: Principal,
        requestID: String?
    ) async throws -> (Placement, replayed: Bool) where Body.Element == [UInt8] {
        if let key = idempotencyKey {
            if let existing = try await find(key: key, creditor: creditor, as: actor) {
                let tally = Tally()
                for try await chunk in body {
                    tally.bytes += chunk.count
                    if tally.bytes > maxBytes { throw Problem.tooLarge(limit: maxBytes) }
                    tally.hasher.update(data: chunk)
                }
                guard Array(tally.hasher.finalize()).hexString == existing.fileSha256 else {
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
                let used = try await stageRows(
                    creditor: creditor, placement: id, format: format, body: body, mapping: mapping, tally: tally, in: tx)
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
                    INSERT INTO placements (creditor_id, id, status, format, file_sha256, byte_count, idempotency_key, received, rejected, created_by_kind, created_by,
                                            column_mapping, column_mapping_version, column_readings)
                    VALUES (\(creditor), \(id), 'staged', \(format.rawValue), \(PostgresBytes(Array(tally.hasher.finalize()))), \(tally.bytes),
                            \(idempotencyKey), \(tally.received), \(tally.rejected), \(actor.kind.rawValue), \(actor.id),
                            \(used?.kind), \(used?.version), \(try PostgresJSON(encoding: tally.readings)))
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
        } catch {
            throw Self.readProblem(error) ?? error
        }
    }

    /// A file that cannot be read, or whose header cannot be, as the problem the caller gets.
    static func readProblem(_ error: any Error) -> Problem? {
        switch error {
        case let error as CSVStreamParser.Malformed:
            return Problem.validation([.init(field: "row \(error.line)", reason: error.reason)], detail: "The file could not be read.")
        case let error as JSONRecordSplitter.Malformed:
            return Problem.validation([.init(field: "record \(error.record)", reason: error.reason)], detail: "The file could not be read.")
        case let error as PlacementHeader.HeaderProblem:
            return Problem.validation(
                error.reasons.map { .init(field: "header", reason: $0) },
                detail: "The header row is not usable: map the columns it does not know (column-mapping), or rename them. See Docs/placements.md.")
        default:
            return nil
        }
    }

    /// What an upload and a dry run share: the creditor's checks (active, a mandate in force),
    /// the mapping (the upload's own, else the creditor's saved one, read in this transaction: a
    /// later change does not touch this placement), and the rows checked and staged by COPY.
    /// - Returns: the mapping the rows were read with (nil: the aliases alone).
    func stageRows<Body: AsyncSequence>(
        creditor: UUID, placement id: UUID, format: Format, body: Body, mapping: ColumnMapping?, tally: Tally, in tx: PostgresTransaction
    ) async throws -> MappingUsed? where Body.Element == [UInt8] {
        guard let owner = try await tx.one("SELECT status, default_currency, jurisdiction FROM creditors WHERE id = \(creditor)") else {
            throw Problem.notFound("creditor")
        }
        guard try owner.decode(String.self, "status") == "active" else {
            throw Problem(status: 409, code: "creditor-not-active", title: "Creditor not active", detail: "Placements are accepted from active creditors only.")
        }
        guard try await MandateRows.hasActive(creditor: creditor, in: tx) else {
            throw Problem(
                status: 409, code: "mandate-required", title: "No active mandate",
                detail: "Placements are refused until a signed mandate (CPCE R124-3) is recorded and in force for this creditor.")
        }
        let saved = mapping == nil ? try await ColumnMappingRows.current(creditor: creditor, in: tx) : nil
        let used = try mapping ?? saved.map { try ColumnMapping($0.columns) }
        let validator = PlacementRowValidator(
            defaultCurrency: try owner.decode(String.self, "default_currency"), defaultCountry: try owner.decode(String.self, "jurisdiction"),
            today: CalendarDate(Date()))
        let rows = PlacementCopyStream(
            base: body, format: format, validator: validator, creditor: CopyBinary.uuidBytes(creditor),
            placement: CopyBinary.uuidBytes(id), maxBytes: maxBytes, tally: tally,
            ids: PlacementIDs(placement: id, defaultCurrency: validator.defaultCurrency), mapping: used)
        try await tx.copyFrom(SQL(unsafeRaw: "COPY placement_rows_upload (\(StagedRowCopy.columns)) FROM STDIN WITH (FORMAT binary)"), chunks: rows)
        guard tally.received > 0 else {
            throw Problem.validation([.init(field: "file", reason: "has no data rows")])
        }
        if mapping != nil { return MappingUsed(kind: "upload", version: nil) }
        return saved.map { MappingUsed(kind: "saved", version: $0.version) }
    }
}
