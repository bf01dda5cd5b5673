import Core

/// Who may call a route, by name: the staff roles, the roles of a creditor's users (on their own
/// creditor only) and whether the creditor's API keys may, with which scope. Each HTTP target
/// names its permissions in one place (`…Permissions.swift`); each route is declared with the
/// one it needs (`routes.get("/v1/placements/{placementId}", .placementsRead)`), so a role set is
/// written once, however many routes share it.
public struct Permission: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let staff: Set<Role>
    public let creditor: Set<Role>
    public let keys: KeyAccess

    public init(_ name: String, staff: Set<Role> = [], creditor: Set<Role> = [], keys: KeyAccess = .none) {
        self.name = name
        self.staff = staff
        self.creditor = creditor
        self.keys = keys
    }

    public var description: String { name }

    /// Every member of staff.
    public static let allStaff: Set<Role> = Set(Role.allCases.filter(\.isStaff))
    /// Every user of a creditor.
    public static let allCreditorUsers: Set<Role> = Set(Role.allCases.filter { !$0.isStaff })

    /// Whether `principal`'s role or key scope is allowed, whatever creditor it belongs to.
    public func admits(_ principal: Principal) -> Bool {
        switch principal.kind {
        case .staff: return principal.role.map(staff.contains) ?? false
        case .creditorUser: return principal.role.map(creditor.contains) ?? false
        case .apiKey:
            switch keys {
            case .none: return false
            case .anyScope: return true
            case .scope(let scope): return principal.scopes.contains(scope)
            }
        case .system: return false
        }
    }
}

/// Whether a route admits creditor API keys.
public enum KeyAccess: Sendable, Hashable {
    case none
    case anyScope
    case scope(APIScope)
}
