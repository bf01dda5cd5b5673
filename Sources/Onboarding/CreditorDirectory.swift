import Core
import Foundation
import Postgres

/// The agency's creditors, the tenants of the platform.
public struct CreditorDirectory: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) { self.pool = pool }

    public enum Status: String, Codable, Sendable {
        case active
        case suspended
        case offboarded
    }

    public struct Creditor: Codable, Sendable, Equatable {
        public var id: UUID
        public var legalName: String
        public var status: Status
        public var createdAt: Date
        public var updatedAt: Date
    }

    static let columns: SQL = "id, legal_name, status, created_at, updated_at"

    static func decode(_ row: PostgresRow) throws -> Creditor {
        Creditor(
            id: try row.decode(UUID.self, "id"), legalName: try row.decode(String.self, "legal_name"),
            status: Status(rawValue: try row.decode(String.self, "status")) ?? .suspended,
            createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }

    static func validateName(_ name: String) -> Problem.FieldError? {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty || trimmed.count > 200 ? .init(field: "legalName", reason: "must be 1 to 200 characters") : nil
    }

    public func create(legalName: String, by actor: Principal, requestID: String?) async throws -> Creditor {
        if let error = Self.validateName(legalName) { throw Problem.validation([error]) }
        let id = UUID()
        return try await pool.transaction(as: actor) { tx in
            let row = try await tx.one(
                "INSERT INTO creditors (id, legal_name) VALUES (\(id), \(legalName.trimmingCharacters(in: .whitespacesAndNewlines))) RETURNING \(Self.columns)")
            try await AuditLog.append(
                AuditEntry(action: "creditor.create", objectType: "creditor", objectID: id.uuidString.lowercased(), creditorID: id),
                actor: actor, requestID: requestID, in: tx)
            return try Self.decode(row!)
        }
    }

    /// One creditor, or nil when missing or out of the actor's reach (row-level security).
    public func find(_ id: UUID, as actor: Principal) async throws -> Creditor? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.one("SELECT \(Self.columns) FROM creditors WHERE id = \(id)").map(Self.decode)
        }
    }

    /// The creditors the actor can see (staff: all; a creditor principal: its own), by ID.
    public func list(as actor: Principal, limit: Int, after: UUID?) async throws -> [Creditor] {
        let page: SQL = after.map { "WHERE id > \($0)" } ?? ""
        return try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await tx.query("SELECT \(Self.columns) FROM creditors \(page) ORDER BY id LIMIT \(limit)").map(Self.decode)
        }
    }

    /// Renames or changes the status (suspend, reactivate, offboard). Offboarding is final.
    public func update(_ id: UUID, legalName: String?, status: Status?, by actor: Principal, requestID: String?) async throws -> Creditor? {
        if let legalName, let error = Self.validateName(legalName) { throw Problem.validation([error]) }
        return try await pool.transaction(as: actor) { tx in
            guard let current = try await tx.one("SELECT \(Self.columns) FROM creditors WHERE id = \(id) FOR UPDATE").map(Self.decode) else {
                return nil
            }
            if current.status == .offboarded, let status, status != .offboarded {
                throw Problem.validation([.init(field: "status", reason: "an offboarded creditor cannot be reactivated")])
            }
            let row = try await tx.one(
                """
                UPDATE creditors SET legal_name = coalesce(\(legalName?.trimmingCharacters(in: .whitespacesAndNewlines)), legal_name),
                       status = coalesce(\(status?.rawValue), status), updated_at = now()
                WHERE id = \(id) RETURNING \(Self.columns)
                """)
            let action = status.map { "creditor.status.\($0.rawValue)" } ?? "creditor.update"
            try await AuditLog.append(
                AuditEntry(action: action, objectType: "creditor", objectID: id.uuidString.lowercased(), creditorID: id),
                actor: actor, requestID: requestID, in: tx)
            return try row.map(Self.decode)
        }
    }
}
