import Foundation

/// The columns a placement file may have, with the French and English headers accepted
/// for each (compared without case, accents, spaces, dashes or underscores).
public enum PlacementColumn: String, CaseIterable, Sendable, Codable {
    case creditorReference = "creditor_reference"
    case invoiceNumber = "invoice_number"
    case issueDate = "issue_date"
    case dueDate = "due_date"
    case amount
    case currency
    case debtorType = "debtor_type"
    case debtorName = "debtor_name"
    case firstName = "first_name"
    case lastName = "last_name"
    case siren
    case birthDate = "birth_date"
    case email
    case phone
    case addressLine1 = "address_line1"
    case addressLine2 = "address_line2"
    case postalCode = "postal_code"
    case city
    case country
    case timeZone = "time_zone"
    case language
    /// The creditor's own reference of the debtor (customer account): recognises the debtor
    /// again, before any other identifier.
    case debtorReference = "debtor_reference"

    public var aliases: [String] {
        switch self {
        case .creditorReference: return ["creditor_reference", "reference", "ref", "reference_creancier", "num_dossier", "numero_dossier", "numero_de_dossier", "n_dossier", "no_dossier", "dossier", "reference_dossier", "claim_reference"]
        case .invoiceNumber: return ["invoice_number", "invoice", "invoice_no", "facture", "numero_facture", "numero_de_facture", "n_facture", "no_facture", "num_facture", "n_de_facture", "piece", "n_piece", "no_piece", "numero_piece", "numero_de_piece", "reference_facture", "ref_facture", "document_number"]
        case .issueDate: return ["issue_date", "invoice_date", "date_facture", "date_de_facture", "date_emission", "date_d_emission", "date_piece", "date_de_piece", "date_document"]
        case .dueDate: return ["due_date", "echeance", "date_echeance", "date_d_echeance", "date_limite", "date_limite_de_paiement", "date_de_paiement_prevue"]
        case .amount: return ["amount", "montant", "principal", "montant_ttc", "amount_due", "montant_du", "solde", "reste_du", "reste_a_payer", "restant_du", "montant_restant", "montant_restant_du", "solde_du", "total_ttc", "outstanding_amount"]
        case .currency: return ["currency", "devise", "monnaie", "code_devise"]
        case .debtorType: return ["debtor_type", "type", "type_debiteur", "type_de_debiteur", "nature", "categorie", "type_client", "type_de_client"]
        case .debtorName: return ["debtor_name", "name", "nom", "raison_sociale", "nom_debiteur", "debiteur", "societe", "company", "client", "nom_client", "nom_du_client", "intitule", "intitule_compte", "denomination", "customer", "customer_name"]
        case .firstName: return ["first_name", "prenom", "given_name"]
        case .lastName: return ["last_name", "nom_de_famille", "family_name", "surname"]
        case .siren: return ["siren", "siret", "numero_siren", "numero_siret", "n_siren", "n_siret"]
        case .birthDate: return ["birth_date", "date_naissance", "date_de_naissance", "date_of_birth", "dob", "ne_le", "ne_e_le"]
        case .email: return ["email", "e_mail", "courriel", "mail", "adresse_email", "adresse_e_mail", "adresse_mail", "email_client", "e_mail_client"]
        case .phone: return ["phone", "telephone", "tel", "mobile", "portable", "numero_telephone", "numero_de_telephone", "n_telephone", "telephone_portable", "tel_portable", "telephone_fixe", "phone_number"]
        case .addressLine1: return ["address_line1", "address_line_1", "address", "adresse", "adresse1", "adresse_1", "adresse_ligne_1", "street", "rue"]
        case .addressLine2: return ["address_line2", "address_line_2", "adresse2", "adresse_2", "adresse_ligne_2", "complement", "complement_adresse", "complement_d_adresse"]
        case .postalCode: return ["postal_code", "code_postal", "cp", "zip", "zip_code", "postcode"]
        case .city: return ["city", "ville", "commune", "localite"]
        case .country: return ["country", "pays", "code_pays"]
        case .timeZone: return ["time_zone", "timezone", "fuseau_horaire", "fuseau"]
        case .language: return ["language", "langue", "lang"]
        case .debtorReference: return ["debtor_reference", "reference_client", "ref_client", "code_client", "numero_client", "numero_de_client", "n_client", "no_client", "num_client", "compte_client", "client_reference", "customer_reference", "customer_id", "customer_number", "account_reference", "account_number", "compte_tiers", "n_compte_tiers", "numero_compte_tiers", "code_tiers", "tiers"]
        }
    }

    static let caseCount = allCases.count

    /// Position in `allCases`: rows keep their values in an array, not a dictionary.
    var ordinal: Int {
        switch self {
        case .creditorReference: return 0
        case .invoiceNumber: return 1
        case .issueDate: return 2
        case .dueDate: return 3
        case .amount: return 4
        case .currency: return 5
        case .debtorType: return 6
        case .debtorName: return 7
        case .firstName: return 8
        case .lastName: return 9
        case .siren: return 10
        case .birthDate: return 11
        case .email: return 12
        case .phone: return 13
        case .addressLine1: return 14
        case .addressLine2: return 15
        case .postalCode: return 16
        case .city: return 17
        case .country: return 18
        case .timeZone: return 19
        case .language: return 20
        case .debtorReference: return 21
        }
    }

    /// `Échéance` -> `echeance`, `Date d'émission` -> `date_d_emission`, `dueDate` -> `due_date`,
    /// `N° facture` -> `n_facture`, `RÉFÉRENCE  Client` -> `reference_client`.
    public static func normalise(_ header: String) -> String {
        // camelCase -> camel_Case first, so `creditorReference` meets `creditor_reference`.
        var spaced = ""
        var previousLower = false
        for ch in header {
            if ch.isUppercase && previousLower { spaced.append("_") }
            spaced.append(ch)
            previousLower = ch.isLowercase || ch.isNumber
        }
        let folded = spaced.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: Locale(identifier: "fr_FR")).lowercased()
        return folded.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).joined(separator: "_")
    }

    static let byAlias: [String: PlacementColumn] = {
        var map: [String: PlacementColumn] = [:]
        for column in allCases { for alias in column.aliases { map[normalise(alias)] = column } }
        return map
    }()
}
