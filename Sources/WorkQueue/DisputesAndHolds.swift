import Core
import Foundation
import Portfolio
import Postgres

/// A live case's status follows its disputes and holds: disputed while a dispute is open,
/// otherwise paused while a hold covers today, otherwise open. The one place that decides it.
enum CaseStanding {
    static func recompute(_ caseID: UUID, creditor: UUID, today: CalendarDate, in tx: PostgresTransaction) async throws {
        guard
            let row = try await tx.one(
                """
                SELECT c.status,
                       EXISTS (SELECT 1 FROM disputes d WHERE d.creditor_id = c.creditor_id AND d.case_id = c.id AND d.status = 'open') AS disputed,
                       EXISTS (SELECT 1 FROM case_holds h WHERE h.creditor_id = c.creditor_id AND h.case_id = c.id AND h.released_at IS NULL
                                 AND h.starts_on <= \(today) AND h.ends_on >= \(today)) AS held
                FROM cases c WHERE c.creditor_id = \(creditor) AND c.id = \(caseID)
                """)
        else { return }
        guard try row.decode(CaseStatus.self, "status").isLive else { return }
        let status: CaseStatus = try row.decode(Bool.self, "disputed") ? .disputed : try row.decode(Bool.self, "held") ? .paused : .open
        try await PortfolioRows.setStatus(caseID, creditor: creditor, to: status, in: tx)
    }

    /// Holds that start or end today move their cases (run by the queue's clock, as the system):
    /// open cases under a hold that covers today are paused; paused cases whose holds ended (in
    /// the last week) and that hold no other come back open.
    static func sweepHolds(today: CalendarDate, in tx: PostgresTransaction) async throws -> Int {
        let paused = try await tx.query(
            """
            UPDATE cases c SET status = 'paused', updated_at = now()
            FROM (SELECT DISTINCT creditor_id, case_id FROM case_holds
                  WHERE released_at IS NULL AND starts_on <= \(today) AND ends_on >= \(today)) h
            WHERE c.creditor_id = h.creditor_id AND c.id = h.case_id AND c.status = 'open'
            RETURNING c.id
            """)
        let resumed = try await tx.query(
            """
            UPDATE cases c SET status = 'open', updated_at = now()
            FROM (SELECT DISTINCT creditor_id, case_id FROM case_holds
                  WHERE released_at IS NULL AND ends_on < \(today) AND ends_on >= \(today.adding(days: -7))) h
            WHERE c.creditor_id = h.creditor_id AND c.id = h.case_id AND c.status = 'paused'
              AND NOT EXISTS (SELECT 1 FROM case_holds o WHERE o.creditor_id = c.creditor_id AND o.case_id = c.id AND o.released_at IS NULL
                                AND o.starts_on <= \(today) AND o.ends_on >= \(today))
            RETURNING c.id
            """)
        return paused.count + resumed.count
    }
}

/// Disputes (litiges): raised with a reason code, they stop collection at once; resolved by a
/// supervisor, collection resumes or the case is closed. The creditor reads them.
public struct Disputes: Sendable {
    public let pool: PostgresPool
    let clock: @Sendable () -> Date

    public init(pool: PostgresPool, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.clock = clock
    }

    public static let reasons = ["not_delivered", "defective", "already_paid", "amount_contested", "not_me"]

    public struct Input: Sendable, Decodable {
        public var reason: String?
        public var note: String?

        public init(reason: String?, note: String? = nil) {
            self.reason = reason
            self.note = note
        }
    }

    public struct Resolution: Sendable, Decodable {
        /// `resumed` (collection goes on) or `closed` (the case is closed: the dispute is upheld).
        public var outcome: String?
        public var note: String?

        public init(outcome: String?, note: String? = nil) {
            self.outcome = outcome
            self.note = note
        }
    }

    public struct Dispute: Sendable, Codable, Equatable {
        public var id: UUID
        public var caseId: UUID
        public var reason: String
        public var note: String?
        /// `open`, `resumed`, `closed`.
        public var status: String
        public var openedBy: UUID?
        public var openedAt: Date
        public var resolvedBy: UUID?
        public var resolvedAt: Date?
        public var resolutionNote: String?
    }

    static let columns: SQL = "id, case_id, reason, note, status, opened_by, opened_at, resolved_by, resolved_at, resolution_note"

    static func decode(_ row: PostgresRow) throws -> Dispute {
        Dispute(
            id: try row.decode(UUID.self, "id"), caseId: try row.decode(UUID.self, "case_id"), reason: try row.decode(String.self, "reason"),
            note: try row.decode(String?.self, "note"), status: try row.decode(String.self, "status"), openedBy: try row.decode(UUID?.self, "opened_by"),
            openedAt: try row.decode(Date.self, "opened_at"), resolvedBy: try row.decode(UUID?.self, "resolved_by"),
            resolvedAt: try row.decode(Date?.self, "resolved_at"), resolutionNote: try row.decode(String?.self, "resolution_note"))
    }

