import Assignment
import Core
import Foundation
import Logging
import Onboarding
import Postgres
import TestSupport
import Testing

/// Assignment as it runs: by itself after a placement, and in bulk.
@Suite("Bulk assignment")
struct BulkAssignmentTests {
    /// The worker assigns a placement's cases as soon as its merge completes, and the placement
    /// says so.
    @Test func aCompletedPlacementIsAssignedByTheWorkerAndSaysSo() async throws {
        try await AssignmentWorld.with { w in
            let creditor = try await w.creditor()
            let team = try await w.team("Équipe")
            let agent = try await w.agent(team: team)
            _ = try await w.saveRules([], default: .init(team: team))
            let worker = AssignmentWorker(assigner: w.assigner, logger: Logger(label: "test"), pollInterval: .milliseconds(100))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await worker.run() }
                let placement = try await w.place(creditor, AssignmentWorld.rows(5, prefix: "W"))
                var assigned: PlacementService.Placement?
                for _ in 0..<100 {
                    let found = try await PlacementService(pool: w.pool).find(placement, as: w.admin)
                    if found?.assignment != nil {
                        assigned = found
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                group.cancelAll()
                let assignment = try #require(assigned?.assignment)
                #expect(assignment.casesAssigned == 5 && assignment.casesUnassigned == 0)
                #expect(try await w.loads() == [agent: 5])
            }
        }
    }

    /// 100,000 cases to 200 agents in 10 teams, consolidation and capacity on: every case given
    /// once, no agent over capacity, each team's load even.
    @Test func aHundredThousandCasesGoToTwoHundredAgents() async throws {
        try await AssignmentWorld.with { w in
            let creditor = try await w.creditor()
            var teams: [UUID] = []
            for t in 0..<10 { teams.append(try await w.team("Équipe \(t)")) }
            // Agents in bulk (200 users and profiles), capacity 600: room for 120,000.
            try await w.fixtures.admin.execute(
                """
                WITH a AS (
                    SELECT gen_random_uuid() AS id, n FROM generate_series(0, 199) n
                ), u AS (
                    INSERT INTO users (id, email, role, password_hash) SELECT id, 'agent' || n || '@bulk.test', 'agent', 'x' FROM a
                )
                INSERT INTO agent_profiles (user_id, team_id, languages, debtor_kinds, stages, capacity)
                SELECT a.id, (\(teams))[n % 10 + 1], '{fr}', '{person,company}', '{amicable_calls}', 600 FROM a
                """)
            // A rule per team: by the last digit of the balance.
            var rules: [RuleBook.Rule] = []
            for t in 1..<10 {
                rules.append(.init(name: "Tranche \(t)", when: .init(minBalanceMinor: t * 10_000, maxBalanceMinor: (t + 1) * 10_000), team: teams[t]))
            }
            _ = try await w.saveRules(rules, default: .init(team: teams[0]))
            // One placement of 100,000 claims of distinct debtors, balances spread over the bands.
            var text = "reference;nom;montant;echeance\n"
            text.reserveCapacity(4_000_000)
            for i in 0..<100_000 {
                text += "B-\(i);Débiteur \(i);\((i % 10) * 100 + 50),00;01/01/2025\n"
            }
            let bytes = Array(text.utf8)
            let service = PlacementService(pool: w.pool)
            _ = try await service.stage(
                creditor: creditor, format: .csv, body: AsyncStream { c in c.yield(bytes); c.finish() }, idempotencyKey: nil, by: w.admin, requestID: nil)
            while try await service.processNext() != nil {}
            let run = try await w.assigner.run()
            #expect(run.considered == 100_000 && run.assigned == 100_000 && run.unassigned.isEmpty, "\(run)")
            let loads = try await w.loads()
            #expect(loads.count == 200 && loads.values.allSatisfy { $0 == 500 }, "\(Set(loads.values))")
            #expect(try await w.count("SELECT count(*)::int8 FROM case_assignments") == 100_000)
            #expect(try await w.count("SELECT count(DISTINCT case_id)::int8 FROM case_assignments") == 100_000)
        }
    }
}
