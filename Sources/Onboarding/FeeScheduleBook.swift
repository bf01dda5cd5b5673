import Core
import Foundation
import Postgres

/// Fee schedules, versioned by effective date. The commission module computes fees from
/// the schedule in force on the day money is collected.
public struct FeeScheduleBook: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    public enum Basis: String, Codable, Sendable {
        /// One rate for every case.
        case flat
        /// Tiers by days past due at placement.
        case ageAtPlacement = "age_at_placement"
        /// Tiers by balance at placement, in minor units.
        case balanceAtPlacement = "balance_at_placement"
    }

    public struct Tier: Codable, Sendable, Equatable {
        /// Lower bound, inclusive: days (age) or minor units (balance); 0 for the first tier.
        public var from: Int
        /// Commission on amounts collected, in basis points (1500 = 15 %).
        public var rateBasisPoints: Int

        public init(from: Int, rateBasisPoints: Int) {
            self.from = from
            self.rateBasisPoints = rateBasisPoints
        }
    }

    public struct Input: Codable, Sendable {
        public var effectiveFrom: CalendarDate
        public var currency: String?
        public var basis: Basis
        public var tiers: [Tier]
        public var minimumFeeMinor: Int?
        public var maximumFeeMinor: Int?
    }

    public struct Schedule: Codable, Sendable, Equatable {
        public var id: UUID
        public var creditorId: UUID
        public var effectiveFrom: CalendarDate
        public var currency: String
        public var basis: Basis
        public var tiers: [Tier]
        public var minimumFeeMinor: Int?
        public var maximumFeeMinor: Int?
        public var createdAt: Date

        public init(
            id: UUID, creditorId: UUID, effectiveFrom: CalendarDate, currency: String, basis: Basis, tiers: [Tier],
            minimumFeeMinor: Int?, maximumFeeMinor: Int?, createdAt: Date
        ) {
            self.id = id
            self.creditorId = creditorId
            self.effectiveFrom = effectiveFrom
            self.currency = currency
            self.basis = basis
            self.tiers = tiers
            self.minimumFeeMinor = minimumFeeMinor
            self.maximumFeeMinor = maximumFeeMinor
            self.createdAt = createdAt
        }

        /// The commission on `collected` for a case of this age and balance at placement.
        public func commission(collectedMinor collected: Int, daysPastDueAtPlacement age: Int, balanceAtPlacementMinor balance: Int) -> Int {
            let key = basis == .ageAtPlacement ? age : (basis == .balanceAtPlacement ? balance : 0)
            let tier = tiers.last(where: { $0.from <= key }) ?? tiers[0]
            // Round half up on the minor unit: 1234 * 1550 bp = 191.27 -> 191.
            var fee = (collected * tier.rateBasisPoints + 5_000) / 10_000
            if let minimum = minimumFeeMinor { fee = max(fee, min(minimum, collected)) }
            if let maximum = maximumFeeMinor { fee = min(fee, maximum) }
            return fee
        }
    }

    static func check(_ input: Input) throws {
        var errors: [Problem.FieldError] = []
        if input.tiers.isEmpty || input.tiers.count > 20 { errors.append(.init(field: "tiers", reason: "must have 1 to 20 tiers")) }
        if input.basis == .flat && input.tiers.count != 1 { errors.append(.init(field: "tiers", reason: "a flat schedule has exactly one tier")) }
        if let first = input.tiers.first, first.from != 0 { errors.append(.init(field: "tiers[0].from", reason: "must be 0")) }
        for (index, tier) in input.tiers.enumerated() {
            if !(0...10_000).contains(tier.rateBasisPoints) {
                errors.append(.init(field: "tiers[\(index)].rateBasisPoints", reason: "must be 0 to 10000 (0 % to 100 %)"))
            }
            if index > 0 && tier.from <= input.tiers[index - 1].from {
                errors.append(.init(field: "tiers[\(index)].from", reason: "must be greater than the previous tier's"))
            }
        }
        if let minimum = input.minimumFeeMinor, minimum < 0 { errors.append(.init(field: "minimumFeeMinor", reason: "must not be negative")) }
        if let maximum = input.maximumFeeMinor, maximum < 0 { errors.append(.init(field: "maximumFeeMinor", reason: "must not be negative")) }
        if let minimum = input.minimumFeeMinor, let maximum = input.maximumFeeMinor, minimum > maximum {
            errors.append(.init(field: "maximumFeeMinor", reason: "must not be below minimumFeeMinor"))
        }
        if let currency = input.currency, Validators.currencies[currency.uppercased()] == nil {
            errors.append(.init(field: "currency", reason: "is not a supported ISO 4217 currency"))
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
    }

    /// Adds a version, audited. Versions are never edited: a change is a new version from a
    /// later date.
    public func add(_ input: Input, creditor: UUID, by actor: Principal, requestID: String?) async throws -> Schedule {
        try Self.check(input)
        do {
            return try await pool.transaction(as: actor) { tx in
                guard let owner = try await tx.one("SELECT default_currency FROM creditors WHERE id = \(creditor)") else {
                    throw Problem.notFound("creditor")
                }
                let currency = try input.currency?.uppercased() ?? owner.decode(String.self, "default_currency")
                let schedule = try await FeeScheduleRows.insert(input, currency: currency, creditor: creditor, by: actor, in: tx)
                try await AuditLog.append(
                    AuditEntry(action: "fee_schedule.add", objectType: "fee_schedule", objectID: schedule.id.uuidString.lowercased(), creditorID: creditor),
                    actor: actor, requestID: requestID, in: tx)
                return schedule
            }
        } catch let error as PostgresError where error.code == .uniqueViolation {
            throw Problem(status: 409, code: "fee-schedule-date-taken", title: "A version already starts that day",
                          errors: [.init(field: "effectiveFrom", reason: "already has a version")])
        }
    }

    /// - Throws: `Problem.notFound` when the creditor is missing or out of reach.
    public func list(creditor: UUID, as actor: Principal) async throws -> [Schedule] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await CreditorRows.requireVisible(creditor, in: tx)
            return try await FeeScheduleRows.all(creditor: creditor, in: tx)
        }
    }

    /// The version in force on a day, if any.
    public func inForce(creditor: UUID, on day: CalendarDate, as actor: Principal) async throws -> Schedule? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await FeeScheduleRows.inForce(creditor: creditor, on: day, in: tx)
        }
    }
}
