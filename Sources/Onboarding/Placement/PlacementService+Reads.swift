import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

// Reading placements, their refused rows and their acknowledgement.
extension PlacementService {
    // MARK: - Reading

    static let columns: SQL = """
        id, creditor_id, status, format, file_sha256, byte_count, received, accepted, rejected, unchanged, updated, created_at, completed_at, failure,
        column_mapping, column_mapping_version, column_readings, assigned_at, cases_assigned, cases_unassigned
        """

    static func decode(_ row: PostgresRow) throws -> Placement {
        Placement(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"), status: try row.decode(String.self, "status"),
            format: try row.decode(String.self, "format"), fileSha256: try row.decode(PostgresBytes.self, "file_sha256").bytes.hexString,
            byteCount: try row.decode(Int.self, "byte_count"), received: try row.decode(Int.self, "received"),
            accepted: try row.decode(Int.self, "accepted"), rejected: try row.decode(Int.self, "rejected"),
            unchanged: try row.decode(Int.self, "unchanged"), updated: try row.decode(Int.self, "updated"),
            createdAt: try row.decode(Date.self, "created_at"), completedAt: try row.decode(Date?.self, "completed_at"),
            failure: try row.decode(String?.self, "failure"),
            columnMapping: try row.decode(String?.self, "column_mapping").map { MappingUsed(kind: $0, version: try row.decode(Int?.self, "column_mapping_version")) },
            columns: try row.decode(PostgresJSON.self, "column_readings").decode([PlacementHeader.Reading].self),
            assignment: try row.decode(Date?.self, "assigned_at").map {
                Assignment(
                    assignedAt: $0, casesAssigned: try row.decode(Int?.self, "cases_assigned") ?? 0,
                    casesUnassigned: try row.decode(Int?.self, "cases_unassigned") ?? 0)
            })
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
}
