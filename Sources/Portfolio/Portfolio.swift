import Core
import Foundation
import Postgres

/// A debtor of one creditor: a person or a company, with how to reach them. Personal data:
/// never logged; reading a debtor's full record is for the roles Docs/security.md lists.
public struct Debtor: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, PostgresDecodable { case person, company }

    public struct Address: Codable, Sendable, Equatable {
        public var line1: String?
        public var line2: String?
        public var postalCode: String?
        public var city: String?
        /// ISO 3166-1 alpha-2.
        public var country: String
    }

    public var id: UUID
    public var creditorId: UUID
    public var kind: Kind
    /// The company's name, or the person's full name as the creditor sent it.
    public var name: String
    public var firstName: String?
    public var lastName: String?
    public var siren: String?
    public var birthDate: CalendarDate?
    public var emails: [String]
    public var phones: [String]
    public var address: Address
    /// IANA time zone: contact hours are the debtor's own.
    public var timeZone: String
    public var language: String
    public var createdAt: Date
    public var updatedAt: Date
}

/// A case: one debtor's live claims of one creditor in one currency, worked as one (domain,
/// "Life of a case"). Its amounts are the sum of its open claims (`CaseTotals`).
public struct Case: Codable, Sendable, Equatable {
    public var id: UUID
    public var creditorId: UUID
    public var debtorId: UUID
    public var currency: String
    public var status: CaseStatus
    public var principalMinor: Int
    public var balanceMinor: Int
    public var oldestDueDate: CalendarDate?
    public var firstPlacementId: UUID
    public var placedAt: Date
    public var closedAt: Date?
    public var closeReason: String?
    public var assignedAgentId: UUID?
    /// Where the case is in its ladder: `amicable_calls`, `letters`, `escalation`.
    public var stage: String
    public var assignedAt: Date?
    /// Why no agent holds the open case yet (`no_rule`, `pool_absent`, `pool_full`,
    /// `skill_missing`); nil when assigned or not yet seen by the assigner.
    public var unassignedReason: String?
    public var createdAt: Date
    public var updatedAt: Date
}

/// One unpaid invoice of a case, as the creditor placed it.
public struct Claim: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, PostgresDecodable { case open, recalled, closed }

    public var id: UUID
    public var creditorId: UUID
    public var caseId: UUID
    public var debtorId: UUID
    public var creditorReference: String
    public var invoiceNumber: String
    public var issueDate: CalendarDate?
    public var dueDate: CalendarDate
    public var principalMinor: Int
    public var balanceMinor: Int
    public var currency: String
    public var status: Status
    public var firstPlacementId: UUID
    public var lastPlacementId: UUID
    public var recalledAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
}