    public func open(case caseID: UUID, _ input: Input, by actor: Principal, requestID: String?) async throws -> Dispute {
        let now = clock()
        guard let reason = input.reason, Self.reasons.contains(reason) else {
            throw Problem.validation([.init(field: "reason", reason: "is required: one of \(Self.reasons.joined(separator: ", "))")])
        }
        if let note = input.note, note.count > 4000 { throw Problem.validation([.init(field: "note", reason: "must be at most 4000 characters")]) }
        return try await pool.transaction(as: actor) { tx in
            let found = try await CaseLock.live(caseID, in: tx)
            if try await tx.one("SELECT 1 AS x FROM disputes WHERE creditor_id = \(found.creditorId) AND case_id = \(caseID) AND status = 'open'") != nil {
                throw Problem(
                    status: 409, code: "dispute-open", title: "A dispute is open",
                    detail: "The case already has an open dispute: resolve it first.", errors: [.init(field: "caseId", reason: "has an open dispute")])
            }
            let id = UUID()
            try await tx.execute(
                """
                INSERT INTO disputes (creditor_id, id, case_id, reason, note, opened_by, opened_by_kind, opened_at)
                VALUES (\(found.creditorId), \(id), \(caseID), \(reason), \(input.note), \(actor.id), \(actor.kind.rawValue), \(now))
                """)
            try await CaseStanding.recompute(caseID, creditor: found.creditorId, today: CalendarDate(now), in: tx)
            try await AuditLog.append(
                AuditEntry(action: "dispute.open", objectType: "case", objectID: caseID.uuidString.lowercased(), creditorID: found.creditorId),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM disputes WHERE creditor_id = \(found.creditorId) AND id = \(id)")!)
        }
    }

    public func resolve(case caseID: UUID, dispute disputeID: UUID, _ input: Resolution, by actor: Principal, requestID: String?) async throws -> Dispute {
        let now = clock()
        guard let outcome = input.outcome, ["resumed", "closed"].contains(outcome) else {
            throw Problem.validation([.init(field: "outcome", reason: "is required: resumed or closed")])
        }
        if let note = input.note, note.count > 4000 { throw Problem.validation([.init(field: "note", reason: "must be at most 4000 characters")]) }
        return try await pool.transaction(as: actor) { tx in
            let found = try await CaseLock.live(caseID, in: tx)
            guard let row = try await tx.one("SELECT \(Self.columns) FROM disputes WHERE creditor_id = \(found.creditorId) AND id = \(disputeID) AND case_id = \(caseID)")
            else { throw Problem.notFound("dispute") }
            let dispute = try Self.decode(row)
            guard dispute.status == "open" else {
                throw Problem(
                    status: 409, code: "dispute-resolved", title: "The dispute is resolved",
                    detail: "The dispute was already resolved (\(dispute.status)).", errors: [.init(field: "disputeId", reason: "is \(dispute.status)")])
            }
            try await tx.execute(
                """
                UPDATE disputes SET status = \(outcome), resolved_by = \(actor.id), resolved_at = \(now), resolution_note = \(input.note)
                WHERE creditor_id = \(found.creditorId) AND id = \(disputeID)
                """)
            if outcome == "closed" {
                try await PortfolioRows.setStatus(caseID, creditor: found.creditorId, to: .closed, closeReason: "dispute_upheld", in: tx)
            } else {
                try await CaseStanding.recompute(caseID, creditor: found.creditorId, today: CalendarDate(now), in: tx)
            }
            try await AuditLog.append(
                AuditEntry(action: "dispute.\(outcome)", objectType: "case", objectID: caseID.uuidString.lowercased(), creditorID: found.creditorId),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM disputes WHERE creditor_id = \(found.creditorId) AND id = \(disputeID)")!)
        }
    }

    public func list(case caseID: UUID, as actor: Principal) async throws -> [Dispute] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let found = try await PortfolioRows.case(caseID, in: tx) else { throw Problem.notFound("case") }
            return try await Self.list(case: caseID, creditor: found.creditorId, in: tx)
        }
    }

    static func list(case caseID: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> [Dispute] {
        try await tx.query("SELECT \(columns) FROM disputes WHERE creditor_id = \(creditor) AND case_id = \(caseID) ORDER BY opened_at DESC, id").map(decode)
    }
}

/// Holds: a case paused from one date to another (both included), by the agency or by the
/// creditor (its administrators and keys: a creditor's pause takes effect at once).
public struct Holds: Sendable {
    public let pool: PostgresPool
    let clock: @Sendable () -> Date

    public init(pool: PostgresPool, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.clock = clock
    }

    public static let reasons = ["creditor_request", "debtor_hardship", "agency_review", "legal", "other"]

    public struct Input: Sendable, Decodable {
        public var startsOn: CalendarDate?
        public var endsOn: CalendarDate?
        public var reason: String?
        public var note: String?

        public init(startsOn: CalendarDate? = nil, endsOn: CalendarDate?, reason: String?, note: String? = nil) {
            self.startsOn = startsOn
            self.endsOn = endsOn
            self.reason = reason
            self.note = note
        }
    }

