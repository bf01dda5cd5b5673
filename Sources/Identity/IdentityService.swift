import Core
import Foundation
import Logging
import Postgres

/// Logins, sessions, users and API keys.
///
/// Every failure to log in looks the same from outside (same error, bcrypt always runs), and
/// failures are counted per account and per client address in the database, so every API
/// node shares the limits.
public struct IdentityService: Sendable {
    public let pool: PostgresPool
    let secrets: SecretBox
    let now: @Sendable () -> Date
    /// Credentials resolved moments ago (Core's `CredentialCache`), emptied by every change to
    /// who may act made here.
    public let credentials: CredentialCache
    public var sessionLifetime: TimeInterval = 12 * 3600
    public var idleTimeout: TimeInterval = 30 * 60
    public var accountFailureLimit = 5
    public var addressFailureLimit = 30
    public var throttleWindowSeconds = 15 * 60

    public init(pool: PostgresPool, secrets: SecretBox, credentials: CredentialCache = .off, now: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.secrets = secrets
        self.credentials = credentials
        self.now = now
    }

    // MARK: - Login

    public struct Session: Sendable {
        public let token: String
        public let expiresAt: Date
        public let principal: Principal
    }

    public enum LoginError: Error, Sendable, Equatable {
        /// Unknown email, wrong password, disabled account, wrong or missing code: one answer.
        case invalidCredentials
        /// The password was right but a TOTP code is needed.
        case totpRequired
        case throttled
    }

    /// Checks credentials and opens a session.
    /// - Throws: `LoginError`.
    public func login(email: String, password: String, totp: String?, clientAddress: String, requestID: String?) async throws -> Session {
        let email = email.trimmingCharacters(in: .whitespaces).lowercased()
        let accountKey = "acct:" + Tokens.sha256(email).prefix(16).hexString
        let addressKey = "addr:" + clientAddress
        // The attempt is counted before the password is checked, in the same statement that
        // reads the count: parallel guesses each take one of the attempts left, and no more.
        // A successful login gives its attempt back.
        if try await reserveAttempt(accountKey: accountKey, addressKey: addressKey) {
            throw LoginError.throttled
        }
        let row = try await pool.transaction(as: .system) { tx in
            try await tx.one("SELECT * FROM auth_user_by_email(\(email))")
        }
        guard let row else {
            _ = try await PasswordHasher.verify(password, hash: PasswordHasher.decoy)
            try await recordFailure(userID: nil, creditorID: nil, requestID: requestID)
            throw LoginError.invalidCredentials
        }
        let userID = try row.decode(UUID.self, "id")
        let creditorID = try row.decode(UUID?.self, "creditor_id")
        let passwordOK = try await PasswordHasher.verify(password, hash: try row.decode(String.self, "password_hash"))
        let active = try row.decode(String.self, "status") == "active"
            && (try row.decode(String?.self, "creditor_status") ?? "active") == "active"
        guard passwordOK, active, let role = Role(rawValue: try row.decode(String.self, "role")) else {
            try await recordFailure(userID: userID, creditorID: creditorID, requestID: requestID)
            throw LoginError.invalidCredentials
        }
        var usedStep: Int64? = nil
        let sealed = try row.decode(PostgresBytes?.self, "totp_secret_sealed")
        if sealed != nil || role.requiresTOTP {
            guard let sealed, let code = totp, !code.isEmpty else {
                if totp == nil || totp?.isEmpty == true, sealed != nil {
                    // The first step of a two-step login is not a failure.
                    try await refundAttempt(keys: [accountKey, addressKey])
                    throw LoginError.totpRequired
                }
                try await recordFailure(userID: userID, creditorID: creditorID, requestID: requestID)
                throw LoginError.invalidCredentials
            }
            let key = try secrets.open(sealed.bytes)
            let lastStep = try row.decode(Int64.self, "totp_last_step")
            guard let step = TOTP(key: key).matchingCounter(code, at: now()), step > lastStep else {
                try await recordFailure(userID: userID, creditorID: creditorID, requestID: requestID)
                throw LoginError.invalidCredentials
            }
            usedStep = step
        }
        let principal = Principal(
            kind: role.isStaff ? .staff : .creditorUser, id: userID, role: role, creditorID: creditorID, sessionID: UUID())
        let token = "rls_" + Tokens.random(byteCount: 32)
        let expiresAt = now().addingTimeInterval(sessionLifetime)
        try await pool.transaction(as: principal) { tx in
            // A TOTP step is used once: the update fails if another login took it meanwhile.
            let updated = try await tx.execute(
                """
                UPDATE users SET last_login_at = now(), totp_last_step = greatest(totp_last_step, \(usedStep ?? 0))
                WHERE id = \(userID) AND (\(usedStep == nil) OR totp_last_step < \(usedStep ?? 0))
                """)
            guard updated == 1 else { throw LoginError.invalidCredentials }
            try await tx.execute(
                """
                INSERT INTO sessions (id, token_hash, user_id, expires_at)
                VALUES (\(principal.sessionID!), \(PostgresBytes(Tokens.sha256(token))), \(userID), \(expiresAt))
                """)
            try await AuditLog.append(
                AuditEntry(action: "auth.login", objectType: "user", objectID: userID.uuidString.lowercased(), creditorID: creditorID),
                actor: principal, requestID: requestID, in: tx)
        }
        // The counters belong to the system principal (row-level security): cleared apart, after
        // the session exists. A failure here leaves a counter one higher than it should be.
        try await refundAttempt(keys: [addressKey], clearing: accountKey)
        return Session(token: token, expiresAt: expiresAt, principal: principal)
    }

