import Assignment
import Core
import Foundation
import Onboarding
import Postgres
import TestSupport
import Testing

/// The assigner: each rule kind, the tie-breaks, consolidation, the unassigned queue and its
/// release, capacity under concurrent runs.
@Suite("Assignment")
struct AssignerTests {
    @Test func eachRuleKindSendsItsCasesToItsPoolAndTheDefaultTakesTheRest() async throws {
        try await AssignmentWorld.with { w in
            let creditor = try await w.creditor()
            let vip = try await w.creditor("Grand Compte SA")
            let general = try await w.team("Général")
            let b2b = try await w.team("Entreprises")
            let big = try await w.team("Gros montants")
            let fr = try await w.agent(team: general)
            let company = try await w.agent(team: b2b)
            let large = try await w.agent(team: big)
            let german = try await w.agent(team: nil, languages: ["de", "fr"])
            let vipAgent = try await w.agent(team: nil)
            let version = try await w.saveRules(
                [
                    .init(name: "Grand compte", when: .init(creditorId: vip), pool: .init(name: "VIP", agents: [vipAgent])),
                    .init(name: "Gros montants", when: .init(minBalanceMinor: 500_000), team: big),
                    .init(name: "Germanophones", when: .init(languages: ["de"]), pool: .init(name: "DE", agents: [german])),
                    .init(name: "Entreprises", when: .init(debtorKind: "company"), team: b2b),
                ],
                default: .init(team: general))
            try await w.place(creditor, [
                .init(reference: "P-1", name: "Jean Petit"),
                .init(reference: "C-1", name: "Garage SARL", kind: "entreprise"),
                .init(reference: "L-1", name: "Marc Grand", amount: "6 000,00"),
                .init(reference: "D-1", name: "Hans Müller", language: "de"),
            ])
            try await w.place(vip, [.init(reference: "V-1", name: "Anne Vip", amount: "9 000,00")])
            let run = try await w.assigner.run()
            #expect(run.considered == 5 && run.assigned == 5 && run.unassigned.isEmpty, "\(run)")
            let byRef = try await w.agentsByReference(creditor)
            #expect(byRef["P-1"] == fr && byRef["C-1"] == company && byRef["L-1"] == large && byRef["D-1"] == german)
            #expect(try await w.agentsByReference(vip)["V-1"] == vipAgent, "the creditor's rule comes first, whatever the amount")
            // The history names the rule, its version and why.
            let line = try await w.fixtures.admin.one(
                "SELECT kind, rule_version, rule_position, rule_name, reason FROM case_assignments WHERE agent_id = \(large)")!
            #expect(try line.decode(String.self, "kind") == "rule" && line.decode(Int.self, "rule_version") == version)
            #expect(try line.decode(Int.self, "rule_position") == 2 && line.decode(String.self, "rule_name") == "Gros montants")
            #expect(try line.decode(String.self, "reason").contains("team 'Gros montants'"))
            let fallback = try await w.fixtures.admin.one("SELECT reason FROM case_assignments WHERE agent_id = \(fr)")!
            #expect(try fallback.decode(String.self, "reason").hasPrefix("default rule"))
        }
    }

    /// The other conditions: age at placement, country, stage.
    @Test func ageCountryAndStageRulesTakeTheirCases() async throws {
        try await AssignmentWorld.with { w in
            let creditor = try await w.creditor()
            let general = try await w.team("Général")
            let old = try await w.team("Anciennes créances")
            let belgium = try await w.team("Belgique")
            let letters = try await w.team("Courriers")
            let fr = try await w.agent(team: general)
            let oldHand = try await w.agent(team: old)
            let be = try await w.agent(team: belgium)
            let writer = try await w.agent(team: letters, stages: ["letters"])
            _ = try await w.saveRules(
                [
                    .init(name: "Plus d'un an", when: .init(minAgeDays: 365), team: old),
                    .init(name: "Belgique", when: .init(countries: ["BE"]), team: belgium),
                    .init(name: "Courriers", when: .init(stages: ["letters"]), team: letters),
                ],
                default: .init(team: general))
            // Due 01/01/2025; placed now (2026-12): over a year old. Then a recent one, a Belgian one.
            try await w.place(creditor, [.init(reference: "OLD-1", name: "Ancien Débiteur")])
            var recent = "reference;nom;montant;echeance;pays\n"
            let due = CalendarDate(Date().addingTimeInterval(-30 * 86400)).description.split(separator: "-").reversed().joined(separator: "/")
            recent += "NEW-1;Nouveau Débiteur;10,00;\(due);FR\nBE-1;Débiteur Belge;10,00;\(due);BE\nLET-1;Au Courrier;10,00;\(due);FR\n"
            let bytes = Array(recent.utf8)
            let service = PlacementService(pool: w.pool)
            _ = try await service.stage(
                creditor: creditor, format: .csv, body: AsyncStream { c in c.yield(bytes); c.finish() }, idempotencyKey: nil, by: w.admin, requestID: nil)
            while try await service.processNext() != nil {}
            // The strategies module moves cases between stages; here, by hand.
            try await w.fixtures.admin.execute(
                """
                UPDATE cases SET stage = 'letters' WHERE id = (SELECT case_id FROM claims WHERE creditor_reference = 'LET-1')
                """)
            _ = try await w.assigner.run()
            let byRef = try await w.agentsByReference(creditor)
            #expect(byRef["OLD-1"] == oldHand && byRef["NEW-1"] == fr && byRef["BE-1"] == be && byRef["LET-1"] == writer, "\(byRef)")
        }
    }