    public struct Hold: Sendable, Codable, Equatable {
        public var id: UUID
        public var caseId: UUID
        public var startsOn: CalendarDate
        public var endsOn: CalendarDate
        public var reason: String
        public var note: String?
        public var createdBy: UUID?
        public var createdByKind: String
        public var createdAt: Date
        public var releasedAt: Date?
    }

    static let columns: SQL = "id, case_id, starts_on, ends_on, reason, note, created_by, created_by_kind, created_at, released_at"

    static func decode(_ row: PostgresRow) throws -> Hold {
        Hold(
            id: try row.decode(UUID.self, "id"), caseId: try row.decode(UUID.self, "case_id"), startsOn: try row.decode(CalendarDate.self, "starts_on"),
            endsOn: try row.decode(CalendarDate.self, "ends_on"), reason: try row.decode(String.self, "reason"), note: try row.decode(String?.self, "note"),
            createdBy: try row.decode(UUID?.self, "created_by"), createdByKind: try row.decode(String.self, "created_by_kind"),
            createdAt: try row.decode(Date.self, "created_at"), releasedAt: try row.decode(Date?.self, "released_at"))
    }

    public func create(case caseID: UUID, _ input: Input, by actor: Principal, requestID: String?) async throws -> Hold {
        let now = clock()
        let today = CalendarDate(now)
        let starts = input.startsOn ?? today
        var faults: [Problem.FieldError] = []
        if starts < today { faults.append(.init(field: "startsOn", reason: "must not be in the past")) }
        if let ends = input.endsOn {
            if ends < starts { faults.append(.init(field: "endsOn", reason: "must not be before startsOn")) }
            if ends > today.adding(days: 366) { faults.append(.init(field: "endsOn", reason: "must be within a year")) }
        } else {
            faults.append(.init(field: "endsOn", reason: "is required (YYYY-MM-DD)"))
        }
        if input.reason == nil || !Self.reasons.contains(input.reason!) {
            faults.append(.init(field: "reason", reason: "is required: one of \(Self.reasons.joined(separator: ", "))"))
        }
        if let note = input.note, note.count > 4000 { faults.append(.init(field: "note", reason: "must be at most 4000 characters")) }
        guard faults.isEmpty, let ends = input.endsOn, let reason = input.reason else { throw Problem.validation(faults) }
        return try await pool.transaction(as: actor) { tx in
            let found = try await CaseLock.live(caseID, in: tx)
            let id = UUID()
            try await tx.execute(
                """
                INSERT INTO case_holds (creditor_id, id, case_id, starts_on, ends_on, reason, note, created_by, created_by_kind, created_at)
                VALUES (\(found.creditorId), \(id), \(caseID), \(starts), \(ends), \(reason), \(input.note), \(actor.id), \(actor.kind.rawValue), \(now))
                """)
            try await CaseStanding.recompute(caseID, creditor: found.creditorId, today: today, in: tx)
            try await AuditLog.append(
                AuditEntry(action: "hold.create", objectType: "case", objectID: caseID.uuidString.lowercased(), creditorID: found.creditorId),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM case_holds WHERE creditor_id = \(found.creditorId) AND id = \(id)")!)
        }
    }

    /// Ends a hold early; the case resumes unless something else holds it.
    public func release(case caseID: UUID, hold holdID: UUID, by actor: Principal, requestID: String?) async throws -> Hold {
        let now = clock()
        return try await pool.transaction(as: actor) { tx in
            let found = try await CaseLock.live(caseID, in: tx)
            guard let row = try await tx.one("SELECT \(Self.columns) FROM case_holds WHERE creditor_id = \(found.creditorId) AND id = \(holdID) AND case_id = \(caseID)")
            else { throw Problem.notFound("hold") }
            if try Self.decode(row).releasedAt != nil {
                throw Problem(
                    status: 409, code: "hold-released", title: "The hold is released", detail: "The hold was already released.",
                    errors: [.init(field: "holdId", reason: "is released")])
            }
            try await tx.execute("UPDATE case_holds SET released_at = \(now), released_by = \(actor.id) WHERE creditor_id = \(found.creditorId) AND id = \(holdID)")
            try await CaseStanding.recompute(caseID, creditor: found.creditorId, today: CalendarDate(now), in: tx)
            try await AuditLog.append(
                AuditEntry(action: "hold.release", objectType: "case", objectID: caseID.uuidString.lowercased(), creditorID: found.creditorId),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decode(try await tx.one("SELECT \(Self.columns) FROM case_holds WHERE creditor_id = \(found.creditorId) AND id = \(holdID)")!)
        }
    }

    public func list(case caseID: UUID, as actor: Principal) async throws -> [Hold] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let found = try await PortfolioRows.case(caseID, in: tx) else { throw Problem.notFound("case") }
            return try await Self.list(case: caseID, creditor: found.creditorId, in: tx)
        }
    }

    static func list(case caseID: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> [Hold] {
        try await tx.query("SELECT \(columns) FROM case_holds WHERE creditor_id = \(creditor) AND case_id = \(caseID) ORDER BY starts_on DESC, id").map(decode)
    }
}
