import Core
import Foundation
import Portfolio
import Postgres

/// Reads what the gate weighs for a case, in one statement of the caller's transaction: the
/// case's status, its debtor's country and time zone, the debtor's preferences, the rules of
/// the debtor's jurisdiction, and the contacts the caps count (a year back).
public enum ContactSituationRows {
    /// A case as the gate sees it.
    public struct Found: Sendable {
        public var creditorId: UUID
        public var caseId: UUID
        public var debtorId: UUID
        public var situation: ContactSituation
        /// False when the debtor's time zone is not one this machine knows (the gate then
        /// judges hours in UTC, and says so).
        public var knownTimeZone: Bool
        /// What an agent sees first of the case, and its score's parts now.
        public var debtorName: String
        public var balanceMinor: Int
        public var currency: String
        public var scoreParts: ScoreParts
    }

    struct Contact: Decodable {
        var kind: String
        var direction: String
        var outcome: String?
        var at: Double
    }

    /// What the gate weighs, as columns of a case `c` (with `creditor_id` and `case_id` beside
    /// them): the claim statement reads them with the case it leases, `load` for any case.
    static func columns(lastContact: SQL, at now: Date) -> SQL {
        """
        c.debtor_id, c.status, d.country, d.time_zone, d.name AS debtor_name, c.balance_minor, c.currency,
        work_score_parts(c.balance_minor, c.oldest_due_date, d.kind, \(lastContact), \(now)::timestamptz)::int8[] AS score_parts,
        pr.do_not_contact, pr.opted_out, pr.written_only, pr.preferred_days::int8[] AS preferred_days,
        left(pr.preferred_from::text, 5) AS preferred_from, left(pr.preferred_to::text, 5) AS preferred_to, pr.restricted,
        (SELECT json_agg(json_build_object('kind', a.kind, 'direction', a.direction, 'outcome', a.outcome, 'at', extract(epoch FROM a.occurred_at)))
         FROM case_activities a
         WHERE a.creditor_id = c.creditor_id AND a.case_id = c.id AND NOT a.blocked
           AND a.occurred_at > \(now)::timestamptz - interval '366 days' AND a.kind <> 'note') AS contacts,
        r.jurisdiction, r.name, r.hours, r.hours_channels, r.recurring_holidays, r.holidays::text[] AS holidays, r.call_attempts_max,
        r.call_attempts_window_days, r.quiet_days_after_conversation, r.min_days_between, r.version
        """
    }

    /// The tables those columns come from, joined to the case `c`.
    static let joins: SQL = """
        JOIN debtors d ON d.creditor_id = c.creditor_id AND d.id = c.debtor_id
        LEFT JOIN contact_preferences pr ON pr.creditor_id = c.creditor_id AND pr.debtor_id = c.debtor_id
        CROSS JOIN LATERAL (SELECT * FROM contact_rules WHERE jurisdiction IN (d.country, '*') ORDER BY jurisdiction = '*' LIMIT 1) r
        """

    /// Nil when the caller cannot see the case. With its creditor, the case is found by its
    /// primary key.
    public static func load(case id: UUID, creditor: UUID? = nil, at now: Date, in tx: PostgresTransaction) async throws -> Found? {
        let which: SQL = creditor.map { "c.creditor_id = \($0) AND c.id = \(id)" } ?? "c.id = \(id)"
        guard
            let row = try await tx.one(
                """
                SELECT c.creditor_id, c.id AS case_id, \(columns(lastContact: "w.last_contact_at", at: now))
                FROM cases c
                LEFT JOIN work_items w ON w.creditor_id = c.creditor_id AND w.case_id = c.id
                \(joins)
                WHERE \(which)
                """)
        else { return nil }
        return try decode(row)
    }

    /// A case's situation from a row holding `creditor_id`, `case_id` and `columns`.
    static func decode(_ row: PostgresRow) throws -> Found {
        let zoneName = try row.decode(String.self, "time_zone")
        let zone = TimeZone(identifier: zoneName)
        var preferences = ContactPreferences.none
        if let dnc = try row.decode(Bool?.self, "do_not_contact") {
            preferences = ContactPreferences(
                doNotContact: dnc, optedOut: try row.decode([String].self, "opted_out").compactMap(Channel.init(rawValue:)),
                writtenOnly: try row.decode(Bool.self, "written_only"), preferredDays: try row.decode([Int]?.self, "preferred_days"),
                preferredFrom: try row.decode(String?.self, "preferred_from"), preferredTo: try row.decode(String?.self, "preferred_to"),
                restricted: try row.decode(Bool.self, "restricted"))
        }
        let contacts = try row.decode(PostgresJSON?.self, "contacts")?.decode([Contact].self) ?? []
        return Found(
            creditorId: try row.decode(UUID.self, "creditor_id"), caseId: try row.decode(UUID.self, "case_id"), debtorId: try row.decode(UUID.self, "debtor_id"),
            situation: ContactSituation(
                caseStatus: try row.decode(CaseStatus.self, "status"), rules: try ContactRuleBook.decode(row), timeZone: zone ?? TimeZone(identifier: "UTC")!,
                preferences: preferences, history: history(contacts)),
            knownTimeZone: zone != nil, debtorName: try row.decode(String.self, "debtor_name"), balanceMinor: try row.decode(Int.self, "balance_minor"),
            currency: try row.decode(String.self, "currency"), scoreParts: ScoreParts(try row.decode([Int].self, "score_parts")))
    }

    /// The contacts the caps count (outbound, any outcome) and the last conversation: a
    /// right-party contact or a refusal, either direction. A callback the debtor asked for is
    /// not a conversation that silences the phone: the debtor asked to be called.
    static func history(_ contacts: [Contact]) -> ContactHistory {
        var history = ContactHistory()
        for c in contacts {
            guard let channel = Channel(rawValue: c.kind) else { continue }
            let at = Date(timeIntervalSince1970: c.at)
            if c.direction == "outbound" { history.contacts.append(.init(channel: channel, at: at)) }
            if c.outcome == "right_party_contact" || c.outcome == "refused" {
                history.lastConversationAt = max(history.lastConversationAt ?? at, at)
            }
        }
        return history
    }

    /// The gate's decision on `channel` for a case the caller can see; nil when they cannot.
    public static func decide(_ channel: Channel, case id: UUID, at now: Date, in tx: PostgresTransaction) async throws -> (Found, ContactDecision)? {
        guard let found = try await load(case: id, at: now, in: tx) else { return nil }
        return (found, decision(channel, found, at: now))
    }

    /// The gate on a loaded case, with the unknown time zone as a reason of its own.
    public static func decision(_ channel: Channel, _ found: Found, at now: Date) -> ContactDecision {
        var decision = ContactGate.decide(channel, at: now, found.situation)
        if !found.knownTimeZone, found.situation.rules.hoursChannels.contains(channel) {
            decision.allowed = false
            decision.nextAllowedAt = nil
            decision.reasons.append(.init(code: "unknown_time_zone", detail: "the debtor's time zone is unknown: correct it before contacting", until: nil))
        }
        return decision
    }
}
