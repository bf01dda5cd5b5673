import Core
import Foundation
import Postgres

/// The `users` table as the directory uses it: every statement in the caller's transaction.
/// (Login, sessions and password changes are `IdentityService`'s, through definer functions.)
public enum UserRows {
    static let columns: SQL = """
        id, email, display_name, role, creditor_id, status,
        (SELECT t.name FROM agent_profiles p JOIN teams t ON t.id = p.team_id WHERE p.user_id = users.id) AS team,
        totp_secret_sealed IS NOT NULL AS totp_enrolled, created_at, last_login_at
        """

    static func decode(_ row: PostgresRow) throws -> UserDirectory.User {
        UserDirectory.User(
            id: try row.decode(UUID.self, "id"), email: try row.decode(String.self, "email"),
            displayName: try row.decode(String.self, "display_name"), role: Role(rawValue: try row.decode(String.self, "role")) ?? .agent,
            creditorId: try row.decode(UUID?.self, "creditor_id"), status: try row.decode(String.self, "status"),
            team: try row.decode(String?.self, "team"), totpEnrolled: try row.decode(Bool.self, "totp_enrolled"),
            createdAt: try row.decode(Date.self, "created_at"), lastLoginAt: try row.decode(Date?.self, "last_login_at"))
    }

    /// 404 unless the creditor a user or key is for exists within the caller's reach.
    static func requireCreditor(_ creditor: UUID, in tx: PostgresTransaction) async throws {
        guard try await tx.one("SELECT 1 AS one FROM creditors WHERE id = \(creditor)") != nil else { throw Problem.notFound("creditor") }
    }

    static func insert(
        id: UUID, _ new: UserDirectory.NewUser, email: String, passwordHash: String, sealedTOTPKey: PostgresBytes?, in tx: PostgresTransaction
    ) async throws -> UserDirectory.User {
        let row = try await tx.one(
            """
            INSERT INTO users (id, creditor_id, email, display_name, role, password_hash, totp_secret_sealed)
            VALUES (\(id), \(new.creditorID), \(email), \(new.displayName), \(new.role.rawValue), \(passwordHash), \(sealedTOTPKey))
            RETURNING \(columns)
            """)
        return try decode(row!)
    }

    /// One user, as the caller may see it (nil when missing or out of reach).
    public static func find(_ id: UUID, in tx: PostgresTransaction) async throws -> UserDirectory.User? {
        try await tx.one("SELECT \(columns) FROM users WHERE id = \(id)").map(decode)
    }

    /// Staff (creditor nil) or one creditor's users, by ID, after `after`.
    static func page(creditor: UUID?, after: UUID?, limit: Int, in tx: PostgresTransaction) async throws -> [UserDirectory.User] {
        let scope: SQL = creditor.map { "creditor_id = \($0)" } ?? "creditor_id IS NULL"
        let page: SQL = after.map { "AND id > \($0)" } ?? ""
        return try await tx.query("SELECT \(columns) FROM users WHERE \(scope) \(page) ORDER BY id LIMIT \(limit)").map(decode)
    }

    /// Disables a user of the staff (creditor nil) or of the creditor and ends their sessions;
    /// false when there is no such user.
    static func disable(_ id: UUID, creditor: UUID?, in tx: PostgresTransaction) async throws -> Bool {
        let scope: SQL = creditor.map { "creditor_id = \($0)" } ?? "creditor_id IS NULL"
        guard try await tx.execute("UPDATE users SET status = 'disabled' WHERE id = \(id) AND \(scope)") == 1 else { return false }
        try await tx.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = \(id) AND revoked_at IS NULL")
        return true
    }
}

/// The `api_keys` table as the directory uses it (a key's use at each request is
/// `IdentityService`'s): every statement in the caller's transaction.
public enum APIKeyRows {
    static let columns: SQL = "id, creditor_id, name, prefix, scopes, created_at, last_used_at, revoked_at"

    static func decode(_ row: PostgresRow) throws -> UserDirectory.APIKey {
        UserDirectory.APIKey(
            id: try row.decode(UUID.self, "id"), creditorId: try row.decode(UUID.self, "creditor_id"), name: try row.decode(String.self, "name"),
            prefix: try row.decode(String.self, "prefix"), scopes: try row.decode([String].self, "scopes").compactMap(APIScope.init(rawValue:)),
            createdAt: try row.decode(Date.self, "created_at"), lastUsedAt: try row.decode(Date?.self, "last_used_at"),
            revokedAt: try row.decode(Date?.self, "revoked_at"))
    }

    static func insert(
        id: UUID, creditor: UUID, prefix: String, secretHash: [UInt8], name: String, scopes: [APIScope], createdBy: UUID?,
        in tx: PostgresTransaction
    ) async throws -> UserDirectory.APIKey {
        let row = try await tx.one(
            """
            INSERT INTO api_keys (creditor_id, id, prefix, secret_hash, name, scopes, created_by)
            VALUES (\(creditor), \(id), \(prefix), \(PostgresBytes(secretHash)), \(name), \(Array(Set(scopes.map(\.rawValue))).sorted()), \(createdBy))
            RETURNING \(columns)
            """)
        return try decode(row!)
    }

    /// A creditor's keys, oldest first.
    static func all(creditor: UUID, in tx: PostgresTransaction) async throws -> [UserDirectory.APIKey] {
        try await tx.query("SELECT \(columns) FROM api_keys WHERE creditor_id = \(creditor) ORDER BY created_at, id").map(decode)
    }

    /// Revokes a key now (a second revocation keeps the first time); false when not found.
    static func revoke(_ id: UUID, creditor: UUID, in tx: PostgresTransaction) async throws -> Bool {
        try await tx.execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE creditor_id = \(creditor) AND id = \(id)") == 1
    }
}
