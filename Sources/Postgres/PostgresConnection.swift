import CLibPQ
import Foundation
import Synchronization

/// One libpq connection. Every method here blocks the calling thread: call them only from the
/// pool's dedicated threads (`PostgresPool` does), never from Swift's cooperative pool.
///
/// `@unchecked Sendable`: a `PGconn` must never be used by two threads at once. The pool hands
/// a connection to one caller at a time and that caller runs one blocking call at a time, so
/// accesses are serialised. The only cross-thread call is `requestCancel()`, which uses
/// libpq's `PGcancel` object, documented as safe to use from another thread.
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    /// libpq's cancel object, freed by `close()`; the mutex keeps a cancel being sent from
    /// another thread and `close()` apart.
    private let cancelHandle: Mutex<CancelHandle>
    /// Set when a cancel was sent: the connection is then closed, not reused, so a late cancel
    /// cannot hit the next caller's query.
    private let cancelRequested = Atomic<Bool>(false)
    /// Set when the server said this session can no longer be trusted for writes (SQLSTATE
    /// 25006 outside a read-only transaction: a primary demoted after failover): the
    /// connection is closed, not reused, so the next checkout reaches the new primary.
    private let discardRequested = Atomic<Bool>(false)
    /// True while a call runs on this connection: libpq's `PGconn` must never see two at once.
    let busy = Atomic<Bool>(false)
    private var finished = false
    let id: Int
    /// Statements prepared on this session, by text and parameter types, and the next name: the
    /// server parses and plans a statement once per session (keeping a generic plan when it is
    /// as good) instead of at every call; row-level security's policies, whose functions are
    /// inlined at every planning, made that most of a short statement's cost (ADR 0014). Only
    /// the caller holding the connection touches them (`busy`).
    private var prepared: [String: String] = [:]
    private var preparedSerial = 0
    /// Past this many, the session's statements are deallocated and prepared afresh.
    static let maxPrepared = 512
    /// A transaction's opening (its BEGIN, then the SELECT of its settings) not sent yet: it
    /// travels with the transaction's first statement, pipelined, so that opening a transaction
    /// costs no round trip of its own (ADR 0014). Anything else sent first sends it alone.
    var pendingOpening: (begin: String, settings: String)?

    private static let nextID = Atomic<Int>(1)

    /// Opens a connection from the user's conninfo string or URI exactly as given.
    ///
    /// - Parameters:
    ///   - conninfo: `postgresql://...` or `host=... dbname=...`; never rebuilt or parsed here.
    ///   - sessionSettings: SQL run once after connecting (time zone, date style, timeouts).
    /// - Throws: `PostgresError` of kind `.connection`; the half-open `PGconn` is always finished.
    public static func connect(conninfo: String, sessionSettings: String = PostgresConnection.defaultSessionSettings) throws -> PostgresConnection {
        // dbname is expanded as a conninfo/URI (expand_dbname = 1): what it sets overrides the
        // keywords before it and is overridden by those after. Before it, network defaults the
        // connection string may change; after it, UTF-8 and the application's name.
        let keywords = Self.networkDefaults.map(\.0) + ["dbname", "fallback_application_name", "client_encoding"]
        let values = Self.networkDefaults.map(\.1) + [conninfo, "relance", "UTF8"]
        let conn: OpaquePointer? = withArrayOfCStrings(keywords) { kw in
            withArrayOfCStrings(values) { vals in
                PQconnectdbParams(kw, vals, 1)
            }
        }
        guard let conn else {
            throw PostgresError(kind: .connection, sqlState: "08001", reason: "libpq could not allocate a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(kind: .connection, sqlState: "08001", reason: "could not connect to PostgreSQL", serverMessage: message)
        }
        let connection = PostgresConnection(handle: conn)
        do {
            try connection.executeScript(sessionSettings)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Without these a connection to a host that vanished (a failover, a cut link) hangs for the
    /// kernel's defaults: minutes for a connect, up to two hours for a dead idle socket, about
    /// fifteen minutes for unacknowledged writes. The connection string overrides any of them.
    public static let networkDefaults: [(String, String)] = [
        ("connect_timeout", "10"),
        ("keepalives", "1"),
        ("keepalives_idle", "30"),
        ("keepalives_interval", "10"),
        ("keepalives_count", "3"),
        ("tcp_user_timeout", "60000"),
    ]

    /// UTC everywhere, ISO output the decoders expect, and bounds on runaway statements.
    public static let defaultSessionSettings =
        "SET TIME ZONE 'UTC'; SET datestyle TO ISO, YMD; SET intervalstyle TO postgres; "
        + "SET bytea_output TO hex; SET client_min_messages TO warning; SET statement_timeout TO '30s'; "
        + "SET idle_in_transaction_session_timeout TO '120s'"

    private init(handle: OpaquePointer) {
        self.handle = handle
        self.cancelHandle = Mutex(CancelHandle(pointer: PQgetCancel(handle)))
        self.id = Self.nextID.add(1, ordering: .relaxed).oldValue
    }

    deinit {
        close()
    }

    /// Closes the connection; safe to call twice. Never waits for a cancel being delivered: a
    /// cancel in flight owns libpq's cancel object and frees it itself.
    public func close() {
        guard !finished else { return }
        finished = true
        if let pointer = takeCancelHandle() { PQfreeCancel(pointer) }
        PQfinish(handle)
    }

    /// libpq's cancel object, taken out under the lock so it is freed once, by whoever took it.
    private func takeCancelHandle() -> OpaquePointer? {
        cancelHandle.withLock { cancel in
            defer { cancel.pointer = nil }
            return cancel.pointer
        }
    }

    /// True when libpq still considers the connection usable and no cancel is pending.
    public var isReusable: Bool {
        !finished && !cancelRequested.load(ordering: .acquiring) && !discardRequested.load(ordering: .acquiring)
            && PQstatus(handle) == CONNECTION_OK
            && PQtransactionStatus(handle) == PQTRANS_IDLE
            && PQpipelineStatus(handle) == PQ_PIPELINE_OFF && pendingOpening == nil
    }

    /// True inside a transaction block (also when the transaction failed).
    public var inTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Checks an idle connection without a round trip. An idle connection receives nothing
    /// unless the server is closing it (`pg_terminate_backend`, restart): if its socket is
    /// readable, let libpq read, and see whether the connection survived.
    /// Non-blocking (poll with a zero timeout), so it may run anywhere.
    public func looksAlive() -> Bool {
        guard !finished, PQstatus(handle) == CONNECTION_OK else { return false }
        let fd = PQsocket(handle)
        guard fd >= 0 else { return false }
        // A terminated backend sends a FATAL error, then closes: reading may take two rounds
        // (the message, then end of file) before libpq marks the connection bad.
        for _ in 0..<4 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 0)
            if ready < 0 { return false }
            if ready == 0 { break }
            if pfd.revents & Int16(POLLERR | POLLNVAL) != 0 { return false }
            if PQconsumeInput(handle) == 0 { return false }
            while let notify = PQnotifies(handle) { PQfreemem(notify) }
            if PQstatus(handle) != CONNECTION_OK { return false }
        }
        return PQstatus(handle) == CONNECTION_OK && PQisBusy(handle) == 0
    }

    /// Marks the connection as cancelled (it will not be reused).
    /// - Returns: true the first time, when the caller should then `sendCancel()`.
    func markCancelRequested() -> Bool {
        !cancelRequested.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// Asks the server to cancel the running statement. Callable from any thread; blocks
    /// while the cancel request is delivered, so call it off the cooperative pool.
    /// The cancel object is taken out under the lock and used outside it (PQcancel opens a
    /// socket and may wait on the network), so `close()` never waits behind it. A connection is
    /// cancelled at most once (`markCancelRequested`), so nothing needs the object after.
    func sendCancel() {
        guard let pointer = takeCancelHandle() else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(pointer, &buffer, Int32(buffer.count))
        PQfreeCancel(pointer)
    }

    /// The connection's effective value of a connection option (`keepalives_idle`), for tests
    /// and diagnostics; nil when unset.
    public func connectionOption(_ name: String) -> String? {
        guard let options = PQconninfo(handle) else { return nil }
        defer { PQconninfoFree(options) }
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            if String(cString: keyword) == name {
                return cursor.pointee.val.map { String(cString: $0) }
            }
            cursor += 1
        }
        return nil
    }

    /// True while a statement's results are still arriving (a stream not read to its end).
    var isBusy: Bool { PQisBusy(handle) == 1 || PQtransactionStatus(handle) == PQTRANS_ACTIVE }

    /// True when the current transaction block has failed: COMMIT would silently roll back.
    public var transactionFailed: Bool { PQtransactionStatus(handle) == PQTRANS_INERROR }

    // MARK: - Statements

    /// Runs one statement with bound parameters and returns its rows.
    ///
    /// Parameter bytes are copied into one buffer that lives until `PQexecParams` returns.
    /// - Throws: `PostgresError` with the SQLSTATE on a server error, `.connection` when the
    ///   connection broke.
    public func execute(_ sql: SQL) throws -> PostgresRows {
        try execute(sql, committing: false)
    }

    /// `execute`; with `committing`, a COMMIT goes in the same pipeline as the statement (and the
    /// pending opening): a whole transaction of one statement in one round trip.
    func execute(_ sql: SQL, committing: Bool) throws -> PostgresRows {
        let (text, binds) = sql.render()
        try Self.checkTextParameters(binds)
        let count = binds.count
        let name = try preparedName(text, binds)
        do {
            if let opening = pendingOpening {
                pendingOpening = nil
                return try executeOpening(opening, thenPrepared: name, binds, committing: committing)
            }
            precondition(!committing, "a committed statement opens its own transaction")
            let result: OpaquePointer? = withParameters(binds) { types, values, lengths, formats in
                PQexecPrepared(handle, name, Int32(count), values, lengths, formats, 0)
            }
            return try consume(result)
        } catch let error as PostgresError where error.sqlState == "0A000" || error.sqlState == "26000" {
            // A plan the schema made stale ("cached plan must not change result type"), or a
            // statement the session no longer has: prepared afresh next time.
            prepared.removeAll()
            throw error
        }
    }

    /// Sends the transaction's opening and its first statement in one pipeline (one round trip):
    /// BEGIN, the settings' SELECT, the prepared statement, with `committing` a COMMIT, then a
    /// sync. Each result is read; the first error is thrown (after an error the server skips the
    /// rest up to the sync: a failed BEGIN or settings leaves no statement run, a failed
    /// statement no COMMIT, and the transaction failed, to be rolled back).
    private func executeOpening(
        _ opening: (begin: String, settings: String), thenPrepared name: String, _ binds: [PostgresBind], committing: Bool
    ) throws -> PostgresRows {
        let expected = committing ? 4 : 3
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError("could not enter pipeline mode") }
        let count = binds.count
        let sent =
            PQsendQueryParams(handle, opening.begin, 0, nil, nil, nil, nil, 0) == 1
            && PQsendQueryParams(handle, opening.settings, 0, nil, nil, nil, nil, 0) == 1
            && withParameters(binds, { _, values, lengths, formats in
                PQsendQueryPrepared(handle, name, Int32(count), values, lengths, formats, 0)
            }) == 1
            && (!committing || PQsendQueryParams(handle, "COMMIT", 0, nil, nil, nil, nil, 0) == 1)
            && PQpipelineSync(handle) == 1
        guard sent else {
            _ = PQexitPipelineMode(handle)
            throw connectionError("could not send the transaction's first statement")
        }
        var outcomes: [Result<PostgresRows, any Error>] = []
        var synced = false
        var separators = 0
        // Each statement's result followed by a nil, then the sync. A broken connection ends the
        // reading early (libpq then marks it bad and the pool discards it).
        while !synced, outcomes.count <= expected {
            guard let result = PQgetResult(handle) else {
                separators += 1
                if PQstatus(handle) != CONNECTION_OK || separators > expected { break }
                continue
            }
            switch PQresultStatus(result) {
            case PGRES_PIPELINE_SYNC:
                PQclear(result)
                synced = true
            case PGRES_PIPELINE_ABORTED:
                PQclear(result)
                outcomes.append(.failure(PostgresError(kind: .protocolViolation, reason: "statement skipped after an earlier error")))
            default:
                outcomes.append(Result { try consume(result) })
            }
        }
        guard synced, PQexitPipelineMode(handle) == 1 else {
            if let failure = outcomes.lazy.compactMap({ if case .failure(let error) = $0 { error } else { nil } }).first { throw failure }
            throw connectionError("the connection was lost during the transaction's first statement")
        }
        guard outcomes.count == expected else {
            throw PostgresError(kind: .protocolViolation, reason: "\(outcomes.count) results for a pipeline of \(expected) statements")
        }
        for outcome in outcomes { _ = try outcome.get() }
        return try outcomes[2].get()
    }

    /// Sends the transaction's opening alone, when what comes first is not a prepared statement.
    func sendPendingOpening() throws {
        guard let opening = pendingOpening else { return }
        pendingOpening = nil
        _ = try consume(PQexec(handle, opening.begin + "; " + opening.settings))
    }

    /// The name of `text` prepared on this session with these parameter types, preparing it
    /// the first time.
    private func preparedName(_ text: String, _ binds: [PostgresBind]) throws -> String {
        let key = binds.isEmpty ? text : text + "\u{1}" + binds.map { String($0.type) }.joined(separator: ",")
        if let name = prepared[key] { return name }
        if prepared.count >= Self.maxPrepared, PQtransactionStatus(handle) != PQTRANS_INERROR {
            _ = try consume(PQexec(handle, "DEALLOCATE ALL"))
            prepared.removeAll()
        }
        preparedSerial += 1
        let name = "r\(preparedSerial)"
        let result: OpaquePointer? = withParameters(binds) { types, _, _, _ in
            PQprepare(handle, name, text, Int32(binds.count), types)
        }
        _ = try consume(result)
        prepared[key] = name
        return name
    }

    /// Text parameters travel as C strings: a NUL would cut the value there, so the server would
    /// store or compare something other than what the caller holds. Refused before sending.
    /// - Throws: `PostgresError` of kind `.invalidParameter` naming the parameter's position.
    static func checkTextParameters(_ binds: [PostgresBind]) throws {
        for (index, bind) in binds.enumerated() where !bind.isBinary {
            if let bytes = bind.bytes, bytes.contains(0) {
                throw PostgresError(
                    kind: .invalidParameter, reason: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold")
            }
        }
    }

    /// Runs trusted SQL text with several statements (migrations, session setup) through the
    /// simple query protocol. Never pass input here: there are no parameters.
    public func executeScript(_ script: String) throws {
        try sendPendingOpening()
        let result = PQexec(handle, script)
        _ = try consume(result)
        // A multi-statement PQexec returns only the last result; errors stop at the first.
    }

    private func consume(_ result: OpaquePointer?) throws -> PostgresRows {
        guard let result else {
            throw connectionError("no result from libpq")
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(columns: PostgresColumns(names: [], types: []), rows: [], affectedRows: Self.affected(result))
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            return Self.copyRows(result)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw serverError(result)
        default:
            throw PostgresError(kind: .protocolViolation, reason: "unexpected result status \(PQresultStatus(result).rawValue)")
        }
    }

    private static func affected(_ result: OpaquePointer) -> Int {
        guard let text = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// The rows of a result; `known`, the columns of an earlier result of the same statement
    /// (single-row mode), is shared rather than read again.
    private static func copyRows(_ result: OpaquePointer, columns known: PostgresColumns? = nil) -> PostgresRows {
        let nFields = Int(PQnfields(result))
        let nTuples = Int(PQntuples(result))
        let columns = known ?? {
            var names: [String] = []
            var types: [UInt32] = []
            names.reserveCapacity(nFields)
            for c in 0..<nFields {
                names.append(String(cString: PQfname(result, Int32(c))))
                types.append(PQftype(result, Int32(c)))
            }
            return PostgresColumns(names: names, types: types)
        }()
        var rows: [PostgresRow] = []
        rows.reserveCapacity(nTuples)
        for r in 0..<nTuples {
            var values: [String?] = []
            values.reserveCapacity(nFields)
            for c in 0..<nFields {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(r), Int32(c)))
                    let pointer = PQgetvalue(result, Int32(r), Int32(c))!
                    values.append(pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
                        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                    })
                }
            }
            rows.append(PostgresRow(columns: columns, values: values))
        }
        return PostgresRows(columns: columns, rows: rows, affectedRows: affected(result))
    }

    func serverError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let p = PQresultErrorField(result, code) else { return nil }
            return String(cString: p)
        }
        let state = field(Int32(UInt8(ascii: "C")))  // PG_DIAG_SQLSTATE
        var error = PostgresError(
            kind: .server,
            sqlState: state,
            reason: "the server rejected the statement",
            constraint: field(Int32(UInt8(ascii: "n"))),  // PG_DIAG_CONSTRAINT_NAME
            table: field(Int32(UInt8(ascii: "t"))),  // PG_DIAG_TABLE_NAME
            column: field(Int32(UInt8(ascii: "c"))),  // PG_DIAG_COLUMN_NAME
            serverMessage: field(Int32(UInt8(ascii: "M"))),  // PG_DIAG_MESSAGE_PRIMARY
            serverDetail: field(Int32(UInt8(ascii: "D")))  // PG_DIAG_MESSAGE_DETAIL
        )
        if error.isReadOnlyServer {
            discardRequested.store(true, ordering: .releasing)
        }
        if PQstatus(handle) != CONNECTION_OK {
            error.kind = .connection
            if error.sqlState == nil { error.sqlState = "08006" }
            error.reason = "the connection was lost"
        }
        return error
    }

    func connectionError(_ reason: String) -> PostgresError {
        PostgresError(
            kind: .connection, sqlState: "08006", reason: reason,
            serverMessage: String(cString: PQerrorMessage(handle)))
    }

    // MARK: - Rows read a chunk at a time

    /// Sends one statement and puts the connection in single-row mode: the server's rows are
    /// then read as they arrive (`nextRows`), never all held at once. Follow with `nextRows`
    /// until it says the result is finished, or `abandonRows`.
    func sendQuery(_ sql: SQL) throws {
        try sendPendingOpening()
        let (text, binds) = sql.render()
        try Self.checkTextParameters(binds)
        let count = binds.count
        let sent = withParameters(binds) { types, values, lengths, formats in
            PQsendQueryParams(handle, text, Int32(count), types, values, lengths, formats, 0)
        }
        guard sent == 1 else { throw connectionError("could not send the statement") }
        guard PQsetSingleRowMode(handle) == 1 else {
            abandonRows()
            throw PostgresError(kind: .protocolViolation, reason: "single-row mode refused")
        }
    }

    /// Up to `limit` rows of the statement `sendQuery` sent, blocking until they arrive.
    /// - Returns: the rows, and whether the statement's result is finished (nothing more to read).
    /// - Throws: the server's error (the statement stopped; what was read before stays valid).
    func nextRows(limit: Int) throws -> (rows: PostgresRows, finished: Bool) {
        var columns: PostgresColumns?
        var rows: [PostgresRow] = []
        rows.reserveCapacity(limit)
        while rows.count < limit {
            guard let result = PQgetResult(handle) else {
                return (PostgresRows(columns: columns ?? PostgresColumns(names: [], types: []), rows: rows, affectedRows: 0), true)
            }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_SINGLE_TUPLE:
                let one = Self.copyRows(result, columns: columns)
                columns = one.columns
                rows.append(contentsOf: one.rows)
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                // The end of the rows (an empty result carrying the columns): next comes nil.
                continue
            case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
                let error = serverError(result)
                while let rest = PQgetResult(handle) { PQclear(rest) }
                throw error
            default:
                let status = PQresultStatus(result).rawValue
                while let rest = PQgetResult(handle) { PQclear(rest) }
                throw PostgresError(kind: .protocolViolation, reason: "unexpected result status \(status)")
            }
        }
        return (PostgresRows(columns: columns ?? PostgresColumns(names: [], types: []), rows: rows, affectedRows: 0), false)
    }

    /// Stops reading a statement's rows before their end: the server is asked to cancel it and
    /// what it still sends is discarded, so the connection can roll back. The connection is not
    /// reused after (as after any cancel). Blocks while the cancel request is delivered.
    func abandonRows() {
        if markCancelRequested() { sendCancel() }
        while let rest = PQgetResult(handle) { PQclear(rest) }
    }

    // MARK: - COPY FROM STDIN

    /// Starts `COPY ... FROM STDIN`. Follow with `putCopyData` calls and one `endCopy`.
    public func beginCopy(_ sql: SQL) throws {
        let (text, binds) = sql.render()
        guard binds.isEmpty else {
            throw PostgresError(kind: .protocolViolation, reason: "COPY statements take no parameters")
        }
        try sendPendingOpening()
        guard let result = PQexec(handle, text) else { throw connectionError("no result for COPY") }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COPY_IN else {
            if PQresultStatus(result) == PGRES_FATAL_ERROR { throw serverError(result) }
            throw PostgresError(kind: .protocolViolation, reason: "statement did not start COPY FROM STDIN")
        }
    }

    /// Sends one chunk of COPY data (any split of the stream is fine).
    public func putCopyData(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        let status = PQputCopyData(handle, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        if status != 1 { throw connectionError("COPY data could not be sent") }
    }

    /// Ends COPY; with an `abortReason` the server discards everything sent.
    /// - Returns: the number of rows copied.
    @discardableResult
    public func endCopy(abortReason: String? = nil) throws -> Int {
        let status: Int32
        if let abortReason {
            status = PQputCopyEnd(handle, abortReason)
        } else {
            status = PQputCopyEnd(handle, nil)
        }
        if status != 1 { throw connectionError("COPY could not be ended") }
        var firstError: PostgresError? = nil
        var rows = 0
        while let result = PQgetResult(handle) {
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK:
                rows = Self.affected(result)
            case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
                if firstError == nil { firstError = serverError(result) }
            default:
                break
            }
            PQclear(result)
        }
        if let firstError { throw firstError }
        if PQstatus(handle) != CONNECTION_OK { throw connectionError("connection lost during COPY") }
        return rows
    }
}

