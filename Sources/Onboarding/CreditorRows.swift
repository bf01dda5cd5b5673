import Core
import Foundation
import Postgres

/// The `creditors` table: every statement on it, each in the caller's transaction (the use cases
/// of `CreditorDirectory`, and any other module's that needs a creditor inside its own).
public enum CreditorRows {
    static let columns: SQL = """
        id, legal_name, siren, siret, vat_number, address_line1, address_line2, postal_code, city, country, contact_name, contact_email,
        contact_phone, jurisdiction, default_currency, remittance_iban, status, created_at, updated_at
        """

    static func decode(_ row: PostgresRow) throws -> CreditorDirectory.Creditor {
        CreditorDirectory.Creditor(
            id: try row.decode(UUID.self, "id"), legalName: try row.decode(String.self, "legal_name"),
            siren: try row.decode(String?.self, "siren"), siret: try row.decode(String?.self, "siret"),
            vatNumber: try row.decode(String?.self, "vat_number"),
            address: CreditorDirectory.Address(
                line1: try row.decode(String?.self, "address_line1"), line2: try row.decode(String?.self, "address_line2"),
                postalCode: try row.decode(String?.self, "postal_code"), city: try row.decode(String?.self, "city"),
                country: try row.decode(String.self, "country")),
            contact: CreditorDirectory.Contact(
                name: try row.decode(String?.self, "contact_name"), email: try row.decode(String?.self, "contact_email"),
                phone: try row.decode(String?.self, "contact_phone")),
            jurisdiction: try row.decode(String.self, "jurisdiction"), defaultCurrency: try row.decode(String.self, "default_currency"),
            remittanceIban: try row.decode(String?.self, "remittance_iban"),
            status: CreditorDirectory.Status(rawValue: try row.decode(String.self, "status")) ?? .suspended,
            createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }

    static func insert(_ c: CreditorDirectory.Checked, id: UUID, in tx: PostgresTransaction) async throws -> CreditorDirectory.Creditor {
        let row = try await tx.one(
            """
            INSERT INTO creditors (id, legal_name, siren, siret, vat_number, address_line1, address_line2, postal_code, city, country,
                                   contact_name, contact_email, contact_phone, jurisdiction, default_currency, remittance_iban)
            VALUES (\(id), \(c.legalName!), \(c.siren), \(c.siret), \(c.vatNumber), \(c.address?.line1), \(c.address?.line2),
                    \(c.address?.postalCode), \(c.address?.city), \(c.address?.country ?? "FR"), \(c.contact?.name), \(c.contact?.email),
                    \(c.contact?.phone), \(c.jurisdiction ?? "FR"), \(c.defaultCurrency ?? "EUR"), \(c.remittanceIban))
            RETURNING \(columns)
            """)
        return try decode(row!)
    }

    /// One creditor, or nil when missing or out of the caller's reach (row-level security);
    /// `forUpdate` locks its row until the transaction ends.
    public static func find(_ id: UUID, forUpdate: Bool = false, in tx: PostgresTransaction) async throws -> CreditorDirectory.Creditor? {
        let lock: SQL = forUpdate ? "FOR UPDATE" : ""
        return try await tx.one("SELECT \(columns) FROM creditors WHERE id = \(id) \(lock)").map(decode)
    }

    /// 404 unless the creditor exists and is within the caller's reach (row-level security).
    public static func requireVisible(_ creditor: UUID, in tx: PostgresTransaction) async throws {
        guard try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") != nil else { throw Problem.notFound("creditor") }
    }

    /// The creditors the caller can see, by ID, after `after`.
    static func page(after: UUID?, limit: Int, in tx: PostgresTransaction) async throws -> [CreditorDirectory.Creditor] {
        let page: SQL = after.map { "WHERE id > \($0)" } ?? ""
        return try await tx.query("SELECT \(columns) FROM creditors \(page) ORDER BY id LIMIT \(limit)").map(decode)
    }

    /// Sets what `checked` holds and the status, keeping the rest; nil when not found.
    static func update(
        _ id: UUID, with checked: CreditorDirectory.Checked, status: CreditorDirectory.Status?, in tx: PostgresTransaction
    ) async throws -> CreditorDirectory.Creditor? {
        let row = try await tx.one(
            """
            UPDATE creditors SET
                legal_name = coalesce(\(checked.legalName), legal_name), siren = coalesce(\(checked.siren), siren), siret = coalesce(\(checked.siret), siret),
                vat_number = coalesce(\(checked.vatNumber), vat_number), address_line1 = coalesce(\(checked.address?.line1), address_line1),
                address_line2 = coalesce(\(checked.address?.line2), address_line2), postal_code = coalesce(\(checked.address?.postalCode), postal_code),
                city = coalesce(\(checked.address?.city), city), country = coalesce(\(checked.address?.country), country),
                contact_name = coalesce(\(checked.contact?.name), contact_name), contact_email = coalesce(\(checked.contact?.email), contact_email),
                contact_phone = coalesce(\(checked.contact?.phone), contact_phone), jurisdiction = coalesce(\(checked.jurisdiction), jurisdiction),
                default_currency = coalesce(\(checked.defaultCurrency), default_currency),
                remittance_iban = coalesce(\(checked.remittanceIban), remittance_iban),
                status = coalesce(\(status?.rawValue), status), updated_at = now()
            WHERE id = \(id) RETURNING \(columns)
            """)
        return try row.map(decode)
    }
}
