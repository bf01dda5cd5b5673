import Core
import Foundation
import Postgres

/// Statements on `creditors` that other use cases run in their own transaction. (The rest of
/// the creditors' statements are still in `CreditorDirectory`; they move here as it is split
/// into repository and use cases like `MandateBook`.)
public enum CreditorRows {
    /// 404 unless the creditor exists and is within the caller's reach (row-level security).
    public static func requireVisible(_ creditor: UUID, in tx: PostgresTransaction) async throws {
        guard try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") != nil else { throw Problem.notFound("creditor") }
    }
}
