import Core
import Foundation
import Postgres

/// The use cases on staff and creditor users and creditor API keys: each checks its input, opens
/// one transaction as the caller (row-level security holds: the second wall behind the API's),
/// runs the statements of `UserRows` / `APIKeyRows` and audits in the same transaction.
public struct UserDirectory: Sendable {
    public let pool: PostgresPool
    let secrets: SecretBox
    /// Emptied when a user is disabled or a key revoked (Core's `CredentialCache`).
    let credentials: CredentialCache

    public init(pool: PostgresPool, secrets: SecretBox, credentials: CredentialCache = .off) {
        self.pool = pool
        self.secrets = secrets
        self.credentials = credentials
    }

    public struct User: Sendable, Codable, Equatable {
        public var id: UUID
        public var email: String
        public var displayName: String
        public var role: Role
        public var creditorId: UUID?
        public var status: String
        /// An agent's team (their assignment profile's), nil for everyone else.
        public var team: String?
        public var totpEnrolled: Bool
        public var createdAt: Date
        public var lastLoginAt: Date?
    }

    public struct NewUser: Sendable {
        public var email: String
        public var displayName: String
        public var role: Role
        public var creditorID: UUID?
        public var password: String
        /// Enrol a TOTP second factor now (always for roles that require one).
        public var enrolTOTP: Bool

        public init(email: String, displayName: String = "", role: Role, creditorID: UUID? = nil, password: String, enrolTOTP: Bool = false) {
            self.email = email
            self.displayName = displayName
            self.role = role
            self.creditorID = creditorID
            self.password = password
            self.enrolTOTP = enrolTOTP
        }
    }

    public struct Created: Sendable {
        public var user: User
        /// Base32 TOTP secret, shown once; nil when not enrolled.
        public var totpSecret: String?
        public var totpURI: String?
    }

    /// Creates a user after checking the email, the role's binding and the password policy.
    /// - Throws: `Problem` 422 naming fields, 409 when the email is taken.
    public func create(_ new: NewUser, by actor: Principal, requestID: String?) async throws -> Created {
        let email = new.email.trimmingCharacters(in: .whitespaces).lowercased()
        var errors: [Problem.FieldError] = []
        if !Self.isPlausibleEmail(email) { errors.append(.init(field: "email", reason: "is not an email address")) }
        if new.displayName.count > 200 { errors.append(.init(field: "displayName", reason: "must be at most 200 characters")) }
        if let reason = PasswordPolicy.problem(new.password, email: email) { errors.append(.init(field: "password", reason: reason)) }
        if new.role.isStaff != (new.creditorID == nil) {
            errors.append(.init(field: "role", reason: new.role.isStaff ? "is a staff role: not for creditor users" : "is a creditor role: use /v1/creditors/{id}/users"))
        }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let hash = try await PasswordHasher.hash(new.password)
        let id = UUID()
        var totpKey: [UInt8]? = nil
        if new.enrolTOTP || new.role.requiresTOTP { totpKey = TOTP.generateKey() }
        let sealed = try totpKey.map { PostgresBytes(try secrets.seal($0)) }
        let user: User
        do {
            user = try await pool.transaction(as: actor) { tx in
                if let creditor = new.creditorID { try await UserRows.requireCreditor(creditor, in: tx) }
                let user = try await UserRows.insert(
                    id: id, new, email: email, passwordHash: hash, sealedTOTPKey: sealed, in: tx)
                try await AuditLog.append(
                    AuditEntry(action: "user.create", objectType: "user", objectID: id.uuidString.lowercased(), creditorID: new.creditorID),
                    actor: actor, requestID: requestID, in: tx)
                return user
            }
        } catch let error as PostgresError where error.code == .uniqueViolation {
            throw Problem(status: 409, code: "email-taken", title: "Email already in use", detail: "Another account uses this email address.",
                          errors: [.init(field: "email", reason: "is already in use")])
        }
        return Created(
            user: user, totpSecret: totpKey.map(Base32.encode),
            totpURI: totpKey.map { TOTP(key: $0).provisioningURI(account: id.uuidString.lowercased()) })
    }

    static func isPlausibleEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            email.count <= 254, !email.contains(where: { $0.isWhitespace })
        else { return false }
        return true
    }

    /// One user, as the actor may see it (nil when missing or out of reach).
    public func find(_ id: UUID, as actor: Principal) async throws -> User? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await UserRows.find(id, in: tx)
        }
    }

    /// Staff (creditor nil) or one creditor's users, by ID (keyset pagination).
    public func list(creditor: UUID?, as actor: Principal, limit: Int, after: UUID?) async throws -> [User] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await UserRows.page(creditor: creditor, after: after, limit: limit, in: tx)
        }
    }

    /// Disables a user and ends their sessions. Returns false when not found.
    public func disable(_ id: UUID, creditor: UUID?, by actor: Principal, requestID: String?) async throws -> Bool {
        defer { credentials.invalidateAll() }
        return try await pool.transaction(as: actor) { tx in
            guard try await UserRows.disable(id, creditor: creditor, in: tx) else { return false }
            try await AuditLog.append(
                AuditEntry(action: "user.disable", objectType: "user", objectID: id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return true
        }
    }

    // MARK: - API keys

    public struct APIKey: Sendable, Codable, Equatable {
        public var id: UUID
        public var creditorId: UUID
        public var name: String
        public var prefix: String
        public var scopes: [APIScope]
        public var createdAt: Date
        public var lastUsedAt: Date?
        public var revokedAt: Date?
    }

    /// Creates a key and returns it with its secret, which is shown this once.
    public func createAPIKey(creditor: UUID, name: String, scopes: [APIScope], by actor: Principal, requestID: String?) async throws -> (APIKey, String) {
        var errors: [Problem.FieldError] = []
        if name.trimmingCharacters(in: .whitespaces).isEmpty || name.count > 100 { errors.append(.init(field: "name", reason: "must be 1 to 100 characters")) }
        if scopes.isEmpty { errors.append(.init(field: "scopes", reason: "must name at least one of placements, cases, reports")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let id = UUID()
        let prefix = "rk_" + String(Base32.encode(Tokens.randomBytes(8)).lowercased().prefix(12))
        let secret = Tokens.random(byteCount: 32)
        let full = prefix + "_" + secret
        let key = try await pool.transaction(as: actor) { tx in
            try await UserRows.requireCreditor(creditor, in: tx)
            let key = try await APIKeyRows.insert(
                id: id, creditor: creditor, prefix: prefix, secretHash: Tokens.sha256(secret), name: name, scopes: scopes,
                createdBy: actor.kind == .apiKey ? nil : actor.id, in: tx)
            try await AuditLog.append(
                AuditEntry(action: "api_key.create", objectType: "api_key", objectID: id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return key
        }
        return (key, full)
    }

    public func listAPIKeys(creditor: UUID, as actor: Principal) async throws -> [APIKey] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await APIKeyRows.all(creditor: creditor, in: tx)
        }
    }

    /// Revokes a key at once. Returns false when not found.
    public func revokeAPIKey(_ id: UUID, creditor: UUID, by actor: Principal, requestID: String?) async throws -> Bool {
        defer { credentials.invalidateAll() }
        return try await pool.transaction(as: actor) { tx in
            guard try await APIKeyRows.revoke(id, creditor: creditor, in: tx) else { return false }
            try await AuditLog.append(
                AuditEntry(action: "api_key.revoke", objectType: "api_key", objectID: id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return true
        }
    }
}
