import Core
import Logging
import Postgres
import ServiceLifecycle

/// Deletes Idempotency-Key records older than 24 hours (their request bodies' answers may carry
/// personal data, and a key is only promised for a day), at start and then every ten minutes,
/// in batches so no statement holds many rows. Safe on every node at once: a batch deletes
/// what it finds, a second node finds less.
public struct IdempotencySweeper: Service {
    let pool: PostgresPool
    let logger: Logger
    var interval: Duration = .seconds(600)
    static let batch = 5000

    public init(pool: PostgresPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Deletes every expired record.
    /// - Returns: how many.
    @discardableResult
    public func sweep() async throws -> Int {
        var total = 0
        while true {
            let deleted = try await pool.transaction(as: .system) { tx in
                try await tx.execute(
                    """
                    DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM idempotency_keys WHERE created_at < now() - interval '24 hours'
                        LIMIT \(Self.batch) FOR UPDATE SKIP LOCKED))
                    """)
            }
            total += deleted
            if deleted < Self.batch { return total }
        }
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let swept = try await sweep()
                if swept > 0 { logger.info("idempotency keys expired", metadata: ["deleted": "\(swept)"]) }
            } catch {
                logger.warning("idempotency keys not swept; will retry", metadata: ["error": "\(String(describing: type(of: error)))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