/// Passes parameters to libpq as C arrays whose memory stays valid for the whole call.
private func withParameters<R>(
    _ binds: [PostgresBind],
    _ body: (
        UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
    ) -> R
) -> R {
    if binds.isEmpty { return body(nil, nil, nil, nil) }
    // One buffer holds every value followed by a NUL (text values need it; binary values
    // carry their length). It is freed only after `body` returns.
    let total = binds.reduce(0) { $0 + ($1.bytes?.count ?? 0) + 1 }
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
    defer { storage.deallocate() }
    var types: [Oid] = []
    var pointers: [UnsafePointer<CChar>?] = []
    var lengths: [Int32] = []
    var formats: [Int32] = []
    var offset = 0
    for bind in binds {
        types.append(bind.type)
        formats.append(bind.isBinary ? 1 : 0)
        guard let bytes = bind.bytes else {
            pointers.append(nil)
            lengths.append(0)
            continue
        }
        let start = storage.baseAddress! + offset
        bytes.withUnsafeBytes { src in
            if src.count > 0 { start.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
        start.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
        pointers.append(UnsafePointer(start.assumingMemoryBound(to: CChar.self)))
        lengths.append(Int32(bytes.count))
        offset += bytes.count + 1
    }
    return types.withUnsafeBufferPointer { t in
        pointers.withUnsafeBufferPointer { p in
            lengths.withUnsafeBufferPointer { l in
                formats.withUnsafeBufferPointer { f in
                    body(t.baseAddress, p.baseAddress, l.baseAddress, f.baseAddress)
                }
            }
        }
    }
}

/// A NULL-terminated array of C strings valid during `body`.
private func withArrayOfCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated = strings.map { strdup($0) }
    defer { duplicated.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = duplicated.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// libpq's `PGcancel*`. `@unchecked Sendable`: only touched under the connection's mutex.
struct CancelHandle: @unchecked Sendable {
    var pointer: OpaquePointer?
}
