import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Onboarding
import Postgres
import TestSupport
import Testing

/// A supervisor's day over the API: a team, an agent's profile, the rules, a placement that
/// lands in the agent's list, and the walls between agents.
@Suite("Assignment over HTTP")
struct AssignmentHTTPTests {
    @Test func aPlacedCaseReachesItsAgentWhoSeesOnlyTheirOwn() async throws {
        try await withRouter { client, fixtures, _, pool in
            let creditor = try await fixtures.creditor()
            try await fixtures.mandate(creditor: creditor)
            let supervisor = try await client.login(try await fixtures.user(.supervisor))
            let creditorAdmin = try await client.login(try await fixtures.user(.creditorAdmin, creditor: creditor))
            let team = try await client.call(.post, "/v1/teams", bearer: supervisor, json: ["name": "Recouvrement amiable"])
            #expect(team.status == 201 && team.headers[.location]?.hasPrefix("/v1/teams/") == true, "\(team.text)")
            let teamID = try #require(team.json["id"] as? String)
            // Two agents: one speaks German too.
            var agents: [(user: Fixtures.User, token: String)] = []
            for languages in [["fr"], ["fr", "de"]] {
                let user = try await fixtures.user(.agent)
                let profile = try await client.call(
                    .put, "/v1/agents/\(user.id)/profile", bearer: supervisor,
                    json: ["teamId": teamID, "languages": languages, "debtorKinds": ["person", "company"], "stages": ["amicable_calls"], "capacity": 50])
                #expect(profile.status == 200 && profile.json["load"] as? Int == 0, "\(profile.text)")
                agents.append((user, try await client.login(user)))
            }
            // A rule that can never match is refused, naming it; then the rules are saved.
            let bad = try await client.call(
                .put, "/v1/assignment-rules", bearer: supervisor,
                json: ["rules": [["name": "Vide", "when": ["minBalanceMinor": 100, "maxBalanceMinor": 50], "team": teamID]], "default": ["team": teamID]])
            #expect(bad.status == 422 && (bad.json["errors"] as? [[String: String]])?.first?["field"] == "rules[0].when.maxBalanceMinor", "\(bad.text)")
            let rules = try await client.call(
                .put, "/v1/assignment-rules", bearer: supervisor,
                json: ["rules": [["name": "Germanophones", "when": ["languages": ["de"]], "pool": ["name": "DE", "agents": [agents[1].user.id.uuidString]]]],
                       "default": ["team": teamID]])
            #expect(rules.status == 201 && rules.json["version"] as? Int == 1, "\(rules.text)")
            // The creditor places three debtors; the merge, then the assigner.
            let file = "reference;nom;montant;echeance;langue\nH-1;Jean Petit;100,00;01/01/2025;fr\nH-2;Hans Müller;200,00;01/01/2025;de\nH-3;Marie Durand;300,00;01/01/2025;fr\n"
            let staged = try await client.call(.post, "/v1/creditors/\(creditor)/placements", bearer: creditorAdmin, raw: Array(file.utf8))
            #expect(staged.status == 202)
            while try await PlacementService(pool: pool).processNext() != nil {}
            let run = try await client.call(.post, "/v1/assignments/run", bearer: supervisor)
            #expect(run.status == 200 && run.json["assigned"] as? Int == 3, "\(run.text)")
            let placement = try await client.call(.get, "/v1/placements/\(staged.json["id"] as? String ?? "")", bearer: creditorAdmin)
            #expect((placement.json["assignment"] as? [String: Any])?["casesAssigned"] as? Int == 3, "\(placement.text)")
            // Each agent lists their own cases; the German speaker holds Hans Müller's.
            let first = try await client.call(.get, "/v1/cases", bearer: agents[0].token)
            let second = try await client.call(.get, "/v1/cases", bearer: agents[1].token)
            let firstItems = first.json["items"] as? [[String: Any]] ?? []
            let secondItems = second.json["items"] as? [[String: Any]] ?? []
            #expect(firstItems.count + secondItems.count == 3)
            #expect(secondItems.contains { $0["debtorName"] as? String == "Hans Müller" })
            #expect(firstItems.allSatisfy { $0["assignedAgentId"] as? String == agents[0].user.id.uuidString })
            // One case: the agent's own opens, another's is 404 (not 403: it does not exist for them).
            let own = try #require(firstItems.first?["id"] as? String)
            let theirs = try #require(secondItems.first?["id"] as? String)
            let view = try await client.call(.get, "/v1/cases/\(own)", bearer: agents[0].token)
            #expect(view.status == 200 && (view.json["claims"] as? [[String: Any]])?.count == 1, "\(view.text)")
            #expect((view.json["agent"] as? [String: Any])?["displayName"] != nil)
            #expect(try await client.call(.get, "/v1/cases/\(theirs)", bearer: agents[0].token).status == 404)
            #expect(try await client.call(.get, "/v1/cases/\(theirs)/assignments", bearer: agents[0].token).status == 404)
            let history = try await client.call(.get, "/v1/cases/\(theirs)/assignments", bearer: agents[1].token)
            #expect((history.json["items"] as? [[String: Any]])?.first?["ruleVersion"] as? Int == 1, "\(history.text)")
            // The creditor sees all three, with who holds them; a filter by agent narrows.
            let all = try await client.call(.get, "/v1/cases?creditorId=\(creditor)", bearer: creditorAdmin)
            #expect((all.json["items"] as? [[String: Any]])?.count == 3)
            // Pages: two, then the last one.
            let page1 = try await client.call(.get, "/v1/cases?creditorId=\(creditor)&limit=2", bearer: creditorAdmin)
            let next = try #require(page1.json["next"] as? String, "\(page1.text)")
            let page2 = try await client.call(.get, "/v1/cases?creditorId=\(creditor)&limit=2&after=\(next)", bearer: creditorAdmin)
            let pageIDs = ((page1.json["items"] as? [[String: Any]] ?? []) + (page2.json["items"] as? [[String: Any]] ?? [])).compactMap { $0["id"] as? String }
            #expect(Set(pageIDs).count == 3 && page2.json["next"] == nil, "\(page2.text)")
            let mine = try await client.call(.get, "/v1/cases?agentId=\(agents[1].user.id)", bearer: supervisor)
            #expect((mine.json["items"] as? [[String: Any]])?.count == secondItems.count)
            let byTeam = try await client.call(.get, "/v1/cases?teamId=\(teamID)&unassigned=false", bearer: supervisor)
            #expect((byTeam.json["items"] as? [[String: Any]])?.count == 3)
            // Bad filters are named.
            let badFilter = try await client.call(.get, "/v1/cases?status=lost&unassigned=maybe", bearer: supervisor)
            #expect(badFilter.status == 422 && (badFilter.json["errors"] as? [[String: String]])?.first?["field"] == "status")
            // A supervisor moves one case; the agent who lost it no longer sees it.
            let move = try await client.call(
                .post, "/v1/cases/\(own)/assignment", bearer: supervisor,
                json: ["agentId": agents[1].user.id.uuidString, "expectedAgentId": agents[0].user.id.uuidString, "note": "Même débiteur"])
            #expect(move.status == 200 && move.json["kind"] as? String == "reassignment", "\(move.text)")
            #expect(try await client.call(.get, "/v1/cases/\(own)", bearer: agents[0].token).status == 404)
            // The queue is empty; the same move again is a conflict (the case moved).
            let queue = try await client.call(.get, "/v1/assignments/unassigned", bearer: supervisor)
            #expect((queue.json["items"] as? [[String: Any]])?.isEmpty == true)
            let again = try await client.call(
                .post, "/v1/cases/\(own)/assignment", bearer: supervisor,
                json: ["agentId": agents[0].user.id.uuidString, "expectedAgentId": agents[0].user.id.uuidString])
            #expect(again.status == 409 && again.headers[.contentType] == "application/problem+json")
        }
    }
}
