import Dispatch
import NIOPosix

/// Something that runs statements: the pool (one statement per checkout), a session or a
/// transaction. Repositories take `some PostgresQueryable`.
public protocol PostgresQueryable: Sendable {
    /// Runs one statement and returns its rows (and, for writes, the affected count).
    @discardableResult
    func query(_ sql: SQL) async throws -> PostgresRows
}

extension PostgresQueryable {
    /// Runs a statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: SQL) async throws -> Int {
        try await query(sql).affectedRows
    }

    /// The single row of a statement, or nil.
    public func one(_ sql: SQL) async throws -> PostgresRow? {
        try await query(sql).one()
    }
}

/// One connection checked out of the pool, for the duration of `withConnection`.
///
/// Each call hops to the pool's dedicated threads. Cancelling the calling task sends
/// `PQcancel` to the server; the connection is then closed rather than reused.
public struct PostgresSession: PostgresQueryable, @unchecked Sendable {
    // @unchecked: the session is only valid inside `withConnection`, whose caller owns the
    // connection exclusively; calls are awaited one after another.
    let connection: PostgresConnection
    let threadPool: NIOThreadPool

    /// Runs a blocking closure against the connection on a pool thread.
    func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let connection = self.connection
        guard tryBeginUse() else {
            // Two tasks on one session would interleave calls on one PGconn and corrupt
            // libpq's state: a programming error, stopped in debug builds, refused in release.
            assertionFailure("a PostgresSession was used by two tasks at once")
            throw PostgresError(kind: .sessionInUse, reason: "the session is already running a call for another task")
        }
        defer { endUse() }
        return try await withTaskCancellationHandler {
            try await threadPool.runIfActive { try body(connection) }
        } onCancel: {
            if connection.markCancelRequested() {
                // PQcancel opens a socket and waits: not on the cooperative pool.
                DispatchQueue.global().async { connection.sendCancel() }
            }
        }
    }

    /// Marks the session busy; false when another call is running on it.
    @_spi(Testing) public func tryBeginUse() -> Bool {
        connection.busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    @_spi(Testing) public func endUse() {
        connection.busy.store(false, ordering: .releasing)
    }

    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try await run { try $0.execute(sql) }
    }

    /// Runs trusted multi-statement SQL (migrations). Never pass input here.
    public func executeScript(_ script: String) async throws {
        try await run { try $0.executeScript(script) }
    }

    /// Streams `COPY ... FROM STDIN` data; chunk boundaries need not align with rows.
    /// - Returns: the number of rows copied.
    /// - Throws: the server's error for a bad row (the COPY is then void), or the sequence's error
    ///   (the COPY is aborted).
    public func copyFrom<S: AsyncSequence>(_ sql: SQL, chunks: S) async throws -> Int where S.Element == [UInt8] {
        try await run { try $0.beginCopy(sql) }
        do {
            // Double-buffered: while a pool thread sends one chunk (and waits when the server is
            // behind), this task produces the next, so producing and the server's work overlap.
            // At most two chunks are held.
            try await withThrowingTaskGroup(of: Void.self) { sending in
                var inFlight = false
                do {
                    for try await chunk in chunks {
                        if inFlight { try await sending.next() }
                        sending.addTask { try await self.run { connection in try chunk.withUnsafeBytes { try connection.putCopyData($0) } } }
                        inFlight = true
                    }
                } catch {
                    // The sequence failed: let the chunk in flight finish (cancelling it would
                    // cancel the statement and cost the connection), then abort the COPY below.
                    if inFlight { _ = try? await sending.next() }
                    throw error
                }
                try await sending.waitForAll()
            }
        } catch {
            _ = try? await run { try $0.endCopy(abortReason: "aborted by the client") }
            throw error
        }
        return try await run { try $0.endCopy() }
    }

    /// Runs one statement and hands its rows to `body` a chunk at a time, as the server sends
    /// them (libpq's single-row mode), so a report of millions of rows is never held whole:
    /// memory is one chunk. `body` runs on the caller's task between chunks and must not run
    /// statements on this session (the statement is still in progress); when it throws, the
    /// statement is cancelled and the connection is not reused.
    /// - Returns: the number of rows read.
    @discardableResult
    public func stream(_ sql: SQL, chunkSize: Int = 1000, _ body: (PostgresRows) async throws -> Void) async throws -> Int {
        precondition(chunkSize > 0, "chunkSize must be positive")
        try await run { try $0.sendQuery(sql) }
        var total = 0
        do {
            while true {
                let (rows, finished) = try await run { try $0.nextRows(limit: chunkSize) }
                if !rows.isEmpty {
                    total += rows.count
                    try await body(rows)
                }
                if finished { return total }
            }
        } catch {
            // A server error has already consumed the statement; anything else (the consumer, a
            // cancelled task) leaves rows in flight: cancel them so the session can roll back.
            _ = try? await threadPool.runIfActive { [connection] in if connection.isBusy { connection.abandonRows() } }
            throw error
        }
    }

    func transaction<T>(
        _ options: TransactionOptions, defaultTimeout: Duration, _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        // Sent with the transaction's first statement (one round trip for the three), or alone
        // before anything else; never when the body sends nothing.
        connection.pendingOpening = try Self.opening(options, defaultTimeout: defaultTimeout)
        defer { connection.pendingOpening = nil }
        do {
            let result = try await runBody(options, defaultTimeout: defaultTimeout, settingsDone: true, body)
            if connection.pendingOpening != nil { return result }
            do {
                try await executeScript("COMMIT")
            } catch let error as PostgresError where error.isConnectionLoss {
                throw PostgresError(
                    kind: .commitOutcomeUnknown, sqlState: error.sqlState,
                    reason: "the connection was lost during COMMIT; the outcome is unknown")
            }
            return result
        } catch {
            if connection.inTransaction, !Task.isCancelled {
                _ = try? await executeScript("ROLLBACK")
            }
            throw error
        }
    }
}

