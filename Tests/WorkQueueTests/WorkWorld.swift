import Assignment
import Core
import Foundation
import Onboarding
import Postgres
import Synchronization
import TestSupport

@testable import WorkQueue

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let value: Mutex<Date?>

    init(_ start: Date) { value = Mutex(start) }

    /// A clock that follows real time (leases then start and end at distinct instants).
    static func live() -> TestClock {
        let clock = TestClock(Date())
        clock.value.withLock { $0 = nil }
        return clock
    }

    var now: Date { value.withLock { $0 } ?? Date() }

    func set(_ date: Date) { value.withLock { $0 = date } }

    func advance(_ seconds: TimeInterval) { value.withLock { $0 = ($0 ?? Date()).addingTimeInterval(seconds) } }
}

/// An agency at work: a creditor, a team, agents with profiles, cases placed and assigned, and
/// the work queue on a clock the test moves. The clock starts on a working morning in Paris
/// (10:00 on the next Tuesday to Friday that is not a French holiday, at least a day ahead, so
/// that everything the database stamped with its own time is already due).
struct WorkWorld: Sendable {
    let pool: PostgresPool
    let fixtures: Fixtures
    let admin: Principal
    let supervisor: Principal
    let clock: TestClock
    let queue: WorkQueue
    let activities: Activities
    let queueClock: QueueClock
    let preferences: ContactPreferenceBook
    let rules: ContactRuleBook
    let creditor: UUID
    let team: UUID

    static let paris = TimeZone(identifier: "Europe/Paris")!

