import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Onboarding
import Postgres
import TestSupport
import Testing

/// Placement headers as creditors send them: the aliases, a saved mapping (versioned, audited),
/// a mapping for one upload, suggestions when a header is refused, a dry run.
@Suite("Column mappings")
struct ColumnMappingTests {
    /// The accounting export of the issue, as a French Windows writes it.
    static let exportHeader = "Référence client;Raison sociale;SIREN;Nom;Prénom;E-mail;Téléphone;Adresse;Code postal;Ville;Pays;N° facture;Date facture;Échéance;Montant TTC;Devise"
    static let exportRows = [
        "411MARTIN;Boulangerie Martin SARL;732829320;;;compta@martin.example;01 42 00 00 01;12 rue des Lilas;75011;Paris;FR;FA-2025-101;01/09/2025;01/10/2025;1 234,56;EUR",
        "411MARTIN;Boulangerie Martin SARL;732829320;;;compta@martin.example;01 42 00 00 01;12 rue des Lilas;75011;Paris;FR;FA-2025-117;15/09/2025;15/10/2025;99,90;EUR",
        "411DUPONT;;;Dupont;Jeanne;jeanne.dupont@example.fr;06 12 34 56 78;3 allée des Roses;69003;Lyon;FR;FA-2025-122;20/09/2025;20/10/2025;250,00;EUR",
    ]

    /// A file whose headers no alias knows: a job-costing export.
    static let projectFile = "Code affaire;Client;Centre de coût;Echance;Solde\r\nAFF-1;Acme SAS;CC-12;01/02/2025;100,00\r\nAFF-2;Globex SARL;CC-40;03/02/2025;250,50\r\n"
    static let projectMapping = ["Code affaire": "creditor_reference", "Client": "debtor_name", "Centre de coût": "ignore", "Echance": "due_date", "Solde": "amount"]

    static func csv(_ lines: [String]) -> [UInt8] { [0xEF, 0xBB, 0xBF] + Array(lines.joined(separator: "\r\n").utf8) + Array("\r\n".utf8) }

    struct Creditor: Sendable {
        let id: UUID
        let token: String
        let placements: PlacementService
    }

    func creditor(_ client: some TestClientProtocol, _ fixtures: Fixtures, _ pool: PostgresPool) async throws -> Creditor {
        let id = try await fixtures.creditor()
        try await fixtures.mandate(creditor: id)
        let token = try await client.login(try await fixtures.user(.creditorAdmin, creditor: id))
        return Creditor(id: id, token: token, placements: PlacementService(pool: pool))
    }

