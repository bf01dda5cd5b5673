import Core
import Foundation
import Portfolio
import Postgres

/// What agents record on a case: calls and their outcomes, emails, SMS, letters, notes,
/// contacts the debtor made. Every outbound contact passes the gate at the moment it is made; a
/// blocked one is recorded with the gate's reasons and refused. A call's outcome ends the
/// agent's lease and schedules what comes next; any other activity renews it
/// (Docs/work-queue.md). Notes are personal data: never logged.
public struct Activities: Sendable {
    public let pool: PostgresPool
    let queue: WorkQueue
    let clock: @Sendable () -> Date

    public init(pool: PostgresPool, queue: WorkQueue, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.queue = queue
        self.clock = clock
    }

    public static let callOutcomes = ["no_answer", "voicemail", "wrong_number", "right_party_contact", "refused", "callback_requested"]
    public static let kinds = ["call", "email", "sms", "letter", "registered_letter", "note"]

    /// When a call's outcome brings the case back, unless the agent says when.
    public static let followUpDays: [String: Int] = [
        "no_answer": 1, "voicemail": 1, "wrong_number": 2, "right_party_contact": 7, "refused": 7,
    ]

    public struct Input: Sendable, Decodable {
        public var kind: String?
        public var direction: String?
        public var outcome: String?
        public var callbackAt: Date?
        public var note: String?
        public var occurredAt: Date?
        public var followUpAt: Date?

        public init(
            kind: String?, direction: String? = nil, outcome: String? = nil, callbackAt: Date? = nil, note: String? = nil, occurredAt: Date? = nil,
            followUpAt: Date? = nil
        ) {
            self.kind = kind
            self.direction = direction
            self.outcome = outcome
            self.callbackAt = callbackAt
            self.note = note
            self.occurredAt = occurredAt
            self.followUpAt = followUpAt
        }
    }

    public struct Activity: Sendable, Codable, Equatable {
        public var id: UUID
        public var caseId: UUID
        public var kind: String
        public var direction: String
        public var outcome: String?
        public var callbackAt: Date?
        public var note: String?
        public var blocked: Bool
        public var blockReasons: [String]
        public var occurredAt: Date
        public var recordedBy: UUID?
        /// What the activity did to the recorder's lease: `ended`, `renewed`, or nil (none held).
        public var lease: String?
    }

    /// A checked input.
    struct Checked {
        var kind: String
        var channel: Channel?
        var direction: String
        var outcome: String?
        var callbackAt: Date?
        var note: String?
        var occurredAt: Date
        var followUpAt: Date?
    }

