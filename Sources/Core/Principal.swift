import Foundation

/// What a user may do. Staff roles work across creditors; creditor roles are bound to one.
public enum Role: String, Codable, Sendable, CaseIterable {
    case admin
    case supervisor
    case agent
    case dpo
    case creditorAdmin = "creditor_admin"
    case creditorViewer = "creditor_viewer"

    public var isStaff: Bool {
        switch self {
        case .admin, .supervisor, .agent, .dpo: return true
        case .creditorAdmin, .creditorViewer: return false
        }
    }

    /// Roles that may not log in without a TOTP code.
    public var requiresTOTP: Bool { self == .admin || self == .dpo }
}

/// What a creditor API key may do.
public enum APIScope: String, Codable, Sendable, CaseIterable {
    case placements
    case cases
    case reports
}

/// The authenticated caller of a request or job.
public struct Principal: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case staff
        case creditorUser = "creditor_user"
        case apiKey = "api_key"
        /// The service itself: login before anyone is known, background jobs, audit checks.
        case system
    }

    public var kind: Kind
    /// The user's or the API key's ID (nil for the system).
    public var id: UUID?
    public var role: Role?
    public var creditorID: UUID?
    public var scopes: Set<APIScope>
    public var sessionID: UUID?
    public var team: String?

    public init(
        kind: Kind, id: UUID?, role: Role? = nil, creditorID: UUID? = nil, scopes: Set<APIScope> = [],
        sessionID: UUID? = nil, team: String? = nil
    ) {
        self.kind = kind
        self.id = id
        self.role = role
        self.creditorID = creditorID
        self.scopes = scopes
        self.sessionID = sessionID
        self.team = team
    }

    public static let system = Principal(kind: .system, id: nil)

    public var isStaff: Bool { kind == .staff }

    /// Whether the caller has one of these roles (API keys have none).
    public func has(_ roles: Role...) -> Bool {
        guard let role else { return false }
        return roles.contains(role)
    }

    /// Creditor principals reach only their own creditor; staff reach all.
    public func reaches(creditor: UUID) -> Bool {
        isStaff || creditorID == creditor
    }

    /// Transaction-local settings read by the row-level security policies.
    public var databaseSettings: [(name: String, value: String)] {
        switch kind {
        case .staff:
            return [("app.principal_kind", "staff"), ("app.user_id", id?.uuidString.lowercased() ?? ""), ("app.role", role?.rawValue ?? "")]
        case .creditorUser:
            return [
                ("app.principal_kind", "creditor"), ("app.creditor_id", creditorID?.uuidString.lowercased() ?? ""),
                ("app.user_id", id?.uuidString.lowercased() ?? ""), ("app.role", role?.rawValue ?? ""),
            ]
        case .apiKey:
            return [
                ("app.principal_kind", "creditor"), ("app.creditor_id", creditorID?.uuidString.lowercased() ?? ""),
                ("app.api_key_id", id?.uuidString.lowercased() ?? ""), ("app.scopes", scopes.map(\.rawValue).sorted().joined(separator: ",")),
            ]
        case .system:
            return [("app.principal_kind", "system")]
        }
    }

    /// Background work done for one creditor, under that creditor's policies and its own write
    /// rights (migration 0013).
    public enum Job: String, Sendable {
        /// The placement worker's merge and finishing transactions.
        case placementMerge = "placement_merge"
        /// The assigner: across creditors, as the system (migration 0017's policies).
        case assignment
        /// The work queue's clock: wakes items, keeps the zones' windows (migration 0018).
        case workQueue = "work_queue"
    }

    /// The settings of a background job working across creditors as the system.
    public static func databaseSettings(forSystemJob job: Job) -> [(name: String, value: String)] {
        [("app.principal_kind", "system"), ("app.job", job.rawValue)]
    }

    /// The settings of a background job acting for one creditor, set in a transaction that
    /// started as the system (`PostgresTransaction.act(for:creditor:)`).
    public static func databaseSettings(for job: Job, creditor: UUID) -> [(name: String, value: String)] {
        [("app.principal_kind", "creditor"), ("app.creditor_id", creditor.uuidString.lowercased()), ("app.job", job.rawValue)]
    }

    /// The key idempotency records and throttles are kept under.
    public var key: String {
        "\(kind.rawValue):\(id?.uuidString.lowercased() ?? "-")"
    }
}
