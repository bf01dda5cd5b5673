import Core
import Foundation
import Identity
import Onboarding
import Postgres

/// Test data written straight into a test database as the superuser (behind the service's
/// back, bypassing row-level security), so tests do not pay a bcrypt hash per user.
public struct Fixtures: Sendable {
    public static let password = "Correct-Horse-Battery-42"
    /// One bcrypt hash of `password`, made once per process.
    static let passwordHash = Task<String, any Error> { try await PasswordHasher.hash(password) }

    public let admin: PostgresPool
    let secrets: SecretBox

    public init(_ database: TestDatabase.Database) throws {
        admin = PostgresPool(configuration: .init(conninfo: database.adminURL, maxConnections: 2))
        secrets = try SecretBox(base64Key: TestApp.dataKey)
    }

    public func close() async throws { try await admin.close() }

    public func creditor(_ name: String = "Fournitures Durand SAS") async throws -> UUID {
        let id = UUID()
        try await admin.execute("INSERT INTO creditors (id, legal_name) VALUES (\(id), \(name))")
        return id
    }

    /// An active mandate (valid from a year ago, open-ended); returns its ID.
    @discardableResult
    public func mandate(creditor: UUID, validUntil: String? = nil) async throws -> UUID {
        let id = UUID()
        try await admin.execute(
            """
            INSERT INTO mandates (creditor_id, id, reference, signed_on, valid_from, valid_until, power_to_receive_funds, fee_basis,
                                  remittance_basis, remittance_frequency, remittance_days_after_encashment, insurance_reference)
            VALUES (\(creditor), \(id), \("M-" + id.uuidString.prefix(8)), least(current_date - 365, \(validUntil)::date - 30),
                    least(current_date - 365, \(validUntil)::date - 30), \(validUntil)::date, true,
                    '15 %', 'net', 'monthly', 30, 'RCP-TEST')
            """)
        return id
    }

    /// A completed placement of one claim (needs an active mandate); returns its ID.
    public func placement(creditor: UUID, pool: PostgresPool) async throws -> UUID {
        let service = PlacementService(pool: pool)
        let file = Array("reference;montant;echeance;nom\nFX-\(UUID().uuidString.prefix(6));12,00;01/01/2025;Martin\n".utf8)
        let (placement, _) = try await service.stage(
            creditor: creditor, format: .csv, body: AsyncStream { c in c.yield(file); c.finish() }, idempotencyKey: nil,
            by: Principal(kind: .staff, id: nil, role: .admin), requestID: nil)
        while try await service.processNext() != nil {}
        return placement.id
    }

    public struct User: Sendable {
        public let id: UUID
        public let email: String
        public let role: Role
        public let creditorID: UUID?
        public let totpKey: [UInt8]?
    }

    /// A user with `Fixtures.password`; admin and dpo get a TOTP key.
    public func user(_ role: Role, creditor: UUID? = nil, email: String? = nil, totp: Bool? = nil) async throws -> User {
        let id = UUID()
        let email = email ?? "\(role.rawValue)-\(id.uuidString.prefix(8).lowercased())@example.test"
        let key: [UInt8]? = (totp ?? role.requiresTOTP) ? TOTP.generateKey() : nil
        let sealed = try key.map { PostgresBytes(try secrets.seal($0)) }
        try await admin.execute(
            """
            INSERT INTO users (id, creditor_id, email, role, password_hash, totp_secret_sealed)
            VALUES (\(id), \(creditor), \(email), \(role.rawValue), \(try await Self.passwordHash.value), \(sealed))
            """)
        return User(id: id, email: email, role: role, creditorID: creditor, totpKey: key)
    }

    /// An API key; returns its ID and the full bearer value.
    public func apiKey(creditor: UUID, scopes: [String] = ["placements", "cases", "reports"]) async throws -> (UUID, String) {
        let id = UUID()
        let prefix = "rk_" + String(Base32.encode(Tokens.randomBytes(8)).lowercased().prefix(12))
        let secret = Tokens.random(byteCount: 32)
        try await admin.execute(
            """
            INSERT INTO api_keys (creditor_id, id, prefix, secret_hash, name, scopes)
            VALUES (\(creditor), \(id), \(prefix), \(PostgresBytes(Tokens.sha256(secret))), 'test key', \(scopes))
            """)
        return (id, prefix + "_" + secret)
    }

    /// The current TOTP code of a user.
    public static func code(_ user: User, at date: Date = Date()) -> String? {
        user.totpKey.map { TOTP(key: $0).code(counter: TOTP.counter(at: date)) }
    }
}


/// Builds fee schedules for commission tests.
public enum FeeScheduleBookSchedule {
    public static func make(basis: FeeScheduleBook.Basis, tiers: [(Int, Int)], min: Int?, max: Int?) -> FeeScheduleBook.Schedule {
        FeeScheduleBook.Schedule(
            id: UUID(), creditorId: UUID(), effectiveFrom: CalendarDate(year: 2026, month: 1, day: 1)!, currency: "EUR", basis: basis,
            tiers: tiers.map { FeeScheduleBook.Tier(from: $0.0, rateBasisPoints: $0.1) }, minimumFeeMinor: min, maximumFeeMinor: max,
            createdAt: Date())
    }
}