    /// Counts one attempt against the account and the address, atomically with reading the
    /// counts (the upsert locks each row), and says whether either is over its limit.
    func reserveAttempt(accountKey: String, addressKey: String) async throws -> Bool {
        let window = throttleWindowSeconds
        return try await pool.transaction(as: .system) { tx in
            var throttled = false
            for (key, limit) in [(accountKey, accountFailureLimit), (addressKey, addressFailureLimit)] {
                let row = try await tx.one(
                    """
                    INSERT INTO auth_throttle (key, window_start, failures) VALUES (\(key), now(), 1)
                    ON CONFLICT (key) DO UPDATE SET
                        failures = CASE WHEN auth_throttle.window_start < now() - make_interval(secs => \(window))
                                        THEN 1 ELSE auth_throttle.failures + 1 END,
                        window_start = CASE WHEN auth_throttle.window_start < now() - make_interval(secs => \(window))
                                            THEN now() ELSE auth_throttle.window_start END
                    RETURNING failures
                    """)
                if try row?.decode(Int.self, "failures") ?? 0 > limit { throttled = true }
            }
            return throttled
        }
    }

    /// Gives back attempts that were not failures; a successful login also clears its account's
    /// counter.
    func refundAttempt(keys: [String], clearing cleared: String? = nil) async throws {
        try await pool.transaction(as: .system) { tx in
            try await tx.execute("UPDATE auth_throttle SET failures = greatest(failures - 1, 0) WHERE key = ANY(\(keys))")
            if let cleared { try await tx.execute("DELETE FROM auth_throttle WHERE key = \(cleared)") }
        }
    }

    /// The attempt was counted when it was reserved; the audit log records the denial.
    func recordFailure(userID: UUID?, creditorID: UUID?, requestID: String?) async throws {
        try await pool.transaction(as: .system) { tx in
            try await AuditLog.append(
                AuditEntry(action: "auth.login", objectType: "user", objectID: userID?.uuidString.lowercased(), creditorID: creditorID, outcome: .denied),
                actor: nil, requestID: requestID, in: tx)
        }
    }

    // MARK: - Authentication of requests

    /// Resolves a bearer credential (session token or API key) to its principal.
    /// - Returns: nil when the credential is unknown, expired, revoked, or its owner disabled.
    public func authenticate(bearer: String) async throws -> Principal? {
        guard bearer.hasPrefix("rk_") || (bearer.hasPrefix("rls_") && bearer.count < 100) else { return nil }
        let key = Tokens.sha256(bearer)
        if let known = credentials.principal(forKey: key) { return known }
        let generation = credentials.generation
        let principal = bearer.hasPrefix("rk_") ? try await authenticateAPIKey(bearer) : try await authenticateSession(bearer)
        if let principal { credentials.store(principal, forKey: key, ifGeneration: generation) }
        return principal
    }

