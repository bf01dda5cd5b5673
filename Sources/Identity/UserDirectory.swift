import Core
import Foundation
import Postgres

/// Staff and creditor users, and creditor API keys. Callers check roles first (the API's
/// wall); every statement also runs as the caller, so row-level security holds (the second).
public struct UserDirectory: Sendable {
    public let pool: PostgresPool
    let secrets: SecretBox

    public init(pool: PostgresPool, secrets: SecretBox) {
        self.pool = pool
        self.secrets = secrets
    }

    public struct User: Sendable, Codable, Equatable {
        public var id: UUID
        public var email: String
        public var displayName: String
        public var role: Role
        public var creditorId: UUID?
        public var status: String
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
        public var team: String?
        /// Enrol a TOTP second factor now (always for roles that require one).
        public var enrolTOTP: Bool

        public init(email: String, displayName: String = "", role: Role, creditorID: UUID? = nil, password: String, team: String? = nil, enrolTOTP: Bool = false) {
            self.email = email
            self.displayName = displayName
            self.role = role
            self.creditorID = creditorID
            self.password = password
            self.team = team
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
        do {
            try await pool.transaction(as: actor) { tx in
                if let creditor = new.creditorID {
                    guard try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") != nil else { throw Problem.notFound("creditor") }
                }
                try await tx.execute(
                    """
                    INSERT INTO users (id, creditor_id, email, display_name, role, password_hash, totp_secret_sealed, team)
                    VALUES (\(id), \(new.creditorID), \(email), \(new.displayName), \(new.role.rawValue), \(hash), \(sealed), \(new.team))
                    """)
                try await AuditLog.append(
                    AuditEntry(action: "user.create", objectType: "user", objectID: id.uuidString.lowercased(), creditorID: new.creditorID),
                    actor: actor, requestID: requestID, in: tx)
            }
        } catch let error as PostgresError where error.code == .uniqueViolation {
            throw Problem(status: 409, code: "email-taken", title: "Email already in use", detail: "Another account uses this email address.",
                          errors: [.init(field: "email", reason: "is already in use")])
        }
        guard let user = try await find(id, as: actor) else { throw Problem.notFound("user") }
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

    static let columns: SQL = "id, email, display_name, role, creditor_id, status, team, totp_secret_sealed IS NOT NULL AS totp_enrolled, created_at, last_login_at"

    static func decode(_ row: PostgresRow) throws -> User {
        User(
            id: try row.decode(UUID.self, "id"), email: try row.decode(String.self, "email"),
            displayName: try row.decode(String.self, "display_name"), role: Role(rawValue: try row.decode(String.self, "role")) ?? .agent,
            creditorId: try row.decode(UUID?.self, "creditor_id"), status: try row.decode(String.self, "status"),
            team: try row.decode(String?.self, "team"), totpEnrolled: try row.decode(Bool.self, "totp_enrolled"),
            createdAt: try row.decode(Date.self, "created_at"), lastLoginAt: try row.decode(Date?.self, "last_login_at"))
    }

    /// One user, as the actor may see it (nil when missing or out of reach).
    public func find(_ id: UUID, as actor: Principal) async throws -> User? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.one("SELECT \(Self.columns) FROM users WHERE id = \(id)").map(Self.decode)
        }
    }

    /// Staff (creditor nil) or one creditor's users, by ID (keyset pagination).
    public func list(creditor: UUID?, as actor: Principal, limit: Int, after: UUID?) async throws -> [User] {
        let scope: SQL = creditor.map { "creditor_id = \($0)" } ?? "creditor_id IS NULL"
        let page: SQL = after.map { "AND id > \($0)" } ?? ""
        return try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query("SELECT \(Self.columns) FROM users WHERE \(scope) \(page) ORDER BY id LIMIT \(limit)").map(Self.decode)
        }
    }

    /// Disables a user and ends their sessions. Returns false when not found.
    public func disable(_ id: UUID, creditor: UUID?, by actor: Principal, requestID: String?) async throws -> Bool {
        try await pool.transaction(as: actor) { tx in
            let scope: SQL = creditor.map { "creditor_id = \($0)" } ?? "creditor_id IS NULL"
            let updated = try await tx.execute("UPDATE users SET status = 'disabled' WHERE id = \(id) AND \(scope)")
            guard updated == 1 else { return false }
            try await tx.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = \(id) AND revoked_at IS NULL")
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
        try await pool.transaction(as: actor) { tx in
            guard try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") != nil else { throw Problem.notFound("creditor") }
            try await tx.execute(
                """
                INSERT INTO api_keys (creditor_id, id, prefix, secret_hash, name, scopes, created_by)
                VALUES (\(creditor), \(id), \(prefix), \(PostgresBytes(Tokens.sha256(secret))), \(name), \(Array(Set(scopes.map(\.rawValue))).sorted()),
                        \(actor.kind == .apiKey ? nil : actor.id))
                """)
            try await AuditLog.append(
                AuditEntry(action: "api_key.create", objectType: "api_key", objectID: id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
        }
        guard let key = try await listAPIKeys(creditor: creditor, as: actor).first(where: { $0.id == id }) else { throw Problem.notFound("API key") }
        return (key, full)
    }

    public func listAPIKeys(creditor: UUID, as actor: Principal) async throws -> [APIKey] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query(
                "SELECT id, creditor_id, name, prefix, scopes, created_at, last_used_at, revoked_at FROM api_keys WHERE creditor_id = \(creditor) ORDER BY created_at, id"
            ).map { row in
                APIKey(
                    id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"), name: try row.decode(String.self, "name"),
                    prefix: try row.decode(String.self, "prefix"), scopes: try row.decode([String].self, "scopes").compactMap(APIScope.init(rawValue:)),
                    createdAt: try row.decode(Date.self, "created_at"), lastUsedAt: try row.decode(Date?.self, "last_used_at"),
                    revokedAt: try row.decode(Date?.self, "revoked_at"))
            }
        }
    }

    /// Revokes a key at once. Returns false when not found.
    public func revokeAPIKey(_ id: UUID, creditor: UUID, by actor: Principal, requestID: String?) async throws -> Bool {
        try await pool.transaction(as: actor) { tx in
            let updated = try await tx.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE creditor_id = \(creditor) AND id = \(id)")
            guard updated == 1 else { return false }
            try await AuditLog.append(
                AuditEntry(action: "api_key.revoke", objectType: "api_key", objectID: id.uuidString.lowercased(), creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return true
        }
    }
}
