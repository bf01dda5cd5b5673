import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

/// Files as French accounting tools export them, each placed once through a saved mapping and
/// once through a mapping given with the upload, with the counts and amounts checked.
///
/// Where the headers come from: the FEC's columns are fixed by law (article A47 A-1 of the Livre
/// des procédures fiscales; every French tool exports it, Sage, Cegid, EBP and Pennylane alike);
/// Pennylane's are the customer-invoice fields of its public API reference; Sage 100, EBP and
/// Cegid's are their customer due-date lists (échéanciers clients) as those tools title the
/// columns. Whatever else a tool adds, a creditor either maps or ignores, by name.
@Suite("Headers of French accounting tools")
struct FrenchToolHeaderTests {
    struct Export: Sendable, CustomTestStringConvertible {
        let tool: String
        let bytes: [UInt8]
        /// Every column, as the creditor saves it once for their tool: a mapping names each
        /// field every file needs, whatever the aliases would have read.
        let mapping: [String: String]
        let debtors: [String]
        let principal: [Int]
        var testDescription: String { tool }
    }

    static let base = ColumnMappingTests()

    /// Sage 100 Comptabilité: the customer due-date list, semicolons, Windows-1252.
    static let sage = Export(
        tool: "Sage 100",
        bytes: windows1252([
            "N° compte tiers;Intitulé tiers;N° pièce;Date pièce;Échéance;Libellé écriture;Mode de règlement;Montant;Code journal",
            "CMARTIN;Boulangerie Martin;FA00101;01/09/2025;01/10/2025;Facture FA00101;Virement;1 234,56;VTE",
            "CMARTIN;Boulangerie Martin;FA00117;15/09/2025;15/10/2025;Facture FA00117;Virement;99,90;VTE",
            "CDUPONT;Garage Dupont;FA00122;20/09/2025;20/10/2025;Facture FA00122;Chèque;250,00;VTE",
        ]),
        mapping: [
            "N° compte tiers": "debtor_reference", "Intitulé tiers": "debtor_name", "N° pièce": "invoice_number", "Date pièce": "issue_date",
            "Échéance": "due_date", "Libellé écriture": "ignore", "Mode de règlement": "ignore", "Montant": "amount", "Code journal": "ignore",
        ],
        debtors: ["Boulangerie Martin", "Garage Dupont"], principal: [123_456, 9_990, 25_000]
    )

    /// EBP Gestion Commerciale: the amount with tax and what is left to pay are both sent; the
    /// aliases would read both as the amount, so the mapping says which one is owed.
    static let ebp = Export(
        tool: "EBP",
        bytes: utf8BOM([
            "Code client;Nom du client;N° document;Date document;Date d'échéance;Montant TTC;Reste dû;Mode de règlement;Commercial",
            "CL0001;Fromagerie Bernard;FA-2025-0450;03/09/2025;03/10/2025;1 800,00;1 200,00;Virement;J. Morel",
            "CL0002;Jeanne Petit;FA-2025-0461;10/09/2025;10/10/2025;75,00;75,00;Carte;J. Morel",
        ]),
        mapping: [
            "Code client": "debtor_reference", "Nom du client": "debtor_name", "N° document": "invoice_number", "Date document": "issue_date",
            "Date d'échéance": "due_date", "Montant TTC": "ignore", "Reste dû": "amount", "Mode de règlement": "ignore", "Commercial": "ignore",
        ],
        debtors: ["Fromagerie Bernard", "Jeanne Petit"], principal: [120_000, 7_500]
    )

    /// Cegid: an auxiliary account, its label, debit and credit columns.
    static let cegid = Export(
        tool: "Cegid",
        bytes: windows1252([
            "Auxiliaire;Libellé auxiliaire;Référence interne;Date comptable;Date échéance;Débit;Crédit;Devise;Mode paiement",
            "411LEROY;Leroy Transports;VT250901;01/09/2025;31/10/2025;4 560,00;;EUR;LCR",
            "411LEROY;Leroy Transports;VT250944;18/09/2025;30/11/2025;320,40;;EUR;LCR",
            "411NOEL;Atelier Noël;VT250950;19/09/2025;19/10/2025;88,00;;EUR;VIR",
        ]),
        mapping: [
            "Auxiliaire": "debtor_reference", "Libellé auxiliaire": "debtor_name", "Référence interne": "invoice_number",
            "Date comptable": "issue_date", "Date échéance": "due_date", "Débit": "amount", "Crédit": "ignore", "Devise": "currency",
            "Mode paiement": "ignore",
        ],
        debtors: ["Atelier Noël", "Leroy Transports"], principal: [456_000, 32_040, 8_800]
    )

    /// Pennylane: its API's customer-invoice fields, written out as CSV with commas by the
    /// creditor's script (UTF-8, no BOM, ISO dates and a decimal point). Pennylane's own `amount`
    /// is the invoice's total; what is owed is `remaining_amount_with_tax`.
    static let pennylane = Export(
        tool: "Pennylane",
        bytes: Array((
            [
                "invoice_number,label,customer_name,date,deadline,currency,amount,remaining_amount_with_tax",
                "F-2025-0031,Facture Studio Lumière - F-2025-0031,Studio Lumière,2025-08-28,2025-09-27,EUR,960.00,480.00",
                "F-2025-0036,Facture Café du Port - F-2025-0036,Café du Port,2025-09-02,2025-10-02,EUR,132.50,132.50",
            ].joined(separator: "\n") + "\n").utf8),
        mapping: [
            "invoice_number": "invoice_number", "label": "ignore", "customer_name": "debtor_name", "date": "issue_date", "deadline": "due_date",
            "currency": "currency", "amount": "ignore", "remaining_amount_with_tax": "amount",
        ],
        debtors: ["Café du Port", "Studio Lumière"], principal: [48_000, 13_250]
    )

