import Core
import Foundation
import Postgres

/// The `mandates` table: every statement on it, each in the caller's transaction (the use cases
/// of `MandateBook`, and any other module's that needs a mandate inside its own transaction).
public enum MandateRows {
    static let columns: SQL = """
        id, creditor_id, reference, signed_on, valid_from, valid_until, power_to_receive_funds, fee_basis, remittance_basis,
        remittance_frequency, remittance_days_after_encashment, insurance_reference, status, created_at, terminated_at,
        (status = 'active' AND valid_from <= current_date AND (valid_until IS NULL OR valid_until >= current_date)) AS active
        """

    static func decode(_ row: PostgresRow) throws -> MandateBook.Mandate {
        MandateBook.Mandate(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"),
            reference: try row.decode(String.self, "reference"), signedOn: try row.decode(CalendarDate.self, "signed_on"),
            validFrom: try row.decode(CalendarDate.self, "valid_from"), validUntil: try row.decode(CalendarDate?.self, "valid_until"),
            powerToReceiveFunds: try row.decode(Bool.self, "power_to_receive_funds"), feeBasis: try row.decode(String.self, "fee_basis"),
            remittanceBasis: MandateBook.RemittanceBasis(rawValue: try row.decode(String.self, "remittance_basis")) ?? .net,
            remittanceFrequency: MandateBook.RemittanceFrequency(rawValue: try row.decode(String.self, "remittance_frequency")) ?? .monthly,
            remittanceDaysAfterEncashment: try row.decode(Int.self, "remittance_days_after_encashment"),
            insuranceReference: try row.decode(String.self, "insurance_reference"), status: try row.decode(String.self, "status"),
            active: try row.decode(Bool.self, "active"), createdAt: try row.decode(Date.self, "created_at"),
            terminatedAt: try row.decode(Date?.self, "terminated_at"))
    }

    static func insert(_ input: MandateBook.Input, creditor: UUID, by actor: Principal, in tx: PostgresTransaction) async throws -> MandateBook.Mandate {
        let row = try await tx.one(
            """
            INSERT INTO mandates (creditor_id, id, reference, signed_on, valid_from, valid_until, power_to_receive_funds, fee_basis,
                                  remittance_basis, remittance_frequency, remittance_days_after_encashment, insurance_reference, created_by)
            VALUES (\(creditor), \(UUID()), \(input.reference.trimmingCharacters(in: .whitespaces)), \(input.signedOn), \(input.validFrom),
                    \(input.validUntil), \(input.powerToReceiveFunds), \(input.feeBasis), \(input.remittanceBasis.rawValue),
                    \(input.remittanceFrequency.rawValue), \(input.remittanceDaysAfterEncashment), \(input.insuranceReference), \(actor.id))
            RETURNING \(columns)
            """)
        return try decode(row!)
    }

    /// A creditor's mandates, the latest first.
    public static func all(creditor: UUID, in tx: PostgresTransaction) async throws -> [MandateBook.Mandate] {
        try await tx.query("SELECT \(columns) FROM mandates WHERE creditor_id = \(creditor) ORDER BY valid_from DESC, created_at DESC")
            .map(decode)
    }

    /// Ends a mandate now (a second termination keeps the first time); nil when not found.
    static func terminate(_ id: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> MandateBook.Mandate? {
        try await tx.one(
            """
            UPDATE mandates SET status = 'terminated', terminated_at = coalesce(terminated_at, now())
            WHERE creditor_id = \(creditor) AND id = \(id) RETURNING \(columns)
            """).map(decode)
    }

    /// Whether the creditor has a mandate in force today.
    public static func hasActive(creditor: UUID, in tx: PostgresTransaction) async throws -> Bool {
        try await tx.one(
            """
            SELECT 1 AS one FROM mandates WHERE creditor_id = \(creditor) AND status = 'active'
              AND valid_from <= current_date AND (valid_until IS NULL OR valid_until >= current_date) LIMIT 1
            """) != nil
    }
}
