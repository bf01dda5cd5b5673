import Foundation
import Logging
import Metrics
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A fixed-size pool of libpq connections, run as a `Service`.
///
/// Each connection serves one caller at a time. Blocking libpq calls run on the pool's own
/// `NIOThreadPool` (one thread per connection, plus one), never on Swift's cooperative
/// threads. Dead connections (server restart, `pg_terminate_backend`) are noticed when checked
/// out and replaced, so the next request succeeds without restarting the process.
public final class PostgresPool: Service, PostgresQueryable, Sendable {
    public struct Configuration: Sendable {
        /// The conninfo string or URI, passed to libpq as given.
        public var conninfo: String
        /// Most connections open at once.
        public var maxConnections: Int
        /// How long a caller may wait for a free connection.
        public var acquireTimeout: Duration
        /// Default per-statement limit inside transactions.
        public var statementTimeout: Duration
        /// SQL run on every new connection.
        public var sessionSettings: String

        public init(
            conninfo: String, maxConnections: Int = 10, acquireTimeout: Duration = .seconds(10),
            statementTimeout: Duration = .seconds(30),
            sessionSettings: String = PostgresConnection.defaultSessionSettings
        ) {
            self.conninfo = conninfo
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
            self.statementTimeout = statementTimeout
            self.sessionSettings = sessionSettings
        }
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<PostgresConnection?, any Error>
    }

    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var inUse = 0
        var waiters: [Waiter] = []
        var cancelledWaiters: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    public let configuration: Configuration
    let threadPool: NIOThreadPool
    private let state = Mutex(State())
    private let logger: Logger
    private let openGauge = Gauge(label: "relance_db_pool_connections_open")
    private let inUseGauge = Gauge(label: "relance_db_pool_connections_in_use")
    private let waitingGauge = Gauge(label: "relance_db_pool_waiters")
    private let timeoutCounter = Counter(label: "relance_db_pool_acquire_timeouts_total")
    private let replacedCounter = Counter(label: "relance_db_pool_connections_replaced_total")

    public init(configuration: Configuration, logger: Logger = Logger(label: "relance.db")) {
        self.configuration = configuration
        self.logger = logger
        self.threadPool = NIOThreadPool(numberOfThreads: configuration.maxConnections + 1)
        self.threadPool.start()
    }

    /// Runs until graceful shutdown, then closes every connection.
    public func run() async throws {
        // Returns on graceful shutdown, throws on cancellation: close either way.
        try? await gracefulShutdown()
        try await close()
    }

