import Core
import Web

/// Who may call onboarding's routes (Docs/security.md); each route is declared with one, and the
/// access matrix checks its statuses agree.
extension Permission {
    /// Listing creditors: any caller (row-level security shows a creditor's callers their own).
    static let creditorsList = Permission("creditors.list", staff: allStaff, creditor: allCreditorUsers, keys: .anyScope)
    /// Reading one creditor: any member of staff, its users and keys.
    static let creditorsRead = Permission("creditors.read", staff: allStaff, creditor: allCreditorUsers, keys: .anyScope)
    /// Creating and changing creditors: the agency's admins.
    static let creditorsManage = Permission("creditors.manage", staff: [.admin])
    /// Recording mandates and fee schedules, terminating mandates: the agency's admins.
    static let contractsManage = Permission("contracts.manage", staff: [.admin])
    /// Reading them: the agency's admins and supervisors, the creditor's users.
    static let contractsRead = Permission("contracts.read", staff: [.admin, .supervisor], creditor: allCreditorUsers)
    /// Placing portfolios and recalling claims: the agency's admins, the creditor's admins, its
    /// keys with the `placements` scope.
    static let placementsPlace = Permission("placements.place", staff: [.admin], creditor: [.creditorAdmin], keys: .scope(.placements))
    /// Reading placements, their rejects and acknowledgements.
    static let placementsRead = Permission(
        "placements.read", staff: [.admin, .supervisor], creditor: allCreditorUsers, keys: .scope(.placements))
    /// Setting a creditor's column mapping: the agency's admins, the creditor's admins.
    static let columnMappingManage = Permission("column-mapping.manage", staff: [.admin], creditor: [.creditorAdmin])
    /// Reading it: as placements are read (those who place files need the mapping they are read with).
    static let columnMappingRead = Permission(
        "column-mapping.read", staff: [.admin, .supervisor], creditor: allCreditorUsers, keys: .scope(.placements))
}
