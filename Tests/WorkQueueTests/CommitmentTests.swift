import Core
import Foundation
import Portfolio
import Postgres
import Testing

@testable import WorkQueue

/// Promises, plans, disputes and holds against a real database, with the payments the payments
/// module will record (through `Commitments.paymentReceived`, the interface it calls).
@Suite("Commitments, disputes and holds")
struct CommitmentTests {
    static func one(_ amount: String = "100,00") -> [WorkWorld.Row] { [.init(reference: "P-1", name: "Jeanne Martin", amount: amount)] }

    struct Kit: Sendable {
        let promises: Promises
        let plans: PaymentPlans
        let disputes: Disputes
        let holds: Holds

        init(_ w: WorkWorld) {
            let now: @Sendable () -> Date = { w.clock.now }
            promises = Promises(pool: w.pool, clock: now)
            plans = PaymentPlans(pool: w.pool, clock: now)
            disputes = Disputes(pool: w.pool, clock: now)
            holds = Holds(pool: w.pool, clock: now)
        }
    }

    /// A payment recorded on the case, as the payments module will: in its transaction, after
    /// the case's lock.
    static func pay(_ w: WorkWorld, _ caseID: UUID, _ amount: Int) async throws -> Commitments.PaymentEffect {
        try await w.pool.transaction(asSystemJob: .workQueue) { tx in
            _ = try await tx.one("SELECT id FROM cases WHERE creditor_id = \(w.creditor) AND id = \(caseID) FOR UPDATE")
            return try await Commitments.paymentReceived(case: caseID, creditor: w.creditor, amountMinor: amount, at: w.clock.now, in: tx)
        }
    }