    /// Fails waiters, closes idle connections and stops the threads. Connections still in use
    /// are closed when they come back.
    public func close() async throws {
        let (idle, waiters) = state.withLock { state -> ([PostgresConnection], [Waiter]) in
            guard !state.closed else { return ([], []) }
            state.closed = true
            let idle = state.idle
            let waiters = state.waiters
            state.open -= idle.count
            state.idle = []
            state.waiters = []
            return (idle, waiters)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(kind: .poolClosed, reason: "the pool is closed"))
        }
        for connection in idle { connection.close() }
        try? await threadPool.shutdownGracefully()
        publishGauges()
    }

    // MARK: - Checkout

    /// Runs `body` with one connection to itself; the connection returns to the pool after.
    public func withConnection<T>(_ body: (PostgresSession) async throws -> T) async throws -> T {
        let connection = try await acquire()
        let session = PostgresSession(connection: connection, threadPool: threadPool)
        do {
            let result = try await body(session)
            release(connection)
            return result
        } catch {
            release(connection)
            throw error
        }
    }

    func acquire() async throws -> PostgresConnection {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: configuration.acquireTimeout)
        while true {
            try Task.checkCancellation()
            enum Action {
                case use(PostgresConnection)
                case open
                case wait(UInt64)
                case closed
            }
            let action = state.withLock { state -> Action in
                if state.closed { return .closed }
                if let connection = state.idle.popLast() {
                    state.inUse += 1
                    return .use(connection)
                }
                if state.open < configuration.maxConnections {
                    state.open += 1
                    state.inUse += 1
                    return .open
                }
                state.nextWaiterID += 1
                return .wait(state.nextWaiterID)
            }
            switch action {
            case .closed:
                throw PostgresError(kind: .poolClosed, reason: "the pool is closed")
            case .use(let connection):
                // Non-blocking check (poll with zero timeout), see `looksAlive`.
                if connection.looksAlive() {
                    publishGauges()
                    return connection
                }
                replacedCounter.increment()
                logger.info("replacing a dead database connection", metadata: ["connection": "\(connection.id)"])
                discard(connection)
            case .open:
                do {
                    let conninfo = configuration.conninfo
                    let settings = configuration.sessionSettings
                    let connection = try await threadPool.runIfActive {
                        try PostgresConnection.connect(conninfo: conninfo, sessionSettings: settings)
                    }
                    publishGauges()
                    return connection
                } catch {
                    freeSlot()
                    throw error
                }
            case .wait(let id):
                let remaining = deadline - clock.now
                if remaining <= .zero {
                    removeWaiter(id)
                    timeoutCounter.increment()
                    throw PostgresError(kind: .poolTimeout, reason: "no database connection free within the acquire timeout")
                }
                if let connection = try await wait(id: id, timeout: remaining) {
                    if connection.looksAlive() {
                        publishGauges()
                        return connection
                    }
                    replacedCounter.increment()
                    discard(connection)
                }
            // nil: a slot was freed; loop to open a connection.
            }
        }
    }

    private func wait(id: UInt64, timeout: Duration) async throws -> PostgresConnection? {
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.failWaiter(id, with: PostgresError(kind: .poolTimeout, reason: "no database connection free within the acquire timeout"))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresConnection?, any Error>) in
                enum Registration {
                    case refused(PostgresError)
                    case handed(PostgresConnection?)
                    case waiting
                }
                // The waiter's id was taken under an earlier lock: a connection released or a
                // slot freed since then found no waiter. Look again under the lock that adds the
                // waiter, so nothing free is missed.
                let registration = state.withLock { state -> Registration in
                    if state.closed { return .refused(PostgresError(kind: .poolClosed, reason: "the pool is closed")) }
                    if state.cancelledWaiters.remove(id) != nil {
                        return .refused(PostgresError(kind: .poolTimeout, reason: "cancelled while waiting for a connection"))
                    }
                    if let connection = state.idle.popLast() {
                        state.inUse += 1
                        return .handed(connection)
                    }
                    if state.open < configuration.maxConnections { return .handed(nil) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return .waiting
                }
                publishGauges()
                switch registration {
                case .refused(let error): continuation.resume(throwing: error)
                case .handed(let connection): continuation.resume(returning: connection)
                case .waiting: break
                }
            }
        } onCancel: {
            self.failWaiter(id, with: CancellationError())
        }
    }

    private func failWaiter(_ id: UInt64, with error: any Error) {
        let waiter = state.withLock { state -> Waiter? in
            if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                return state.waiters.remove(at: index)
            }
            state.cancelledWaiters.insert(id)
            return nil
        }
        if error is PostgresError { timeoutCounter.increment() }
        waiter?.continuation.resume(throwing: error)
    }

    private func removeWaiter(_ id: UInt64) {
        state.withLock { state in
            state.waiters.removeAll { $0.id == id }
            state.cancelledWaiters.remove(id)
        }
    }

    /// Returns a connection: to a waiter, to the idle list, or closed when it is not reusable.
    func release(_ connection: PostgresConnection) {
        guard connection.isReusable else {
            discard(connection)
            return
        }
        let handoff = state.withLock { state -> (Waiter?, Bool) in
            if state.closed {
                state.open -= 1
                state.inUse -= 1
                return (nil, true)
            }
            if !state.waiters.isEmpty {
                return (state.waiters.removeFirst(), false)
            }
            state.inUse -= 1
            state.idle.append(connection)
            return (nil, false)
        }
        if handoff.1 { closeOffloaded(connection) }
        handoff.0?.continuation.resume(returning: connection)
        publishGauges()
    }

    /// Closes a connection and frees its slot; a waiter is woken to open a new one.
    private func discard(_ connection: PostgresConnection) {
        closeOffloaded(connection)
        freeSlot()
    }

    private func freeSlot() {
        let waiter = state.withLock { state -> Waiter? in
            state.open -= 1
            state.inUse -= 1
            return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
        }
        waiter?.continuation.resume(returning: nil)
        publishGauges()
    }

    private func closeOffloaded(_ connection: PostgresConnection) {
        // PQfinish writes to the socket: keep it off the cooperative pool.
        threadPool.submit { _ in connection.close() }
    }

    private func publishGauges() {
        let (open, inUse, waiting) = state.withLock { ($0.open, $0.inUse, $0.waiters.count) }
        openGauge.record(open)
        inUseGauge.record(inUse)
        waitingGauge.record(waiting)
    }

    /// Connections open, in use, and callers waiting: for health and metrics.
    public var usage: (open: Int, inUse: Int, waiting: Int) {
        state.withLock { ($0.open, $0.inUse, $0.waiters.count) }
    }

    // MARK: - Convenience

    /// Runs one statement on any free connection (autocommit).
    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try await withConnection { try await $0.query(sql) }
    }

    /// Runs statements in one transaction; see `TransactionOptions`.
    ///
    /// BEGIN, then `body`, then COMMIT; ROLLBACK when `body` throws. The whole transaction is
    /// retried (a bounded number of times, with jittered backoff) on serialization failures,
    /// deadlocks, and connections lost before COMMIT was sent, so `body` must do nothing
    /// outside the database that cannot be repeated. A connection lost during COMMIT raises
    /// `.commitOutcomeUnknown` and is never retried.
    public func withTransaction<T>(
        _ options: TransactionOptions = TransactionOptions(),
        _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        if let enclosing = RequestTransaction.current, enclosing.pool == ObjectIdentifier(self) {
            return try await nested(in: enclosing.session, options, body)
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await withConnection { session in
                    try await session.transaction(options, defaultTimeout: configuration.statementTimeout, body)
                }
            } catch let error as PostgresError where attempt < options.maxAttempts && error.kind != .commitOutcomeUnknown
                && (error.isTransientTransactionFailure || error.isConnectionLoss || (error.isReadOnlyServer && !options.readOnly))
            {
                try Task.checkCancellation()
                logger.debug("retrying transaction", metadata: ["attempt": "\(attempt)", "sqlstate": "\(error.sqlState ?? "-")"])
                try await Self.backOff(attempt)
            }
        }
    }
}

