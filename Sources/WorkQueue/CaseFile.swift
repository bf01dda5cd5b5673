import Core
import Foundation
import Portfolio
import Postgres

/// Everything a professional needs before calling (GET /v1/cases/{id}): the case, its debtor
/// with contacts and wishes, its claims with principal, interest and fees, its agent and who
/// holds it now, the latest activities, promises, plans, disputes and holds, and what the
/// compliance gate says of each channel now. Reading it reads the debtor's full record:
/// audited (`debtor.read`), in the same transaction.
public struct CaseFile: Sendable, Codable, Equatable {
    public struct ClaimLine: Sendable, Codable, Equatable {
        public var id: UUID
        public var creditorReference: String
        public var invoiceNumber: String
        public var issueDate: CalendarDate?
        public var dueDate: CalendarDate
        public var currency: String
        public var status: String
        public var principalMinor: Int
        public var interestMinor: Int
        public var feesMinor: Int
        public var balanceMinor: Int
    }

    public struct Holder: Sendable, Codable, Equatable {
        public var agentId: UUID
        public var leasedAt: Date
        public var expiresAt: Date
    }

    public struct Queue: Sendable, Codable, Equatable {
        public var level: QueueLevel
        public var dueAt: Date
        public var ready: Bool
        /// Why the gate put the case aside for good (until a person acts), if it did.
        public var parkedReason: String?
        public var heldBy: Holder?
    }

    public var `case`: Case
    public var debtor: Debtor
    public var preferences: ContactPreferences
    public var claims: [ClaimLine]
    public var agent: CaseDirectory.AgentSummary?
    public var queue: Queue?
    public var contact: ContactCheck.Now
    /// The latest 20 (the whole history: GET /v1/cases/{id}/activities); none for a creditor.
    public var activities: [Activities.Activity]
    public var promises: [Promises.Promise]
    public var paymentPlans: [PaymentPlans.Plan]
    public var disputes: [Disputes.Dispute]
    public var holds: [Holds.Hold]

    public static func build(_ id: UUID, pool: PostgresPool, at now: Date, as actor: Principal, requestID: String?) async throws -> CaseFile {
        try await pool.transaction(as: actor) { tx in
            guard let found = try await PortfolioRows.case(id, in: tx),
                let debtor = try await PortfolioRows.debtor(found.debtorId, creditor: found.creditorId, in: tx),
                let situation = try await ContactSituationRows.load(case: id, at: now, in: tx)
            else { throw Problem.notFound("case") }
            let creditor = found.creditorId
            let claims = try await tx.query(
                """
                SELECT id, creditor_reference, invoice_number, issue_date, due_date, currency, status, principal_minor, interest_minor, fees_minor, balance_minor
                FROM claims WHERE creditor_id = \(creditor) AND case_id = \(id) ORDER BY due_date, creditor_reference
                """
            ).map {
                ClaimLine(
                    id: try $0.decode(UUID.self, "id"), creditorReference: try $0.decode(String.self, "creditor_reference"),
                    invoiceNumber: try $0.decode(String.self, "invoice_number"), issueDate: try $0.decode(CalendarDate?.self, "issue_date"),
                    dueDate: try $0.decode(CalendarDate.self, "due_date"), currency: try $0.decode(String.self, "currency"), status: try $0.decode(String.self, "status"),
                    principalMinor: try $0.decode(Int.self, "principal_minor"), interestMinor: try $0.decode(Int.self, "interest_minor"),
                    feesMinor: try $0.decode(Int.self, "fees_minor"), balanceMinor: try $0.decode(Int.self, "balance_minor"))
            }
            var agent: CaseDirectory.AgentSummary?
            if let agentID = found.assignedAgentId {
                // The name only for callers who may read staff accounts (row-level security).
                let name = try await tx.one("SELECT display_name FROM users WHERE id = \(agentID)")?.decode(String?.self, "display_name")
                agent = .init(id: agentID, displayName: name)
            }
            var queue: Queue?
            if let row = try await tx.one(
                "SELECT level, due_at, ready, parked_reason, leased_by, leased_at, lease_until FROM work_items WHERE creditor_id = \(creditor) AND case_id = \(id)")
            {
                var holder: Holder?
                if let by = try row.decode(UUID?.self, "leased_by"), let until = try row.decode(Date?.self, "lease_until"), until > now {
                    holder = Holder(agentId: by, leasedAt: try row.decode(Date.self, "leased_at"), expiresAt: until)
                }
                queue = Queue(
                    level: QueueLevel(rawValue: try row.decode(Int.self, "level")) ?? .followUp, dueAt: try row.decode(Date.self, "due_at"),
                    ready: try row.decode(Bool.self, "ready"), parkedReason: try row.decode(String?.self, "parked_reason"), heldBy: holder)
            }
            let activities = try await tx.query(
                """
                SELECT id, case_id, kind, direction, outcome, callback_at, note, blocked, block_reasons, occurred_at, recorded_by
                FROM case_activities WHERE creditor_id = \(creditor) AND case_id = \(id) ORDER BY occurred_at DESC, id DESC LIMIT 20
                """
            ).map(Activities.decode)
            let file = CaseFile(
                case: found, debtor: debtor, preferences: situation.situation.preferences, claims: claims, agent: agent, queue: queue,
                contact: ContactCheck.now(situation, at: now), activities: activities,
                promises: try await Promises.list(case: id, creditor: creditor, in: tx),
                paymentPlans: try await PaymentPlans.list(case: id, creditor: creditor, in: tx),
                disputes: try await Disputes.list(case: id, creditor: creditor, in: tx),
                holds: try await Holds.list(case: id, creditor: creditor, in: tx))
            try await AuditLog.append(
                AuditEntry(action: "debtor.read", objectType: "debtor", objectID: debtor.id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return file
        }
    }
}
