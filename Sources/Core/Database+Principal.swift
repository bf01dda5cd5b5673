import Foundation
import Postgres

extension PostgresPool {
    /// Runs a transaction as `principal`: its identity is set transaction-locally, so the
    /// row-level security policies apply to every statement, even one that forgets its
    /// WHERE clause.
    public func transaction<T>(
        as principal: Principal, _ options: TransactionOptions = TransactionOptions(),
        _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        var options = options
        options.settings = principal.databaseSettings + options.settings
        return try await withTransaction(options, body)
    }
}

extension PostgresPool {
    /// Runs one statement as a transaction of its own as `principal`, in one round trip (see
    /// `statement(_:options:)`: for statements that may safely run twice).
    @discardableResult
    public func statement(as principal: Principal, _ sql: SQL, options: TransactionOptions = TransactionOptions()) async throws -> PostgresRows {
        var options = options
        options.settings = principal.databaseSettings + options.settings
        return try await statement(sql, options: options)
    }
}

extension PostgresPool {
    /// Runs a transaction as the system doing `job` across creditors (the assigner).
    public func transaction<T>(
        asSystemJob job: Principal.Job, _ options: TransactionOptions = TransactionOptions(),
        _ body: (PostgresTransaction) async throws -> T
    ) async throws -> T {
        var options = options
        options.settings = Principal.databaseSettings(forSystemJob: job) + options.settings
        return try await withTransaction(options, body)
    }
}

extension PostgresTransaction {
    /// From here on, acts as `job` for `creditor`: row-level security confines every statement
    /// of the rest of the transaction to that creditor, with the job's write rights.
    public func act(for job: Principal.Job, creditor: UUID) async throws {
        let settings: [SQL] = Principal.databaseSettings(for: job, creditor: creditor).map { "set_config(\($0.name), \($0.value), true)" }
        try await query("SELECT \(SQL.joined(settings, separator: ", "))")
    }
}
