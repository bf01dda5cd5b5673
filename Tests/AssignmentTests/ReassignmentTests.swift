import Assignment
import Core
import Foundation
import Portfolio
import Postgres
import Synchronization
import TestSupport
import Testing

/// What supervisors do, and what the database lets agents see.
@Suite("Reassignment, cover and visibility")
struct ReassignmentTests {
    /// A team of two agents, with one case each.
    struct Setup: Sendable {
        let creditor: UUID
        let team: UUID
        let a: UUID
        let b: UUID
        let caseOfA: UUID
        let caseOfB: UUID
    }

    static func setup(_ w: AssignmentWorld, capacity: Int = 10, sharesCases: Bool = false) async throws -> Setup {
        let creditor = try await w.creditor()
        let team = try await w.team("Équipe", sharesCases: sharesCases)
        let a = try await w.agent(team: team, capacity: capacity)
        let b = try await w.agent(team: team, capacity: capacity)
        _ = try await w.saveRules([], default: .init(team: team))
        try await w.place(creditor, AssignmentWorld.rows(2, prefix: "R"))
        _ = try await w.assigner.run()
        let cases = try await w.fixtures.admin.query("SELECT id, assigned_agent_id FROM cases WHERE creditor_id = \(creditor)")
        let byAgent = Dictionary(uniqueKeysWithValues: try cases.map { (try $0.decode(UUID.self, "assigned_agent_id"), try $0.decode(UUID.self, "id")) })
        return Setup(creditor: creditor, team: team, a: a, b: b, caseOfA: try #require(byAgent[a]), caseOfB: try #require(byAgent[b]))
    }

    @Test func aSupervisorReassignsOneCaseAndTheHistorySaysWhoAndWhy() async throws {
        try await AssignmentWorld.with { w in
            let s = try await Self.setup(w)
            let entry = try await w.reassignments.reassign(
                case: s.caseOfA, .init(agentId: s.b, expectedAgentId: .some(s.a), note: "Débiteur déjà connu de B"), by: w.supervisor, requestID: nil)
            #expect(entry.kind == "reassignment" && entry.agentId == s.b && entry.previousAgentId == s.a && entry.actorId == w.supervisor.id)
            #expect(entry.reason == "reassigned by a supervisor: Débiteur déjà connu de B")
            let history = try await w.reassignments.history(ofCase: s.caseOfA, as: w.supervisor)
            #expect(history.map(\.kind) == ["reassignment", "rule"])
            #expect(try await w.loads() == [s.b: 2])
            #expect(try await w.count("SELECT count(*)::int8 FROM audit_log WHERE action = 'case.reassign'") == 1)
        }
    }

    @Test func eachRefusalOfAReassignmentIsNamed() async throws {
        try await AssignmentWorld.with { w in
            let s = try await Self.setup(w, capacity: 1)
            func refusal(_ request: Reassignments.Request, case id: UUID? = nil) async -> Problem? {
                do {
                    _ = try await w.reassignments.reassign(case: id ?? s.caseOfA, request, by: w.supervisor, requestID: nil)
                    return nil
                } catch let problem as Problem {
                    return problem
                } catch {
                    return Problem(status: 500, code: "\(error)", title: "")
                }
            }
            // The case moved meanwhile.
            let stale = await refusal(.init(agentId: s.b, expectedAgentId: .some(s.b)))
            #expect(stale?.status == 409 && stale?.detail?.contains("not \(s.b.uuidString.lowercased())") == true, "\(String(describing: stale))")
            // B is full (capacity 1).
            #expect(await refusal(.init(agentId: s.b))?.status == 409)
            // The same agent.
            #expect(await refusal(.init(agentId: s.a))?.errors.first?.field == "agentId")
            // An agent without the skills: German only.
            let german = try await w.agent(team: s.team, languages: ["de"], kinds: ["company"])
            let unfit = await refusal(.init(agentId: german))
            #expect(unfit?.status == 422 && unfit?.errors.first?.reason.contains("does not speak 'fr'; does not take person debtors") == true, "\(String(describing: unfit))")
            // Not an agent; no such case; no agent named.
            #expect(await refusal(.init(agentId: w.supervisor.id))?.errors.first?.field == "agentId")
            #expect(await refusal(.init(agentId: s.b), case: UUID())?.status == 404)
            #expect(await refusal(.init(agentId: nil))?.errors.first?.field == "agentId")
            // Nothing half-applied.
            #expect(try await w.loads() == [s.a: 1, s.b: 1])
            #expect(try await w.count("SELECT count(*)::int8 FROM case_assignments") == 2)
        }
    }

    /// Two supervisors reassigning one case at once: one wins, the other gets 409.
    @Test func twoSupervisorsAtOnceOneWinsTheOtherGets409() async throws {
        try await AssignmentWorld.with(maxConnections: 6) { w in
            let s = try await Self.setup(w)
            let c = try await w.agent(team: s.team)
            let other = try await w.fixtures.user(.supervisor)
            let second = Principal(kind: .staff, id: other.id, role: .supervisor)
            for round in 0..<5 {
                let current = try await w.fixtures.admin.one("SELECT assigned_agent_id FROM cases WHERE id = \(s.caseOfA)")!.decode(UUID.self, at: 0)
                let targets = [s.a, s.b, c].filter { $0 != current }
                async let one: Int = Self.status { _ = try await w.reassignments.reassign(case: s.caseOfA, .init(agentId: targets[0], expectedAgentId: .some(current)), by: w.supervisor, requestID: nil) }
                async let two: Int = Self.status { _ = try await w.reassignments.reassign(case: s.caseOfA, .init(agentId: targets[1], expectedAgentId: .some(current)), by: second, requestID: nil) }
                let statuses = await [one, two].sorted()
                #expect(statuses == [200, 409], "round \(round): \(statuses)")
            }
            #expect(try await w.count("SELECT count(*)::int8 FROM case_assignments WHERE case_id = \(s.caseOfA)") == 6)
        }
    }

    static func status(_ body: () async throws -> Void) async -> Int {
        do {
            try await body()
            return 200
        } catch let problem as Problem {
            return problem.status
        } catch {
            return 500
        }
    }

    @Test func coverHandsAnAbsentAgentsCasesToTheTeamAndTheReturnDoesNotBounceThemBack() async throws {
        let clock = TestClock()
        try await AssignmentWorld.with(now: { clock.now }) { w in
            let s = try await Self.setup(w)
            let away = try await w.agents.addAbsence(
                s.a, .init(startsAt: clock.now.addingTimeInterval(-60), endsAt: clock.now.addingTimeInterval(7 * 86400), reason: "sick"),
                by: w.supervisor, requestID: nil)
            // New cases skip the absent agent.
            try await w.place(s.creditor, AssignmentWorld.rows(3, prefix: "N"))
            _ = try await w.assigner.run()
            #expect(try await w.loads() == [s.a: 1, s.b: 4])
            let moved = try await w.reassignments.cover(agent: s.a, to: nil, note: nil, by: w.supervisor, requestID: nil)
            #expect(moved == .init(matched: 1, moved: 1, left: 0))
            #expect(try await w.loads() == [s.b: 5])
            #expect(try await w.reassignments.history(ofCase: s.caseOfA, as: w.supervisor).first?.kind == "cover")
            // Back: nothing moves back; the next cases even out.
            clock.now = away.endsAt.addingTimeInterval(60)
            _ = try await w.assigner.run()
            #expect(try await w.loads() == [s.b: 5])
            try await w.place(s.creditor, AssignmentWorld.rows(2, prefix: "M"))
            _ = try await w.assigner.run()
            #expect(try await w.loads() == [s.a: 2, s.b: 5])
        }
    }

    @Test func movesByFilterStayWithinSkillsAndRoom() async throws {
        try await AssignmentWorld.with { w in
            let s = try await Self.setup(w)
            let other = try await w.team("Renfort")
            let small = try await w.agent(team: other, capacity: 1)
            let german = try await w.agent(team: other, languages: ["de"])
            try await w.place(s.creditor, AssignmentWorld.rows(4, prefix: "F"))
            _ = try await w.assigner.run()
            let moved = try await w.reassignments.move(
                .init(filter: .init(teamId: s.team), to: .init(teamId: other), note: "renfort"), by: w.supervisor, requestID: nil)
            #expect(moved == .init(matched: 6, moved: 1, left: 5), "\(moved)")
            let loads = try await w.loads()
            #expect(loads[small] == 1 && loads[german] == nil)
            // Faults named.
            await #expect(throws: Problem.self) { try await w.reassignments.move(.init(filter: nil, to: .init(teamId: other), note: nil), by: w.supervisor, requestID: nil) }
            do {
                _ = try await w.reassignments.move(.init(filter: .init(agentId: s.a), to: .init(agents: [UUID()]), note: nil), by: w.supervisor, requestID: nil)
                Issue.record("an unknown agent was accepted")
            } catch let problem as Problem {
                #expect(problem.errors.first?.field == "to.agents[0]")
            }
        }
    }

    /// Wall 2 on its own: an agent's transaction that forgets its WHERE sees only the agent's
    /// cases (and their claims, debtors, history); a sharing team's agents see the team's.
    @Test func agentsSeeOnlyTheirCasesInTheDatabase() async throws {
        try await AssignmentWorld.with { w in
            let s = try await Self.setup(w)
            let asA = Principal(kind: .staff, id: s.a, role: .agent)
            func seen(_ table: String, as principal: Principal) async throws -> Int {
                try await w.pool.transaction(as: principal) { try await $0.one("SELECT count(*)::int8 FROM \(unsafeRaw: table)")!.decode(Int.self, at: 0) }
            }
            for table in ["cases", "claims", "debtors", "case_assignments"] {
                #expect(try await seen(table, as: asA) == 1, "\(table)")
                #expect(try await seen(table, as: w.supervisor) == 2, "\(table)")
            }
            let visible = try await CaseDirectory(pool: w.pool).list(.init(), after: nil, limit: 50, as: asA)
            #expect(visible.map(\.id) == [s.caseOfA])
            await #expect(throws: Problem.self) { _ = try await CaseDirectory(pool: w.pool).get(s.caseOfB, as: asA) }
            // The team shares its cases now: both see both.
            _ = try await w.teams.update(s.team, .init(sharesCases: true), by: w.supervisor, requestID: nil)
            #expect(try await seen("cases", as: asA) == 2)
            #expect(try await CaseDirectory(pool: w.pool).get(s.caseOfB, as: asA).case.id == s.caseOfB)
        }
    }

    /// The database refuses a case given to someone without a profile, and a history line for
    /// no case, whoever writes them (checked per statement, migration 0017).
    @Test func aCaseNamesAnAgentAndAHistoryLineACase() async throws {
        try await AssignmentWorld.with { w in
            let s = try await Self.setup(w)
            for sql: SQL in [
                "UPDATE cases SET assigned_agent_id = \(UUID()) WHERE id = \(s.caseOfA)",
                "INSERT INTO case_assignments (creditor_id, case_id, agent_id, kind, reason) VALUES (\(s.creditor), \(UUID()), \(s.a), 'reassignment', 'x')",
            ] {
                do {
                    try await w.fixtures.admin.execute(sql)
                    Issue.record("accepted: \(sql)")
                } catch let error as PostgresError {
                    #expect(error.sqlState == "23503")
                }
            }
            // Moving between agents who have profiles is fine, also for a writer who cannot read them.
            try await w.fixtures.admin.execute("UPDATE cases SET assigned_agent_id = \(s.b) WHERE id = \(s.caseOfA)")
        }
    }

    @Test func badInputIsNamed() async throws {
        try await AssignmentWorld.with { w in
            let s = try await Self.setup(w)
            func fields(_ body: () async throws -> Void) async -> [String] {
                do {
                    try await body()
                    return []
                } catch let problem as Problem {
                    return problem.errors.map(\.field)
                } catch {
                    return ["\(error)"]
                }
            }
            // A capacity below today's load, unknown codes, a missing capacity.
            #expect(await fields {
                _ = try await w.agents.put(s.a, .init(teamId: s.team, languages: ["fr"], debtorKinds: ["person"], stages: ["letters"], capacity: 0), by: w.supervisor, requestID: nil)
            } == ["capacity"])
            #expect(await fields {
                _ = try await w.agents.put(s.a, .init(teamId: UUID(), languages: ["FR", "fr"], debtorKinds: ["robot"], stages: [], capacity: nil), by: w.supervisor, requestID: nil)
            } == ["languages[0]", "debtorKinds[0]", "stages", "capacity"])
            #expect(await fields {
                _ = try await w.agents.put(s.a, .init(teamId: UUID(), languages: ["fr"], debtorKinds: ["person"], stages: ["letters"], capacity: 5), by: w.supervisor, requestID: nil)
            } == ["teamId"])
            // An absence ending before it starts.
            #expect(await fields {
                _ = try await w.agents.addAbsence(s.a, .init(startsAt: Date(), endsAt: Date().addingTimeInterval(-1), reason: "vacances"), by: w.supervisor, requestID: nil)
            } == ["endsAt", "reason"])
            // Rules: an empty band, a rule an earlier one shadows, unknown team and agent, no condition.
            let rules: [RuleBook.Rule] = [
                .init(name: "Bande vide", when: .init(minBalanceMinor: 500, maxBalanceMinor: 500), team: s.team),
                .init(name: "Français", when: .init(languages: ["fr"]), team: s.team),
                .init(name: "Français de France", when: .init(languages: ["fr"], countries: ["FR"]), team: s.team),
                .init(name: "Équipe inconnue", when: .init(debtorKind: "company"), team: UUID()),
                .init(name: "Pool inconnu", when: .init(stages: ["letters"]), pool: .init(name: "X", agents: [s.a, UUID()])),
                .init(name: "Tout", when: .init(), team: s.team),
            ]
            #expect(await fields { _ = try await w.saveRules(rules, default: .init(team: s.team)) } == [
                "rules[0].when.maxBalanceMinor", "rules[2]", "rules[3].team", "rules[4].pool.agents[1]", "rules[5].when",
            ])
            #expect(await fields { _ = try await w.rules.save(.init(rules: nil, default: nil), by: w.supervisor, requestID: nil) } == ["rules", "default"])
            // Nothing was saved.
            #expect(try await w.count("SELECT count(*)::int8 FROM assignment_rule_versions") == 1)
            // The same rules again: no new version.
            let again = try await w.rules.save(.init(rules: [], default: .init(team: s.team)), by: w.supervisor, requestID: nil)
            #expect(again.created == false && again.0.version == 1)
        }
    }
}

