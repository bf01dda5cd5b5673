import Core
import Foundation
import Portfolio
import Postgres

/// A debtor's contact preferences (do not contact, channel opt-outs, written only, preferred
/// hours) and the restriction of their data: recorded by agents as the debtor asks, by
/// supervisors and administrators, and by the DPO; audited. A change that lifts a refusal
/// puts the debtor's parked cases back in their agents' queues.
public struct ContactPreferenceBook: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    public func get(debtor: UUID, as actor: Principal) async throws -> ContactPreferences {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let row = try await tx.one("SELECT creditor_id FROM debtors WHERE id = \(debtor)") else { throw Problem.notFound("debtor") }
            let creditor = try row.decode(UUID.self, "creditor_id")
            return try await Self.read(debtor: debtor, creditor: creditor, in: tx) ?? .none
        }
    }

    static func read(debtor: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> ContactPreferences? {
        guard
            let row = try await tx.one(
                """
                SELECT do_not_contact, opted_out, written_only, preferred_days::int8[] AS preferred_days, to_char(preferred_from, 'HH24:MI') AS preferred_from,
                       to_char(preferred_to, 'HH24:MI') AS preferred_to, restricted
                FROM contact_preferences WHERE creditor_id = \(creditor) AND debtor_id = \(debtor)
                """)
        else { return nil }
        return ContactPreferences(
            doNotContact: try row.decode(Bool.self, "do_not_contact"), optedOut: try row.decode([String].self, "opted_out").compactMap(Channel.init(rawValue:)),
            writtenOnly: try row.decode(Bool.self, "written_only"), preferredDays: try row.decode([Int]?.self, "preferred_days"),
            preferredFrom: try row.decode(String?.self, "preferred_from"), preferredTo: try row.decode(String?.self, "preferred_to"),
            restricted: try row.decode(Bool.self, "restricted"))
    }

    static func faults(_ p: ContactPreferences) -> [Problem.FieldError] {
        var faults: [Problem.FieldError] = []
        if let days = p.preferredDays {
            if days.isEmpty || days.contains(where: { !(1...7).contains($0) }) || Set(days).count != days.count {
                faults.append(.init(field: "preferredDays", reason: "must be distinct ISO weekdays, 1 (Monday) to 7 (Sunday)"))
            }
        }
        if (p.preferredFrom == nil) != (p.preferredTo == nil) {
            faults.append(.init(field: p.preferredFrom == nil ? "preferredFrom" : "preferredTo", reason: "preferredFrom and preferredTo go together"))
        }
        if let from = p.preferredFrom, let to = p.preferredTo {
            let f = ContactRules.minutes(from), t = ContactRules.minutes(to)
            if f == nil || f == 1440 { faults.append(.init(field: "preferredFrom", reason: "must be a time HH:MM")) }
            if t == nil || t == 1440 { faults.append(.init(field: "preferredTo", reason: "must be a time HH:MM before 24:00")) }
            if let f, let t, f >= t { faults.append(.init(field: "preferredTo", reason: "must be after preferredFrom")) }
        }
        return faults
    }

    /// Replaces a debtor's preferences. Only the DPO (and administrators) set or lift
    /// `restricted`; for others it stays as it is (asking to set it is refused).
    public func put(debtor: UUID, _ input: ContactPreferences, by actor: Principal, requestID: String?) async throws -> ContactPreferences {
        let faults = Self.faults(input)
        guard faults.isEmpty else { throw Problem.validation(faults) }
        return try await pool.transaction(as: actor) { tx in
            guard let row = try await tx.one("SELECT creditor_id FROM debtors WHERE id = \(debtor)") else { throw Problem.notFound("debtor") }
            let creditor = try row.decode(UUID.self, "creditor_id")
            let before = try await Self.read(debtor: debtor, creditor: creditor, in: tx) ?? .none
            var wanted = input
            let mayRestrict = actor.role == .dpo || actor.role == .admin
            if !mayRestrict {
                if input.restricted && !before.restricted {
                    throw Problem.validation([.init(field: "restricted", reason: "is set and lifted by the DPO or an administrator")])
                }
                wanted.restricted = before.restricted
            }
            try await tx.execute(
                """
                INSERT INTO contact_preferences (creditor_id, debtor_id, do_not_contact, opted_out, written_only, preferred_days, preferred_from,
                    preferred_to, restricted, updated_by)
                VALUES (\(creditor), \(debtor), \(wanted.doNotContact), \(Array(Set(wanted.optedOut.map(\.rawValue))).sorted()), \(wanted.writtenOnly),
                    \(wanted.preferredDays)::smallint[], \(wanted.preferredFrom)::time, \(wanted.preferredTo)::time, \(wanted.restricted), \(actor.id))
                ON CONFLICT (creditor_id, debtor_id) DO UPDATE SET do_not_contact = excluded.do_not_contact, opted_out = excluded.opted_out,
                    written_only = excluded.written_only, preferred_days = excluded.preferred_days, preferred_from = excluded.preferred_from,
                    preferred_to = excluded.preferred_to, restricted = excluded.restricted, updated_by = excluded.updated_by, updated_at = now()
                """)
            // Parked cases of the debtor are looked at again by the gate at their next claim.
            try await tx.execute(
                """
                UPDATE work_items w SET parked_reason = NULL, updated_at = now()
                FROM cases c WHERE c.creditor_id = \(creditor) AND c.debtor_id = \(debtor) AND c.status IN \(CaseStatus.liveList)
                  AND w.creditor_id = c.creditor_id AND w.case_id = c.id AND w.parked_reason IS NOT NULL
                """)
            try await AuditLog.append(
                AuditEntry(action: "contact_preferences.save", objectType: "debtor", objectID: debtor.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return try await Self.read(debtor: debtor, creditor: creditor, in: tx) ?? .none
        }
    }
}