    static func attempt<T: Sendable>(_ body: @Sendable () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    static func today(_ w: WorkWorld) -> CalendarDate { CalendarDate(w.clock.now) }

    static func status(_ w: WorkWorld, _ caseID: UUID) async throws -> String {
        try await w.fixtures.admin.one("SELECT status FROM cases WHERE id = \(caseID)")!.decode(String.self, "status")
    }

    @Test func aPromiseIsKeptByPaymentsAndAPartialOneStaysOpen() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let id = try await w.place(Self.one(), to: agent)["P-1"]!
            let promise = try await k.promises.create(case: id, .init(amountMinor: 6_000, dueDate: Self.today(w).adding(days: 3)), by: agent, requestID: nil)
            #expect(promise.status == "open" && promise.graceDays == 3 && promise.currency == "EUR")
            // The case waits for the promise's date.
            #expect(try await w.next(agent).case == nil)
            let partial = try await Self.pay(w, id, 2_500)
            #expect(partial.promiseId == promise.id && !partial.promiseKept)
            #expect(try await k.promises.list(case: id, as: agent).first?.status == "open")
            let rest = try await Self.pay(w, id, 3_500)
            #expect(rest.promiseKept)
            let kept = try await k.promises.list(case: id, as: agent).first
            #expect(kept?.status == "kept" && kept?.paidMinor == 6_000)
            // Past its date nothing breaks it any more.
            w.clock.advance(10 * 86_400)
            _ = try await w.queueClock.tick()
            #expect(try await k.promises.list(case: id, as: agent).first?.status == "kept")
        }
    }

    @Test func onAPromisesDayTheCaseComesBackForACourtesyCallBeforeNewWork() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let cases = try await w.place(
                [.init(reference: "P-1", name: "Jeanne Martin", amount: "50,00"), .init(reference: "P-2", name: "Grosse Dette SARL", amount: "90 000,00")], to: agent)
            let (promised, big) = (cases["P-1"]!, cases["P-2"]!)
            _ = try await k.promises.create(case: promised, .init(amountMinor: 5_000, dueDate: Self.today(w).adding(days: 1), graceDays: 1), by: agent, requestID: nil)
            // Before its day the promised case waits; the large new case comes.
            #expect(try await w.next(agent).case?.id == big)
            try await w.call(big, "no_answer", by: agent, followUpAt: w.clock.now.addingTimeInterval(7 * 86_400))
            #expect(try await w.next(agent).case == nil)
            // On its day: level promise_due (2), ahead of any routine work.
            w.clock.advance(86_400)
            _ = try await w.queueClock.tick()
            let next = try await w.next(agent)
            #expect(next.case?.id == promised && next.why?.level == .promiseDue && next.why?.rank == 2)
        }
    }

    @Test func aBrokenPromiseGoesToTheTopOfTheQueue() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let cases = try await w.place(
                [.init(reference: "P-1", name: "Jeanne Martin", amount: "50,00"), .init(reference: "P-2", name: "Grosse Dette SARL", amount: "90 000,00")], to: agent)
            let (small, big) = (cases["P-1"]!, cases["P-2"]!)
            _ = try await k.promises.create(case: small, .init(amountMinor: 5_000, dueDate: Self.today(w).adding(days: 1), graceDays: 1), by: agent, requestID: nil)
            _ = try await Self.pay(w, small, 1_000)
            // Three days later: the date and grace passed short of the amount.
            w.clock.advance(3 * 86_400)
            _ = try await w.queueClock.tick()
            #expect(try await k.promises.list(case: small, as: agent).first?.status == "broken")
            // Broken promise (level 3) before the larger new placement (level 5).
            let next = try await w.next(agent)
            #expect(next.case?.id == small && next.why?.level == .brokenPromise)
            _ = big
        }
    }

    @Test func promisesRefuseThePastMoreThanTheBalanceAndCasesThatAreOver() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let id = try await w.place(Self.one(), to: agent)["P-1"]!
            let past = await #expect(throws: Problem.self) {
                try await k.promises.create(case: id, .init(amountMinor: 100, dueDate: Self.today(w).adding(days: -1)), by: agent, requestID: nil)
            }
            #expect(past?.status == 422 && past?.errors.map(\.field) == ["dueDate"])
            let tooMuch = await #expect(throws: Problem.self) {
                try await k.promises.create(case: id, .init(amountMinor: 10_001, dueDate: Self.today(w)), by: agent, requestID: nil)
            }
            #expect(tooMuch?.errors.map(\.field) == ["amountMinor"])
            let missing = await #expect(throws: Problem.self) {
                try await k.promises.create(case: id, .init(amountMinor: nil, dueDate: nil, graceDays: 40), by: agent, requestID: nil)
            }
            #expect(Set(missing?.errors.map(\.field) ?? []) == ["amountMinor", "dueDate", "graceDays"])
            // A dispute upheld closes the case: nothing more is recorded on it.
            let dispute = try await k.disputes.open(case: id, .init(reason: "already_paid"), by: agent, requestID: nil)
            _ = try await k.disputes.resolve(case: id, dispute: dispute.id, .init(outcome: "closed", note: "Justificatif reçu."), by: w.supervisor, requestID: nil)
            #expect(try await Self.status(w, id) == "closed")
            let over = await #expect(throws: Problem.self) {
                try await k.promises.create(case: id, .init(amountMinor: 100, dueDate: Self.today(w)), by: agent, requestID: nil)
            }
            #expect(over?.status == 409 && over?.errors.map(\.field) == ["caseId"])
            let again = await #expect(throws: Problem.self) { try await k.disputes.open(case: id, .init(reason: "not_me"), by: agent, requestID: nil) }
            #expect(again?.status == 409 && again?.errors.map(\.field) == ["caseId"])
        }
    }

    @Test func plansFollowTheCreditorsTermsAndAreApprovedAboveItsThreshold() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let cases = try await w.place(
                [.init(reference: "P-1", name: "Jeanne Martin", amount: "300,00"), .init(reference: "P-2", name: "Paul Durand", amount: "9 000,00")], to: agent)
            let (small, big) = (cases["P-1"]!, cases["P-2"]!)
            let d = Self.today(w)
            func plan(_ parts: [(Int, Int)]) -> PaymentPlans.Input {
                .init(instalments: parts.map { .init(dueDate: d.adding(days: $0.0), amountMinor: $0.1) })
            }
            // Every fault named: not adding up; below the least instalment (30.00) but the last;
            // dates out of order; too many.
            let sum = await #expect(throws: Problem.self) { try await k.plans.create(case: small, plan([(10, 10_000), (40, 10_000)]), by: agent, requestID: nil) }
            #expect(sum?.errors.map(\.field) == ["instalments"])
            let low = await #expect(throws: Problem.self) {
                try await k.plans.create(case: small, plan([(10, 2_000), (40, 20_000), (70, 8_000)]), by: agent, requestID: nil)
            }
            #expect(low?.errors.map(\.field) == ["instalments[0].amountMinor"])
            let order = await #expect(throws: Problem.self) { try await k.plans.create(case: small, plan([(40, 15_000), (10, 15_000)]), by: agent, requestID: nil) }
            #expect(order?.errors.map(\.field) == ["instalments[1].dueDate"])
            let many = await #expect(throws: Problem.self) {
                try await k.plans.create(case: small, plan((1...13).map { ($0 * 30, $0 == 13 ? 30_000 - 12 * 2_300 : 2_300) }), by: agent, requestID: nil)
            }
            #expect(many?.errors.map(\.field).contains("instalments") == true)
            // Within the threshold: active at once; the last instalment may be smaller.
            let active = try await k.plans.create(case: small, plan([(10, 14_000), (40, 14_000), (70, 2_000)]), by: agent, requestID: nil)
            #expect(active.status == "active" && active.instalments.map(\.seq) == [1, 2, 3])
            let second = await #expect(throws: Problem.self) { try await k.plans.create(case: small, plan([(10, 30_000)]), by: agent, requestID: nil) }
            #expect(second?.status == 409)
            // Above 5,000.00: waits for a supervisor.
            let pending = try await k.plans.create(case: big, plan([(10, 450_000), (40, 450_000)]), by: agent, requestID: nil)
            #expect(pending.status == "pending_approval")
            let approved = try await k.plans.decide(case: big, plan: pending.id, approve: true, by: w.supervisor, requestID: nil)
            #expect(approved.status == "active" && approved.approvedBy == w.supervisor.id)
            let twice = await #expect(throws: Problem.self) { try await k.plans.decide(case: big, plan: pending.id, approve: false, by: w.supervisor, requestID: nil) }
            #expect(twice?.status == 409)
            // A creditor's own terms: at most two instalments.
            _ = try await k.plans.setPolicy(
                creditor: w.creditor, .init(minInstalmentMinor: 1_000, maxInstalments: 2, approvalAboveMinor: 100_000, graceDays: 2), by: w.admin, requestID: nil)
            let badPolicy = await #expect(throws: Problem.self) {
                try await k.plans.setPolicy(creditor: w.creditor, .init(minInstalmentMinor: 0, maxInstalments: 0, approvalAboveMinor: -1, graceDays: 99), by: w.admin, requestID: nil)
            }
            #expect(badPolicy?.errors.count == 4)
        }
    }

    @Test func paymentsPayInstalmentsInOrderAndAMissedOneBreaksThePlan() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let cases = try await w.place(
                [.init(reference: "P-1", name: "Jeanne Martin", amount: "300,00"), .init(reference: "P-2", name: "Paul Durand", amount: "200,00")], to: agent)
            let (kept, missed) = (cases["P-1"]!, cases["P-2"]!)
            let d = Self.today(w)
            _ = try await k.plans.create(
                case: kept, .init(instalments: [.init(dueDate: d.adding(days: 5), amountMinor: 15_000), .init(dueDate: d.adding(days: 35), amountMinor: 15_000)]),
                by: agent, requestID: nil)
            _ = try await k.plans.create(
                case: missed, .init(instalments: [.init(dueDate: d.adding(days: 1), amountMinor: 10_000), .init(dueDate: d.adding(days: 31), amountMinor: 10_000)]),
                by: agent, requestID: nil)
            let first = try await Self.pay(w, kept, 20_000)
            #expect(first.instalmentsPaid == [1] && !first.planCompleted)
            let last = try await Self.pay(w, kept, 10_000)
            #expect(last.instalmentsPaid == [2] && last.planCompleted)
            #expect(try await k.plans.list(case: kept, as: agent).first?.status == "completed")
            // The other's first instalment is short after its five days of grace.
            _ = try await Self.pay(w, missed, 4_000)
            w.clock.advance(7 * 86_400)
            _ = try await w.queueClock.tick()
            let broken = try #require(try await k.plans.list(case: missed, as: agent).first)
            #expect(broken.status == "broken" && broken.instalments.map(\.status) == ["missed", "due"])
            let next = try await w.next(agent)
            #expect(next.case?.id == missed && next.why?.level == .planMissed)
        }
    }

    @Test func aDisputeStopsCollectionUntilResolved() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let id = try await w.place(Self.one(), to: agent)["P-1"]!
            _ = try await w.next(agent)
            let bad = await #expect(throws: Problem.self) { try await k.disputes.open(case: id, .init(reason: "unhappy"), by: agent, requestID: nil) }
            #expect(bad?.errors.map(\.field) == ["reason"])
            let dispute = try await k.disputes.open(case: id, .init(reason: "amount_contested", note: "Conteste les pénalités."), by: agent, requestID: nil)
            #expect(try await Self.status(w, id) == "disputed")
            // The lease ended with the case's standing; no contact is allowed; the case leaves the queue.
            #expect(try await w.count("SELECT count(*)::int8 FROM work_leases WHERE end_reason = 'moved'") == 1)
            let call = await #expect(throws: Problem.self) { try await w.call(id, "no_answer", by: w.supervisor) }
            #expect(call?.errors.map(\.reason).first?.hasPrefix("case_disputed") == true)
            _ = try await w.queueClock.tick()
            #expect(try await w.next(agent).case == nil)
            let second = await #expect(throws: Problem.self) { try await k.disputes.open(case: id, .init(reason: "not_me"), by: w.supervisor, requestID: nil) }
            #expect(second?.status == 409 && second?.code == "dispute-open")
            let resolved = try await k.disputes.resolve(case: id, dispute: dispute.id, .init(outcome: "resumed"), by: w.supervisor, requestID: nil)
            #expect(resolved.status == "resumed" && resolved.resolvedBy == w.supervisor.id)
            #expect(try await Self.status(w, id) == "open")
            _ = try await w.queueClock.tick()
            #expect(try await w.next(agent).case?.id == id)
            let again = await #expect(throws: Problem.self) {
                try await k.disputes.resolve(case: id, dispute: dispute.id, .init(outcome: "closed"), by: w.supervisor, requestID: nil)
            }
            #expect(again?.status == 409)
        }
    }

    @Test func holdsPauseFromTheirStartToTheirEnd() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let cases = try await w.place(
                [.init(reference: "P-1", name: "Jeanne Martin", amount: "300,00"), .init(reference: "P-2", name: "Paul Durand", amount: "200,00")], to: agent)
            let (now, later) = (cases["P-1"]!, cases["P-2"]!)
            let d = Self.today(w)
            let creditorAdmin = try await w.fixtures.user(.creditorAdmin, creditor: w.creditor)
            let creditor = Principal(kind: .creditorUser, id: creditorAdmin.id, role: .creditorAdmin, creditorID: w.creditor)
            // The creditor pauses one case at once, for five days.
            let pause = try await k.holds.create(case: now, .init(endsOn: d.adding(days: 5), reason: "creditor_request"), by: creditor, requestID: nil)
            #expect(pause.startsOn == d && pause.createdByKind == "creditor_user")
            #expect(try await Self.status(w, now) == "paused")
            // The agency holds the other from tomorrow.
            _ = try await k.holds.create(case: later, .init(startsOn: d.adding(days: 1), endsOn: d.adding(days: 2), reason: "debtor_hardship"), by: w.supervisor, requestID: nil)
            #expect(try await Self.status(w, later) == "open")
            let past = await #expect(throws: Problem.self) {
                try await k.holds.create(case: later, .init(startsOn: d.adding(days: -1), endsOn: d.adding(days: -3), reason: "other"), by: w.supervisor, requestID: nil)
            }
            #expect(Set(past?.errors.map(\.field) ?? []) == ["startsOn", "endsOn"])
            #expect(try await w.next(agent).case?.id == later)
            try await w.call(later, "no_answer", by: agent, followUpAt: w.clock.now.addingTimeInterval(3600))
            w.clock.advance(86_400)
            _ = try await w.queueClock.tick()
            #expect(try await Self.status(w, later) == "paused")
            #expect(try await w.next(agent).case == nil)
            // Three days on, the agency's hold is over; the creditor lifts its pause early.
            w.clock.advance(2 * 86_400)
            _ = try await w.queueClock.tick()
            #expect(try await Self.status(w, later) == "open")
            _ = try await k.holds.release(case: now, hold: pause.id, by: creditor, requestID: nil)
            #expect(try await Self.status(w, now) == "open")
            let twice = await #expect(throws: Problem.self) { try await k.holds.release(case: now, hold: pause.id, by: creditor, requestID: nil) }
            #expect(twice?.status == 409)
            #expect(try await k.holds.list(case: now, as: creditor).count == 1)
        }
    }

    @Test func anAgentASupervisorAndTheCreditorAtOnceLoseNothing() async throws {
        try await WorkWorld.with(maxConnections: 8) { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let id = try await w.place(Self.one(), to: agent)["P-1"]!
            let creditorAdmin = try await w.fixtures.user(.creditorAdmin, creditor: w.creditor)
            let creditor = Principal(kind: .creditorUser, id: creditorAdmin.id, role: .creditorAdmin, creditorID: w.creditor)
            let d = Self.today(w)
            for _ in 0..<5 {
                async let promise: Result<Promises.Promise, any Error> = Self.attempt {
                    try await k.promises.create(case: id, .init(amountMinor: 1_000, dueDate: d.adding(days: 3)), by: agent, requestID: nil)
                }
                async let dispute: Result<Disputes.Dispute, any Error> = Self.attempt { try await k.disputes.open(case: id, .init(reason: "defective"), by: w.supervisor, requestID: nil) }
                async let hold: Result<Holds.Hold, any Error> = Self.attempt {
                    try await k.holds.create(case: id, .init(endsOn: d.adding(days: 2), reason: "creditor_request"), by: creditor, requestID: nil)
                }
                async let second: Result<Disputes.Dispute, any Error> = Self.attempt { try await k.disputes.open(case: id, .init(reason: "not_me"), by: agent, requestID: nil) }
                let results = await (promise, dispute, hold, second)
                #expect((try? results.0.get()) != nil)
                #expect((try? results.2.get()) != nil)
                // Of two disputes at once, exactly one is opened.
                #expect([(try? results.1.get()) != nil, (try? results.3.get()) != nil].filter { $0 }.count == 1)
                #expect(try await Self.status(w, id) == "disputed")
                let open = try await k.disputes.list(case: id, as: w.supervisor).filter { $0.status == "open" }
                #expect(open.count == 1)
                _ = try await k.disputes.resolve(case: id, dispute: open[0].id, .init(outcome: "resumed"), by: w.supervisor, requestID: nil)
                // Resumed under the creditor's hold: paused.
                #expect(try await Self.status(w, id) == "paused")
                for h in try await k.holds.list(case: id, as: creditor) where h.releasedAt == nil {
                    _ = try await k.holds.release(case: id, hold: h.id, by: creditor, requestID: nil)
                }
            }
            #expect(try await k.promises.list(case: id, as: agent).filter { $0.status == "open" }.count == 1)
            #expect(try await k.holds.list(case: id, as: agent).count == 5)
            #expect(try await Self.status(w, id) == "open")
        }
    }

    @Test func theCaseFileHoldsEverythingBeforeACallAndItsReadingIsAudited() async throws {
        try await WorkWorld.with { w in
            let k = Kit(w)
            let agent = try await w.agent()
            let id = try await w.place(Self.one("1 234,56"), to: agent)["P-1"]!
            let lease = try #require(try await w.next(agent).lease)
            _ = try await w.activities.record(case: id, .init(kind: "note", note: "Préfère le matin."), by: agent, requestID: nil)
            _ = try await k.promises.create(case: id, .init(amountMinor: 10_000, dueDate: Self.today(w).adding(days: 7)), by: agent, requestID: nil)
            let file = try await CaseFile.build(id, pool: w.pool, at: w.clock.now, as: agent, requestID: "req-file")
            #expect(file.case.id == id && file.debtor.name == "Jeanne Martin")
            #expect(file.claims.first.map { [$0.principalMinor, $0.interestMinor, $0.feesMinor, $0.balanceMinor] } == [123_456, 0, 0, 123_456])
            #expect(file.queue?.heldBy?.agentId == agent.id && file.queue?.heldBy?.expiresAt == lease.expiresAt)
            #expect(file.activities.map(\.kind) == ["note"] && file.promises.count == 1)
            #expect(file.contact.channels.map(\.channel) == Channel.allCases && file.contact.channels.allSatisfy(\.allowed))
            #expect(file.agent?.id == agent.id)
            #expect(try await w.count("SELECT count(*)::int8 FROM audit_log WHERE action = 'debtor.read' AND request_id = 'req-file'") == 1)
            // Another agent does not see it.
            let other = try await w.agent()
            await #expect(throws: Problem.notFound("case")) { try await CaseFile.build(id, pool: w.pool, at: w.clock.now, as: other, requestID: nil) }
        }
    }
}
