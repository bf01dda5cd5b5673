import Core
import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// Runs the assigner in the background on every node (runs are serialised by the assigner's
/// lock): at once when woken (a profile, an absence, a team or the rules changed), within
/// `pollInterval` of a placement completing, and every `sweepInterval` while cases wait (an
/// absence that ended, a case closed elsewhere: whoever became eligible gets them).
public final class AssignmentWorker: Service, Sendable {
    let assigner: Assigner
    let logger: Logger
    let pollInterval: Duration
    let sweepInterval: Duration
    private let wakeups: AsyncStream<Bool>
    private let continuation: AsyncStream<Bool>.Continuation

    public init(assigner: Assigner, logger: Logger, pollInterval: Duration = .seconds(1), sweepInterval: Duration = .seconds(60)) {
        self.assigner = assigner
        self.logger = logger
        self.pollInterval = pollInterval
        self.sweepInterval = sweepInterval
        (wakeups, continuation) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Something that changes who may take cases happened: run now.
    public func wake() {
        continuation.yield(true)
    }

    /// Whether completed placements wait for assignment, or (on a sweep) any case waits.
    func hasWork(sweep: Bool) async throws -> Bool {
        try await assigner.pool.transaction(asSystemJob: .assignment, .init(readOnly: true)) { tx in
            let placements = try await tx.one(
                "SELECT EXISTS (SELECT 1 FROM placements WHERE status = 'completed' AND assigned_at IS NULL) AS x")!.decode(Bool.self, "x")
            if placements || !sweep { return placements }
            return try await tx.one(
                "SELECT EXISTS (SELECT 1 FROM cases WHERE assigned_agent_id IS NULL AND status = 'open') AS x")!.decode(Bool.self, "x")
        }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [continuation, pollInterval] in
                    while !Task.isCancelled {
                        try await Task.sleep(for: pollInterval)
                        continuation.yield(false)
                    }
                }
                var lastSweep = ContinuousClock.now - sweepInterval
                for await woken in wakeups {
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    do {
                        let sweep = ContinuousClock.now - lastSweep >= sweepInterval
                        if sweep { lastSweep = ContinuousClock.now }
                        let due = try await hasWork(sweep: sweep)
                        guard woken || due else { continue }
                        let started = ContinuousClock.now
                        let run = try await assigner.run()
                        let elapsed = ContinuousClock.now - started
                        if run.considered > 0 {
                            logger.info(
                                "assignment pass",
                                metadata: [
                                    "considered": "\(run.considered)", "assigned": "\(run.assigned)", "consolidated": "\(run.consolidated)",
                                    "waiting": "\(run.unassigned.values.reduce(0, +))", "rules_version": "\(run.version.map(String.init) ?? "none")",
                                    "duration_ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
                                ])
                        }
                    } catch {
                        logger.warning("assignment worker: will retry", metadata: ["error": "\(String(describing: type(of: error)))"])
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: { [continuation] in
            continuation.finish()
        }
    }
}
