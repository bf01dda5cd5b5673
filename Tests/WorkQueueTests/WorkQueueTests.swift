import Core
import Foundation
import Postgres
import Testing

@testable import WorkQueue

/// The agent's day against a real database: the queue's levels and order, leases, and the gate
/// on every path that contacts a debtor.
@Suite("Work queue")
struct WorkQueueTests {
    static func rows(_ amounts: [String], prefix: String = "C") -> [WorkWorld.Row] {
        amounts.enumerated().map { WorkWorld.Row(reference: "\(prefix)-\($0.offset)", name: "\(prefix) Débiteur \($0.offset)", amount: $0.element) }
    }

    @Test func levelsComeOutInOrderAndWithinALevelTheHighestScoreFirst() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            let cases = try await w.place(Self.rows(["50 000,00", "5 000,00", "500,00", "50,00"]), to: agent)
            let (big, large, medium, small) = (cases["C-0"]!, cases["C-1"]!, cases["C-2"]!, cases["C-3"]!)
            // All new placements: the largest balance first, and the answer says why.
            let first = try await w.next(agent)
            #expect(first.case?.id == big && first.why?.level == .newPlacement && first.why?.rank == 5)
            #expect(first.why?.scoreParts == ScoreParts([40, Int(first.why!.scoreParts.age), 0, 10]))
            #expect(first.contact?.allowed == true && first.lease?.agentId == agent.id)
            // No answer: back in 30 minutes as a follow-up.
            try await w.call(big, "no_answer", by: agent, followUpAt: w.clock.now.addingTimeInterval(1800))
            #expect(try await w.next(agent).case?.id == large)
            // The debtor asks to be called back in an hour.
            try await w.call(large, "callback_requested", by: agent, callbackAt: w.clock.now.addingTimeInterval(3600))
            #expect(try await w.next(agent).case?.id == medium)
            try await w.call(medium, "wrong_number", by: agent)
            #expect(try await w.next(agent).case?.id == small)
            try await w.call(small, "right_party_contact", by: agent)
            // Nothing is due: the next case comes with the first follow-up, in 30 minutes.
            let none = try await w.next(agent)
            #expect(none.lease == nil && none.case == nil)
            #expect(none.nextAvailableAt == w.clock.now.addingTimeInterval(1800))
            // Two hours later: the callback (level 1) before the follow-up (level 6).
            w.clock.advance(7200)
            #expect(try await w.queueClock.tick() == 2)
            let callback = try await w.next(agent)
            #expect(callback.case?.id == large && callback.why?.level == .callbackDue)
            try await w.call(large, "right_party_contact", by: agent)
            let followUp = try await w.next(agent)
            #expect(followUp.case?.id == big && followUp.why?.level == .followUp)
            // A day later the wrong number's follow-up (two days) is not due yet; the right-party
            // contact's (seven days) neither.
            try await w.call(big, "no_answer", by: agent, followUpAt: w.clock.now.addingTimeInterval(30 * 86_400))
            w.clock.advance(86_400)
            _ = try await w.queueClock.tick()
            #expect(try await w.next(agent).case == nil)
            w.clock.advance(86_400)
            _ = try await w.queueClock.tick()
            #expect(try await w.next(agent).case?.id == medium)
        }
    }

    @Test func aLeaseIsRenewedExpiresAndIsAnsweredAgainWhileHeld() async throws {
        try await WorkWorld.with(leaseSeconds: 60) { w in
            let agent = try await w.agent()
            let cases = try await w.place(Self.rows(["100,00", "90,00"]), to: agent)
            let first = try await w.next(agent)
            let lease = try #require(first.lease)
            #expect(lease.caseId == cases["C-0"] && lease.expiresAt == w.clock.now.addingTimeInterval(60))
            // Asked again (a retried request): the same lease, not a second case.
            #expect(try await w.next(agent).lease?.id == lease.id)
            w.clock.advance(30)
            let renewed = try await w.queue.renew(lease.id, by: agent)
            #expect(renewed.expiresAt == w.clock.now.addingTimeInterval(60))
            // Another agent cannot renew it.
            let other = try await w.agent()
            await #expect(throws: Problem.notFound("lease")) { try await w.queue.renew(lease.id, by: other) }
            // It expires: renewing says so; the clock puts the case back; it is leased anew.
            w.clock.advance(61)
            let expired = await #expect(throws: Problem.self) { try await w.queue.renew(lease.id, by: agent) }
            #expect(expired?.status == 409 && expired?.code == "lease-ended" && expired?.detail?.contains("expired") == true)
            #expect(try await w.queueClock.tick() == 1)
            #expect(try await w.count("SELECT count(*)::int8 FROM work_leases WHERE lease_id = \(lease.id) AND end_reason = 'expired'") == 1)
            let again = try await w.next(agent)
            #expect(again.case?.id == cases["C-0"] && again.lease?.id != lease.id)
            // Released with a follow-up: the other case comes next.
            try await w.queue.release(again.lease!.id, .init(followUpAt: w.clock.now.addingTimeInterval(3600)), by: agent)
            #expect(try await w.next(agent).case?.id == cases["C-1"])
            #expect(try await w.count("SELECT count(*)::int8 FROM work_leases WHERE end_reason = 'released'") == 1)
            // A follow-up in the past is refused, naming the field.
            let past = await #expect(throws: Problem.self) {
                try await w.queue.release(UUID(), .init(followUpAt: w.clock.now.addingTimeInterval(-3600)), by: agent)
            }
            #expect(past?.errors.map(\.field) == ["followUpAt"])
        }
    }

    @Test func aSupervisorsCallEndsTheAgentsLeaseToo() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            let id = try await w.place(Self.rows(["100,00"]), to: agent)["C-0"]!
            let lease = try #require(try await w.next(agent).lease)
            try await w.call(id, "no_answer", by: w.supervisor)
            #expect(try await w.count("SELECT count(*)::int8 FROM work_leases WHERE ended_at IS NULL") == 0)
            let renew = await #expect(throws: Problem.self) { try await w.queue.renew(lease.id, by: agent) }
            #expect(renew?.code == "lease-ended" && renew?.detail?.contains("completed") == true)
        }
    }

    @Test func anActivityNeedsTheLeaseAndAPastCallbackIsRefused() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            let cases = try await w.place(Self.rows(["100,00"]), to: agent)
            let id = cases["C-0"]!
            let notHeld = await #expect(throws: Problem.self) { try await w.call(id, "no_answer", by: agent) }
            #expect(notHeld?.status == 409 && notHeld?.code == "case-not-leased" && notHeld?.errors.map(\.field) == ["caseId"])
            _ = try await w.next(agent)
            let bad = await #expect(throws: Problem.self) {
                try await w.activities.record(
                    case: id, .init(kind: "call", outcome: "callback_requested", callbackAt: w.clock.now.addingTimeInterval(-60)), by: agent, requestID: nil)
            }
            #expect(bad?.status == 422 && bad?.errors.map(\.field) == ["callbackAt"])
            for (input, field) in [
                (Activities.Input(kind: "call"), "outcome"), (.init(kind: "fax"), "kind"), (.init(kind: "note"), "note"),
                (.init(kind: "email", occurredAt: w.clock.now.addingTimeInterval(-3600)), "occurredAt"),
                (.init(kind: "call", outcome: "no_answer", occurredAt: w.clock.now.addingTimeInterval(3600)), "occurredAt"),
            ] {
                let problem = await #expect(throws: Problem.self) { try await w.activities.record(case: id, input, by: agent, requestID: nil) }
                #expect(problem?.errors.map(\.field).contains(field) == true, "\(field)")
            }
            // A note renews the lease; a call's outcome ends it.
            let note = try await w.activities.record(case: id, .init(kind: "note", note: "Préfère être appelé le matin."), by: agent, requestID: nil)
            #expect(note.lease == "renewed")
            w.clock.advance(1)
            let call = try await w.call(id, "no_answer", by: agent)
            #expect(call.lease == "ended")
            #expect(try await w.count("SELECT count(*)::int8 FROM work_items WHERE lease_id IS NOT NULL") == 0)
            let listed = try await w.activities.list(case: id, before: nil, limit: 10, as: agent)
            #expect(listed.map(\.kind) == ["call", "note"])
        }
    }

    @Test func aBlockedContactIsRecordedWithItsReasonsAndRefused() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            let cases = try await w.place(Self.rows(["100,00"]), to: agent)
            let id = cases["C-0"]!
            let debtor = try await w.fixtures.admin.one("SELECT debtor_id FROM cases WHERE id = \(id)")!.decode(UUID.self, "debtor_id")
            _ = try await w.preferences.put(debtor: debtor, .init(doNotContact: true), by: w.supervisor, requestID: nil)
            // The agent is not handed the case: the gate parks it.
            let none = try await w.next(agent)
            #expect(none.case == nil && none.nextAvailableAt == nil)
            #expect(try await w.count("SELECT count(*)::int8 FROM work_items WHERE parked_reason = 'do_not_contact'") == 1)
            // A supervisor's call is refused, and the attempt recorded with the reason.
            let refused = await #expect(throws: Problem.self) { try await w.call(id, "no_answer", by: w.supervisor) }
            #expect(refused?.status == 409 && refused?.code == "contact-not-allowed")
            #expect(refused?.errors.map(\.reason).first?.hasPrefix("do_not_contact") == true)
            let blocked = try await w.fixtures.admin.one("SELECT block_reasons, outcome FROM case_activities WHERE case_id = \(id) AND blocked")
            #expect(try blocked?.decode([String].self, "block_reasons") == ["do_not_contact"])
            #expect(try blocked?.decode(String?.self, "outcome") == nil)
            // A note is not a contact: allowed.
            _ = try await w.activities.record(case: id, .init(kind: "note", note: "Refus de tout contact."), by: w.supervisor, requestID: nil)
            // Lifted: the case comes back at the next claim.
            _ = try await w.preferences.put(debtor: debtor, .init(), by: w.supervisor, requestID: nil)
            _ = try await w.queueClock.tick()
            #expect(try await w.next(agent).case?.id == id)
        }
    }

    /// Nothing bypasses the gate: every way of contacting a debtor, by every role that records
    /// contacts, on a case that may not be contacted, is refused and recorded as blocked; and the
    /// agent is never handed it.
    @Test func everyPathThatContactsADebtorAsksTheGate() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            let id = try await w.place(Self.rows(["100,00"]), to: agent)["C-0"]!
            // The agent holds the case when the debtor says: never again.
            #expect(try await w.next(agent).case?.id == id)
            let debtor = try await w.fixtures.admin.one("SELECT debtor_id FROM cases WHERE id = \(id)")!.decode(UUID.self, "debtor_id")
            _ = try await w.preferences.put(debtor: debtor, .init(doNotContact: true), by: agent, requestID: nil)
            var attempts = 0
            for actor in [agent, w.supervisor, w.admin] {
                for kind in ["call", "sms", "email", "letter", "registered_letter"] {
                    let input = Activities.Input(kind: kind, outcome: kind == "call" ? "no_answer" : nil)
                    let refused = await #expect(throws: Problem.self) { try await w.activities.record(case: id, input, by: actor, requestID: nil) }
                    #expect(refused?.code == "contact-not-allowed", "\(kind) by \(actor.role!)")
                    attempts += 1
                }
            }
            #expect(try await w.count("SELECT count(*)::int8 FROM case_activities WHERE case_id = \(id) AND blocked AND 'do_not_contact' = ANY(block_reasons)") == attempts)
            #expect(try await w.count("SELECT count(*)::int8 FROM audit_log WHERE action = 'activity.blocked' AND outcome = 'denied'") == attempts)
            // Asked for the next case, the agent is not given this one again (even though they held
            // it: the gate looks again), the lease ends, and the case is parked.
            #expect(try await w.next(agent).case == nil)
            #expect(try await w.count("SELECT count(*)::int8 FROM work_leases WHERE end_reason = 'put_aside'") == 1)
            _ = try await w.queueClock.tick()
            #expect(try await w.next(agent).case == nil)
        }
    }

    @Test func writtenOnlyAllowsLettersAndEmailsButNoCall() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            let id = try await w.place(Self.rows(["100,00"]), to: agent)["C-0"]!
            let debtor = try await w.fixtures.admin.one("SELECT debtor_id FROM cases WHERE id = \(id)")!.decode(UUID.self, "debtor_id")
            _ = try await w.next(agent)
            // The debtor asks, during the call, to be written to only; the agent records it.
            _ = try await w.preferences.put(debtor: debtor, .init(writtenOnly: true), by: agent, requestID: nil)
            let email = try await w.activities.record(case: id, .init(kind: "email"), by: agent, requestID: nil)
            #expect(email.outcome == "sent" && !email.blocked)
            let call = await #expect(throws: Problem.self) { try await w.call(id, "no_answer", by: agent) }
            #expect(call?.errors.map(\.reason).first?.hasPrefix("written_only") == true)
            let sms = await #expect(throws: Problem.self) { try await w.activities.record(case: id, .init(kind: "sms"), by: agent, requestID: nil) }
            #expect(sms?.code == "contact-not-allowed")
            // An agent may not restrict a debtor's data (the DPO does).
            let restrict = await #expect(throws: Problem.self) {
                try await w.preferences.put(debtor: debtor, .init(writtenOnly: true, restricted: true), by: agent, requestID: nil)
            }
            #expect(restrict?.errors.map(\.field) == ["restricted"])
        }
    }

    @Test func sevenCallAttemptsInSevenDaysThenNone() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            let id = try await w.place(Self.rows(["100,00"]), to: agent)["C-0"]!
            for _ in 0..<7 {
                try await w.call(id, "no_answer", by: w.supervisor)
                w.clock.advance(3600)
            }
            let capped = await #expect(throws: Problem.self) { try await w.call(id, "no_answer", by: w.supervisor) }
            #expect(capped?.errors.map(\.reason).first?.hasPrefix("call_attempts_cap") == true)
            // An email is not a call attempt.
            _ = try await w.activities.record(case: id, .init(kind: "email"), by: w.supervisor, requestID: nil)
            // The agent is not handed the case while it is capped (its follow-up is due tomorrow):
            // two days later it is still capped; a week after the first attempt, it comes back.
            w.clock.advance(2 * 86_400)
            _ = try await w.queueClock.tick()
            let none = try await w.next(agent)
            #expect(none.case == nil && none.nextAvailableAt != nil)
            w.clock.advance(5 * 86_400)
            _ = try await w.queueClock.tick()
            #expect(try await w.next(agent).case?.id == id)
        }
    }

    @Test func noCallForSevenDaysAfterAConversationButWritingIsAllowed() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            let id = try await w.place(Self.rows(["100,00"]), to: agent)["C-0"]!
            try await w.call(id, "right_party_contact", by: w.supervisor)
            w.clock.advance(8 * 3600)
            let quiet = await #expect(throws: Problem.self) { try await w.call(id, "no_answer", by: w.supervisor) }
            #expect(quiet?.errors.map(\.reason).first?.hasPrefix("after_conversation") == true)
            _ = try await w.activities.record(case: id, .init(kind: "letter"), by: w.supervisor, requestID: nil)
            // An inbound call from the debtor is never blocked, and counts as a conversation.
            let inbound = try await w.activities.record(case: id, .init(kind: "call", direction: "inbound", outcome: "right_party_contact"), by: w.supervisor, requestID: nil)
            #expect(!inbound.blocked)
        }
    }

    @Test func hoursAreTheDebtorsOwnAcrossTimeZones() async throws {
        try await WorkWorld.with { w in
            let agent = try await w.agent()
            var rows = Self.rows(["100,00", "5 000,00"])
            rows[1].country = "US"
            rows[1].timeZone = "America/New_York"
            let cases = try await w.place(rows, to: agent)
            // 10:00 in Paris is 04:00 or 05:00 in New York: the larger US case waits, the French one comes.
            let first = try await w.next(agent)
            #expect(first.case?.id == cases["C-0"])
            try await w.call(cases["C-0"]!, "right_party_contact", by: agent)
            let none = try await w.next(agent)
            // Next: 08:00 in New York that day.
            var ny = Calendar(identifier: .gregorian)
            ny.timeZone = TimeZone(identifier: "America/New_York")!
            let eight = ny.date(bySettingHour: 8, minute: 0, second: 0, of: w.clock.now)!
            #expect(none.case == nil && none.nextAvailableAt == eight)
            let gate = try await ContactCheck(pool: w.pool, clock: { w.clock.now }).now(case: cases["C-1"]!, as: w.supervisor)
            #expect(gate.jurisdiction == "US" && gate.timeZone == "America/New_York")
            #expect(gate.channels.first { $0.channel == .call }?.reasons.map(\.code) == ["outside_hours"])
            #expect(gate.channels.first { $0.channel == .letter }?.allowed == true)
            w.clock.set(eight.addingTimeInterval(60))
            _ = try await w.queueClock.tick()
            #expect(try await w.next(agent).case?.id == cases["C-1"])
        }
    }

    @Test func aTeamThatSharesItsCasesWorksTheTeamsQueueOnceItsOwnIsDone() async throws {
        try await WorkWorld.with(teamSharesCases: true) { w in
            let owner = try await w.agent()
            let helper = try await w.agent()
            let cases = try await w.place(Self.rows(["100,00", "200,00"]), to: owner)
            let a = try await w.next(helper)
            let b = try await w.next(owner)
            #expect(Set([a.case?.id, b.case?.id]) == Set([cases["C-0"], cases["C-1"]]))
            #expect(try await w.next(try await w.agent()).case == nil)
            let board = try await QueueBoard(pool: w.pool).board(team: w.team, agent: nil, as: w.supervisor)
            #expect(board.leased == 2 && board.agents.count == 3)
            #expect(board.agents.first { $0.agentId == owner.id }?.leases.count == 1)
        }
    }
}
