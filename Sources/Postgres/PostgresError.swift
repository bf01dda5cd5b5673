/// An error from the database layer.
///
/// `description` is safe to log and to show: it carries the SQLSTATE, its class and schema
/// names (constraint, table, column) but never the server's message, which can quote row data
/// such as `Key (email)=(jeanne@example.fr)`. The full server text is only in `debugDescription`,
/// for a developer at a terminal.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Where the error came from.
    public enum Kind: String, Sendable {
        /// The server answered with an error (see `sqlState`).
        case server
        /// Connecting failed or the connection broke.
        case connection
        /// No connection could be had from the pool in time.
        case poolTimeout
        /// The pool is shut down.
        case poolClosed
        /// A value could not be decoded into the requested Swift type.
        case decoding
        /// COMMIT was sent but the connection broke before the answer: the outcome is unknown.
        case commitOutcomeUnknown
        /// libpq reported something the layer did not expect.
        case protocolViolation
        /// A parameter cannot be sent as given (a text value holding NUL); nothing was sent.
        case invalidParameter
        /// The session is already running a call for another task (a programming error).
        case sessionInUse
    }

    public var kind: Kind
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    /// Schema names reported by the server: safe to log.
    public var constraint: String?
    public var table: String?
    public var column: String?
    /// A short message written by this layer (never row data).
    public var reason: String
    /// The server's primary message and detail: may quote personal data, never logged.
    var serverMessage: String?
    var serverDetail: String?

    init(
        kind: Kind, sqlState: String? = nil, reason: String, constraint: String? = nil,
        table: String? = nil, column: String? = nil, serverMessage: String? = nil, serverDetail: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.reason = reason
        self.constraint = constraint
        self.table = table
        self.column = column
        self.serverMessage = serverMessage
        self.serverDetail = serverDetail
    }

    /// The SQLSTATE codes the application acts upon.
    public enum Code: Sendable, Equatable {
        case uniqueViolation
        case foreignKeyViolation
        case checkViolation
        case notNullViolation
        case serializationFailure
        case deadlockDetected
        case queryCanceled
        case lockNotAvailable
        case insufficientPrivilege
        case connectionFailure
        case adminShutdown
        case invalidTextRepresentation
        case other(String)
    }

    /// The classified SQLSTATE (connection errors without one count as `connectionFailure`).
    public var code: Code {
        guard let state = sqlState else {
            return kind == .connection ? .connectionFailure : .other("")
        }
        switch state {
        case "23505": return .uniqueViolation
        case "23503": return .foreignKeyViolation
        case "23514": return .checkViolation
        case "23502": return .notNullViolation
        case "40001": return .serializationFailure
        case "40P01": return .deadlockDetected
        case "57014": return .queryCanceled
        case "55P03": return .lockNotAvailable
        case "42501": return .insufficientPrivilege
        case "22P02": return .invalidTextRepresentation
        case "57P01", "57P02", "57P03": return .adminShutdown
        default:
            return state.hasPrefix("08") ? .connectionFailure : .other(state)
        }
    }

    /// True when the connection is gone (class 08, admin shutdown, or a broken socket).
    public var isConnectionLoss: Bool {
        // A COMMIT whose answer was lost may have been applied: never treat it as retryable.
        if kind == .commitOutcomeUnknown { return false }
        if kind == .connection { return true }
        switch code {
        case .connectionFailure, .adminShutdown: return true
        default: return false
        }
    }

    /// SQLSTATE 25006 on a transaction that was not declared read-only: the server is a standby
    /// now (a primary demoted after failover). The connection is discarded; a new one may reach
    /// the new primary.
    public var isReadOnlyServer: Bool { sqlState == "25006" }

    /// True when re-running the whole transaction is safe and may succeed.
    public var isTransientTransactionFailure: Bool {
        switch code {
        case .serializationFailure, .deadlockDetected: return true
        default: return false
        }
    }

    public var description: String {
        var parts = ["PostgresError.\(kind.rawValue)"]
        if let sqlState { parts.append("sqlstate=\(sqlState)") }
        if let table { parts.append("table=\(table)") }
        if let column { parts.append("column=\(column)") }
        if let constraint { parts.append("constraint=\(constraint)") }
        parts.append(reason)
        return parts.joined(separator: " ")
    }

    public var debugDescription: String {
        var text = description
        if let serverMessage { text += "\n  message: \(serverMessage)" }
        if let serverDetail { text += "\n  detail: \(serverDetail)" }
        return text
    }
}

/// A value that could not be decoded; names the column, never the value.
extension PostgresError {
    static func decoding(column: String, expected: String, actualType: UInt32, why: String = "type mismatch") -> PostgresError {
        PostgresError(
            kind: .decoding,
            reason: "cannot decode column '\(column)' (type oid \(actualType)) as \(expected): \(why)",
            column: column
        )
    }
}
