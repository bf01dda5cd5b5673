import Core
import Foundation
import Postgres

/// What the gate says now of contacting a case's debtor, channel by channel, with every reason
/// (GET /v1/cases/{id}/contact; the case's full view carries the same).
public struct ContactCheck: Sendable {
    public let pool: PostgresPool
    let clock: @Sendable () -> Date

    public init(pool: PostgresPool, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.clock = clock
    }

    public struct Now: Codable, Sendable, Equatable {
        public var caseId: UUID
        public var at: Date
        /// The jurisdiction whose rules apply, and the debtor's time zone.
        public var jurisdiction: String
        public var timeZone: String
        public var channels: [ContactDecision]
    }

    public func now(case id: UUID, as actor: Principal) async throws -> Now {
        let at = clock()
        return try await pool.transaction(as: actor, .init(readOnly: true)) { tx in
            guard let found = try await ContactSituationRows.load(case: id, at: at, in: tx) else { throw Problem.notFound("case") }
            return Self.now(found, at: at)
        }
    }

    /// Every channel's decision on a loaded case.
    public static func now(_ found: ContactSituationRows.Found, at: Date) -> Now {
        Now(
            caseId: found.caseId, at: at, jurisdiction: found.situation.rules.jurisdiction, timeZone: found.situation.timeZone.identifier,
            channels: Channel.allCases.map { ContactSituationRows.decision($0, found, at: at) })
    }
}