/// A clock tests move.
final class TestClock: Sendable {
    private let value = Mutex(Date())
    var now: Date {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

@Suite("Rebalancing")
struct RebalanceTests {
    @Test func aPreviewShowsWhatWouldMoveAndTheExecutionMovesOnlyThatOnce() async throws {
        try await AssignmentWorld.with { w in
            let creditor = try await w.creditor()
            let team = try await w.team("Équipe")
            let old = try await w.agent(team: team, capacity: 20)
            _ = try await w.saveRules([], default: .init(team: team))
            try await w.place(creditor, AssignmentWorld.rows(12, prefix: "E"))
            _ = try await w.assigner.run()
            // A newcomer joins: 12 cases over a capacity of 40 is 30 %; the old hand is at 60 %.
            let newcomer = try await w.agent(team: team, capacity: 20)
            let rebalancer = Rebalancer(assigner: w.assigner)
            let preview = try await rebalancer.preview(.init(teamId: team), as: w.supervisor)
            #expect(preview.fillPercent == 30 && !preview.executed)
            #expect(preview.moves.count == 6 && preview.moves.allSatisfy { $0.fromAgentId == old && $0.toAgentId == newcomer }, "\(preview.moves)")
            #expect(preview.agents.first { $0.agentId == old }?.after == 6)
            // Nothing moved yet.
            #expect(try await w.loads() == [old: 12])
            let done = try await rebalancer.execute(.init(teamId: team), by: w.supervisor, requestID: nil)
            #expect(done.executed && Set(done.moves.map(\.caseId)) == Set(preview.moves.map(\.caseId)))
            #expect(try await w.loads() == [old: 6, newcomer: 6])
            #expect(try await w.count("SELECT count(*)::int8 FROM case_assignments WHERE kind = 'rebalance'") == 6)
            // Within tolerance now: a second rebalance moves nothing.
            #expect(try await rebalancer.execute(.init(teamId: team), by: w.supervisor, requestID: nil).moves.isEmpty)
            // Faults named.
            await #expect(throws: Problem.self) { _ = try await rebalancer.preview(.init(teamId: nil), as: w.supervisor) }
            await #expect(throws: Problem.self) { _ = try await rebalancer.preview(.init(teamId: team, tolerancePercent: 101), as: w.supervisor) }
        }
    }
}
