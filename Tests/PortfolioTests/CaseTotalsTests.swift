import Core
import Foundation
import Onboarding
import Portfolio
import Postgres
import TestSupport
import Testing

/// A case's amounts follow its open claims, whatever changed them (`CaseTotals`, the one place
/// that recomputes them).
@Suite("Case totals")
struct CaseTotalsTests {
    @Test func recallsLeaveTheCaseWithItsOpenClaimsTotals() async throws {
        try await TestDatabase.withPool { pool, database in
            let fixtures = try Fixtures(database)
            let creditor = try await fixtures.creditor("Totaux SAS")
            try await fixtures.mandate(creditor: creditor)
            let admin = Principal(kind: .staff, id: nil, role: .admin)
            let service = PlacementService(pool: pool)
            let file = Array(
                """
                reference;montant;echeance;nom;courriel
                T-1;10,00;01/01/2025;Martin;martin@example.fr
                T-2;20,00;01/06/2025;Martin;martin@example.fr
                T-3;5,00;01/09/2025;Martin;martin@example.fr

                """.utf8)
            _ = try await service.stage(
                creditor: creditor, format: .csv, body: AsyncStream { c in c.yield(file); c.finish() }, idempotencyKey: nil, by: admin, requestID: nil)
            while try await service.processNext() != nil {}
            func theCase() async throws -> (principal: Int, balance: Int, oldest: String?, status: String) {
                let row = try await fixtures.admin.one(
                    "SELECT principal_minor, balance_minor, oldest_due_date::text AS oldest, status FROM cases WHERE creditor_id = \(creditor)")!
                return (try row.decode(Int.self, "principal_minor"), try row.decode(Int.self, "balance_minor"),
                        try row.decode(String?.self, "oldest"), try row.decode(String.self, "status"))
            }
            var now = try await theCase()
            #expect(now.principal == 3_500 && now.balance == 3_500 && now.oldest == "2025-01-01" && now.status == "open")
            // The oldest claim recalled: the oldest due date moves on with the amounts.
            _ = try await service.recall(references: ["T-1"], creditor: creditor, by: admin, requestID: nil)
            now = try await theCase()
            #expect(now.principal == 2_500 && now.balance == 2_500 && now.oldest == "2025-06-01" && now.status == "open")
            // Every claim recalled: the case is recalled, with nothing left on it.
            _ = try await service.recall(references: ["T-2", "T-3"], creditor: creditor, by: admin, requestID: nil)
            now = try await theCase()
            #expect(now.principal == 0 && now.balance == 0 && now.oldest == nil && now.status == "recalled")
            try await fixtures.close()
        }
    }
}
