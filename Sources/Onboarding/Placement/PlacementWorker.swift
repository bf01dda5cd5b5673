import Logging
import Onboarding
import ServiceLifecycle
import Synchronization

/// Merges staged placements in the background, on every API node (they coordinate through
/// `FOR UPDATE SKIP LOCKED`). Woken at once after an upload, and every second otherwise, so a
/// placement left by a node that died is taken up again.
public final class PlacementWorker: Service, Sendable {
    let placements: PlacementService
    let logger: Logger
    private let wakeups: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    /// Called as soon as a placement merged here is completed, before its staged rows are
    /// deleted (assignment takes its cases at once, instead of at its next poll).
    let merged: @Sendable () -> Void

    public init(placements: PlacementService, logger: Logger, merged: @escaping @Sendable () -> Void = {}) {
        self.placements = placements
        self.logger = logger
        self.merged = merged
        (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    static let sweepInterval: Duration = .seconds(600)

    private func sweep() async {
        do {
            let swept = try await placements.sweepStagedRows()
            if swept > 0 { logger.info("placement worker: deleted staged rows of merged placements", metadata: ["rows": "\(swept)"]) }
        } catch {
            logger.warning("placement worker: staged rows not swept", metadata: ["error": "\(String(describing: type(of: error)))"])
        }
    }

    public func wake() {
        continuation.yield()
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [continuation] in
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(1))
                        continuation.yield()
                    }
                }
                // Staged rows of merged placements that were not deleted right after their merge
                // (a crash in between, a failed deletion): at start, then every ten minutes.
                var lastSweep = ContinuousClock.now
                await sweep()
                for await _ in wakeups {
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    if ContinuousClock.now - lastSweep >= Self.sweepInterval {
                        lastSweep = ContinuousClock.now
                        await sweep()
                    }
                    do {
                        while !Task.isShuttingDownGracefully, let merged = try await placements.processNext(completed: self.merged) {
                            logger.info("placement merged", metadata: ["placement": "\(merged)"])
                        }
                    } catch {
                        logger.warning("placement worker: will retry", metadata: ["error": "\(String(describing: type(of: error)))"])
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: { [continuation] in
            continuation.finish()
        }
    }
}