    @Test func theLeastLoadedRelativeToCapacityWinsAndTiesGoToWhoWaitedLongest() async throws {
        try await AssignmentWorld.with { w in
            let creditor = try await w.creditor()
            let team = try await w.team("Équipe")
            let small = try await w.agent(team: team, capacity: 10)
            let large = try await w.agent(team: team, capacity: 20)
            _ = try await w.saveRules([], default: .init(team: team))
            try await w.place(creditor, AssignmentWorld.rows(9, prefix: "A"))
            _ = try await w.assigner.run()
            // 3 of 10 and 6 of 20: equal fill.
            #expect(try await w.loads() == [small: 3, large: 6])
            // Two agents equally loaded: the one who received a case longest ago gets the next.
            let other = try await w.creditor("Autre SAS")
            let twins = try await w.team("Jumeaux")
            let first = try await w.agent(team: twins, capacity: 5)
            let second = try await w.agent(team: twins, capacity: 5)
            try await w.fixtures.admin.execute("UPDATE agent_profiles SET last_assigned_at = now() - interval '1 hour' WHERE user_id = \(second)")
            try await w.fixtures.admin.execute("UPDATE agent_profiles SET last_assigned_at = now() - interval '2 hours' WHERE user_id = \(first)")
            _ = try await w.saveRules([.init(name: "Autre", when: .init(creditorId: other), team: twins)], default: .init(team: team))
            try await w.place(other, [.init(reference: "T-1", name: "Premier")])
            _ = try await w.assigner.run()
            #expect(try await w.agentsByReference(other)["T-1"] == first)
            try await w.place(other, [.init(reference: "T-2", name: "Second")])
            _ = try await w.assigner.run()
            #expect(try await w.agentsByReference(other)["T-2"] == second)
        }
    }

    @Test func skillsCeilingAndStagesDecideWhoMayTakeACase() async throws {
        try await AssignmentWorld.with { w in
            let creditor = try await w.creditor()
            let team = try await w.team("Équipe")
            let junior = try await w.agent(team: team, kinds: ["person"], capacity: 50, maxBalance: 100_000)
            let senior = try await w.agent(team: team, capacity: 1)
            _ = try await w.saveRules([], default: .init(team: team))
            try await w.place(creditor, [
                .init(reference: "S-1", name: "Petit Montant"),
                .init(reference: "S-2", name: "Gros Montant", amount: "5 000,00"),
                .init(reference: "S-3", name: "Société SA", kind: "entreprise"),
                .init(reference: "S-4", name: "Autre Gros", amount: "7 000,00"),
                .init(reference: "S-5", name: "Sprecher", language: "de"),
            ])
            let run = try await w.assigner.run()
            let byRef = try await w.agentsByReference(creditor)
            #expect(byRef["S-1"] == junior)
            // The senior has room for one of the two cases only the senior may take.
            #expect([byRef["S-2"], byRef["S-3"], byRef["S-4"]].filter { $0 == senior }.count == 1)
            #expect(run.unassigned == ["pool_full": 2, "skill_missing": 1], "\(run)")
            let reasons = try await w.fixtures.admin.query(
                "SELECT unassigned_reason FROM cases WHERE creditor_id = \(creditor) AND assigned_agent_id IS NULL ORDER BY 1")
            #expect(try reasons.map { try $0.decode(String.self, "unassigned_reason") } == ["pool_full", "pool_full", "skill_missing"])
        }
    }

