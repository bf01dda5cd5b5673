import Core
import Web

/// Who may call assignment's routes (Docs/security.md, Docs/assignment.md).
extension Permission {
    /// Teams, agent profiles, absences, rules, reassignments, cover: the agency's administrators
    /// and supervisors.
    static let assignmentManage = Permission("assignment.manage", staff: [.admin, .supervisor])
    /// Reading them and the unassigned queue: the same.
    static let assignmentRead = Permission("assignment.read", staff: [.admin, .supervisor])
    /// A case's assignment history: the agency's administrators and supervisors, and agents (of
    /// the cases they may see: row-level security).
    static let caseAssignmentsRead = Permission("case-assignments.read", staff: [.admin, .supervisor, .agent])
}