    /// 10:00 Paris on the next Tuesday after `after` whose following days the tests move to
    /// (1, 2 and 7 days on) are not French public holidays.
    static func workingMorning(after: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = paris
        let fixed = ["01-01", "05-01", "05-08", "07-14", "08-15", "11-01", "11-11", "12-25"]
        let dated = ["2026-04-06", "2026-05-14", "2026-05-25", "2027-03-29", "2027-05-06", "2027-05-17", "2028-04-17", "2028-05-25", "2028-06-05",
                     "2029-04-02", "2029-05-10", "2029-05-21", "2030-04-22", "2030-05-30", "2030-06-10"]
        func holiday(_ day: Date) -> Bool {
            let p = calendar.dateComponents([.year, .month, .day], from: day)
            return fixed.contains(String(format: "%02d-%02d", p.month!, p.day!)) || dated.contains(String(format: "%04d-%02d-%02d", p.year!, p.month!, p.day!))
        }
        var day = calendar.startOfDay(for: after.addingTimeInterval(86_400))
        while true {
            if calendar.component(.weekday, from: day) == 3,
                ![0, 1, 2, 7, 8].contains(where: { holiday(calendar.date(byAdding: .day, value: $0, to: day)!) })
            {
                return calendar.date(bySettingHour: 10, minute: 0, second: 0, of: day)!
            }
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
    }

    static func with<T>(
        leaseSeconds: Int = 600, teamSharesCases: Bool = false, maxConnections: Int = 6, liveClock: Bool = false,
        _ body: @Sendable (WorkWorld) async throws -> T
    ) async throws -> T {
        try await TestDatabase.withPool(maxConnections: maxConnections) { pool, database in
            let fixtures = try Fixtures(database)
            let adminUser = try await fixtures.user(.admin)
            let supervisorUser = try await fixtures.user(.supervisor)
            let supervisor = Principal(kind: .staff, id: supervisorUser.id, role: .supervisor)
            let clock = liveClock ? TestClock.live() : TestClock(workingMorning(after: Date()))
            let now: @Sendable () -> Date = { clock.now }
            let queue = WorkQueue(pool: pool, leaseDuration: .seconds(leaseSeconds), clock: now)
            let creditor = try await fixtures.creditor("Fournitures Durand SAS")
            try await fixtures.mandate(creditor: creditor)
            let team = try await TeamBook(pool: pool).create(.init(name: "Équipe A", sharesCases: teamSharesCases), by: supervisor, requestID: nil).id
            let world = WorkWorld(
                pool: pool, fixtures: fixtures, admin: Principal(kind: .staff, id: adminUser.id, role: .admin), supervisor: supervisor, clock: clock,
                queue: queue, activities: Activities(pool: pool, queue: queue, clock: now),
                queueClock: QueueClock(pool: pool, logger: .init(label: "test"), clock: now), preferences: ContactPreferenceBook(pool: pool),
                rules: ContactRuleBook(pool: pool), creditor: creditor, team: team)
            do {
                let result = try await body(world)
                try await fixtures.close()
                return result
            } catch {
                try? await fixtures.close()
                throw error
            }
        }
    }

    /// A new agent of the team, with a profile; returns the agent as a principal.
    func agent(capacity: Int = 100_000) async throws -> Principal {
        let user = try await fixtures.user(.agent)
        _ = try await AgentBook(pool: pool).put(
            user.id, .init(teamId: team, languages: ["fr", "en"], debtorKinds: ["person", "company"], maxBalanceMinor: nil, stages: ["amicable_calls", "letters"], capacity: capacity),
            by: supervisor, requestID: nil)
        return Principal(kind: .staff, id: user.id, role: .agent)
    }

    /// One row of a placement: a reference, a name, an amount ("1 234,56"), a due date, a country and time zone.
    struct Row: Sendable {
        var reference: String
        var name: String
        var amount: String = "100,00"
        var due: String = "01/06/2026"
        var kind: String = "particulier"
        var country: String = "FR"
        var timeZone: String = "Europe/Paris"
    }

    /// Places the rows, merges them, and assigns them to `agent` (the rules send everything to it).
    func place(_ rows: [Row], to agent: Principal) async throws -> [String: UUID] {
        try await place(rows, toAny: [agent])
    }

    /// The same, the cases shared between `agents` by the assigner.
    func place(_ rows: [Row], toAny agents: [Principal]) async throws -> [String: UUID] {
        var text = "reference;nom;montant;echeance;type;pays;fuseau\n"
        for row in rows { text += "\(row.reference);\(row.name);\(row.amount);\(row.due);\(row.kind);\(row.country);\(row.timeZone)\n" }
        let bytes = Array(text.utf8)
        let service = PlacementService(pool: pool)
        _ = try await service.stage(
            creditor: creditor, format: .csv, body: AsyncStream { c in c.yield(bytes); c.finish() }, idempotencyKey: nil, by: admin, requestID: nil)
        while try await service.processNext() != nil {}
        _ = try await RuleBook(pool: pool).save(
            .init(rules: [], default: .init(pool: .init(name: "test", agents: agents.map { $0.id! }))), by: supervisor, requestID: nil)
        _ = try await Assigner(pool: pool, clock: { clock.now }).run()
        try await queueClock.tick(recomputeAllZones: true)
        return try await casesByReference()
    }

    func casesByReference() async throws -> [String: UUID] {
        let rows = try await fixtures.admin.query("SELECT creditor_reference, case_id FROM claims WHERE creditor_id = \(creditor)")
        return Dictionary(uniqueKeysWithValues: try rows.map { (try $0.decode(String.self, "creditor_reference"), try $0.decode(UUID.self, "case_id")) })
    }

    /// Rules under which every hour of every day is callable (for tests on real time).
    func openAllHours() async throws {
        let always = Dictionary(uniqueKeysWithValues: (1...7).map { (String($0), [ContactRules.Window(from: "00:00", to: "24:00")]) })
        for jurisdiction in ["FR", "*"] {
            _ = try await rules.put(
                jurisdiction, .init(jurisdiction: jurisdiction, name: "Always", hours: always, hoursChannels: [.call, .sms, .email], callAttemptsMax: 100,
                                    callAttemptsWindowDays: 1, quietDaysAfterConversation: 0),
                by: admin, requestID: nil)
        }
        try await queueClock.tick(recomputeAllZones: true)
    }

    func count(_ sql: SQL) async throws -> Int {
        try await fixtures.admin.one(sql)!.decode(Int.self, at: 0)
    }

    /// Takes the next case as `agent`; its case ID, or nil.
    func next(_ agent: Principal) async throws -> WorkQueue.Next {
        try await queue.next(for: agent)
    }

    /// A call with an outcome on the case `agent` holds.
    @discardableResult
    func call(_ caseID: UUID, _ outcome: String, by agent: Principal, callbackAt: Date? = nil, followUpAt: Date? = nil) async throws -> Activities.Activity {
        try await activities.record(case: caseID, .init(kind: "call", outcome: outcome, callbackAt: callbackAt, followUpAt: followUpAt), by: agent, requestID: nil)
    }
}
