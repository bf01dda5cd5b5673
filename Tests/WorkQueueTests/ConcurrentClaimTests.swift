import Core
import Foundation
import Postgres
import Synchronization
import Testing

@testable import WorkQueue

final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}

/// Agents taking cases at once: never two leases of one case at the same time, checked from the
/// database's record of every lease afterwards.
@Suite("Concurrent claims", .serialized)
struct ConcurrentClaimTests {
    /// 4,000 claims here (kept short: the suite runs beside it, and timing tests feel the load); `make bench` runs 100,000 over HTTPS
    /// (scripts/bench-work-next.sh) and checks the same from the database afterwards.
    @Test func thirtyTwoAgentsClaimingAtOnceNeverLeaseOneCaseTwice() async throws {
        let agentsCount = 32, claimsWanted = 4_000
        try await WorkWorld.with(teamSharesCases: true, maxConnections: 34, liveClock: true) { w in
            try await w.openAllHours()
            // Two hundred cases held by one agent of a team that shares its cases: the 32 agents
            // all claim from the same few rows.
            let owner = try await w.agent()
            let rows = (0..<200).map { WorkWorld.Row(reference: "K-\($0)", name: "Débiteur \($0)", amount: "\(100 + $0 % 500),00") }
            _ = try await w.place(rows, to: owner)
            var agents: [Principal] = []
            for _ in 0..<agentsCount { agents.append(try await w.agent()) }
            let claimed = Counter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for agent in agents {
                    group.addTask {
                        while claimed.value < claimsWanted {
                            let next = try await w.queue.next(for: agent)
                            guard let lease = next.lease else { continue }
                            claimed.add()
                            // Given straight back: due as it was, another agent takes it next.
                            try await w.queue.release(lease.id, .init(), by: agent)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let total = try await w.count("SELECT count(*)::int8 FROM work_leases")
            #expect(total >= claimsWanted)
            #expect(try await w.count("SELECT count(*)::int8 FROM work_leases WHERE ended_at IS NULL") == 0)
            // No two leases of one case overlap in time.
            let overlapping = try await w.count(
                """
                SELECT count(*)::int8 FROM work_leases a JOIN work_leases b
                  ON b.creditor_id = a.creditor_id AND b.case_id = a.case_id AND b.lease_id <> a.lease_id
                 AND b.leased_at < a.ended_at AND a.leased_at < b.ended_at
                """)
            #expect(overlapping == 0)
            // Given straight back, cases went from one agent to another: the agents fought over the
            // same rows (the check above is about something that happened).
            #expect(try await w.count("SELECT max(n)::int8 FROM (SELECT count(DISTINCT agent_id) AS n FROM work_leases GROUP BY case_id) x") >= 2)
        }
    }
}
