import Core
import Foundation
import Postgres

/// A creditor's saved column mapping: how its files name their columns (`ColumnMapping`),
/// versioned (a change is a new version; placements keep the version they were read with) and
/// audited. Set by the agency's administrators and the creditor's own; applied to the creditor's
/// later uploads unless an upload brings its own.
public struct ColumnMappingBook: Sendable {
    public let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// One version of a creditor's mapping.
    public struct Saved: Sendable, Codable, Equatable {
        public var creditorId: UUID
        public var version: Int
        /// Source header -> field name or `ignore`.
        public var columns: [String: String]
        public var createdAt: Date
    }

    /// Checks a mapping as sent: each source header once, each field once, known fields or
    /// `ignore`, and the fields every file needs.
    /// - Parameter root: its name in the request (`columns`, or an upload's `mapping`).
    /// - Throws: `Problem` 422 naming each fault (`<root>.<header>`, or `<root>`).
    public static func check(_ sent: [String: String], root: String = "columns") throws -> ColumnMapping {
        let mapping: ColumnMapping
        do {
            mapping = try ColumnMapping(sent, root: root)
        } catch let problem as ColumnMapping.MappingProblem {
            throw Problem.validation(problem.errors.map { .init(field: $0.field, reason: $0.reason) }, detail: "The column mapping is not usable.")
        }
        let missing = mapping.missingRequired()
        guard missing.isEmpty else {
            throw Problem.validation(
                missing.map { .init(field: root, reason: "maps no column to \($0), which every file needs") },
                detail: "The column mapping is not usable.")
        }
        return mapping
    }

    /// Saves a new version, unless it says what the version in force says (then that one is
    /// answered, and nothing is recorded).
    /// - Returns: the version in force, and whether it is new.
    public func save(_ sent: [String: String], creditor: UUID, by actor: Principal, requestID: String?) async throws -> (Saved, created: Bool) {
        let mapping = try Self.check(sent)
        return try await pool.transaction(as: actor) { tx in
            try await CreditorRows.requireVisible(creditor, in: tx)
            // Serialises changes of one creditor's mapping (the first version has no row to lock).
            try await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('column_mappings:' || \(creditor.uuidString.lowercased()), 0))")
            let current = try await ColumnMappingRows.current(creditor: creditor, in: tx)
            if let current, current.columns == mapping.dictionary { return (current, false) }
            let saved = try await ColumnMappingRows.insert(creditor: creditor, version: (current?.version ?? 0) + 1, mapping, by: actor, in: tx)
            try await AuditLog.append(
                AuditEntry(
                    action: "column_mapping.save", objectType: "column_mapping",
                    objectID: "\(creditor.uuidString.lowercased())/\(saved.version)", creditorID: creditor),
                actor: actor, requestID: requestID, in: tx)
            return (saved, true)
        }
    }

    /// The version in force, or nil.
    public func current(creditor: UUID, as actor: Principal) async throws -> Saved? {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await CreditorRows.requireVisible(creditor, in: tx)
            return try await ColumnMappingRows.current(creditor: creditor, in: tx)
        }
    }

    /// Every version, the latest first.
    public func versions(creditor: UUID, as actor: Principal) async throws -> [Saved] {
        try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            try await CreditorRows.requireVisible(creditor, in: tx)
            return try await ColumnMappingRows.all(creditor: creditor, in: tx)
        }
    }
}
