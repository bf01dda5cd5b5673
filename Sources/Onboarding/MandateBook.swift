import Core
import Foundation
import Postgres

/// Signed mandates (CPCE R124-3). A creditor may place cases only while a mandate is active:
/// not terminated, and today within its validity period.
///
/// The use cases (record, list, terminate): each opens one transaction as its caller, works
/// through `MandateRows` (the table, in the caller's transaction) and audits in the same
/// transaction. Another module's use case that needs a mandate inside its own transaction calls
/// `MandateRows` with that transaction (`MandateRows.hasActive`: may the creditor place cases today?).
public struct MandateBook: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    public enum RemittanceBasis: String, Codable, Sendable { case net, gross }
    public enum RemittanceFrequency: String, Codable, Sendable { case weekly, fortnightly, monthly }

    public struct Input: Codable, Sendable {
        /// Reference of the signed document (contract number, archive ID).
        public var reference: String
        public var signedOn: CalendarDate
        public var validFrom: CalendarDate
        public var validUntil: CalendarDate?
        /// The mandate gives the agency the power to receive funds for the creditor.
        public var powerToReceiveFunds: Bool
        /// How the agency's fees are determined, as written in the mandate.
        public var feeBasis: String
        public var remittanceBasis: RemittanceBasis
        public var remittanceFrequency: RemittanceFrequency
        /// At most 31: funds go to the creditor within one month of encashment (R124-6).
        public var remittanceDaysAfterEncashment: Int
        public var insuranceReference: String
    }

    public struct Mandate: Codable, Sendable, Equatable {
        public var id: UUID
        public var creditorId: UUID
        public var reference: String
        public var signedOn: CalendarDate
        public var validFrom: CalendarDate
        public var validUntil: CalendarDate?
        public var powerToReceiveFunds: Bool
        public var feeBasis: String
        public var remittanceBasis: RemittanceBasis
        public var remittanceFrequency: RemittanceFrequency
        public var remittanceDaysAfterEncashment: Int
        public var insuranceReference: String
        public var status: String
        /// Active today (not terminated, within validity).
        public var active: Bool
        public var createdAt: Date
        public var terminatedAt: Date?
    }

    static func check(_ input: Input, today: CalendarDate) throws {
        var errors: [Problem.FieldError] = []
        if input.reference.trimmingCharacters(in: .whitespaces).isEmpty || input.reference.count > 100 {
            errors.append(.init(field: "reference", reason: "must be 1 to 100 characters"))
        }
        if !input.powerToReceiveFunds {
            errors.append(.init(field: "powerToReceiveFunds", reason: "must be true: the agency may only collect under a mandate to receive funds (CPCE R124-3)"))
        }
        if input.feeBasis.trimmingCharacters(in: .whitespaces).isEmpty || input.feeBasis.count > 1000 {
            errors.append(.init(field: "feeBasis", reason: "must be 1 to 1000 characters"))
        }
        if !(0...31).contains(input.remittanceDaysAfterEncashment) {
            errors.append(.init(field: "remittanceDaysAfterEncashment", reason: "must be 0 to 31: funds are remitted within one month of encashment (R124-6)"))
        }
        if input.insuranceReference.trimmingCharacters(in: .whitespaces).isEmpty || input.insuranceReference.count > 100 {
            errors.append(.init(field: "insuranceReference", reason: "must be 1 to 100 characters"))
        }
        if input.signedOn > today { errors.append(.init(field: "signedOn", reason: "must not be in the future")) }
        if input.signedOn > input.validFrom { errors.append(.init(field: "validFrom", reason: "must not be before signedOn")) }
        if let until = input.validUntil, until < input.validFrom { errors.append(.init(field: "validUntil", reason: "must not be before validFrom")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
    }

    /// Records a signed mandate, audited.
    /// - Throws: `Problem.validation` naming each field at fault; 404 for a creditor missing or
    ///   out of reach; 409 when the reference is already recorded for the creditor.
    public func record(_ input: Input, creditor: UUID, by actor: Principal, requestID: String?) async throws -> Mandate {
        try Self.check(input, today: CalendarDate(Date()))
        do {
            return try await pool.transaction(as: actor) { tx in
                try await CreditorRows.requireVisible(creditor, in: tx)
                let mandate = try await MandateRows.insert(input, creditor: creditor, by: actor, in: tx)
                try await AuditLog.append(
                    AuditEntry(action: "mandate.record", objectType: "mandate", objectID: mandate.id.uuidString.lowercased(), creditorID: creditor),
                    actor: actor, requestID: requestID, in: tx)
                return mandate
            }
        } catch let error as PostgresError where error.code == .uniqueViolation {
            throw Problem(status: 409, code: "mandate-reference-taken", title: "Mandate reference already recorded",
                          errors: [.init(field: "reference", reason: "is already recorded for this creditor")])
        }
    }

    /// - Throws: `Problem.notFound` when the creditor is missing or out of reach.
    public func list(creditor: UUID, as actor: Principal) async throws -> [Mandate] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await CreditorRows.requireVisible(creditor, in: tx)
            return try await MandateRows.all(creditor: creditor, in: tx)
        }
    }

    /// Ends a mandate now, audited. Returns nil when not found.
    public func terminate(_ id: UUID, creditor: UUID, by actor: Principal, requestID: String?) async throws -> Mandate? {
        try await pool.transaction(as: actor) { tx in
            guard let mandate = try await MandateRows.terminate(id, creditor: creditor, in: tx) else { return nil }
            try await AuditLog.append(
                AuditEntry(action: "mandate.terminate", objectType: "mandate", objectID: id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return mandate
        }
    }

}
