import Foundation
@testable import Onboarding
import Postgres
import Testing

/// A file's header row read through a column mapping and the aliases, and refused with
/// suggestions when it cannot be.
@Suite("Placement headers")
struct PlacementHeaderTests {
    /// The export of the issue: a French accounting tool's customer invoices.
    static let accountingExport = [
        "Référence client", "Raison sociale", "SIREN", "Nom", "Prénom", "E-mail", "Téléphone", "Adresse", "Code postal", "Ville",
        "Pays", "N° facture", "Date facture", "Échéance", "Montant TTC", "Devise",
    ]

    @Test func aFrenchAccountingExportIsReadByTheAliasesAlone() throws {
        let header = try PlacementHeader(headers: Self.accountingExport)
        #expect(header.columns == [
            .debtorReference, .debtorName, .siren, .lastName, .firstName, .email, .phone, .addressLine1, .postalCode, .city, .country,
            .invoiceNumber, .issueDate, .dueDate, .amount, .currency,
        ])
        #expect(header.readings.allSatisfy { $0.by == "alias" })
        #expect(header.readings.first == .init(source: "Référence client", field: "debtor_reference", by: "alias"))
    }

    @Test func caseAccentsAndSpacingAreFolded() throws {
        let header = try PlacementHeader(headers: ["  RÉFÉRENCE   CLIENT ", "N°  FACTURE", "echeance", "MONTANT-TTC", "raison_sociale"])
        #expect(header.columns == [.debtorReference, .invoiceNumber, .dueDate, .amount, .debtorName])
    }

    @Test func everyUnknownColumnIsListedWithTheClosestFieldsAndEveryMissingOne() throws {
        let error = #expect(throws: PlacementHeader.HeaderProblem.self) {
            try PlacementHeader(headers: ["Réf. dossier client", "Echance", "Centre de coût", "Nom"])
        }
        let reasons = error?.reasons ?? []
        #expect(reasons.contains { $0.hasPrefix("unknown column 'Echance': closest fields due_date") })
        #expect(reasons.contains { $0.hasPrefix("unknown column 'Centre de coût'") && $0.hasSuffix("map it to a field, or to ignore") })
        #expect(reasons.contains { $0.hasPrefix("unknown column 'Réf. dossier client': closest fields") && $0.contains("creditor_reference") })
        #expect(reasons.contains("required column creditor_reference (or invoice_number) is missing"))
        #expect(reasons.contains("required column due_date is missing"))
        #expect(reasons.contains("required column amount is missing"))
        #expect(!reasons.contains { $0.contains("debtor_name") })
    }

    /// Docs/api.md's walkthrough: the export with two columns Relance does not use.
    @Test func columnsNothingResemblesAreRefusedWithoutSuggestions() {
        let error = #expect(throws: PlacementHeader.HeaderProblem.self) {
            try PlacementHeader(headers: Self.accountingExport + ["Commercial", "Centre de coût"])
        }
        #expect(error?.reasons == [
            "unknown column 'Commercial'; map it to a field, or to ignore",
            "unknown column 'Centre de coût'; map it to a field, or to ignore",
        ])
    }

    @Test func aMappingComesBeforeTheAliasesAndIgnoresWhatItSays() throws {
        let mapping = try ColumnMapping(["Code affaire": "creditor_reference", "Centre de coût": "ignore", "Nom": "debtor_name", "Solde": "amount"])
        let header = try PlacementHeader(headers: ["Code affaire", "Nom", "Centre de coût", "Échéance", "Solde"], mapping: mapping)
        #expect(header.columns == [.creditorReference, .debtorName, nil, .dueDate, .amount])
        #expect(header.readings.map(\.by) == ["mapping", "mapping", "mapping", "alias", "mapping"])
        #expect(header.readings[2] == .init(source: "Centre de coût", field: "ignore", by: "mapping"))
        // Without the mapping, the same file is refused for the columns it does not know.
        #expect(throws: PlacementHeader.HeaderProblem.self) { try PlacementHeader(headers: ["Code affaire", "Nom", "Centre de coût", "Échéance", "Solde"]) }
    }

    @Test func aMappingNamesEachFault() throws {
        func faults(_ sent: [String: String]) -> [String: String] {
            do {
                _ = try ColumnMapping(sent)
                return [:]
            } catch let problem as ColumnMapping.MappingProblem {
                return Dictionary(problem.errors.map { ($0.field, $0.reason) }, uniquingKeysWith: { a, _ in a })
            } catch {
                return ["error": "\(error)"]
            }
        }
        #expect(faults(["Montant": "amont"])["columns.Montant"]?.contains("'amont' is not a field; closest: amount") == true)
        let twice = faults(["Montant": "amount", "Solde": "amount"])
        #expect(twice["columns.Solde"]?.contains("maps to amount, as 'Montant' does") == true)
        #expect(faults(["Référence": "creditor_reference", "REFERENCE": "invoice_number"]).values.contains { $0.contains("is the same header as") })
        #expect(faults([:])["columns"] == "must map at least one column")
        #expect(faults(["   ": "amount"])["columns.   "]?.contains("column header of 1 to 200 characters") == true)
        #expect(faults(["Montant": "amount", "Divers": "IGNORE"]).isEmpty)
    }

    @Test func noAliasMeansTwoFields() {
        var owner: [String: PlacementColumn] = [:]
        for column in PlacementColumn.allCases {
            for alias in [column.rawValue] + column.aliases {
                let key = PlacementColumn.normalise(alias)
                #expect(owner[key] == nil || owner[key] == column, "\(alias) means both \(owner[key]!.rawValue) and \(column.rawValue)")
                owner[key] = column
            }
        }
    }

    @Test func theInvoiceNumberStandsForAMissingReferenceAndTheDebtorReferenceComesFirst() throws {
        let validator = PlacementRowValidator(defaultCurrency: "EUR", defaultCountry: "FR", today: CalendarDate(year: 2026, month: 6, day: 1)!)
        let values: [PlacementColumn: String] = [
            .invoiceNumber: "FA-2026-001", .dueDate: "15/01/2026", .amount: "120,00", .debtorName: "Acme SAS", .debtorReference: "411ACME",
            .email: "compta@acme.example",
        ]
        let row = try validator.validate(row: 2) { values[$0] }.get()
        #expect(row.creditorReference == "FA-2026-001" && row.invoiceNumber == "FA-2026-001")
        #expect(row.matchKeys.first == "acct:411ACME" && row.groupKey == "acct:411ACME")
        // A row without a debtor reference keeps the digest it always had.
        var plain = values
        plain[.debtorReference] = nil
        let without = try validator.validate(row: 2) { plain[$0] }.get()
        var same = row
        same.debtorReference = nil
        #expect(without.hash == same.hash && without.hash != row.hash)
        let none: [PlacementColumn: String] = [.dueDate: "15/01/2026", .amount: "1,00", .debtorName: "X"]
        guard case .failure(let refused) = validator.validate(row: 3, { none[$0] }) else {
            Issue.record("a row without a reference or an invoice number was accepted")
            return
        }
        #expect(refused.field == "creditor_reference" && refused.reason == "is required (or an invoice_number to stand for it)")
    }
}
