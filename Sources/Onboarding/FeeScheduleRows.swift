import Core
import Foundation
import Postgres

/// The `fee_schedules` table: every statement on it, each in the caller's transaction (the use
/// cases of `FeeScheduleBook`; the commission of a payment, in the payment's transaction).
public enum FeeScheduleRows {
    static let columns: SQL = "id, creditor_id, effective_from, currency, basis, tiers, minimum_fee_minor, maximum_fee_minor, created_at"

    static func decode(_ row: PostgresRow) throws -> FeeScheduleBook.Schedule {
        FeeScheduleBook.Schedule(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"),
            effectiveFrom: try row.decode(CalendarDate.self, "effective_from"), currency: try row.decode(String.self, "currency"),
            basis: FeeScheduleBook.Basis(rawValue: try row.decode(String.self, "basis")) ?? .flat,
            tiers: try row.decode(PostgresJSON.self, "tiers").decode([FeeScheduleBook.Tier].self),
            minimumFeeMinor: try row.decode(Int?.self, "minimum_fee_minor"), maximumFeeMinor: try row.decode(Int?.self, "maximum_fee_minor"),
            createdAt: try row.decode(Date.self, "created_at"))
    }

    static func insert(
        _ input: FeeScheduleBook.Input, currency: String, creditor: UUID, by actor: Principal, in tx: PostgresTransaction
    ) async throws -> FeeScheduleBook.Schedule {
        let row = try await tx.one(
            """
            INSERT INTO fee_schedules (creditor_id, id, effective_from, currency, basis, tiers, minimum_fee_minor, maximum_fee_minor, created_by)
            VALUES (\(creditor), \(UUID()), \(input.effectiveFrom), \(currency), \(input.basis.rawValue), \(try PostgresJSON(encoding: input.tiers)),
                    \(input.minimumFeeMinor), \(input.maximumFeeMinor), \(actor.id))
            RETURNING \(columns)
            """)
        return try decode(row!)
    }

    /// A creditor's versions, the latest first.
    public static func all(creditor: UUID, in tx: PostgresTransaction) async throws -> [FeeScheduleBook.Schedule] {
        try await tx.query("SELECT \(columns) FROM fee_schedules WHERE creditor_id = \(creditor) ORDER BY effective_from DESC").map(decode)
    }

    /// The version in force on a day, if any.
    public static func inForce(creditor: UUID, on day: CalendarDate, in tx: PostgresTransaction) async throws -> FeeScheduleBook.Schedule? {
        try await tx.one(
            "SELECT \(columns) FROM fee_schedules WHERE creditor_id = \(creditor) AND effective_from <= \(day) ORDER BY effective_from DESC LIMIT 1"
        ).map(decode)
    }
}
