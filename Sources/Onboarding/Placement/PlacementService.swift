import Core
import Crypto
import Foundation
import Logging
import Postgres
import Synchronization

/// Portfolio placement: a creditor's file of claims becomes debtors, cases and claims.
///
/// 1. **Stage** (the upload request): the body is parsed as it streams in, each row checked,
///    and good rows (and the reasons for bad ones) go to `placement_rows` by COPY, all in one
///    transaction with the placement record. A killed upload leaves nothing.
/// 2. **Merge** (`processNext`, run by the placement worker): one transaction takes a staged
///    placement (`FOR UPDATE SKIP LOCKED`, so any number of nodes can run workers), matches
///    debtors, opens or joins cases, inserts new claims, updates changed ones and records
///    every row's outcome, set-based. A killed merge rolls back and is taken again.
public struct PlacementService: Sendable {
    public let pool: PostgresPool
    let logger: Logger
    /// Largest file accepted.
    public var maxBytes: Int

    public init(pool: PostgresPool, maxBytes: Int = 1 << 30, logger: Logger = Logger(label: "relance.placements")) {
        self.pool = pool
        self.maxBytes = maxBytes
        self.logger = logger
    }

    public enum Format: String, Codable, Sendable {
        case csv
        case json
        case ndjson
    }

    public struct Placement: Codable, Sendable, Equatable {
        public var id: UUID
        public var creditorId: UUID
        /// `staged` (queued for merging), `completed` or `failed`.
        public var status: String
        public var format: String
        public var fileSha256: String
        public var byteCount: Int
        public var received: Int
        public var accepted: Int
        public var rejected: Int
        public var unchanged: Int
        public var updated: Int
        public var createdAt: Date
        public var completedAt: Date?
        public var failure: String?
        /// The mapping the file's columns were read with: the creditor's saved one (with its
        /// version) or one given with the upload; absent when the aliases alone read it.
        public var columnMapping: MappingUsed?
        /// How each source column was read (a CSV header's cells; a JSON file's keys as first met).
        public var columns: [PlacementHeader.Reading]
        /// When its cases went through assignment (after the merge), and how many found an
        /// agent; absent until then.
        public var assignment: Assignment?
    }

    public struct Assignment: Codable, Sendable, Equatable {
        public var assignedAt: Date
        /// Its new cases that have an agent, and those waiting (`GET /v1/assignments/unassigned`).
        public var casesAssigned: Int
        public var casesUnassigned: Int
    }

    public struct MappingUsed: Codable, Sendable, Equatable {
        /// `saved` or `upload`.
        public var kind: String
        public var version: Int?
    }

    /// Counts and digest gathered while streaming.
    final class Tally {
        var bytes = 0
        var received = 0
        var rejected = 0
        var hasher = SHA256()
        /// How each source column was read: the CSV header's, or each JSON key's as first met
        /// (at most `maxReadings`: a file of random keys does not grow the record).
        var readings: [PlacementHeader.Reading] = []
        private var keysRead: Set<String> = []
        static let maxReadings = 200

        func read(key: String, as found: (target: ColumnMapping.Target, by: String)?) {
            guard readings.count < Self.maxReadings, !keysRead.contains(key) else { return }
            keysRead.insert(key)
            readings.append(.init(source: PlacementHeader.shown(key), field: found?.target.name, by: found?.by ?? "unknown"))
        }
    }
}
