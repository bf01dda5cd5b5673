import Core
import Foundation
import Postgres

/// The agency's creditors, the tenants of the platform.
public struct CreditorDirectory: Sendable {
    public let pool: PostgresPool

    /// Emptied when a creditor changes (its status decides whether its users and keys may act).
    let credentials: CredentialCache

    public init(pool: PostgresPool, credentials: CredentialCache = .off) {
        self.pool = pool
        self.credentials = credentials
    }

    public enum Status: String, Codable, Sendable {
        case active
        case suspended
        case offboarded
    }

    public struct Address: Codable, Sendable, Equatable {
        public var line1: String?
        public var line2: String?
        public var postalCode: String?
        public var city: String?
        public var country: String?
    }

    public struct Contact: Codable, Sendable, Equatable {
        public var name: String?
        public var email: String?
        public var phone: String?
    }

    public struct Creditor: Codable, Sendable, Equatable {
        public var id: UUID
        public var legalName: String
        public var siren: String?
        public var siret: String?
        public var vatNumber: String?
        public var address: Address
        public var contact: Contact
        public var jurisdiction: String
        public var defaultCurrency: String
        public var remittanceIban: String?
        public var status: Status
        public var createdAt: Date
        public var updatedAt: Date
    }

    /// What a caller may set; nil leaves a field as it is (on update) or unset (on create).
    public struct Input: Codable, Sendable {
        public var legalName: String?
        public var siren: String?
        public var siret: String?
        public var vatNumber: String?
        public var address: Address?
        public var contact: Contact?
        public var jurisdiction: String?
        public var defaultCurrency: String?
        public var remittanceIban: String?
        public var status: Status?

        public init(
            legalName: String? = nil, siren: String? = nil, siret: String? = nil, vatNumber: String? = nil, address: Address? = nil,
            contact: Contact? = nil, jurisdiction: String? = nil, defaultCurrency: String? = nil, remittanceIban: String? = nil,
            status: Status? = nil
        ) {
            self.legalName = legalName
            self.siren = siren
            self.siret = siret
            self.vatNumber = vatNumber
            self.address = address
            self.contact = contact
            self.jurisdiction = jurisdiction
            self.defaultCurrency = defaultCurrency
            self.remittanceIban = remittanceIban
            self.status = status
        }
    }

    /// The checked and normalised form of an `Input`.
    struct Checked {
        var legalName: String?
        var siren: String?
        var siret: String?
        var vatNumber: String?
        var address: Address?
        var contact: Contact?
        var jurisdiction: String?
        var defaultCurrency: String?
        var remittanceIban: String?
    }

