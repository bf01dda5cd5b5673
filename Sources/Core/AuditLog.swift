import Crypto
import Foundation
import Postgres

/// One thing that happened: who did what to which object, with what outcome.
/// Identifiers only: never a name, an email or an amount tied to a person.
public struct AuditEntry: Sendable {
    public var action: String
    public var objectType: String
    public var objectID: String?
    public var creditorID: UUID?
    public var outcome: Outcome

    public enum Outcome: String, Sendable {
        case success
        case denied
        case failure
    }

    public init(action: String, objectType: String, objectID: String? = nil, creditorID: UUID? = nil, outcome: Outcome = .success) {
        self.action = action
        self.objectType = objectType
        self.objectID = objectID
        self.creditorID = creditorID
        self.outcome = outcome
    }
}

/// The append-only, hash-chained audit log.
///
/// One chain per creditor (agency-wide events chain under the nil UUID). Each entry's hash is
/// SHA-256 over the previous entry's hash and the entry's canonical text, appended under a
/// transaction advisory lock on the chain, so concurrent writers cannot fork it; the primary
/// key (chain, seq) would refuse a fork anyway. The entry commits with the change it records.
public enum AuditLog {
    public static let agencyChain = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// Appends an entry inside the caller's transaction.
    public static func append(
        _ entry: AuditEntry, actor: Principal?, requestID: String?, in tx: PostgresTransaction, at now: Date = Date()
    ) async throws {
        let chain = entry.creditorID ?? agencyChain
        // Whole microseconds, so the stored time re-hashes identically.
        let at = PostgresTime.parse(Substring(PostgresTime.format(now)))!
        try await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(\("audit:" + chain.uuidString.lowercased()), 0))")
        let head = try await tx.one("SELECT seq, hash FROM audit_log WHERE chain_id = \(chain) ORDER BY seq DESC LIMIT 1")
        let seq = (try head?.decode(Int.self, "seq") ?? 0) + 1
        let previous = try head?.decode(PostgresBytes.self, "hash").bytes ?? genesis
        let record = Record(
            chain: chain, seq: seq, at: at, actorKind: actor?.kind.rawValue ?? "anonymous", actorID: actor?.id,
            action: entry.action, objectType: entry.objectType, objectID: entry.objectID, creditorID: entry.creditorID,
            requestID: requestID, outcome: entry.outcome.rawValue)
        let hash = record.hash(previous: previous)
        try await tx.execute(
            """
            INSERT INTO audit_log (chain_id, seq, at, actor_kind, actor_id, action, object_type, object_id, creditor_id,
                                   request_id, outcome, prev_hash, hash)
            VALUES (\(chain), \(seq), \(at), \(record.actorKind), \(record.actorID), \(record.action), \(record.objectType),
                    \(record.objectID), \(record.creditorID), \(record.requestID), \(record.outcome),
                    \(PostgresBytes(previous)), \(PostgresBytes(hash)))
            """)
    }

    /// One stored entry, as hashed.
    struct Record {
        var chain: UUID
        var seq: Int
        var at: Date
        var actorKind: String
        var actorID: UUID?
        var action: String
        var objectType: String
        var objectID: String?
        var creditorID: UUID?
        var requestID: String?
        var outcome: String

        /// `SHA-256(previous || canonical)`; fields separated by U+001F, absent ones empty.
        func hash(previous: [UInt8]) -> [UInt8] {
            let fields = [
                "v1", chain.uuidString.lowercased(), String(seq), PostgresTime.format(at), actorKind,
                actorID?.uuidString.lowercased() ?? "", action, objectType, objectID ?? "",
                creditorID?.uuidString.lowercased() ?? "", requestID ?? "", outcome,
            ]
            var hasher = SHA256()
            hasher.update(data: previous)
            hasher.update(data: Array(fields.joined(separator: "\u{1F}").utf8))
            return Array(hasher.finalize())
        }
    }

    /// The result of walking every chain.
    public struct Verification: Sendable, CustomStringConvertible {
        public var chains = 0
        public var entries = 0
        /// The first broken entry of each broken chain.
        public var broken: [(chain: UUID, seq: Int, reason: String)] = []

        public var isIntact: Bool { broken.isEmpty }

        public var description: String {
            if broken.isEmpty { return "audit log intact: \(chains) chain(s), \(entries) entries" }
            return (["audit log BROKEN:"] + broken.map { "  chain \($0.chain.uuidString.lowercased()) first broken at seq \($0.seq): \($0.reason)" })
                .joined(separator: "\n")
        }
    }

    /// Walks every chain from its first entry, recomputing each hash.
    public static func verify(pool: PostgresPool, pageSize: Int = 1000) async throws -> Verification {
        var result = Verification()
        let chains = try await pool.transaction(as: .system, .init(readOnly: true)) { tx in
            try await tx.query("SELECT DISTINCT chain_id FROM audit_log ORDER BY chain_id").map { try $0.decode(UUID.self, "chain_id") }
        }
        for chain in chains {
            result.chains += 1
            var previous = genesis
            var expectedSeq = 1
            var brokenReason: String? = nil
            walk: while true {
                let rows = try await pool.transaction(as: .system, .init(readOnly: true)) { tx in
                    try await tx.query(
                        """
                        SELECT seq, at, actor_kind, actor_id, action, object_type, object_id, creditor_id, request_id, outcome,
                               prev_hash, hash
                        FROM audit_log WHERE chain_id = \(chain) AND seq >= \(expectedSeq) ORDER BY seq LIMIT \(pageSize)
                        """)
                }
                if rows.isEmpty { break }
                for row in rows {
                    result.entries += 1
                    let seq = try row.decode(Int.self, "seq")
                    let record = Record(
                        chain: chain, seq: seq, at: try row.decode(Date.self, "at"), actorKind: try row.decode(String.self, "actor_kind"),
                        actorID: try row.decode(UUID?.self, "actor_id"), action: try row.decode(String.self, "action"),
                        objectType: try row.decode(String.self, "object_type"), objectID: try row.decode(String?.self, "object_id"),
                        creditorID: try row.decode(UUID?.self, "creditor_id"), requestID: try row.decode(String?.self, "request_id"),
                        outcome: try row.decode(String.self, "outcome"))
                    let storedPrevious = try row.decode(PostgresBytes.self, "prev_hash").bytes
                    let stored = try row.decode(PostgresBytes.self, "hash").bytes
                    if seq != expectedSeq {
                        brokenReason = "entry \(expectedSeq) is missing"
                    } else if storedPrevious != previous {
                        brokenReason = "does not link to the previous entry"
                    } else if record.hash(previous: previous) != stored {
                        brokenReason = "content does not match its hash"
                    }
                    if let reason = brokenReason {
                        result.broken.append((chain, expectedSeq, reason))
                        break walk
                    }
                    previous = stored
                    expectedSeq += 1
                }
            }
        }
        return result
    }
}
