import App
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Onboarding
import Postgres
import TestSupport
import Testing

/// A French accounting export as it really comes: BOM, `;`, CRLF, decimal commas with
/// thousands spaces, dd/mm/yyyy, quoted fields holding `;` and line breaks, French headers.
enum FrenchFiles {
    static let header = "Référence;N° Facture;Date facture;Échéance;Montant TTC;Raison sociale;Prénom;Nom de famille;SIREN;Courriel;Téléphone;Adresse;Code postal;Ville"

    static func csv(_ rows: [String], bom: Bool = true) -> [UInt8] {
        (bom ? [0xEF, 0xBB, 0xBF] : []) + Array(([header] + rows).joined(separator: "\r\n").utf8) + [0x0D, 0x0A]
    }

    static let good: [String] = [
        "F-001;FA-2025-001;01/09/2025;01/10/2025;1 234,56;Boulangerie Martin SARL;;;732 829 320;compta@martin.fr;01 42 00 00 01;\"12 rue des Lilas; bât. B\";75011;Paris",
        "F-002;FA-2025-002;05/09/2025;05/10/2025;99,90;;Jeanne;Dupont;;jeanne.dupont@example.fr;06 12 34 56 78;\"3 allée des Roses\nEscalier 2\";69003;Lyon",
        "F-003;FA-2025-003;2025-09-10;2025-10-10;2.500,00;;Jeanne;Dupont;;Jeanne.Dupont@example.fr;;3 allée des Roses;69003;Lyon",
    ]

    static let bad: [String] = [
        "F-004;FA-4;01/09/2025;01/10/2025;douze euros;Société X;;;;;;;;",  // amount
        "F-005;FA-5;01/09/2025;01/10/2099;10,00;Société Y;;;;;;;;",  // due in the future
        "F-006;FA-6;01/09/2025;01/10/2025;10,00;Société Z;;;123456789;;;;;",  // siren checksum
        ";;01/09/2025;01/10/2025;10,00;Société W;;;;;;;;",  // no reference, no invoice number to stand for it
        "F-008;FA-8;01/09/2025;01/10/2025;10,00;Société V;;;;pas-un-email;;;;",  // email
        "F-001;FA-9;01/09/2025;01/10/2025;10,00;Doublon SA;;;;;;;;",  // repeats F-001
        "F-011;FA-11;01/09/2025;01/10/2025;10,00;Société T;;;;;;;;;en trop",  // a field past the header's
    ]

    /// Good rows however their line ends: empty fields past the header's are nothing.
    static let trailingEmpty = "F-012;FA-12;01/09/2025;01/10/2025;10,00;Société S;;;;;;;;;;"
}