    func upload(_ client: some TestClientProtocol, _ c: Creditor, _ bytes: [UInt8], query: [String: String] = [:]) async throws -> Reply {
        let encoded = query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }
        let uri = "/v1/creditors/\(c.id)/placements" + (encoded.isEmpty ? "" : "?" + encoded.joined(separator: "&"))
        return try await client.call(.post, uri, bearer: c.token, raw: bytes)
    }

    func placed(_ client: some TestClientProtocol, _ c: Creditor, _ staged: Reply) async throws -> [String: Any] {
        #expect(staged.status == 202, "\(staged.text)")
        while try await c.placements.processNext() != nil {}
        return try await client.call(.get, "/v1/placements/\(staged.json["id"] as? String ?? "")", bearer: c.token).json
    }

    @Test func theIssuesFrenchExportPlacesWithTheAliasesAlone() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            let done = try await placed(client, c, try await upload(client, c, Self.csv([Self.exportHeader] + Self.exportRows)))
            #expect(done["status"] as? String == "completed" && done["accepted"] as? Int == 3 && done["rejected"] as? Int == 0)
            #expect(done["columnMapping"] == nil)
            let columns = done["columns"] as? [[String: Any]] ?? []
            #expect(columns.count == 16 && columns.allSatisfy { $0["by"] as? String == "alias" })
            #expect(columns.first?["source"] as? String == "Référence client" && columns.first?["field"] as? String == "debtor_reference")
            // The invoice number stands for the reference; the client's two invoices are one case.
            let claims = try await fixtures.admin.query(
                "SELECT creditor_reference, case_id FROM claims WHERE creditor_id = \(c.id) ORDER BY creditor_reference")
            #expect(try claims.map { try $0.decode(String.self, "creditor_reference") } == ["FA-2025-101", "FA-2025-117", "FA-2025-122"])
            #expect(try claims[0].decode(UUID.self, "case_id") == claims[1].decode(UUID.self, "case_id"))
            #expect(try claims[0].decode(UUID.self, "case_id") != claims[2].decode(UUID.self, "case_id"))
            let key = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM debtor_keys WHERE creditor_id = \(c.id) AND key = 'acct:411MARTIN'")
            #expect(try key?.decode(Int.self, "n") == 1)
        }
    }

    @Test func aRefusedHeaderListsEveryUnknownColumnWithSuggestionsAndStagesNothing() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            let reply = try await upload(client, c, Array(Self.projectFile.utf8))
            #expect(reply.status == 422)
            let reasons = (reply.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String == "header" ? $0["reason"] as? String : nil }
            #expect(reasons.contains { $0.hasPrefix("unknown column 'Code affaire'") })
            #expect(reasons.contains { $0.hasPrefix("unknown column 'Echance': closest fields due_date") })
            #expect(reasons.contains { $0.hasPrefix("unknown column 'Centre de coût'") && $0.hasSuffix("or to ignore") })
            #expect(reasons.contains("required column creditor_reference (or invoice_number) is missing"))
            #expect(reasons.contains("required column due_date is missing"))
            let placements = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM placements WHERE creditor_id = \(c.id)")
            #expect(try placements?.decode(Int.self, "n") == 0)
        }
    }

    @Test func aSavedMappingIsVersionedAuditedAndReadByLaterFiles() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            let path = "/v1/creditors/\(c.id)/column-mapping"
            #expect(try await client.call(.get, path, bearer: c.token).status == 404)
            let first = try await client.call(.put, path, bearer: c.token, json: ["columns": Self.projectMapping])
            #expect(first.status == 201 && first.json["version"] as? Int == 1, "\(first.text)")
            // The same mapping again records nothing.
            let again = try await client.call(.put, path, bearer: c.token, json: ["columns": Self.projectMapping])
            #expect(again.status == 200 && again.json["version"] as? Int == 1)
            #expect((try await client.call(.get, path, bearer: c.token)).json["columns"] as? [String: String] == Self.projectMapping)
            // The creditor's next file is read with it.
            let done = try await placed(client, c, try await upload(client, c, Array(Self.projectFile.utf8)))
            #expect(done["accepted"] as? Int == 2)
            #expect((done["columnMapping"] as? [String: Any])?["version"] as? Int == 1)
            #expect((done["columnMapping"] as? [String: Any])?["kind"] as? String == "saved")
            let columns = done["columns"] as? [[String: Any]] ?? []
            #expect(columns.map { $0["by"] as? String } == ["mapping", "mapping", "mapping", "mapping", "mapping"])
            #expect(columns[2]["field"] as? String == "ignore")
            // A change is a new version; both are kept, both audited.
            var changed = Self.projectMapping
            changed["Centre de coût"] = nil
            changed["Code affaire"] = "invoice_number"
            let second = try await client.call(.put, path, bearer: c.token, json: ["columns": changed])
            #expect(second.status == 201 && second.json["version"] as? Int == 2)
            let versions = (try await client.call(.get, path + "/versions", bearer: c.token)).json["items"] as? [[String: Any]] ?? []
            #expect(versions.map { $0["version"] as? Int } == [2, 1])
            let audited = try await fixtures.admin.one(
                "SELECT count(*)::int8 AS n FROM audit_log WHERE action = 'column_mapping.save' AND creditor_id = \(c.id)")
            #expect(try audited?.decode(Int.self, "n") == 2)
        }
    }

    @Test func aMappingGivenWithAnUploadReadsThatFileAlone() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            let json = String(decoding: try JSONSerialization.data(withJSONObject: Self.projectMapping), as: UTF8.self)
            let done = try await placed(client, c, try await upload(client, c, Array(Self.projectFile.utf8), query: ["mapping": json]))
            #expect(done["accepted"] as? Int == 2)
            #expect((done["columnMapping"] as? [String: Any])?["kind"] as? String == "upload")
            #expect((done["columnMapping"] as? [String: Any])?["version"] == nil)
            // Nothing was saved: the next file without a mapping is refused again.
            #expect(try await client.call(.get, "/v1/creditors/\(c.id)/column-mapping", bearer: c.token).status == 404)
            #expect(try await upload(client, c, Array(Self.projectFile.utf8)).status == 422)
        }
    }

    @Test func eachFaultOfAMappingIsNamed() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            let path = "/v1/creditors/\(c.id)/column-mapping"
            func fields(_ columns: [String: String]) async throws -> [String: String] {
                let reply = try await client.call(.put, path, bearer: c.token, json: ["columns": columns])
                #expect(reply.status == 422, "\(reply.text)")
                return Dictionary((reply.json["errors"] as? [[String: String]] ?? []).map { ($0["field"] ?? "", $0["reason"] ?? "") }, uniquingKeysWith: { a, _ in a })
            }
            var unknown = Self.projectMapping
            unknown["Solde"] = "montant"
            #expect(try await fields(unknown)["columns.Solde"]?.contains("'montant' is not a field; closest: amount") == true)
            var twice = Self.projectMapping
            twice["Centre de coût"] = "amount"
            #expect(try await fields(twice)["columns.Solde"]?.contains("maps to amount, as 'Centre de coût' does") == true)
            var missing = Self.projectMapping
            missing["Echance"] = "ignore"
            #expect(try await fields(missing)["columns"] == "maps no column to due_date, which every file needs")
            // Another creditor's admin: 404; a viewer: 403; the mapping parameter of an upload: named.
            let other = try await fixtures.creditor("Autre SAS")
            let stranger = try await client.login(try await fixtures.user(.creditorAdmin, creditor: other))
            #expect(try await client.call(.put, path, bearer: stranger, json: ["columns": Self.projectMapping]).status == 404)
            let viewer = try await client.login(try await fixtures.user(.creditorViewer, creditor: c.id))
            #expect(try await client.call(.put, path, bearer: viewer, json: ["columns": Self.projectMapping]).status == 403)
            let bad = try await upload(client, c, Array(Self.projectFile.utf8), query: ["mapping": "{\"Solde\": 3}"])
            #expect(bad.status == 422 && (bad.json["errors"] as? [[String: String]])?.first?["field"] == "mapping.Solde")
            let notJSON = try await upload(client, c, Array(Self.projectFile.utf8), query: ["mapping": "Solde=amount"])
            #expect(notJSON.status == 422 && (notJSON.json["errors"] as? [[String: String]])?.first?["field"] == "mapping")
            let partial = try await upload(client, c, Array(Self.projectFile.utf8), query: ["mapping": "{\"Solde\": \"amount\"}"])
            #expect(partial.status == 422 && (partial.json["errors"] as? [[String: String]])?.first?["field"] == "mapping")
        }
    }

    @Test func aDryRunChecksEveryRowAndPlacesNothing() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            let rows = Self.exportRows + [
                "411DURAND;Durand SA;;;;;;;;;FR;FA-2025-101;01/09/2025;01/10/2025;10,00;EUR",  // repeats FA-2025-101
                "411DURAND;Durand SA;;;;;;;;;FR;FA-2025-130;01/09/2025;01/10/2025;dix euros;EUR",  // amount
            ]
            let reply = try await upload(client, c, Self.csv([Self.exportHeader] + rows), query: ["dryRun": "true"])
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json["dryRun"] as? Bool == true && reply.json["received"] as? Int == 5)
            #expect(reply.json["accepted"] as? Int == 3 && reply.json["rejected"] as? Int == 2 && reply.json["moreRejects"] as? Bool == false)
            let rejects = reply.json["rejects"] as? [[String: Any]] ?? []
            #expect(rejects.map { $0["row"] as? Int } == [5, 6])
            #expect(rejects.first?["reason"] as? String == "appears again in this file (first at row 2)")
            #expect(rejects.last?["field"] as? String == "amount")
            #expect(reply.headers[.location] == nil)
            // Nothing placed, nothing staged.
            for table in ["placements", "placement_rows", "debtors", "claims"] {
                let n = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM \(unsafeRaw: table) WHERE creditor_id = \(c.id)")
                #expect(try n?.decode(Int.self, "n") == 0, "\(table)")
            }
            #expect(try await upload(client, c, Self.csv([Self.exportHeader] + rows), query: ["dryRun": "maybe"]).status == 422)
        }
    }

    /// Excel on a French Windows: « CSV (séparateur : point-virgule) » writes Windows-1252,
    /// « CSV UTF-8 » writes UTF-8 with a BOM. Accented headers must meet the mapping either way,
    /// saved or given with the upload.
    @Test func excelFilesFromAFrenchWindowsMeetTheMappingInEitherEncoding() async throws {
        try await withRouter { client, fixtures, _, pool in
            let header = "Réf. dossier;Dénomination;N° pièce;Échéance prévue;Reste à payer;Commercial;Centre de coût"
            let rows = ["D-1;Société Générale d'Équipement;FA-1;01/02/2025;1 234,56;É. Durand;CC-12", "D-2;Crêperie Bécassine;FA-2;03/02/2025;99,90;É. Durand;CC-40"]
            let text = ([header] + rows).joined(separator: "\r\n") + "\r\n"
            let cp1252 = Array(text.unicodeScalars.map { scalar -> UInt8 in
                if scalar.value < 0x100 { return UInt8(scalar.value) }
                Issue.record("\(scalar) has no Windows-1252 byte in this test")
                return 0x3F
            })
            let utf8BOM = [0xEF, 0xBB, 0xBF] + Array(text.utf8)
            #expect(cp1252 != utf8BOM)
            let mapping = [
                "Réf. dossier": "creditor_reference", "Dénomination": "debtor_name", "N° pièce": "invoice_number",
                "Échéance prévue": "due_date", "Reste à payer": "amount", "Commercial": "ignore", "Centre de coût": "ignore",
            ]
            // One creditor with the mapping saved, another giving it with each upload.
            let saved = try await creditor(client, fixtures, pool)
            #expect(try await client.call(.put, "/v1/creditors/\(saved.id)/column-mapping", bearer: saved.token, json: ["columns": mapping]).status == 201)
            let oneOff = try await creditor(client, fixtures, pool)
            let json = String(decoding: try JSONSerialization.data(withJSONObject: mapping), as: UTF8.self)
            for (c, query) in [(saved, [String: String]()), (oneOff, ["mapping": json])] {
                for bytes in [cp1252, utf8BOM] {
                    let done = try await placed(client, c, try await upload(client, c, bytes, query: query))
                    #expect(done["status"] as? String == "completed" && done["rejected"] as? Int == 0, "\(done)")
                    let columns = (done["columns"] as? [[String: Any]] ?? []).map { $0["source"] as? String ?? "" }
                    #expect(columns == header.split(separator: ";").map(String.init))
                }
                let names = try await fixtures.admin.query("SELECT name FROM debtors WHERE creditor_id = \(c.id) ORDER BY name")
                #expect(try names.map { try $0.decode(String.self, "name") } == ["Crêperie Bécassine", "Société Générale d'Équipement"])
                let amounts = try await fixtures.admin.query("SELECT principal_minor FROM claims WHERE creditor_id = \(c.id) ORDER BY creditor_reference")
                #expect(try amounts.map { try $0.decode(Int.self, "principal_minor") } == [123_456, 9_990])
            }
        }
    }

    /// A header cell holding control characters (a NUL, which jsonb cannot store) is read by
    /// what remains, and shown without them.
    @Test func controlCharactersInAHeaderAreLeftOutOfTheReadings() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            let file = Array("Référence;Nom;Échéance;\u{0}Montant\u{1};\u{0}\r\nR-1;Acme SAS;01/02/2025;10,00;\r\n".utf8)
            let done = try await placed(client, c, try await upload(client, c, file))
            #expect(done["status"] as? String == "completed" && done["accepted"] as? Int == 1, "\(done)")
            let columns = (done["columns"] as? [[String: Any]] ?? []).map { "\($0["source"] as? String ?? "?")=\($0["by"] as? String ?? "?")" }
            #expect(columns == ["Référence=alias", "Nom=alias", "Échéance=alias", "Montant=alias", "=empty"])
        }
    }

    @Test func jsonKeysAreReadThroughTheMappingToo() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            #expect(try await client.call(.put, "/v1/creditors/\(c.id)/column-mapping", bearer: c.token, json: ["columns": Self.projectMapping]).status == 201)
            let records: [[String: Any]] = [
                ["Code affaire": "AFF-1", "Client": "Acme SAS", "Centre de coût": "CC-12", "Echance": "01/02/2025", "Solde": "100,00"],
                ["Code affaire": "AFF-2", "Client": "Globex SARL", "Echance": "03/02/2025", "Solde": 250.5, "Divers": "x"],
            ]
            let staged = try await client.execute(
                uri: "/v1/creditors/\(c.id)/placements", method: .post,
                headers: [.authorization: "Bearer \(c.token)", .contentType: "application/json"],
                body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: records))
            ) { Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
            let done = try await placed(client, c, staged)
            #expect(done["accepted"] as? Int == 1 && done["rejected"] as? Int == 1)
            let columns = Dictionary(uniqueKeysWithValues: (done["columns"] as? [[String: Any]] ?? []).map { ($0["source"] as? String ?? "", $0["by"] as? String ?? "") })
            #expect(columns == ["Code affaire": "mapping", "Client": "mapping", "Centre de coût": "mapping", "Echance": "mapping", "Solde": "mapping", "Divers": "unknown"])
            let rejects = try await client.call(.get, "/v1/placements/\(done["id"] as? String ?? "")/rejects?format=json", bearer: c.token)
            #expect(rejects.text.contains("\"column\":\"Divers\""), "\(rejects.text)")
        }
    }

    @Test func aMappingChangedWhileAPlacementWaitsDoesNotTouchIt() async throws {
        try await withRouter { client, fixtures, _, pool in
            let c = try await creditor(client, fixtures, pool)
            let path = "/v1/creditors/\(c.id)/column-mapping"
            #expect(try await client.call(.put, path, bearer: c.token, json: ["columns": Self.projectMapping]).status == 201)
            let staged = try await upload(client, c, Array(Self.projectFile.utf8))
            #expect(staged.status == 202)
            // Version 2 swaps two columns: had the waiting placement been read with it, its claims'
            // references would be the clients' names.
            var changed = Self.projectMapping
            changed["Code affaire"] = "debtor_name"
            changed["Client"] = "creditor_reference"
            #expect(try await client.call(.put, path, bearer: c.token, json: ["columns": changed]).status == 201)
            let done = try await placed(client, c, staged)
            #expect(done["accepted"] as? Int == 2 && (done["columnMapping"] as? [String: Any])?["version"] as? Int == 1)
            let invoices = try await fixtures.admin.query(
                "SELECT creditor_reference, invoice_number FROM claims WHERE creditor_id = \(c.id) ORDER BY creditor_reference")
            #expect(try invoices.map { try $0.decode(String.self, "creditor_reference") } == ["AFF-1", "AFF-2"])
        }
    }
}
