import Core
import Web

/// Who may call the work queue's routes (Docs/security.md, Docs/work-queue.md).
extension Permission {
    /// Leasing the next case, renewing and releasing one's lease: agents.
    static let workNext = Permission("work.next", staff: [.agent])
    /// The queues per agent and team: the agency's administrators and supervisors.
    static let workQueuesRead = Permission("work.queues.read", staff: [.admin, .supervisor])
    /// Recording activities on a case: agents (on the case they hold), supervisors, administrators.
    static let activitiesWrite = Permission("activities.write", staff: [.admin, .supervisor, .agent])
    /// Reading a case's activities and what the gate says of it now: the same.
    static let activitiesRead = Permission("activities.read", staff: [.admin, .supervisor, .agent])
    /// Reading the rules of contact: all staff.
    static let contactRulesRead = Permission("contact-rules.read", staff: allStaff)
    /// Changing them: the agency's administrators.
    static let contactRulesManage = Permission("contact-rules.manage", staff: [.admin])
    /// Promises, payment plans and disputes recorded: those who work cases.
    static let commitmentsWrite = Permission("commitments.write", staff: [.admin, .supervisor, .agent])
    /// Read: staff, and the creditor's users and keys (`cases` scope), of their own cases.
    static let commitmentsRead = Permission("commitments.read", staff: allStaff, creditor: allCreditorUsers, keys: .scope(.cases))
    /// Approving a plan above the creditor's threshold, resolving a dispute: supervisors and
    /// administrators.
    static let commitmentsDecide = Permission("commitments.decide", staff: [.admin, .supervisor])
    /// Holds: those who work cases, and the creditor's administrators and keys (`placements`
    /// scope: a creditor's pause).
    static let holdsWrite = Permission("holds.write", staff: [.admin, .supervisor, .agent], creditor: [.creditorAdmin], keys: .scope(.placements))
    /// A creditor's terms for payment plans: set by the agency's administrators; read by staff
    /// who supervise and by the creditor's own users.
    static let planPolicyManage = Permission("plan-policy.manage", staff: [.admin])
    static let planPolicyRead = Permission("plan-policy.read", staff: [.admin, .supervisor, .agent], creditor: allCreditorUsers)
    /// A debtor's contact preferences: those who work cases, and the DPO (restriction).
    static let contactPreferences = Permission("contact-preferences", staff: [.admin, .supervisor, .agent, .dpo])
}
