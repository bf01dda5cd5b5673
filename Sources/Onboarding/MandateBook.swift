import Core
import Foundation
import Postgres

/// Signed mandates (CPCE R124-3). A creditor may place cases only while a mandate is active:
/// not terminated, and today within its validity period.
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

    static let columns: SQL = """
        id, creditor_id, reference, signed_on, valid_from, valid_until, power_to_receive_funds, fee_basis, remittance_basis,
        remittance_frequency, remittance_days_after_encashment, insurance_reference, status, created_at, terminated_at,
        (status = 'active' AND valid_from <= current_date AND (valid_until IS NULL OR valid_until >= current_date)) AS active
        """

    static func decode(_ row: PostgresRow) throws -> Mandate {
        Mandate(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"),
            reference: try row.decode(String.self, "reference"), signedOn: try row.decode(CalendarDate.self, "signed_on"),
            validFrom: try row.decode(CalendarDate.self, "valid_from"), validUntil: try row.decode(CalendarDate?.self, "valid_until"),
            powerToReceiveFunds: try row.decode(Bool.self, "power_to_receive_funds"), feeBasis: try row.decode(String.self, "fee_basis"),
            remittanceBasis: RemittanceBasis(rawValue: try row.decode(String.self, "remittance_basis")) ?? .net,
            remittanceFrequency: RemittanceFrequency(rawValue: try row.decode(String.self, "remittance_frequency")) ?? .monthly,
            remittanceDaysAfterEncashment: try row.decode(Int.self, "remittance_days_after_encashment"),
            insuranceReference: try row.decode(String.self, "insurance_reference"), status: try row.decode(String.self, "status"),
            active: try row.decode(Bool.self, "active"), createdAt: try row.decode(Date.self, "created_at"),
            terminatedAt: try row.decode(Date?.self, "terminated_at"))
    }

    public func record(_ input: Input, creditor: UUID, by actor: Principal, requestID: String?) async throws -> Mandate {
        try Self.check(input, today: CalendarDate(Date()))
        let id = UUID()
        do {
            return try await pool.transaction(as: actor) { tx in
                guard try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") != nil else { throw Problem.notFound("creditor") }
                let row = try await tx.one(
                    """
                    INSERT INTO mandates (creditor_id, id, reference, signed_on, valid_from, valid_until, power_to_receive_funds, fee_basis,
                                          remittance_basis, remittance_frequency, remittance_days_after_encashment, insurance_reference, created_by)
                    VALUES (\(creditor), \(id), \(input.reference.trimmingCharacters(in: .whitespaces)), \(input.signedOn), \(input.validFrom),
                            \(input.validUntil), \(input.powerToReceiveFunds), \(input.feeBasis), \(input.remittanceBasis.rawValue),
                            \(input.remittanceFrequency.rawValue), \(input.remittanceDaysAfterEncashment), \(input.insuranceReference), \(actor.id))
                    RETURNING \(Self.columns)
                    """)
                try await AuditLog.append(
                    AuditEntry(action: "mandate.record", objectType: "mandate", objectID: id.uuidString.lowercased(), creditorID: creditor),
                    actor: actor, requestID: requestID, in: tx)
                return try Self.decode(row!)
            }
        } catch let error as PostgresError where error.code == .uniqueViolation {
            throw Problem(status: 409, code: "mandate-reference-taken", title: "Mandate reference already recorded",
                          errors: [.init(field: "reference", reason: "is already recorded for this creditor")])
        }
    }

    /// - Throws: `Problem.notFound` when the creditor is missing or out of reach.
    public func list(creditor: UUID, as actor: Principal) async throws -> [Mandate] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") != nil else { throw Problem.notFound("creditor") }
            return try await tx.query("SELECT \(Self.columns) FROM mandates WHERE creditor_id = \(creditor) ORDER BY valid_from DESC, created_at DESC")
                .map(Self.decode)
        }
    }

    /// Ends a mandate now. Returns nil when not found.
    public func terminate(_ id: UUID, creditor: UUID, by actor: Principal, requestID: String?) async throws -> Mandate? {
        try await pool.transaction(as: actor) { tx in
            let row = try await tx.one(
                """
                UPDATE mandates SET status = 'terminated', terminated_at = coalesce(terminated_at, now())
                WHERE creditor_id = \(creditor) AND id = \(id) RETURNING \(Self.columns)
                """)
            guard let row else { return nil }
            try await AuditLog.append(
                AuditEntry(action: "mandate.terminate", objectType: "mandate", objectID: id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decode(row)
        }
    }

    /// Whether the creditor may place cases today, inside the caller's transaction.
    public static func hasActiveMandate(creditor: UUID, in tx: PostgresTransaction) async throws -> Bool {
        try await tx.one(
            """
            SELECT 1 AS one FROM mandates WHERE creditor_id = \(creditor) AND status = 'active'
              AND valid_from <= current_date AND (valid_until IS NULL OR valid_until >= current_date) LIMIT 1
            """) != nil
    }
}
