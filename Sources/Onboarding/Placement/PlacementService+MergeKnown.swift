import Core
import Crypto
import Foundation
import Logging
import Portfolio
import Postgres
import Synchronization

// The general path: rows that meet known claims or debtors.
extension PlacementService {
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
                  AND cs.status IN \(CaseStatus.liveList)
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
              AND m.case_status IN \(CaseStatus.liveList) AND m.old_hash <> m.row_hash
            """)
        }
        try await tx.execute(
            """
            INSERT INTO placement_outcomes (creditor_id, placement_id, row_number, creditor_reference, outcome, claim_id, case_id)
            SELECT \(c), \(p), row_number, creditor_reference,
                   CASE WHEN claim_id IS NULL THEN 'accepted'
                        WHEN claim_status <> 'open' OR case_status NOT IN \(CaseStatus.liveList) THEN 'closed'
                        WHEN old_hash = row_hash THEN 'unchanged'
                        ELSE 'updated' END,
                   coalesce(claim_id, new_claim_id), coalesce(existing_case_id, case_id)
            FROM m
            """)
        // Totals of the cases that existed before and got new or changed claims.
        if existingClaims > 0 || knownDebtors > 0 {
            try await CaseTotals.recompute(
                creditor: c,
                cases: """
                    SELECT case_id FROM m WHERE claim_id IS NULL AND case_id NOT IN (SELECT id FROM nc)
                    UNION SELECT existing_case_id FROM m WHERE claim_id IS NOT NULL AND old_hash <> row_hash
                    """,
                in: tx)
        }
        let outcome = try await tx.one(
            """
            SELECT count(*) FILTER (WHERE outcome = 'accepted') AS accepted, count(*) FILTER (WHERE outcome = 'updated') AS updated,
                   count(*) FILTER (WHERE outcome IN ('unchanged', 'closed')) AS unchanged
            FROM placement_outcomes WHERE creditor_id = \(c) AND placement_id = \(p)
            """)!
        return (try outcome.decode(Int.self, "accepted"), try outcome.decode(Int.self, "updated"), try outcome.decode(Int.self, "unchanged"))
    }
}
