import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

// The all-new path: rows that meet nothing already known.
extension PlacementService {
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
}