    @Test func waitingCasesAreReleasedAsSoonAsSomeoneBecomesEligible() async throws {
        try await AssignmentWorld.with { w in
            let creditor = try await w.creditor()
            try await w.place(creditor, AssignmentWorld.rows(3, prefix: "W"))
            // No rules yet.
            #expect(try await w.assigner.run().unassigned == ["no_rule": 3])
            let team = try await w.team("Équipe")
            _ = try await w.saveRules([], default: .init(team: team))
            // A team without agents.
            #expect(try await w.assigner.run().unassigned == ["pool_absent": 3])
            // An agent who is away.
            let agent = try await w.agent(team: team, capacity: 2)
            _ = try await w.agents.addAbsence(
                agent, .init(startsAt: Date().addingTimeInterval(-3600), endsAt: Date().addingTimeInterval(3600), reason: "leave"), by: w.supervisor, requestID: nil)
            #expect(try await w.assigner.run().unassigned == ["pool_absent": 3])
            let waiting = try await w.reassignments.waiting(reason: "pool_absent", creditor: nil, after: nil, limit: 50, as: w.supervisor)
            #expect(waiting.count == 3 && waiting.allSatisfy { $0.reason == "pool_absent" })
            // Back: two of three fit.
            let absences = try await w.agents.absences(agent, as: w.supervisor)
            try await w.agents.removeAbsence(agent, absences[0].id, by: w.supervisor, requestID: nil)
            let back = try await w.assigner.run()
            #expect(back.assigned == 2 && back.unassigned == ["pool_full": 1], "\(back)")
            // Capacity raised: the last one goes.
            _ = try await w.agents.put(agent, .init(teamId: team, languages: ["fr"], debtorKinds: ["person", "company"], stages: ["amicable_calls"], capacity: 3), by: w.supervisor, requestID: nil)
            #expect(try await w.assigner.run().assigned == 1)
            #expect(try await w.loads() == [agent: 3])
            // A completed placement records how its cases fared.
            let placement = try await w.fixtures.admin.one("SELECT cases_assigned, cases_unassigned, assigned_at FROM placements WHERE creditor_id = \(creditor)")!
            #expect(try placement.decode(Date?.self, "assigned_at") != nil)
            #expect(try placement.decode(Int.self, "cases_assigned") == 0 && placement.decode(Int.self, "cases_unassigned") == 3, "counted when first through assignment")
        }
    }

    @Test func aDebtorsNewCaseFollowsTheirOtherCaseToItsAgent() async throws {
        try await AssignmentWorld.with { w in
            let first = try await w.creditor("Premier SAS")
            let second = try await w.creditor("Second SAS")
            let team = try await w.team("Équipe")
            let a = try await w.agent(team: team)
            let b = try await w.agent(team: team)
            _ = try await w.saveRules([], default: .init(team: team))
            try await w.place(first, [.init(reference: "F-1", name: "Garage Durand", kind: "entreprise", siren: "732829320")])
            _ = try await w.assigner.run()
            let holder = try #require(try await w.agentsByReference(first)["F-1"] ?? nil)
            let other = holder == a ? b : a
            // The other agent is now less loaded, yet the same company's case at another creditor
            // goes to the holder.
            try await w.place(second, [
                .init(reference: "S-1", name: "Garage Durand SARL", kind: "entreprise", siren: "732829320"),
                .init(reference: "S-2", name: "Quelqu'un d'autre"),
            ])
            let run = try await w.assigner.run()
            #expect(run.consolidated == 1 && run.assigned == 1, "\(run)")
            let byRef = try await w.agentsByReference(second)
            #expect(byRef["S-1"] == holder && byRef["S-2"] == other)
            let line = try await w.fixtures.admin.one("SELECT kind, reason FROM case_assignments WHERE creditor_id = \(second) AND agent_id = \(holder)")!
            #expect(try line.decode(String.self, "kind") == "consolidation")
        }
    }

    /// Two assigners (two nodes) and placements at once: no agent over capacity, no case
    /// given twice.
    @Test func concurrentRunsNeverExceedCapacityNorAssignTwice() async throws {
        try await AssignmentWorld.with(maxConnections: 8) { w in
            let creditor = try await w.creditor()
            let team = try await w.team("Équipe")
            var agents: [UUID] = []
            for capacity in [7, 11, 13] { agents.append(try await w.agent(team: team, capacity: capacity)) }
            _ = try await w.saveRules([], default: .init(team: team))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in 0..<4 {
                    group.addTask {
                        try await w.place(creditor, AssignmentWorld.rows(15, prefix: "B\(batch)"))
                        _ = try await w.assigner.run()
                    }
                    group.addTask { _ = try await Assigner(pool: w.pool).run() }
                }
                try await group.waitForAll()
            }
            _ = try await w.assigner.run()
            let loads = try await w.loads()
            #expect(loads == [agents[0]: 7, agents[1]: 11, agents[2]: 13], "\(loads)")
            #expect(try await w.count("SELECT count(*)::int8 FROM (SELECT case_id FROM case_assignments GROUP BY case_id HAVING count(*) > 1) x") == 0)
            #expect(try await w.count("SELECT count(*)::int8 FROM cases WHERE assigned_agent_id IS NULL AND unassigned_reason = 'pool_full'") == 60 - 31)
        }
    }
}
