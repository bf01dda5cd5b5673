import Core
import Web

/// Who may call identity's routes (Docs/security.md); each route is declared with one, and the
/// access matrix checks its statuses agree.
extension Permission {
    /// The caller's own account and session: `/v1/me`, logout.
    static let ownAccount = Permission("account.own", staff: allStaff, creditor: allCreditorUsers, keys: .anyScope)
    /// Changing one's own password: users, not API keys.
    static let ownPassword = Permission("account.password", staff: allStaff, creditor: allCreditorUsers)
    /// Listing and reading the agency's staff.
    static let staffRead = Permission("staff.read", staff: [.admin, .supervisor])
    /// Adding and disabling members of staff.
    static let staffManage = Permission("staff.manage", staff: [.admin])
    /// A creditor's users: listed, read, added and disabled by the agency's admins and the
    /// creditor's own admins.
    static let creditorUsersManage = Permission("creditor-users.manage", staff: [.admin], creditor: [.creditorAdmin])
    /// A creditor's API keys, by the same.
    static let apiKeysManage = Permission("api-keys.manage", staff: [.admin], creditor: [.creditorAdmin])
}