extension PostgresSession {
    /// A transaction's BEGIN and the SELECT of its settings. The settings travel with the BEGIN
    /// (the values are the service's own: timeouts, IDs, role names; quoted as literals, NUL
    /// refused).
    static func opening(_ options: TransactionOptions, defaultTimeout: Duration) throws -> (begin: String, settings: String) {
        var begin = "BEGIN ISOLATION LEVEL \(options.isolation.rawValue)"
        if options.readOnly { begin += " READ ONLY" }
        let timeout = options.statementTimeout ?? defaultTimeout
        let settings = [("statement_timeout", String(timeout.milliseconds))] + options.settings.map { ($0.name, $0.value) }
        guard settings.allSatisfy({ !$0.0.contains("\u{0}") && !$0.1.contains("\u{0}") }) else {
            throw PostgresError(kind: .invalidParameter, reason: "a transaction setting contains a NUL character")
        }
        func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        return (begin, "SELECT " + settings.map { "set_config(\(literal($0.0)), \(literal($0.1)), true)" }.joined(separator: ", "))
    }

    /// One statement as a whole transaction, with the options' settings: BEGIN, settings,
    /// statement and COMMIT in one pipeline, one round trip. A failed statement is rolled back.
    func statement(_ options: TransactionOptions, defaultTimeout: Duration, _ sql: SQL) async throws -> PostgresRows {
        connection.pendingOpening = try Self.opening(options, defaultTimeout: defaultTimeout)
        defer { connection.pendingOpening = nil }
        do {
            return try await run { try $0.execute(sql, committing: true) }
        } catch {
            if connection.inTransaction, !Task.isCancelled {
                _ = try? await executeScript("ROLLBACK")
            }
            throw error
        }
    }

    /// Sets the statement timeout and the options' settings transaction-locally, runs `body`,
    /// and refuses to go on when a statement failed inside it and the caller went on (COMMIT or
    /// RELEASE would then silently roll back, or fail).
    fileprivate func runBody<T>(
        _ options: TransactionOptions, defaultTimeout: Duration, settingsDone: Bool = false, _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        if !settingsDone {
            let timeout = options.statementTimeout ?? defaultTimeout
            var setup: [SQL] = ["set_config('statement_timeout', \(String(timeout.milliseconds)), true)"]
            for setting in options.settings {
                setup.append("set_config(\(setting.name), \(setting.value), true)")
            }
            try await query("SELECT \(SQL.joined(setup, separator: ", "))")
        }
        let result = try await body(PostgresTransaction(session: self))
        if connection.transactionFailed {
            throw PostgresError(kind: .protocolViolation, reason: "the transaction failed earlier; refusing to commit")
        }
        return result
    }

    /// Runs `body` under a savepoint of the transaction in progress, with the options'
    /// settings and statement timeout set locally and put back after; rolled back to the
    /// savepoint when `body` throws (which also puts the settings back).
    func savepoint<T>(
        _ options: TransactionOptions, defaultTimeout: Duration, _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        let names = ["statement_timeout"] + options.settings.map(\.name)
        let previous = try await query(
            "SELECT \(SQL.joined(names.enumerated().map { "current_setting(\($1), true) AS s\(unsafeRaw: String($0))" }, separator: ", "))"
        ).one()
        let restore: [SQL] = try names.enumerated().map { index, name in
            let value = try previous?.decode(String?.self, "s\(index)") ?? ""
            return "set_config(\(name), \(value), true)"
        }
        try await executeScript("SAVEPOINT relance_joined")
        do {
            let result = try await runBody(options, defaultTimeout: defaultTimeout, body)
            try await executeScript("RELEASE SAVEPOINT relance_joined")
            try await query("SELECT \(SQL.joined(restore, separator: ", "))")
            return result
        } catch {
            if connection.inTransaction, !Task.isCancelled {
                _ = try? await executeScript("ROLLBACK TO SAVEPOINT relance_joined; RELEASE SAVEPOINT relance_joined")
            }
            throw error
        }
    }
}

/// A transaction in progress; valid only inside `withTransaction`.
public struct PostgresTransaction: PostgresQueryable {
    public let session: PostgresSession

    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try await session.query(sql)
    }

    public func copyFrom<S: AsyncSequence>(_ sql: SQL, chunks: S) async throws -> Int where S.Element == [UInt8] {
        try await session.copyFrom(sql, chunks: chunks)
    }

    /// The statement's rows a chunk at a time (`PostgresSession.stream`), for reports and exports.
    @discardableResult
    public func stream(_ sql: SQL, chunkSize: Int = 1000, _ body: (PostgresRows) async throws -> Void) async throws -> Int {
        try await session.stream(sql, chunkSize: chunkSize, body)
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