    /// - Throws: `Problem.validation` naming every field at fault.
    static func check(_ input: Input, creating: Bool) throws -> Checked {
        var errors: [Problem.FieldError] = []
        var out = Checked()
        func text(_ value: String?, _ field: String, max: Int) -> String? {
            guard let value else { return nil }
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.count > max { errors.append(.init(field: field, reason: "must be 1 to \(max) characters")) }
            return trimmed
        }
        out.legalName = text(input.legalName, "legalName", max: 200)
        if creating && input.legalName == nil { errors.append(.init(field: "legalName", reason: "is required")) }
        if let siren = input.siren {
            out.siren = Validators.siren(siren)
            if out.siren == nil { errors.append(.init(field: "siren", reason: "is not a valid SIREN (9 digits, checksum)")) }
        }
        if let siret = input.siret {
            out.siret = Validators.siret(siret)
            if out.siret == nil { errors.append(.init(field: "siret", reason: "is not a valid SIRET (14 digits, checksum)")) }
            else if let siren = out.siren, !out.siret!.hasPrefix(siren) { errors.append(.init(field: "siret", reason: "does not belong to the SIREN")) }
        }
        if let vat = input.vatNumber {
            out.vatNumber = Validators.vatNumber(vat)
            if out.vatNumber == nil { errors.append(.init(field: "vatNumber", reason: "is not a valid VAT number")) }
        }
        if let address = input.address {
            var a = Address()
            a.line1 = text(address.line1, "address.line1", max: 200)
            a.line2 = text(address.line2, "address.line2", max: 200)
            a.postalCode = text(address.postalCode, "address.postalCode", max: 20)
            a.city = text(address.city, "address.city", max: 100)
            if let country = address.country?.uppercased() {
                if Validators.countries[country] == nil { errors.append(.init(field: "address.country", reason: "is not a supported ISO 3166 country code")) }
                a.country = country
            }
            out.address = a
        }
        if let contact = input.contact {
            var c = Contact()
            c.name = text(contact.name, "contact.name", max: 200)
            if let email = contact.email {
                c.email = Validators.email(email)
                if c.email == nil { errors.append(.init(field: "contact.email", reason: "is not an email address")) }
            }
            if let phone = contact.phone {
                c.phone = Validators.phone(phone)
                if c.phone == nil { errors.append(.init(field: "contact.phone", reason: "is not a phone number")) }
            }
            out.contact = c
        }
        if let jurisdiction = input.jurisdiction?.uppercased() {
            if Validators.countries[jurisdiction] == nil { errors.append(.init(field: "jurisdiction", reason: "is not a supported country code")) }
            out.jurisdiction = jurisdiction
        }
        if let currency = input.defaultCurrency?.uppercased() {
            if Validators.currencies[currency] == nil { errors.append(.init(field: "defaultCurrency", reason: "is not a supported ISO 4217 currency")) }
            out.defaultCurrency = currency
        }
        if let iban = input.remittanceIban {
            out.remittanceIban = Validators.iban(iban)
            if out.remittanceIban == nil { errors.append(.init(field: "remittanceIban", reason: "is not a valid IBAN (checksum)")) }
        }
        if creating && (input.jurisdiction ?? "FR").uppercased() == "FR" && input.siren == nil {
            errors.append(.init(field: "siren", reason: "is required for a French creditor"))
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        return out
    }

    /// Onboards a creditor (active at once; placements still need a mandate).
    public func create(_ input: Input, by actor: Principal, requestID: String?) async throws -> Creditor {
        let checked = try Self.check(input, creating: true)
        let id = UUID()
        return try await pool.transaction(as: actor) { tx in
            let creditor = try await CreditorRows.insert(checked, id: id, in: tx)
            try await AuditLog.append(
                AuditEntry(action: "creditor.create", objectType: "creditor", objectID: id.uuidString.lowercased(), creditorID: id),
                actor: actor, requestID: requestID, in: tx)
            return creditor
        }
    }

    /// One creditor, or nil when missing or out of the actor's reach (row-level security).
    public func find(_ id: UUID, as actor: Principal) async throws -> Creditor? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await CreditorRows.find(id, in: tx)
        }
    }

    /// The creditors the actor can see (staff: all; a creditor principal: its own), by ID.
    public func list(as actor: Principal, limit: Int, after: UUID?) async throws -> [Creditor] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await CreditorRows.page(after: after, limit: limit, in: tx)
        }
    }

    /// Changes details or the status (suspend, reactivate, offboard). Offboarding is final.
    public func update(_ id: UUID, _ input: Input, by actor: Principal, requestID: String?) async throws -> Creditor? {
        let c = try Self.check(input, creating: false)
        defer { if input.status != nil { credentials.invalidateAll() } }
        return try await pool.transaction(as: actor) { tx in
            guard let current = try await CreditorRows.find(id, forUpdate: true, in: tx) else { return nil }
            if current.status == .offboarded, let status = input.status, status != .offboarded {
                throw Problem.validation([.init(field: "status", reason: "an offboarded creditor cannot be reactivated")])
            }
            let siren = c.siren ?? current.siren
            if let siret = c.siret ?? current.siret, let siren, !siret.hasPrefix(siren) {
                throw Problem.validation([.init(field: "siret", reason: "does not belong to the SIREN")])
            }
            let updated = try await CreditorRows.update(id, with: c, status: input.status, in: tx)
            let action = input.status.map { "creditor.status.\($0.rawValue)" } ?? "creditor.update"
            try await AuditLog.append(
                AuditEntry(action: action, objectType: "creditor", objectID: id.uuidString.lowercased(), creditorID: id),
                actor: actor, requestID: requestID, in: tx)
            return updated
        }
    }
}
