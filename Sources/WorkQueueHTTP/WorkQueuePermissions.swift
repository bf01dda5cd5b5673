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
    /// A debtor's contact preferences: those who work cases, and the DPO (restriction).
    static let contactPreferences = Permission("contact-preferences", staff: [.admin, .supervisor, .agent, .dpo])
}
