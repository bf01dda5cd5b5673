import Core
import Foundation
import Postgres

// A dry run: a file checked as its upload would be, nothing placed.
extension PlacementService {
    /// What placing a file would do, and nothing placed: its columns read (with the mapping it
    /// would use), every row checked, repeated references found, the first refusals listed.
    public struct DryRun: Codable, Sendable, Equatable {
        public struct Reject: Codable, Sendable, Equatable {
            public var row: Int
            public var field: String
            public var reason: String
        }

        public var dryRun = true
        /// Data rows read.
        public var received: Int
        /// Rows that would be placed (new, updated or unchanged claims).
        public var accepted: Int
        public var rejected: Int
        public var columnMapping: MappingUsed?
        public var columns: [PlacementHeader.Reading]
        /// The first `rejectsShown` refusals by row; `moreRejects` when there are others.
        public var rejects: [Reject]
        public var moreRejects: Bool
    }

    public static let rejectsShown = 1000

    private struct Done: Error {
        let result: DryRun
    }

    /// Checks a file as `stage` would, in a transaction that is then rolled back: the same
    /// parsing, mapping, row checks and repeated-reference check, so its answer is the upload's.
    /// - Throws: the upload's `Problem`s (unknown creditor, no mandate, unreadable file or header).
    public func dryRun<Body: AsyncSequence>(
        creditor: UUID, format: Format, body: Body, mapping: ColumnMapping? = nil, by actor: Principal
    ) async throws -> DryRun where Body.Element == [UInt8] {
        let id = UUID()
        let tally = Tally()
        do {
            try await pool.transaction(as: actor, .init(statementTimeout: .seconds(3600), maxAttempts: 1)) { tx in
                let used = try await stageRows(creditor: creditor, placement: id, format: format, body: body, mapping: mapping, tally: tally, in: tx)
                // Staged rows are read by the merge only: this transaction reads them as it would.
                try await tx.act(for: .placementMerge, creditor: creditor)
                try await Self.refuseRepeatedReferences(creditor: creditor, placement: id, in: tx)
                // The first refusals, each row carrying how many there are in all (counted before the LIMIT).
                let rows = try await tx.query(
                    """
                    SELECT row_number, reject_field, reject_reason, count(*) OVER () AS total FROM placement_rows
                    WHERE creditor_id = \(creditor) AND placement_id = \(id) AND reject_field IS NOT NULL
                    ORDER BY row_number LIMIT \(Self.rejectsShown)
                    """)
                let rejected = try rows.first?.decode(Int.self, "total") ?? 0
                let rejects = try rows.map {
                    DryRun.Reject(
                        row: try $0.decode(Int.self, "row_number"), field: try $0.decode(String.self, "reject_field"),
                        reason: try $0.decode(String.self, "reject_reason"))
                }
                throw Done(result: DryRun(
                    received: tally.received, accepted: tally.received - rejected, rejected: rejected,
                    columnMapping: used, columns: tally.readings,
                    rejects: rejects, moreRejects: rejected > rejects.count))
            }
        } catch let done as Done {
            return done.result
        } catch {
            throw Self.readProblem(error) ?? error
        }
        throw Problem(status: 500, code: "dry-run-kept", title: "Dry run not rolled back", detail: "The dry run ended without its answer.")
    }
}