extension PostgresPool {
    /// Runs one statement as a transaction of its own, with the options' settings, in one round
    /// trip (BEGIN, settings, statement and COMMIT pipelined). Only for statements that may
    /// safely run twice (a read, a touch): a connection lost on the way is retried like any
    /// transaction, although the COMMIT may have reached the server. Inside a request's
    /// transaction it runs there, as a savepoint.
    @discardableResult
    public func statement(_ sql: SQL, options: TransactionOptions = TransactionOptions()) async throws -> PostgresRows {
        if let enclosing = RequestTransaction.current, enclosing.pool == ObjectIdentifier(self) {
            return try await nested(in: enclosing.session, options) { try await $0.query(sql) }
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await withConnection { session in
                    try await session.statement(options, defaultTimeout: configuration.statementTimeout, sql)
                }
            } catch let error as PostgresError where attempt < options.maxAttempts
                && (error.isTransientTransactionFailure || error.isConnectionLoss || (error.isReadOnlyServer && !options.readOnly))
            {
                try Task.checkCancellation()
                logger.debug("retrying statement", metadata: ["attempt": "\(attempt)", "sqlstate": "\(error.sqlState ?? "-")"])
                try await Self.backOff(attempt)
            }
        }
    }
}

extension PostgresPool {
    /// Runs `body` in one transaction that every `withTransaction` of this pool inside it, in
    /// this task and its child tasks, joins as a savepoint: what `body` and they write commits
    /// at once when `body` returns, or not at all when it throws. Used to commit a request's
    /// writes with the record of its answer (Idempotency-Key), so that no crash can keep one
    /// without the other.
    ///
    /// Inside it, joined transactions keep their settings and statement timeout (set locally,
    /// put back after), are not retried on connection loss (the enclosing transaction is gone
    /// with the connection) and cannot be read-only or of another isolation level. Calls on
    /// the one connection are serialised: two child tasks must not use it at once.
    public func withRequestTransaction<T>(
        _ options: TransactionOptions = TransactionOptions(), _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        try await withConnection { session in
            try await session.transaction(options, defaultTimeout: configuration.statementTimeout) { tx in
                try await RequestTransaction.$current.withValue(RequestTransaction(pool: ObjectIdentifier(self), session: session)) {
                    try await body(tx)
                }
            }
        }
    }

    /// A transaction joined to the request's: a savepoint, retried on deadlock like a
    /// transaction of its own.
    private func nested<T>(
        in session: PostgresSession, _ options: TransactionOptions, _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await session.savepoint(options, defaultTimeout: configuration.statementTimeout, body)
            } catch let error as PostgresError where attempt < options.maxAttempts && error.isTransientTransactionFailure {
                try Task.checkCancellation()
                try await Self.backOff(attempt)
            }
        }
    }
}

extension PostgresPool {
    /// A jittered pause before attempt `attempt + 1` of a transaction: up to 10, 20, ... 320 ms.
    static func backOff(_ attempt: Int) async throws {
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * (1 << min(attempt, 6))))))
    }
}

/// The transaction a request runs in (`withRequestTransaction`), found by the pool's
/// `withTransaction` through a task-local value.
struct RequestTransaction: Sendable {
    @TaskLocal static var current: RequestTransaction?
    let pool: ObjectIdentifier
    let session: PostgresSession
}

/// How a transaction runs.
public struct TransactionOptions: Sendable {
    public enum Isolation: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    public var isolation: Isolation
    public var readOnly: Bool
    /// Overrides the pool's statement timeout for this transaction.
    public var statementTimeout: Duration?
    /// Transaction-local settings (`set_config(name, value, true)`), e.g. the caller's tenant.
    public var settings: [(name: String, value: String)]
    /// Attempts in all, the first included.
    public var maxAttempts: Int

    public init(
        isolation: Isolation = .readCommitted, readOnly: Bool = false, statementTimeout: Duration? = nil,
        settings: [(name: String, value: String)] = [], maxAttempts: Int = 5
    ) {
        self.isolation = isolation
        self.readOnly = readOnly
        self.statementTimeout = statementTimeout
        self.settings = settings
        self.maxAttempts = maxAttempts
    }
}