    func check(_ input: Input, now: Date) throws -> Checked {
        var faults: [Problem.FieldError] = []
        guard let kind = input.kind, Self.kinds.contains(kind) else {
            throw Problem.validation([.init(field: "kind", reason: "is required: one of \(Self.kinds.joined(separator: ", "))")])
        }
        let direction = input.direction ?? "outbound"
        if !["outbound", "inbound"].contains(direction) { faults.append(.init(field: "direction", reason: "must be outbound or inbound")) }
        if kind == "note", direction != "outbound" { faults.append(.init(field: "direction", reason: "a note has no direction")) }
        var outcome = input.outcome
        switch kind {
        case "call":
            if outcome == nil || !Self.callOutcomes.contains(outcome!) {
                faults.append(.init(field: "outcome", reason: "a call needs its outcome: one of \(Self.callOutcomes.joined(separator: ", "))"))
            }
        case "note":
            if outcome != nil { faults.append(.init(field: "outcome", reason: "a note has no outcome")) }
            if (input.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { faults.append(.init(field: "note", reason: "is required for a note")) }
        default:
            if outcome != nil && outcome != "sent" { faults.append(.init(field: "outcome", reason: "must be sent (or absent) for \(kind)")) }
            outcome = "sent"
        }
        if outcome == "callback_requested" {
            if let at = input.callbackAt {
                if at < now { faults.append(.init(field: "callbackAt", reason: "must not be in the past")) }
                if at > now.addingTimeInterval(90 * 86_400) { faults.append(.init(field: "callbackAt", reason: "must be within 90 days")) }
            } else {
                faults.append(.init(field: "callbackAt", reason: "is required when the debtor asks to be called back"))
            }
        } else if input.callbackAt != nil {
            faults.append(.init(field: "callbackAt", reason: "is only for the outcome callback_requested"))
        }
        if let note = input.note, note.count > 4000 { faults.append(.init(field: "note", reason: "must be at most 4000 characters")) }
        let occurredAt = input.occurredAt ?? now
        if occurredAt > now.addingTimeInterval(60) { faults.append(.init(field: "occurredAt", reason: "must not be in the future")) }
        if kind != "note", direction == "outbound", occurredAt < now.addingTimeInterval(-15 * 60) {
            faults.append(.init(field: "occurredAt", reason: "an outbound contact is recorded as it is made (within 15 minutes): the gate judges that moment"))
        }
        if occurredAt < now.addingTimeInterval(-30 * 86_400) { faults.append(.init(field: "occurredAt", reason: "must be within the last 30 days")) }
        if let at = input.followUpAt {
            if at < now { faults.append(.init(field: "followUpAt", reason: "must not be in the past")) }
            if kind != "call" { faults.append(.init(field: "followUpAt", reason: "is for a call's outcome (other activities keep the lease)")) }
        }
        guard faults.isEmpty else { throw Problem.validation(faults) }
        return Checked(
            kind: kind, channel: Channel(rawValue: kind), direction: direction, outcome: outcome, callbackAt: input.callbackAt, note: input.note,
            occurredAt: occurredAt, followUpAt: input.followUpAt)
    }

    enum Outcome {
        case recorded(Activity)
        case blocked(ContactDecision)
    }

    /// Records an activity on a case (POST /v1/cases/{id}/activities). An agent must hold the
    /// case's lease; staff who supervise need none.
    public func record(case caseID: UUID, _ input: Input, by actor: Principal, requestID: String?) async throws -> Activity {
        let now = clock()
        let checked = try check(input, now: now)
        let outcome: Outcome = try await pool.transaction(as: actor) { tx in
            guard let found = try await PortfolioRows.case(caseID, forUpdate: true, in: tx) else { throw Problem.notFound("case") }
            var lease: UUID?
            if let me = actor.id {
                lease = try await WorkQueue.heldLease(on: caseID, creditor: found.creditorId, by: me, at: now, in: tx)
            }
            if actor.role == .agent, lease == nil {
                throw Problem(
                    status: 409, code: "case-not-leased", title: "You do not hold this case",
                    detail: "An agent records activities on the case they hold: take it with POST /v1/work/next (or renew an expired lease).",
                    errors: [.init(field: "caseId", reason: "is not leased by you")])
            }
            var blockReasons: [String] = []
            var decision: ContactDecision?
            if let channel = checked.channel, checked.direction == "outbound" {
                guard let (_, gate) = try await ContactSituationRows.decide(channel, case: caseID, at: checked.occurredAt, in: tx) else {
                    throw Problem.notFound("case")
                }
                if !gate.allowed {
                    decision = gate
                    blockReasons = gate.reasons.map(\.code)
                }
            }
            let id = UUID()
            try await tx.execute(
                """
                INSERT INTO case_activities (creditor_id, id, case_id, kind, direction, outcome, callback_at, note, blocked, block_reasons,
                    occurred_at, recorded_by, recorded_by_kind, lease_id)
                VALUES (\(found.creditorId), \(id), \(caseID), \(checked.kind), \(checked.direction), \(decision == nil ? checked.outcome : nil),
                    \(decision == nil ? checked.callbackAt : nil), \(checked.note), \(decision != nil), \(blockReasons), \(checked.occurredAt),
                    \(actor.id), \(actor.kind.rawValue), \(lease))
                """)
            try await AuditLog.append(
                AuditEntry(
                    action: decision == nil ? "activity.record" : "activity.blocked", objectType: "case", objectID: caseID.uuidString.lowercased(),
                    creditorID: found.creditorId, outcome: decision == nil ? .success : .denied),
                actor: actor, requestID: requestID, in: tx)
            if let decision { return .blocked(decision) }
            let effect = try await Self.schedule(checked, case: caseID, creditor: found.creditorId, lease: lease, leaseSeconds: queue.leaseSeconds, now: now, in: tx)
            return .recorded(
                Activity(
                    id: id, caseId: caseID, kind: checked.kind, direction: checked.direction, outcome: checked.outcome, callbackAt: checked.callbackAt,
                    note: checked.note, blocked: false, blockReasons: [], occurredAt: checked.occurredAt, recordedBy: actor.id, lease: effect))
        }
        switch outcome {
        case .recorded(let activity): return activity
        case .blocked(let decision): throw Self.blockedProblem(decision)
        }
    }

    /// 409 naming every reason the gate gave (the blocked attempt is recorded).
    public static func blockedProblem(_ decision: ContactDecision) -> Problem {
        let next = decision.nextAllowedAt.map { " Next allowed: \(ISO8601DateFormatter().string(from: $0))." } ?? ""
        return Problem(
            status: 409, code: "contact-not-allowed", title: "Contact not allowed now",
            detail: "The compliance gate refused this \(decision.channel.rawValue); the attempt is recorded as blocked.\(next)",
            errors: decision.reasons.map { .init(field: "kind", reason: "\($0.code): \($0.detail)") })
    }

    /// What an activity does to the case's work item: a call's outcome ends the lease and sets
    /// the next level and due time; anything else renews the lease. Returns the lease's fate.
    static func schedule(
        _ a: Checked, case caseID: UUID, creditor: UUID, lease: UUID?, leaseSeconds: Int, now: Date, in tx: PostgresTransaction
    ) async throws -> String? {
        let contact = a.kind != "note"
        // Without a lease (a supervisor's activity) the case may be one assigned moments ago.
        if lease == nil { try await WorkItems.ensure(caseID, creditor: creditor, now: now, in: tx) }
        if a.kind == "call", let outcome = a.outcome {
            let level: QueueLevel = outcome == "callback_requested" ? .callbackDue : .followUp
            let due = a.followUpAt ?? a.callbackAt ?? now.addingTimeInterval(Double(followUpDays[outcome] ?? 1) * 86_400)
            // Whoever held the case (the recorder, or an agent a supervisor's call overtook): that
            // lease ends too, in the history as on the item.
            let holder = try await tx.one(
                "SELECT lease_id FROM work_items WHERE creditor_id = \(creditor) AND case_id = \(caseID) AND lease_id IS NOT NULL FOR UPDATE"
            )?.decode(UUID.self, "lease_id")
            try await tx.execute(
                """
                UPDATE work_items SET level = \(level.rawValue), due_at = \(due), ready = false,
                    lease_id = NULL, leased_by = NULL, leased_at = NULL, lease_until = NULL,
                    last_contact_at = greatest(last_contact_at, \(a.occurredAt)), updated_at = now()
                WHERE creditor_id = \(creditor) AND case_id = \(caseID)
                """)
            // Without a time the agent chose, a promise or a plan decides when the case comes back.
            if a.followUpAt == nil, a.callbackAt == nil, try await Commitments.pending(caseID, creditor: creditor, in: tx) {
                try await Commitments.reschedule(caseID, creditor: creditor, now: now, in: tx)
            }
            // The holder's lease is the recorder's own when they held it: one ending covers both.
            if let holder { try await WorkQueue.endLease(holder, creditor: creditor, reason: "completed", at: now, in: tx) }
            return lease == nil ? nil : "ended"
        }
        try await tx.execute(
            """
            UPDATE work_items SET lease_until = CASE WHEN lease_id = \(lease) THEN greatest(lease_until, \(now)::timestamptz + make_interval(secs => \(leaseSeconds))) ELSE lease_until END,
                last_contact_at = CASE WHEN \(contact) THEN greatest(last_contact_at, \(a.occurredAt)) ELSE last_contact_at END, updated_at = now()
            WHERE creditor_id = \(creditor) AND case_id = \(caseID)
            """)
        return lease == nil ? nil : "renewed"
    }

    /// A case's activities, newest first (GET /v1/cases/{id}/activities).
    public func list(case caseID: UUID, before: UUID?, limit: Int, as actor: Principal) async throws -> [Activity] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let found = try await PortfolioRows.case(caseID, in: tx) else { throw Problem.notFound("case") }
            let after: SQL = before.map {
                "AND (occurred_at, id) < (SELECT occurred_at, id FROM case_activities WHERE creditor_id = \(found.creditorId) AND id = \($0))"
            } ?? ""
            return try await tx.query(
                """
                SELECT id, case_id, kind, direction, outcome, callback_at, note, blocked, block_reasons, occurred_at, recorded_by
                FROM case_activities WHERE creditor_id = \(found.creditorId) AND case_id = \(caseID) \(after)
                ORDER BY occurred_at DESC, id DESC LIMIT \(limit)
                """
            ).map(Self.decode)
        }
    }

    static func decode(_ row: PostgresRow) throws -> Activity {
        Activity(
            id: try row.decode(UUID.self, "id"), caseId: try row.decode(UUID.self, "case_id"), kind: try row.decode(String.self, "kind"),
            direction: try row.decode(String.self, "direction"), outcome: try row.decode(String?.self, "outcome"),
            callbackAt: try row.decode(Date?.self, "callback_at"), note: try row.decode(String?.self, "note"), blocked: try row.decode(Bool.self, "blocked"),
            blockReasons: try row.decode([String].self, "block_reasons"), occurredAt: try row.decode(Date.self, "occurred_at"),
            recordedBy: try row.decode(UUID?.self, "recorded_by"), lease: nil)
    }
}