    /// `rls_<secret>`: the session whose token hashes to the same, live, of an active user.
    func authenticateSession(_ bearer: String) async throws -> Principal? {
        // One round trip: the lookup (and the session's touch) is a transaction of its own,
        // harmless to repeat.
        let row = try await pool.statement(as: .system, "SELECT * FROM auth_session(\(PostgresBytes(Tokens.sha256(bearer))), \(Int32(idleTimeout)))").one()
        guard let row, let role = Role(rawValue: try row.decode(String.self, "role")) else { return nil }
        return Principal(
            kind: role.isStaff ? .staff : .creditorUser, id: try row.decode(UUID.self, "user_id"), role: role,
            creditorID: try row.decode(UUID?.self, "creditor_id"), sessionID: try row.decode(UUID.self, "session_id"),
            team: try row.decode(String?.self, "team"))
    }

    /// `rk_<prefix>_<secret>`: the prefix finds the key, the secret's SHA-256 must match.
    func authenticateAPIKey(_ bearer: String) async throws -> Principal? {
        let parts = bearer.split(separator: "_", maxSplits: 2)
        guard parts.count == 3, parts[1].count == 12, parts[2].count >= 32, bearer.count < 100 else { return nil }
        let prefix = "rk_" + parts[1]
        let row = try await pool.statement(as: .system, "SELECT * FROM auth_api_key(\(prefix))").one()
        guard let row,
            try row.decode(Bool.self, "revoked") == false,
            try row.decode(String.self, "creditor_status") == "active",
            ConstantTime.equal(try row.decode(PostgresBytes.self, "secret_hash").bytes, Tokens.sha256(String(parts[2])))
        else { return nil }
        let principal = Principal(
            kind: .apiKey, id: try row.decode(UUID.self, "id"), creditorID: try row.decode(UUID.self, "creditor_id"),
            scopes: Set(try row.decode([String].self, "scopes").compactMap(APIScope.init(rawValue:))))
        try await pool.statement(
            as: principal,
            """
            UPDATE api_keys SET last_used_at = now()
            WHERE creditor_id = \(principal.creditorID!) AND id = \(principal.id!)
              AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
            """)
        return principal
    }

    /// Ends the caller's session.
    public func logout(_ principal: Principal, requestID: String?) async throws {
        guard let sessionID = principal.sessionID else { return }
        try await pool.transaction(as: principal) { tx in
            try await tx.execute("UPDATE sessions SET revoked_at = now() WHERE id = \(sessionID) AND revoked_at IS NULL")
            try await AuditLog.append(
                AuditEntry(action: "auth.logout", objectType: "session", objectID: sessionID.uuidString.lowercased(), creditorID: principal.creditorID),
                actor: principal, requestID: requestID, in: tx)
        }
        credentials.invalidateAll()
    }

    /// Changes the caller's password and ends every session of theirs.
    /// - Throws: `Problem` (422) naming the field at fault.
    public func changePassword(_ principal: Principal, current: String, new: String, requestID: String?) async throws {
        guard let userID = principal.id, principal.kind != .apiKey else { throw Problem.forbidden }
        let row = try await pool.transaction(as: principal) { tx in
            try await tx.one("SELECT email, password_hash FROM users WHERE id = \(userID)")
        }
        guard let row else { throw Problem.notFound("user") }
        guard try await PasswordHasher.verify(current, hash: try row.decode(String.self, "password_hash")) else {
            throw Problem.validation([.init(field: "currentPassword", reason: "is not your current password")])
        }
        if let reason = PasswordPolicy.problem(new, email: try row.decode(String.self, "email")) {
            throw Problem.validation([.init(field: "newPassword", reason: reason)])
        }
        let hash = try await PasswordHasher.hash(new)
        try await pool.transaction(as: principal) { tx in
            try await tx.execute("UPDATE users SET password_hash = \(hash), password_changed_at = now() WHERE id = \(userID)")
            try await tx.execute("UPDATE sessions SET revoked_at = now() WHERE user_id = \(userID) AND revoked_at IS NULL")
            try await AuditLog.append(
                AuditEntry(action: "auth.password_change", objectType: "user", objectID: userID.uuidString.lowercased(), creditorID: principal.creditorID),
                actor: principal, requestID: requestID, in: tx)
        }
        credentials.invalidateAll()
    }
}
