import Core
import Foundation
import Hummingbird
import Logging
import Postgres
import ServiceLifecycle
import Web
import WorkQueue

/// The agent's working day: the next case, leases, activities, the compliance gate's rules and
/// a debtor's preferences, the supervisors' queues; runs the queue's clock.
public struct WorkQueueModule: HTTPModule {
    public let name = "work-queue"

    public let queue: WorkQueue
    public let clock: QueueClock
    let activities: Activities
    let rules: ContactRuleBook
    let preferences: ContactPreferenceBook
    let board: QueueBoard
    let contact: ContactCheck
    let promises: Promises
    let plans: PaymentPlans
    let disputes: Disputes
    let holds: Holds

    public init(
        pool: PostgresPool, logger: Logger, leaseDuration: Duration = .seconds(600), clockInterval: Duration = .seconds(5),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        let queueClock = QueueClock(pool: pool, logger: logger, interval: clockInterval, clock: now)
        self.clock = queueClock
        self.queue = WorkQueue(pool: pool, leaseDuration: leaseDuration, clock: now)
        self.activities = Activities(pool: pool, queue: queue, clock: now)
        self.rules = ContactRuleBook(pool: pool, changed: { queueClock.wake() })
        self.preferences = ContactPreferenceBook(pool: pool)
        self.board = QueueBoard(pool: pool)
        self.contact = ContactCheck(pool: pool, clock: now)
        self.promises = Promises(pool: pool, clock: now)
        self.plans = PaymentPlans(pool: pool, clock: now)
        self.disputes = Disputes(pool: pool, clock: now)
        self.holds = Holds(pool: pool, clock: now)
    }

    public func routes() -> ModuleRoutes {
        let routes = ModuleRoutes()
        WorkRoutes(queue: queue, board: board).add(to: routes)
        CaseWorkRoutes(activities: activities, contact: contact).add(to: routes)
        ContactRoutes(rules: rules, preferences: preferences).add(to: routes)
        CommitmentRoutes(promises: promises, plans: plans, disputes: disputes, holds: holds).add(to: routes)
        return routes
    }

    public var services: [any Service] { [clock] }
    public var migrations: [String] { ["0018_work_queue.sql", "0019_commitments_disputes_holds.sql", "0021_work_items_made_by_the_clock.sql", "0022_cases_by_debtor_only_when_ended.sql"] }
}