@Suite("Placements")
struct PlacementTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    struct Setup: Sendable {
        let creditor: UUID
        let token: String
        let placements: PlacementService
    }

    func setup(_ client: some TestClientProtocol, _ fixtures: Fixtures, _ pool: PostgresPool, mandate: Bool = true) async throws -> Setup {
        let creditor = try await fixtures.creditor()
        if mandate { try await fixtures.mandate(creditor: creditor) }
        let token = try await client.login(try await fixtures.user(.creditorAdmin, creditor: creditor))
        return Setup(creditor: creditor, token: token, placements: PlacementService(pool: pool))
    }

    func upload(_ client: some TestClientProtocol, _ s: Setup, _ bytes: [UInt8], type: String = "text/csv", key: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [.authorization: "Bearer \(s.token)", .contentType: type]
        if let key { headers[Self.key] = key }
        return try await client.execute(uri: "/v1/creditors/\(s.creditor)/placements", method: .post, headers: headers, body: ByteBuffer(bytes: bytes)) {
            Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body))
        }
    }

    /// Uploads, merges, returns the completed placement JSON.
    func place(_ client: some TestClientProtocol, _ s: Setup, _ bytes: [UInt8], type: String = "text/csv") async throws -> [String: Any] {
        let staged = try await upload(client, s, bytes, type: type)
        #expect(staged.status == 202, "\(staged.text)")
        try await s.placements.processNext()
        let id = try #require(staged.json["id"] as? String)
        return try await client.call(.get, "/v1/placements/\(id)", bearer: s.token).json
    }

    @Test func aMessyFrenchFileIsReadRowByRow() async throws {
        try await withRouter { client, fixtures, _, pool in
            // setup
            let s = try await setup(client, fixtures, pool)
            // act
            let done = try await place(client, s, FrenchFiles.csv(FrenchFiles.good + FrenchFiles.bad + [FrenchFiles.trailingEmpty]))
            // verify: counts
            #expect(done["status"] as? String == "completed")
            #expect(done["received"] as? Int == 11)
            #expect(done["accepted"] as? Int == 4)
            #expect(done["rejected"] as? Int == 7)
            // the rejects file names row and column, never the value
            let id = done["id"] as! String
            let rejects = try await client.call(.get, "/v1/placements/\(id)/rejects", bearer: s.token)
            #expect(rejects.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = rejects.text.replacingOccurrences(of: "\u{FEFF}", with: "").split(separator: "\r\n").map(String.init)
            #expect(lines.first == "row;column;reason")
            let byRow = Dictionary(uniqueKeysWithValues: lines.dropFirst().map { line -> (Int, String) in
                let parts = line.split(separator: ";", maxSplits: 2)
                return (Int(parts[0])!, String(parts[1]))
            })
            // Data rows start at row 2 (the header is row 1); F-002 spans two physical lines.
            #expect(byRow == [5: "amount", 6: "due_date", 7: "siren", 8: "creditor_reference", 9: "email", 10: "creditor_reference", 11: "row"])
            #expect(!rejects.text.contains("douze"))
            #expect(!rejects.text.contains("pas-un-email"))
            // values were read as written
            let claims = try await fixtures.admin.query(
                "SELECT creditor_reference, principal_minor, due_date FROM claims WHERE creditor_id = \(s.creditor) ORDER BY creditor_reference")
            #expect(try claims.map { try $0.decode(Int.self, "principal_minor") } == [123_456, 9_990, 250_000, 1_000])
            #expect(try claims[0].decode(CalendarDate.self, "due_date").description == "2025-10-01")
            let address = try await fixtures.admin.one("SELECT address_line1 FROM debtors WHERE creditor_id = \(s.creditor) AND siren = '732829320'")!
            #expect(try address.decode(String.self, "address_line1") == "12 rue des Lilas; bât. B")
        }
    }

    @Test func claimsOfOneDebtorFormOneCase() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            _ = try await place(client, s, FrenchFiles.csv(FrenchFiles.good))
            // Jeanne Dupont's two invoices (same email, different case) are one debtor and one case.
            let row = try await fixtures.admin.one(
                """
                SELECT (SELECT count(*) FROM debtors WHERE creditor_id = \(s.creditor))::int8 AS debtors,
                       (SELECT count(*) FROM cases WHERE creditor_id = \(s.creditor))::int8 AS cases,
                       (SELECT max(principal_minor) FROM cases WHERE creditor_id = \(s.creditor))::int8 AS biggest
                """)!
            #expect(try row.decode(Int.self, "debtors") == 2)
            #expect(try row.decode(Int.self, "cases") == 2)
            #expect(try row.decode(Int.self, "biggest") == 259_990)
            // A later placement for the same debtor (by phone) joins the same case, and a new
            // email given for her is added to what is known.
            let later = FrenchFiles.csv(["F-010;FA-10;01/09/2025;01/11/2025;10,00;;Jeanne;Dupont;;j.dupont@travail.fr;+33612345678;;;"])
            _ = try await place(client, s, later)
            let cases = try await fixtures.admin.one(
                "SELECT count(*)::int8 AS n, max(principal_minor)::int8 AS biggest, max(balance_minor)::int8 AS owed FROM cases WHERE creditor_id = \(s.creditor)")!
            #expect(try cases.decode(Int.self, "n") == 2)
            #expect(try cases.decode(Int.self, "biggest") == 259_990 + 1_000)
            #expect(try cases.decode(Int.self, "owed") == 259_990 + 1_000)
            let emails = try await fixtures.admin.one(
                "SELECT emails FROM debtors WHERE creditor_id = \(s.creditor) AND 'jeanne.dupont@example.fr' = ANY(emails)")!
            #expect(try emails.decode([String].self, "emails") == ["j.dupont@travail.fr", "jeanne.dupont@example.fr"])
            // French headers as spreadsheets write them: `Nom` next to `Prénom` is the surname.
            let spreadsheet = Array("N° dossier;Montant;Date d'échéance;Prénom;Nom\nS-1;5,00;01/02/2025;Paul;Girard\n".utf8)
            let placed = try await place(client, s, spreadsheet)
            #expect(placed["accepted"] as? Int == 1, "\(placed)")
            let paul = try await fixtures.admin.one("SELECT name, last_name FROM debtors WHERE creditor_id = \(s.creditor) AND first_name = 'Paul'")!
            #expect(try paul.decode(String.self, "name") == "Paul Girard")
            #expect(try paul.decode(String.self, "last_name") == "Girard")
        }
    }

    @Test func placingAgainDoesNotDuplicateAndUpdatesOnlyOpenClaims() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            let file = FrenchFiles.csv(FrenchFiles.good)
            _ = try await place(client, s, file)
            // The agency removes an email a debtor asked not to be written to.
            _ = try await fixtures.admin.query(
                "UPDATE debtors SET emails = array_remove(emails, 'compta@martin.fr') WHERE creditor_id = \(s.creditor) AND 'compta@martin.fr' = ANY(emails)")
            // the same file again: nothing new, and the removed email stays removed
            let again = try await place(client, s, file)
            #expect(again["accepted"] as? Int == 0)
            #expect(again["unchanged"] as? Int == 3)
            let emails = try await fixtures.admin.one(
                "SELECT count(*)::int8 AS n FROM debtors WHERE creditor_id = \(s.creditor) AND 'compta@martin.fr' = ANY(emails)")!
            #expect(try emails.decode(Int.self, "n") == 0)
            // one amount changed, one claim recalled in between
            let recall = try await client.call(.post, "/v1/creditors/\(s.creditor)/recalls", bearer: s.token, json: ["references": ["F-003", "NOPE"]])
            #expect(recall.status == 200)
            #expect(recall.json["recalled"] as? [String] == ["F-003"])
            #expect(recall.json["unknown"] as? [String] == ["NOPE"])
            var changed = FrenchFiles.good
            changed[0] = changed[0].replacingOccurrences(of: "1 234,56", with: "1 000,00")
            changed[2] = changed[2].replacingOccurrences(of: "2.500,00", with: "3.000,00")
            let third = try await place(client, s, FrenchFiles.csv(changed))
            #expect(third["updated"] as? Int == 1)
            #expect(third["unchanged"] as? Int == 2)  // F-002 as is, F-003 recalled stays recalled
            let amounts = try await fixtures.admin.query(
                "SELECT creditor_reference, principal_minor, status FROM claims WHERE creditor_id = \(s.creditor) ORDER BY creditor_reference")
            #expect(try amounts.map { try $0.decode(Int.self, "principal_minor") } == [100_000, 9_990, 250_000])
            #expect(try amounts.map { try $0.decode(String.self, "status") } == ["open", "open", "recalled"])
            let count = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM claims WHERE creditor_id = \(s.creditor)")!
            #expect(try count.decode(Int.self, "n") == 3)
            // the acknowledgement says what became of each row
            let ack = try await client.call(.get, "/v1/placements/\(third["id"] as! String)/acknowledgement?format=json", bearer: s.token)
            let outcomes = (try JSONSerialization.jsonObject(with: Data(ack.text.utf8)) as? [[String: Any]])?.map { $0["outcome"] as? String }
            #expect(outcomes == ["updated", "unchanged", "closed"])
        }
    }

    /// A batch that meets no placed claim and no known debtor moves by plain inserts, with the
    /// ids minted at upload: time-ordered claims, one debtor per identifier group, one case per
    /// debtor and currency. The result is the same as matching row by row would give.
    @Test func aBatchOfNewDebtorsMovesByPlainInserts() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            _ = try await place(client, s, FrenchFiles.csv(FrenchFiles.good))
            let batch = Array(
                """
                Référence;Montant;Échéance;Nom;Courriel;Téléphone;Devise
                B-1;10,00;01/02/2025;Alpha SARL;alpha@example.fr;;EUR
                B-2;20,00;01/01/2025;Alpha SARL;alpha@example.fr;01 42 00 00 09;EUR
                B-3;30,00;01/03/2025;Alpha SARL;alpha@example.fr;;USD
                B-4;40,00;01/03/2025;Beta;beta@example.fr;;
                B-1;50,00;01/03/2025;Gamma;gamma@example.fr;;

                """.utf8)
            let done = try await place(client, s, batch)
            #expect(done["accepted"] as? Int == 4, "\(done)")
            #expect(done["rejected"] as? Int == 1)
            let claims = try await fixtures.admin.query(
                """
                SELECT creditor_reference, id::text AS id, debtor_id::text AS debtor, case_id::text AS case FROM claims
                WHERE creditor_id = \(s.creditor) AND creditor_reference LIKE 'B-%' ORDER BY id
                """)
            // Claim ids are version 7 and follow the rows; debtor and case ids version 8.
            #expect(try claims.map { try $0.decode(String.self, "creditor_reference") } == ["B-1", "B-2", "B-3", "B-4"])
            #expect(try claims.allSatisfy { Array(try $0.decode(String.self, "id"))[14] == "7" })
            #expect(try claims.allSatisfy { Array(try $0.decode(String.self, "debtor"))[14] == "8" })
            let debtors = try claims.map { try $0.decode(String.self, "debtor") }
            let cases = try claims.map { try $0.decode(String.self, "case") }
            #expect(debtors[0] == debtors[1] && debtors[1] == debtors[2] && debtors[3] != debtors[0])
            #expect(cases[0] == cases[1] && cases[2] != cases[0] && cases[3] != cases[0])
            let alpha = try await fixtures.admin.query(
                """
                SELECT cs.currency, cs.principal_minor, cs.oldest_due_date, d.phones FROM cases cs JOIN debtors d ON d.creditor_id = cs.creditor_id AND d.id = cs.debtor_id
                WHERE cs.creditor_id = \(s.creditor) AND d.name = 'Alpha SARL' ORDER BY cs.currency
                """)
            #expect(try alpha.map { try $0.decode(String.self, "currency") } == ["EUR", "USD"])
            #expect(try alpha.map { try $0.decode(Int.self, "principal_minor") } == [3_000, 3_000])
            #expect(try alpha[0].decode(CalendarDate.self, "oldest_due_date").description == "2025-01-01")
            #expect(try alpha[0].decode([String].self, "phones") == ["+33142000009"])
            let keys = try await fixtures.admin.one(
                "SELECT count(*)::int8 AS n FROM debtor_keys WHERE creditor_id = \(s.creditor) AND debtor_id = \(UUID(uuidString: debtors[0])!)")!
            #expect(try keys.decode(Int.self, "n") == 2)
            // The staged rows are gone; the acknowledgement lists every accepted row.
            let staged = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM placement_rows WHERE creditor_id = \(s.creditor)")!
            #expect(try staged.decode(Int.self, "n") == 0)
            // Staged rows a crash left behind after their merge are swept when a worker starts;
            // the rows of a placement still waiting for its merge are not.
            let doneID = try #require(UUID(uuidString: done["id"] as! String))
            _ = try await fixtures.admin.query(
                "INSERT INTO placement_rows (creditor_id, placement_id, row_number, reject_field, reject_reason) VALUES (\(s.creditor), \(doneID), 99, 'row', 'left behind')")
            #expect(try await upload(client, s, FrenchFiles.csv(FrenchFiles.good)).status == 202)
            #expect(try await s.placements.sweepStagedRows() == 1)
            let waiting = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM placement_rows WHERE creditor_id = \(s.creditor)")!
            #expect(try waiting.decode(Int.self, "n") == 3)
            #expect(try await s.placements.processNext() != nil)
            let ack = try await client.call(.get, "/v1/placements/\(done["id"] as! String)/acknowledgement?format=json", bearer: s.token)
            let outcomes = (try JSONSerialization.jsonObject(with: Data(ack.text.utf8)) as? [[String: Any]])?.map { $0["outcome"] as? String }
            #expect(outcomes == ["accepted", "accepted", "accepted", "accepted"])
            // Deleting a debtor (erasure) takes its identifiers with it; a creditor is never deleted.
            let alphaID = UUID(uuidString: debtors[0])!
            _ = try await fixtures.admin.query("DELETE FROM claims WHERE creditor_id = \(s.creditor) AND debtor_id = \(alphaID)")
            _ = try await fixtures.admin.query("DELETE FROM cases WHERE creditor_id = \(s.creditor) AND debtor_id = \(alphaID)")
            _ = try await fixtures.admin.query("DELETE FROM debtors WHERE creditor_id = \(s.creditor) AND id = \(alphaID)")
            let left = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM debtor_keys WHERE creditor_id = \(s.creditor) AND debtor_id = \(alphaID)")!
            #expect(try left.decode(Int.self, "n") == 0)
            let others = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM debtor_keys WHERE creditor_id = \(s.creditor)")!
            #expect(try others.decode(Int.self, "n") > 0)
            await #expect(throws: PostgresError.self) { _ = try await fixtures.admin.query("DELETE FROM creditors WHERE id = \(s.creditor)") }
            // Debtors and cases name an existing creditor, whoever writes them (Migrations/0007).
            let nobody = UUID()
            let orphan = await #expect(throws: PostgresError.self) {
                _ = try await fixtures.admin.query(
                    "INSERT INTO debtors (creditor_id, id, kind, name, country, time_zone, language) VALUES (\(nobody), gen_random_uuid(), 'person', 'X', 'FR', 'Europe/Paris', 'fr')")
            }
            #expect(orphan?.code == .foreignKeyViolation)
            let lone = UUID()  // a debtor without cases: only the creditor check can refuse moving it
            _ = try await fixtures.admin.query(
                "INSERT INTO debtors (creditor_id, id, kind, name, country, time_zone, language) VALUES (\(s.creditor), \(lone), 'person', 'Y', 'FR', 'Europe/Paris', 'fr')")
            let moved = await #expect(throws: PostgresError.self) {
                _ = try await fixtures.admin.query("UPDATE debtors SET creditor_id = \(nobody) WHERE creditor_id = \(s.creditor) AND id = \(lone)")
            }
            #expect(moved?.code == .foreignKeyViolation)
        }
    }

    /// Records are checked in batches, two halves at once: every row keeps its number, in the
    /// rejects file and in the acknowledgement, and a debtor's rows in both halves are one debtor.
    @Test func aLargeFileKeepsItsRowNumbers() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            var lines = ["Référence;Montant;Échéance;Nom;Courriel"]
            var bad: [Int] = []
            for i in 0..<5000 {
                let amount = i % 97 == 5 ? "n/a" : "\(i % 900 + 1),50"
                if i % 97 == 5 { bad.append(i + 2) }
                lines.append("L-\(i);\(amount);01/02/2025;Débiteur \(i % 1200);d\(i % 1200)@example.fr")
            }
            let done = try await place(client, s, Array((lines.joined(separator: "\r\n") + "\r\n").utf8))
            #expect(done["received"] as? Int == 5000)
            #expect(done["rejected"] as? Int == bad.count)
            #expect(done["accepted"] as? Int == 5000 - bad.count)
            let check = try await fixtures.admin.one(
                """
                SELECT (SELECT string_agg(row_number::text || ':' || field, ',' ORDER BY row_number) FROM placement_rejects WHERE creditor_id = \(s.creditor)) AS rejects,
                       (SELECT count(*) FROM placement_outcomes WHERE creditor_id = \(s.creditor) AND creditor_reference <> 'L-' || (row_number - 2))::int8 AS misnumbered,
                       (SELECT count(*) FROM debtors WHERE creditor_id = \(s.creditor))::int8 AS debtors
                """)!
            #expect(try check.decode(String.self, "rejects") == bad.map { "\($0):amount" }.joined(separator: ","))
            #expect(try check.decode(Int.self, "misnumbered") == 0)
            #expect(try check.decode(Int.self, "debtors") == 1200)
        }
    }

    @Test func idempotencyKeyAndConcurrentUploadsOfTheSameFile() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            let file = FrenchFiles.csv(FrenchFiles.good)
            let first = try await upload(client, s, file, key: "portfolio-2025-10")
            #expect(first.status == 202)
            let replay = try await upload(client, s, file, key: "portfolio-2025-10")
            #expect(replay.status == 200)
            #expect(replay.json["id"] as? String == first.json["id"] as? String)
            #expect(replay.headers[.init("Idempotent-Replayed")!] == "true")
            let other = try await upload(client, s, FrenchFiles.csv([FrenchFiles.good[0]]), key: "portfolio-2025-10")
            #expect(other.status == 422)
            // two uploads of one file at once, without keys: both staged, merged one after the other
            let both = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 { group.addTask { try await upload(client, s, file).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(both == [202, 202])
            while try await s.placements.processNext() != nil {}
            let counts = try await fixtures.admin.one(
                """
                SELECT (SELECT count(*) FROM claims WHERE creditor_id = \(s.creditor))::int8 AS claims,
                       (SELECT sum(accepted) FROM placements WHERE creditor_id = \(s.creditor))::int8 AS accepted,
                       (SELECT count(*) FROM placements WHERE creditor_id = \(s.creditor))::int8 AS placements
                """)!
            #expect(try counts.decode(Int.self, "claims") == 3)
            #expect(try counts.decode(Int.self, "accepted") == 3)
            #expect(try counts.decode(Int.self, "placements") == 3)
        }
    }

    /// A merge that had to wait for another merge of the same creditor starts again on fresh
    /// statistics, without counting a failed attempt.
    @Test func aMergeThatWaitedForTheSameCreditorStartsAgain() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            let staged = try await upload(client, s, FrenchFiles.csv(FrenchFiles.good))
            #expect(staged.status == 202)
            let lock: SQL = "hashtextextended(\("placement:" + s.creditor.uuidString.lowercased()), 0)"
            // Another "merge" of this creditor holds the lock while the worker starts.
            let (worker, released) = try await fixtures.admin.withTransaction { tx -> (Task<UUID?, any Error>, Date) in
                try await tx.execute("SELECT pg_advisory_xact_lock(\(lock))")
                let worker = Task { try await s.placements.processNext() }
                var waiting = false
                for _ in 0..<600 where !waiting {
                    waiting = try await fixtures.admin.one(
                        """
                        SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE datname = current_database()
                          AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE '%pg_advisory_xact_lock%'
                        """)!
                        .decode(Int.self, "n") > 0
                    if !waiting { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(waiting)
                return (worker, Date())  // the lock goes with this transaction's commit, after this
            }
            #expect(try await worker.value != nil)
            // The staged rows were analysed again after the other merge let go.
            var analysedAfter = false
            for _ in 0..<150 where !analysedAfter {
                let last = try await fixtures.admin.one("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'placement_rows_upload'")!
                analysedAfter = (try last.decode(Date?.self, "last_analyze")).map { $0 > released } ?? false
                if !analysedAfter { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(analysedAfter)
            let placement = try await fixtures.admin.one(
                "SELECT status, attempts FROM placements WHERE creditor_id = \(s.creditor) AND id = \(try #require(UUID(uuidString: staged.json["id"] as! String)))")!
            #expect(try placement.decode(String.self, "status") == "completed")
            #expect(try placement.decode(Int.self, "attempts") == 1)
        }
    }

    /// While a placement is `merged` (its debtors' identifiers not committed yet), the next
    /// placement of the same creditor waits for its finishing, then recognises its debtors.
    @Test func theNextPlacementWaitsForThePreviousOneToFinish() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            let first = try await upload(client, s, FrenchFiles.csv(FrenchFiles.good))
            let firstText = try #require(first.json["id"] as? String)
            let firstID = try #require(UUID(uuidString: firstText))
            // The first placement's finishing transaction waits on this lock to write identifiers.
            let (locked, lockedSignal) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
            let holder = Task {
                try await fixtures.admin.withTransaction { tx in
                    try await tx.execute("LOCK TABLE debtor_keys IN SHARE MODE")
                    lockedSignal.yield()
                    for await _ in release { break }
                }
            }
            for await _ in locked { break }
            let firstMerge = Task { try await s.placements.processNext() }
            func waitFor(_ sql: SQL) async throws -> Bool {
                for _ in 0..<600 {
                    if try await fixtures.admin.one(sql)!.decode(Int.self, at: 0) > 0 { return true }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return false
            }
            #expect(try await waitFor("SELECT count(*)::int8 FROM placements WHERE id = \(firstID) AND status = 'merged'"))
            // The same company again (same SIREN and email), with a new invoice.
            let second = try await upload(
                client, s, FrenchFiles.csv(["G-001;GA-1;01/09/2025;01/10/2025;50,00;Boulangerie Martin SARL;;;732 829 320;compta@martin.fr;;;75011;Paris"]))
            #expect(second.status == 202)
            let secondMerge = Task { try await s.placements.processNext() }
            #expect(try await waitFor(
                """
                SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database()
                  AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE '%pg_advisory_xact_lock_shared%'
                """))
            #expect(try await fixtures.admin.one("SELECT count(*)::int8 FROM claims WHERE creditor_reference = 'G-001'")!.decode(Int.self, at: 0) == 0)
            releaseSignal.yield()
            try await holder.value
            #expect(try await firstMerge.value == firstID)
            #expect(try await secondMerge.value != nil)
            let claims = try await fixtures.admin.one(
                """
                SELECT count(DISTINCT debtor_id)::int8 AS debtors, count(DISTINCT case_id)::int8 AS cases, count(*)::int8 AS claims
                FROM claims WHERE creditor_id = \(s.creditor) AND creditor_reference IN ('F-001', 'G-001')
                """)!
            #expect(try claims.decode(Int.self, "claims") == 2)
            #expect(try claims.decode(Int.self, "debtors") == 1)
            #expect(try claims.decode(Int.self, "cases") == 1)
            let statuses = try await fixtures.admin.query("SELECT status FROM placements WHERE creditor_id = \(s.creditor)")
            #expect(try statuses.map { try $0.decode(String.self, "status") } == ["completed", "completed"])
            #expect(try await fixtures.admin.one("SELECT count(*)::int8 FROM placement_outcomes WHERE placement_id = \(firstID)")!.decode(Int.self, at: 0) == 3)
        }
    }

    /// A merge that fails after its finishing transaction started takes that transaction down
    /// with it: no identifier or acknowledgement of a placement that is not merged.
    @Test func aFailedMergeLeavesNoIdentifiersBehind() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            let staged = try await upload(client, s, FrenchFiles.csv(FrenchFiles.good))
            let text = try #require(staged.json["id"] as? String)
            let placement = try #require(UUID(uuidString: text))
            try await fixtures.admin.withTransaction { tx in
                try await tx.execute(
                    "CREATE FUNCTION refuse_claim() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$")
                try await tx.execute(
                    "CREATE TRIGGER refuse_claim BEFORE INSERT ON claims FOR EACH ROW WHEN (NEW.creditor_reference = 'F-003') EXECUTE FUNCTION refuse_claim()")
            }
            #expect(try await s.placements.processNext() == nil)
            func count(_ sql: SQL) async throws -> Int { try await fixtures.admin.one(sql)!.decode(Int.self, at: 0) }
            #expect(try await count("SELECT attempts::int8 FROM placements WHERE id = \(placement) AND status = 'staged'") == 1)
            #expect(try await count("SELECT count(*)::int8 FROM debtor_keys WHERE creditor_id = \(s.creditor)") == 0)
            #expect(try await count("SELECT count(*)::int8 FROM placement_outcomes WHERE placement_id = \(placement)") == 0)
            #expect(try await count("SELECT count(*)::int8 FROM debtors WHERE creditor_id = \(s.creditor)") == 0)
            try await fixtures.admin.withTransaction { tx in
                try await tx.execute("DROP TRIGGER refuse_claim ON claims")
                try await tx.execute("DROP FUNCTION refuse_claim()")
            }
            #expect(try await s.placements.processNext() == placement)
            #expect(try await count("SELECT count(*)::int8 FROM placements WHERE id = \(placement) AND status = 'completed'") == 1)
            #expect(try await count("SELECT count(*)::int8 FROM placement_outcomes WHERE placement_id = \(placement)") == 3)
            // Martin: siren, email, phone; Dupont: email, phone (one email, written twice)
            #expect(try await count("SELECT count(*)::int8 FROM debtor_keys WHERE creditor_id = \(s.creditor)") == 5)
        }
    }

    @Test func refusedWithoutMandateAndInvisibleToOthers() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool, mandate: false)
            let refused = try await upload(client, s, FrenchFiles.csv(FrenchFiles.good))
            #expect(refused.status == 409)
            #expect(refused.problemType == "mandate-required")
            let noneStaged = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM placement_rows")!
            #expect(try noneStaged.decode(Int.self, "n") == 0)
            // expired mandate: still refused
            try await fixtures.mandate(creditor: s.creditor, validUntil: "2020-01-01")
            #expect(try await upload(client, s, FrenchFiles.csv(FrenchFiles.good)).status == 409)
            try await fixtures.mandate(creditor: s.creditor)
            let done = try await place(client, s, FrenchFiles.csv(FrenchFiles.good))
            // Another creditor's users and keys do not see it.
            let other = try await fixtures.creditor("Autre")
            let stranger = try await client.login(try await fixtures.user(.creditorAdmin, creditor: other))
            let (_, strangerKey) = try await fixtures.apiKey(creditor: other)
            #expect(try await client.call(.get, "/v1/placements/\(done["id"] as! String)", bearer: stranger).status == 404)
            #expect(try await client.call(.get, "/v1/placements/\(done["id"] as! String)/rejects", bearer: strangerKey).status == 404)
            #expect(try await client.call(.post, "/v1/creditors/\(s.creditor)/placements", bearer: stranger).status == 404)
        }
    }

    @Test func headersAndEncodingsAndJSON() async throws {
        try await withRouter { client, fixtures, _, pool in
            let s = try await setup(client, fixtures, pool)
            // Windows-1252 with `,` separators, English headers, no BOM, LF
            var cp1252: [UInt8] = Array("reference,amount,due_date,name,email\n".utf8)
            cp1252 += Array("W-1,\"1,234.50\",2025-10-01,Soci".utf8) + [0xE9] + Array("t".utf8) + [0xE9] + Array(" G".utf8) + [0xE9] + Array("n".utf8) + [0xE9] + Array("rale,a@b.fr\n".utf8)
            let legacy = try await place(client, s, cp1252)
            #expect(legacy["accepted"] as? Int == 1, "\(legacy)")
            let name = try await fixtures.admin.one("SELECT name FROM debtors WHERE creditor_id = \(s.creditor) AND 'email:a@b.fr' = ANY(ARRAY(SELECT key FROM debtor_keys WHERE debtor_id = debtors.id))")!
            #expect(try name.decode(String.self, "name") == "Société Générale")
            // an unknown header is refused with the column named
            let badHeader = try await upload(client, s, Array("reference;montant;echeance;nom;couleur\nX;1,00;01/01/2025;A;bleu\n".utf8))
            #expect(badHeader.status == 422)
            #expect(badHeader.text.contains("couleur"))
            let missing = try await upload(client, s, Array("reference;nom\nX;A\n".utf8))
            #expect(missing.status == 422)
            #expect(missing.text.contains("due_date"))
            // JSON for integrators
            let json = try JSONSerialization.data(withJSONObject: [
                ["creditorReference": "J-1", "amount": 1234.56, "dueDate": "2025-10-01", "debtorName": "Acme SAS", "siren": "732829320"],
                ["creditorReference": "J-2", "amount": "12,00", "dueDate": "2025-10-01", "debtorName": "Acme SAS", "siren": "732829320", "colour": "red"],
            ])
            let placed = try await place(client, s, Array(json), type: "application/json")
            #expect(placed["accepted"] as? Int == 1)
            #expect(placed["rejected"] as? Int == 1)
            // A NUL character (PostgreSQL text cannot hold it) refuses its row, not the file.
            let ndjson = Array("{\"reference\":\"N-1\",\"amount\":\"5\",\"due_date\":\"2025-09-01\",\"name\":\"Zed\"}\n{\"reference\":\"N-2\",\"amount\":true,\"due_date\":\"2025-09-01\",\"name\":\"Zed\"}\n{\"reference\":\"N-3\\u0000\",\"amount\":\"5\",\"due_date\":\"2025-09-01\",\"name\":\"Zed\"}\n{\"reference\":\"N-4\",\"amount\":\"5\",\"due_date\":\"2025-09-01\",\"name\":\"Zed\",\"col\\u0000our\":\"red\"}\n".utf8)
            let nd = try await place(client, s, ndjson, type: "application/x-ndjson")
            #expect(nd["accepted"] as? Int == 1)
            #expect(nd["rejected"] as? Int == 3)
            let nul = try await client.call(.get, "/v1/placements/\(nd["id"] as! String)/rejects", bearer: s.token)
            #expect(nul.text.contains(";creditor_reference;contains a NUL character"), "\(nul.text)")
            #expect(nul.text.contains(";colour;is not a known field"), "\(nul.text)")  // a NUL in a key: named without it
            let amount = try await fixtures.admin.one("SELECT principal_minor FROM claims WHERE creditor_id = \(s.creditor) AND creditor_reference = 'J-1'")!
            #expect(try amount.decode(Int.self, "principal_minor") == 123_456)
            #expect(try await upload(client, s, Array("x".utf8), type: "text/plain").status == 415)
        }
    }
}

