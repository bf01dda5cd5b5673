import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Onboarding
import Postgres
import TestSupport
import Testing
import WorkQueue

/// An agent's day over the API: the next case and why, the case file, a call, a promise, the
/// gate refusing a second call, a debtor's wishes, the creditor's pause, the supervisor's board.
@Suite("Work queue over HTTP")
struct WorkQueueHTTPTests {
    @Test func anAgentsDayOverTheAPI() async throws {
        try await withRouter { client, fixtures, _, pool in
            let creditor = try await fixtures.creditor()
            try await fixtures.mandate(creditor: creditor)
            let admin = try await client.login(try await fixtures.user(.admin))
            let supervisor = try await client.login(try await fixtures.user(.supervisor))
            let creditorAdmin = try await client.login(try await fixtures.user(.creditorAdmin, creditor: creditor))
            let agentUser = try await fixtures.user(.agent)
            let agent = try await client.login(agentUser)
            let team = try await client.call(.post, "/v1/teams", bearer: supervisor, json: ["name": "Équipe du matin"])
            let teamID = try #require(team.json["id"] as? String)
            let profile = try await client.call(
                .put, "/v1/agents/\(agentUser.id)/profile", bearer: supervisor,
                json: ["teamId": teamID, "languages": ["fr"], "debtorKinds": ["person", "company"], "stages": ["amicable_calls"], "capacity": 50])
            #expect(profile.status == 200)
            _ = try await client.call(.put, "/v1/assignment-rules", bearer: supervisor, json: ["rules": [], "default": ["team": teamID]])
            // The test may run at any hour: the administrator opens France's hours all week (and
            // a malformed change is refused, naming each fault).
            let bad = try await client.call(
                .put, "/v1/contact-rules/FR", bearer: admin,
                json: ["name": "France", "hours": ["9": [["from": "20:00", "to": "08:00"]]], "hoursChannels": ["call"], "callAttemptsMax": 0,
                       "callAttemptsWindowDays": 7, "quietDaysAfterConversation": 7])
            #expect(bad.status == 422 && Set((bad.json["errors"] as? [[String: String]] ?? []).compactMap { $0["field"] }) == ["hours.9", "callAttemptsMax"], "\(bad.text)")
            let always = Dictionary(uniqueKeysWithValues: (1...7).map { (String($0), [["from": "00:00", "to": "24:00"]]) })
            let rules = try await client.call(
                .put, "/v1/contact-rules/FR", bearer: admin,
                json: ["name": "France (tests)", "hours": always, "hoursChannels": ["call", "sms", "email"], "callAttemptsMax": 7,
                       "callAttemptsWindowDays": 7, "quietDaysAfterConversation": 7, "minDaysBetween": ["registered_letter": 7]])
            #expect(rules.status == 200 && rules.json["version"] as? Int == 2, "\(rules.text)")
            // Two debtors placed and assigned to the agent.
            let file = "reference;nom;montant;echeance;email\nW-1;Lucie Bernard;420,00;01/03/2026;lucie@example.test\nW-2;Marc Petit;80,00;01/03/2026;\n"
            #expect(try await client.call(.post, "/v1/creditors/\(creditor)/placements", bearer: creditorAdmin, raw: Array(file.utf8)).status == 202)
            while try await PlacementService(pool: pool).processNext() != nil {}
            #expect(try await client.call(.post, "/v1/assignments/run", bearer: supervisor).json["assigned"] as? Int == 2)
            try await QueueClock(pool: pool, logger: .init(label: "test")).tick(recomputeAllZones: true)
            // The next case: the larger balance, and why.
            let next = try await client.call(.post, "/v1/work/next", bearer: agent)
            #expect(next.status == 200, "\(next.text)")
            let lease = try #require(next.json["lease"] as? [String: Any])
            let caseID = try #require(lease["caseId"] as? String)
            let why = try #require(next.json["why"] as? [String: Any])
            #expect((next.json["case"] as? [String: Any])?["debtorName"] as? String == "Lucie Bernard")
            #expect(why["level"] as? String == "new_placement" && (why["scoreParts"] as? [String: Int])?["lastContact"] == 10)
            #expect((next.json["contact"] as? [String: Any])?["allowed"] as? Bool == true)
            // The case file: contacts, claims split, the gate per channel, who holds it.
            let caseFile = try await client.call(.get, "/v1/cases/\(caseID)", bearer: agent)
            #expect(caseFile.status == 200, "\(caseFile.text)")
            #expect((caseFile.json["debtor"] as? [String: Any])?["emails"] as? [String] == ["lucie@example.test"])
            #expect(((caseFile.json["claims"] as? [[String: Any]])?.first)?["interestMinor"] as? Int == 0)
            #expect(((caseFile.json["queue"] as? [String: Any])?["heldBy"] as? [String: Any])?["agentId"] as? String == agentUser.id.uuidString)
            #expect(((caseFile.json["contact"] as? [String: Any])?["channels"] as? [[String: Any]])?.count == 5)
            // A conversation: the lease ends; a promise; calling again is refused and recorded.
            let call = try await client.call(.post, "/v1/cases/\(caseID)/activities", bearer: agent, json: ["kind": "call", "outcome": "right_party_contact"])
            #expect(call.status == 201 && call.json["lease"] as? String == "ended", "\(call.text)")
            let due = CalendarDate(Date()).adding(days: 5).description
            let promise = try await client.call(.post, "/v1/cases/\(caseID)/promises", bearer: agent, json: ["amountMinor": 42_000, "dueDate": due])
            #expect(promise.status == 201 && promise.json["status"] as? String == "open", "\(promise.text)")
            let past = try await client.call(.post, "/v1/cases/\(caseID)/promises", bearer: agent, json: ["amountMinor": 100, "dueDate": "2020-01-01"])
            #expect(past.status == 422 && (past.json["errors"] as? [[String: String]])?.first?["field"] == "dueDate")
            let again = try await client.call(.post, "/v1/cases/\(caseID)/activities", bearer: agent, json: ["kind": "call", "outcome": "no_answer"])
            #expect(again.status == 409 && again.json["type"] as? String == "https://relance.dev/problems/case-not-leased")
            let refused = try await client.call(.post, "/v1/cases/\(caseID)/activities", bearer: supervisor, json: ["kind": "call", "outcome": "no_answer"])
            #expect(refused.status == 409 && refused.json["type"] as? String == "https://relance.dev/problems/contact-not-allowed", "\(refused.text)")
            let history = try await client.call(.get, "/v1/cases/\(caseID)/activities", bearer: supervisor)
            let items = history.json["items"] as? [[String: Any]] ?? []
            #expect(items.count == 2 && items.first?["blocked"] as? Bool == true && items.first?["blockReasons"] as? [String] == ["after_conversation"])
            // The next case; the debtor asks for writing only; an SMS is refused.
            let second = try await client.call(.post, "/v1/work/next", bearer: agent)
            let secondCase = try #require((second.json["case"] as? [String: Any])?["id"] as? String)
            let debtor = try #require(((try await client.call(.get, "/v1/cases/\(secondCase)", bearer: agent)).json["debtor"] as? [String: Any])?["id"] as? String)
            let wishes = try await client.call(.put, "/v1/debtors/\(debtor)/contact-preferences", bearer: agent, json: ["writtenOnly": true])
            #expect(wishes.status == 200 && wishes.json["writtenOnly"] as? Bool == true)
            let sms = try await client.call(.post, "/v1/cases/\(secondCase)/activities", bearer: agent, json: ["kind": "sms"])
            #expect(sms.status == 409)
            let email = try await client.call(.post, "/v1/cases/\(secondCase)/activities", bearer: agent, json: ["kind": "email"])
            #expect(email.status == 201 && email.json["lease"] as? String == "renewed")
            // The creditor pauses it; its case file shows the hold; the agent's lease is gone.
            let hold = try await client.call(
                .post, "/v1/cases/\(secondCase)/holds", bearer: creditorAdmin, json: ["endsOn": CalendarDate(Date()).adding(days: 3).description, "reason": "creditor_request"])
            #expect(hold.status == 201, "\(hold.text)")
            let creditorView = try await client.call(.get, "/v1/cases/\(secondCase)", bearer: creditorAdmin)
            #expect((creditorView.json["case"] as? [String: Any])?["status"] as? String == "paused" && (creditorView.json["holds"] as? [Any])?.count == 1)
            #expect((creditorView.json["activities"] as? [Any])?.isEmpty == true)
            let leaseID = try #require((second.json["lease"] as? [String: Any])?["id"] as? String)
            #expect(try await client.call(.post, "/v1/work/leases/\(leaseID)/renew", bearer: agent).status == 409)
            // Nothing left to work; the supervisor's board.
            let none = try await client.call(.post, "/v1/work/next", bearer: agent)
            #expect(none.status == 200 && none.json["lease"] == nil && none.json["message"] != nil)
            let board = try await client.call(.get, "/v1/work/queues?teamId=\(teamID)", bearer: supervisor)
            let row = try #require((board.json["agents"] as? [[String: Any]])?.first)
            #expect(row["agentId"] as? String == agentUser.id.uuidString && row["waiting"] as? Int == 1, "\(board.text)")
        }
    }
}
