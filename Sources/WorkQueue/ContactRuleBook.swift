import Core
import Foundation
import Postgres

/// The rules of contact per jurisdiction (`contact_rules`): read by staff, changed by the
/// agency's administrators, audited. A debtor's jurisdiction is their country; a country
/// without its own rules gets the `*` rules.
public struct ContactRuleBook: Sendable {
    public let pool: PostgresPool
    /// Called after a change, so the queue's clock recomputes the zones' windows.
    let changed: @Sendable () -> Void

    public init(pool: PostgresPool, changed: @escaping @Sendable () -> Void = {}) {
        self.pool = pool
        self.changed = changed
    }

    static let columns: SQL = """
        jurisdiction, name, hours, hours_channels, recurring_holidays, holidays::text[] AS holidays, call_attempts_max,
        call_attempts_window_days, quiet_days_after_conversation, min_days_between, version
        """

    static func decode(_ row: PostgresRow) throws -> ContactRules {
        ContactRules(
            jurisdiction: try row.decode(String.self, "jurisdiction"), name: try row.decode(String.self, "name"),
            hours: try row.decode(PostgresJSON.self, "hours").decode([String: [ContactRules.Window]].self),
            hoursChannels: try row.decode([String].self, "hours_channels").compactMap(Channel.init(rawValue:)),
            recurringHolidays: try row.decode([String].self, "recurring_holidays"),
            holidays: try row.decode([String].self, "holidays").compactMap { CalendarDate(iso: $0) },
            callAttemptsMax: try row.decode(Int.self, "call_attempts_max"), callAttemptsWindowDays: try row.decode(Int.self, "call_attempts_window_days"),
            quietDaysAfterConversation: try row.decode(Int.self, "quiet_days_after_conversation"),
            minDaysBetween: try row.decode(PostgresJSON.self, "min_days_between").decode([String: Int].self),
            version: try row.decode(Int.self, "version"))
    }

    /// The rules a debtor of `country` is contacted under, in the caller's transaction.
    public static func rules(forCountry country: String, in tx: PostgresTransaction) async throws -> ContactRules {
        let rows = try await tx.query("SELECT \(columns) FROM contact_rules WHERE jurisdiction IN (\(country), '*') ORDER BY jurisdiction = '*'")
        guard let first = rows.first else { throw Problem(status: 500, code: "no-contact-rules", title: "No contact rules are configured") }
        return try decode(first)
    }

    /// Every jurisdiction's rules, `*` last.
    public static func all(in tx: PostgresTransaction) async throws -> [ContactRules] {
        try await tx.query("SELECT \(columns) FROM contact_rules ORDER BY jurisdiction = '*', jurisdiction").map(decode)
    }

    public func list(as actor: Principal) async throws -> [ContactRules] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in try await Self.all(in: tx) }
    }

    public func get(_ jurisdiction: String, as actor: Principal) async throws -> ContactRules {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let row = try await tx.one("SELECT \(Self.columns) FROM contact_rules WHERE jurisdiction = \(jurisdiction)") else {
                throw Problem.notFound("contact rules")
            }
            return try Self.decode(row)
        }
    }

    /// Creates or replaces a jurisdiction's rules; every fault named, nothing saved on one.
    public func put(_ jurisdiction: String, _ input: ContactRules, by actor: Principal, requestID: String?) async throws -> ContactRules {
        guard jurisdiction == "*" || (jurisdiction.count == 2 && jurisdiction.allSatisfy({ $0.isASCII && $0.isUppercase })) else {
            throw Problem.validation([.init(field: "jurisdiction", reason: "must be an ISO 3166-1 alpha-2 country code in capitals, or *")])
        }
        let faults = input.faults()
        guard faults.isEmpty else { throw Problem.validation(faults.map { .init(field: $0.field, reason: $0.reason) }) }
        let saved = try await pool.transaction(as: actor) { tx in
            try await tx.execute(
                """
                INSERT INTO contact_rules (jurisdiction, name, hours, hours_channels, recurring_holidays, holidays, call_attempts_max,
                    call_attempts_window_days, quiet_days_after_conversation, min_days_between, updated_by)
                VALUES (\(jurisdiction), \(input.name), \(try PostgresJSON(encoding: input.hours)), \(input.hoursChannels.map(\.rawValue)),
                    \(input.recurringHolidays), \(input.holidays.map(\.description))::date[], \(input.callAttemptsMax), \(input.callAttemptsWindowDays),
                    \(input.quietDaysAfterConversation), \(try PostgresJSON(encoding: input.minDaysBetween)), \(actor.id))
                ON CONFLICT (jurisdiction) DO UPDATE SET name = excluded.name, hours = excluded.hours, hours_channels = excluded.hours_channels,
                    recurring_holidays = excluded.recurring_holidays, holidays = excluded.holidays, call_attempts_max = excluded.call_attempts_max,
                    call_attempts_window_days = excluded.call_attempts_window_days,
                    quiet_days_after_conversation = excluded.quiet_days_after_conversation, min_days_between = excluded.min_days_between,
                    version = contact_rules.version + 1, updated_by = excluded.updated_by, updated_at = now()
                """)
            try await AuditLog.append(
                AuditEntry(action: "contact_rules.save", objectType: "contact_rules", objectID: jurisdiction), actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM contact_rules WHERE jurisdiction = \(jurisdiction)")!)
        }
        changed()
        return saved
    }
}