@Suite("CSV parser")
struct CSVParserTests {
    @Test func splitsRecordsAcrossArbitraryChunks() throws {
        let text = "\u{FEFF}a;b;c\r\n1;\"x;y\";\"multi\r\nline\"\r\n2;\"he said \"\"hi\"\"\";\r\n"
        let bytes = Array(text.utf8)
        for size in [1, 2, 3, 7, 64] {
            var parser = CSVStreamParser()
            var records: [[String]] = []
            var i = 0
            while i < bytes.count {
                records += try parser.feed(bytes[i..<min(i + size, bytes.count)]).map { $0.fields.map { String(decoding: $0, as: UTF8.self) } }
                i += size
            }
            records += try parser.finish().map { $0.fields.map { String(decoding: $0, as: UTF8.self) } }
            #expect(records == [["a", "b", "c"], ["1", "x;y", "multi\r\nline"], ["2", "he said \"hi\"", ""]], "chunk \(size)")
            #expect(parser.separator == UInt8(ascii: ";"))
        }
        var unclosed = CSVStreamParser()
        _ = try unclosed.feed(Array("a,b\n1,\"open\n".utf8))
        #expect(throws: CSVStreamParser.Malformed.self) { try unclosed.finish() }
    }

    /// Records keep their starting line, blank lines are skipped, empty fields (quoted or
    /// trailing) are kept, and a last line without a line break is a record.
    @Test func recordsKeepTheirLinesAndEmptyFields() throws {
        let bytes = Array("a,b\n\n1,\"\"\n2,x,\n\"3\",\"multi\nline\"\n4,end".utf8)
        for size in [1, 5, 100] {
            var parser = CSVStreamParser()
            var records: [CSVStreamParser.Record] = []
            var i = 0
            while i < bytes.count {
                records += try parser.feed(bytes[i..<min(i + size, bytes.count)])
                i += size
            }
            records += try parser.finish()
            #expect(records.map(\.line) == [1, 3, 4, 5, 7], "chunk \(size)")
            #expect(records.map(\.count) == [2, 2, 3, 2, 2], "chunk \(size)")
            #expect(records.map { $0.fields.map { String(decoding: $0, as: UTF8.self) } }
                == [["a", "b"], ["1", ""], ["2", "x", ""], ["3", "multi\nline"], ["4", "end"]], "chunk \(size)")
            #expect(String(decoding: records[3][1], as: UTF8.self) == "multi\nline")
            #expect(records[2][2].isEmpty)
        }
        var long = CSVStreamParser()
        long.maxFieldBytes = 8
        #expect(throws: CSVStreamParser.Malformed.self) { _ = try long.feed(Array("a,b\n1,123456789\n".utf8)) }
    }
}