    static func windows1252(_ lines: [String]) -> [UInt8] {
        (lines.joined(separator: "\r\n") + "\r\n").unicodeScalars.map { scalar in
            precondition(scalar.value < 0x100, "\(scalar) has no Windows-1252 byte in these files")
            return UInt8(scalar.value)
        }
    }

    static func utf8BOM(_ lines: [String]) -> [UInt8] { ColumnMappingTests.csv(lines) }

    @Test(arguments: [sage, ebp, cegid, pennylane])
    func anExportPlacesThroughASavedMappingAndThroughAOneOffMapping(_ export: Export) async throws {
        try await withRouter { client, fixtures, _, pool in
            let base = Self.base
            // Without the mapping the file is refused, and the refusal names what to map.
            let plain = try await base.creditor(client, fixtures, pool)
            let refused = try await base.upload(client, plain, export.bytes)
            #expect(refused.status == 422, "\(export.tool): \(refused.text)")
            let saved = try await base.creditor(client, fixtures, pool)
            let put = try await client.call(.put, "/v1/creditors/\(saved.id)/column-mapping", bearer: saved.token, json: ["columns": export.mapping])
            #expect(put.status == 201, "\(export.tool): \(put.text)")
            let oneOff = try await base.creditor(client, fixtures, pool)
            let json = String(decoding: try JSONSerialization.data(withJSONObject: export.mapping), as: UTF8.self)
            for (c, query, kind) in [(saved, [String: String](), "saved"), (oneOff, ["mapping": json], "upload")] {
                let done = try await base.placed(client, c, try await base.upload(client, c, export.bytes, query: query))
                #expect(done["status"] as? String == "completed", "\(export.tool) \(kind): \(done)")
                #expect(done["accepted"] as? Int == export.principal.count && done["rejected"] as? Int == 0, "\(export.tool) \(kind): \(done)")
                #expect((done["columnMapping"] as? [String: Any])?["kind"] as? String == kind)
                let readings = done["columns"] as? [[String: Any]] ?? []
                #expect(readings.count == export.mapping.count && readings.allSatisfy { $0["by"] as? String == "mapping" }, "\(export.tool) \(kind)")
                let names = try await fixtures.admin.query("SELECT name FROM debtors WHERE creditor_id = \(c.id) ORDER BY name")
                #expect(try names.map { try $0.decode(String.self, "name") } == export.debtors, "\(export.tool) \(kind)")
                let amounts = try await fixtures.admin.query(
                    "SELECT principal_minor FROM claims WHERE creditor_id = \(c.id) ORDER BY invoice_number")
                #expect(try amounts.map { try $0.decode(Int.self, "principal_minor") } == export.principal, "\(export.tool) \(kind)")
                let cases = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM cases WHERE creditor_id = \(c.id)")
                #expect(try cases?.decode(Int.self, "n") == export.debtors.count, "\(export.tool) \(kind): one case per customer")
            }
        }
    }

    /// The FEC (pipe-separated, Latin-1, as A47 A-1 allows) has no due date: however it is
    /// mapped, Relance says so rather than invent one, saved or one-off, and stages nothing.
    @Test func anFECIsRefusedForWantOfDueDatesAndSaysSo() async throws {
        try await withRouter { client, fixtures, _, pool in
            let base = Self.base
            let fec = Self.windows1252([
                "JournalCode|JournalLib|EcritureNum|EcritureDate|CompteNum|CompteLib|CompAuxNum|CompAuxLib|PieceRef|PieceDate|EcritureLib|Debit|Credit|EcritureLet|DateLet|ValidDate|Montantdevise|Idevise",
                "VT|Ventes|VT000101|20250901|411000|Clients|CMARTIN|Boulangerie Martin|FA00101|20250901|Facture FA00101|1234,56|0,00|||20250905||EUR",
            ])
            let c = try await base.creditor(client, fixtures, pool)
            let refused = try await base.upload(client, c, fec)
            #expect(refused.status == 422, "\(refused.text)")
            let reasons = (refused.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
            #expect(reasons.contains("required column due_date is missing"), "\(reasons)")
            #expect(reasons.contains { $0.hasPrefix("unknown column 'JournalCode'") }, "the pipes were read as separators: \(reasons)")
            let mapping = [
                "JournalCode": "ignore", "JournalLib": "ignore", "EcritureNum": "ignore", "EcritureDate": "ignore", "CompteNum": "ignore",
                "CompteLib": "ignore", "CompAuxNum": "debtor_reference", "CompAuxLib": "debtor_name", "PieceRef": "invoice_number",
                "PieceDate": "issue_date", "EcritureLib": "ignore", "Debit": "amount", "Credit": "ignore", "EcritureLet": "ignore",
                "DateLet": "ignore", "ValidDate": "ignore", "Montantdevise": "ignore", "Idevise": "currency",
            ]
            let put = try await client.call(.put, "/v1/creditors/\(c.id)/column-mapping", bearer: c.token, json: ["columns": mapping])
            #expect(put.status == 422 && put.text.contains("due_date"), "\(put.text)")
            let json = String(decoding: try JSONSerialization.data(withJSONObject: mapping), as: UTF8.self)
            let oneOff = try await base.upload(client, c, fec, query: ["mapping": json])
            #expect(oneOff.status == 422 && oneOff.text.contains("due_date"), "\(oneOff.text)")
            let placements = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM placements WHERE creditor_id = \(c.id)")
            #expect(try placements?.decode(Int.self, "n") == 0)
        }
    }
}
