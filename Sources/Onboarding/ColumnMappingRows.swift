import Core
import Foundation
import Postgres

/// The `column_mappings` table: every statement on it, each in the caller's transaction (the use
/// cases of `ColumnMappingBook`, and placement's staging, which reads the version in force).
public enum ColumnMappingRows {
    static let columns: SQL = "creditor_id, version, columns, created_at"

    static func decode(_ row: PostgresRow) throws -> ColumnMappingBook.Saved {
        ColumnMappingBook.Saved(
            creditorId: try row.decode(UUID.self, "creditor_id"), version: try row.decode(Int.self, "version"),
            columns: try row.decode(PostgresJSON.self, "columns").decode([String: String].self),
            createdAt: try row.decode(Date.self, "created_at"))
    }

    /// The version in force (the latest), or nil when the creditor has none.
    public static func current(creditor: UUID, in tx: PostgresTransaction) async throws -> ColumnMappingBook.Saved? {
        try await tx.one("SELECT \(columns) FROM column_mappings WHERE creditor_id = \(creditor) ORDER BY version DESC LIMIT 1").map(decode)
    }

    /// Every version, the latest first.
    static func all(creditor: UUID, in tx: PostgresTransaction) async throws -> [ColumnMappingBook.Saved] {
        try await tx.query("SELECT \(columns) FROM column_mappings WHERE creditor_id = \(creditor) ORDER BY version DESC").map(decode)
    }

    static func insert(
        creditor: UUID, version: Int, _ mapping: ColumnMapping, by actor: Principal, in tx: PostgresTransaction
    ) async throws -> ColumnMappingBook.Saved {
        let row = try await tx.one(
            """
            INSERT INTO column_mappings (creditor_id, version, columns, created_by_kind, created_by)
            VALUES (\(creditor), \(version), \(try PostgresJSON(encoding: mapping.dictionary)), \(actor.kind.rawValue), \(actor.id))
            RETURNING \(columns)
            """)
        return try decode(row!)
    }
}
