import Core
import Foundation
import Postgres

/// Reads of debtors, cases and claims, each in the caller's transaction (row-level security
/// decides what the caller sees: a missing row and another creditor's look alike). Placement
/// writes them set-based (`Onboarding/Placement`); every module that reads them uses these.
public enum PortfolioRows {
    static let debtorColumns: SQL = """
        id, creditor_id, kind, name, first_name, last_name, siren, birth_date, emails, phones, address_line1, address_line2,
        postal_code, city, country, time_zone, language, created_at, updated_at
        """

    static let caseColumns: SQL = """
        id, creditor_id, debtor_id, currency, status, principal_minor, balance_minor, oldest_due_date, first_placement_id, placed_at,
        closed_at, close_reason, assigned_agent_id, stage, assigned_at, unassigned_reason, created_at, updated_at
        """

    static let claimColumns: SQL = """
        id, creditor_id, case_id, debtor_id, creditor_reference, invoice_number, issue_date, due_date, principal_minor, balance_minor,
        currency, status, first_placement_id, last_placement_id, recalled_at, created_at, updated_at
        """

    /// One debtor of the creditor, or nil.
    public static func debtor(_ id: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> Debtor? {
        try await tx.one("SELECT \(debtorColumns) FROM debtors WHERE creditor_id = \(creditor) AND id = \(id)").map(decodeDebtor)
    }

    /// One case, or nil; `forUpdate` locks it until the transaction ends (what changes a case
    /// takes this lock first, so two writers never interleave).
    public static func `case`(_ id: UUID, forUpdate: Bool = false, in tx: PostgresTransaction) async throws -> Case? {
        let lock: SQL = forUpdate ? "FOR UPDATE" : ""
        return try await tx.one("SELECT \(caseColumns) FROM cases WHERE id = \(id) \(lock)").map(decodeCase)
    }

    /// A case's claims, the oldest due first.
    public static func claims(ofCase id: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> [Claim] {
        try await tx.query(
            "SELECT \(claimColumns) FROM claims WHERE creditor_id = \(creditor) AND case_id = \(id) ORDER BY due_date, creditor_reference"
        ).map(decodeClaim)
    }

    static func decodeDebtor(_ row: PostgresRow) throws -> Debtor {
        Debtor(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"),
            kind: try row.decode(Debtor.Kind.self, "kind"), name: try row.decode(String.self, "name"),
            firstName: try row.decode(String?.self, "first_name"), lastName: try row.decode(String?.self, "last_name"),
            siren: try row.decode(String?.self, "siren"), birthDate: try row.decode(CalendarDate?.self, "birth_date"),
            emails: try row.decode([String].self, "emails"), phones: try row.decode([String].self, "phones"),
            address: Debtor.Address(
                line1: try row.decode(String?.self, "address_line1"), line2: try row.decode(String?.self, "address_line2"),
                postalCode: try row.decode(String?.self, "postal_code"), city: try row.decode(String?.self, "city"),
                country: try row.decode(String.self, "country")),
            timeZone: try row.decode(String.self, "time_zone"), language: try row.decode(String.self, "language"),
            createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }

    static func decodeCase(_ row: PostgresRow) throws -> Case {
        Case(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"),
            debtorId: try row.decode(UUID.self, "debtor_id"), currency: try row.decode(String.self, "currency"), status: try row.decode(CaseStatus.self, "status"),
            principalMinor: try row.decode(Int.self, "principal_minor"), balanceMinor: try row.decode(Int.self, "balance_minor"),
            oldestDueDate: try row.decode(CalendarDate?.self, "oldest_due_date"),
            firstPlacementId: try row.decode(UUID.self, "first_placement_id"), placedAt: try row.decode(Date.self, "placed_at"),
            closedAt: try row.decode(Date?.self, "closed_at"), closeReason: try row.decode(String?.self, "close_reason"),
            assignedAgentId: try row.decode(UUID?.self, "assigned_agent_id"), stage: try row.decode(String.self, "stage"),
            assignedAt: try row.decode(Date?.self, "assigned_at"), unassignedReason: try row.decode(String?.self, "unassigned_reason"),
            createdAt: try row.decode(Date.self, "created_at"),
            updatedAt: try row.decode(Date.self, "updated_at"))
    }

    static func decodeClaim(_ row: PostgresRow) throws -> Claim {
        Claim(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"),
            caseId: try row.decode(UUID.self, "case_id"), debtorId: try row.decode(UUID.self, "debtor_id"),
            creditorReference: try row.decode(String.self, "creditor_reference"), invoiceNumber: try row.decode(String.self, "invoice_number"),
            issueDate: try row.decode(CalendarDate?.self, "issue_date"), dueDate: try row.decode(CalendarDate.self, "due_date"),
            principalMinor: try row.decode(Int.self, "principal_minor"), balanceMinor: try row.decode(Int.self, "balance_minor"),
            currency: try row.decode(String.self, "currency"), status: try row.decode(Claim.Status.self, "status"),
            firstPlacementId: try row.decode(UUID.self, "first_placement_id"), lastPlacementId: try row.decode(UUID.self, "last_placement_id"),
            recalledAt: try row.decode(Date?.self, "recalled_at"), createdAt: try row.decode(Date.self, "created_at"),
            updatedAt: try row.decode(Date.self, "updated_at"))
    }
}

extension PortfolioRows {
    /// Sets a live case's status (open, paused, disputed) or closes it with a reason, in the
    /// caller's transaction, after the caller took the case's lock. The work queue's trigger
    /// moves the case's item with it.
    public static func setStatus(_ id: UUID, creditor: UUID, to status: CaseStatus, closeReason: String? = nil, in tx: PostgresTransaction) async throws {
        let closing = status == .closed || status == .recalled
        try await tx.execute(
            """
            UPDATE cases SET status = \(status.rawValue), closed_at = CASE WHEN \(closing) THEN coalesce(closed_at, now()) END,
                close_reason = CASE WHEN \(closing) THEN \(closeReason) END, updated_at = now()
            WHERE creditor_id = \(creditor) AND id = \(id) AND status IS DISTINCT FROM \(status.rawValue)
            """)
    }
}
