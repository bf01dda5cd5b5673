import Core
import Foundation
import Onboarding
import Portfolio
import Postgres
import TestSupport
import Testing

/// Debtors, cases and claims read back as placement wrote them, through the one reader every
/// module uses, and only by whom row-level security lets see them.
@Suite("Portfolio reads")
struct PortfolioRowsTests {
    @Test func aPlacedCaseReadsBackWithItsDebtorAndClaims() async throws {
        try await TestDatabase.withPool { pool, database in
            // setup: a person with two invoices and a company with one
            let fixtures = try Fixtures(database)
            let creditor = try await fixtures.creditor("Lecture SAS")
            let other = try await fixtures.creditor("Autre SAS")
            try await fixtures.mandate(creditor: creditor)
            let admin = Principal(kind: .staff, id: nil, role: .admin)
            let service = PlacementService(pool: pool)
            let file = Array(
                """
                reference;facture;date_facture;echeance;montant;type;nom;prenom;nom_de_famille;siren;date_naissance;courriel;telephone;adresse;code_postal;ville;pays
                P-1;FA-1;01/12/2024;01/01/2025;10,50;particulier;Jeanne Martin;Jeanne;Martin;;12/03/1980;jeanne@example.fr;06 12 34 56 78;3 rue des Lilas;69003;Lyon;FR
                P-2;FA-2;;01/03/2025;20,00;particulier;Jeanne Martin;Jeanne;Martin;;12/03/1980;jeanne@example.fr;06 12 34 56 78;3 rue des Lilas;69003;Lyon;FR
                C-1;FA-3;;15/02/2025;100,00;entreprise;Acme SAS;;;732829320;;;;;;;FR

                """.utf8)
            let (placement, _) = try await service.stage(
                creditor: creditor, format: .csv, body: AsyncStream { c in c.yield(file); c.finish() }, idempotencyKey: nil, by: admin, requestID: nil)
            while try await service.processNext() != nil {}
            let ids = try await fixtures.admin.query(
                "SELECT c.id, d.kind FROM cases c JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id WHERE c.creditor_id = \(creditor) ORDER BY d.kind DESC"
            ).map { try $0.decode(UUID.self, "id") }
            #expect(ids.count == 2)
            let viewer = Principal(kind: .creditorUser, id: UUID(), role: .creditorViewer, creditorID: creditor)
            // act
            let read: (Case?, Debtor?, [Claim]) = try await pool.transaction(as: viewer, .init(readOnly: true)) { tx in
                guard let found = try await PortfolioRows.case(ids[0], in: tx) else { return (nil, nil, []) }
                let debtor = try await PortfolioRows.debtor(found.debtorId, creditor: creditor, in: tx)
                let claims = try await PortfolioRows.claims(ofCase: found.id, creditor: creditor, in: tx)
                return (found, debtor, claims)
            }
            let person = try #require(read.0)
            let (debtor, claims) = (read.1, read.2)
            // verify: every column as placed
            #expect(person.creditorId == creditor && person.status == .open && person.currency == "EUR")
            #expect(person.principalMinor == 3_050 && person.balanceMinor == 3_050 && person.oldestDueDate?.description == "2025-01-01")
            #expect(person.firstPlacementId == placement.id && person.assignedAgentId == nil && person.closedAt == nil)
            #expect(debtor?.kind == .person && debtor?.name == "Jeanne Martin" && debtor?.firstName == "Jeanne" && debtor?.lastName == "Martin")
            #expect(debtor?.birthDate?.description == "1980-03-12" && debtor?.emails == ["jeanne@example.fr"])
            #expect(debtor?.phones.count == 1 && debtor?.address.city == "Lyon" && debtor?.address.postalCode == "69003")
            #expect(debtor?.address.country == "FR" && debtor?.timeZone == "Europe/Paris" && debtor?.language == "fr")
            #expect(claims.map(\.creditorReference) == ["P-1", "P-2"])
            #expect(claims.map(\.principalMinor) == [1_050, 2_000] && claims.allSatisfy { $0.status == .open && $0.caseId == person.id })
            #expect(claims.first?.issueDate?.description == "2024-12-01" && claims.first?.invoiceNumber == "FA-1")
            let company: Debtor? = try await pool.transaction(as: viewer, .init(readOnly: true)) { tx in
                guard let found = try await PortfolioRows.case(ids[1], in: tx) else { return nil }
                return try await PortfolioRows.debtor(found.debtorId, creditor: creditor, in: tx)
            }
            #expect(company?.kind == .company && company?.siren == "732829320")
            // another creditor's principal sees nothing of it
            let stranger = Principal(kind: .creditorUser, id: UUID(), role: .creditorAdmin, creditorID: other)
            let seen: (Case?, [Claim]) = try await pool.transaction(as: stranger, .init(readOnly: true)) { tx in
                (try await PortfolioRows.case(ids[0], in: tx), try await PortfolioRows.claims(ofCase: ids[0], creditor: creditor, in: tx))
            }
            #expect(seen.0 == nil && seen.1.isEmpty)
        }
    }
}
