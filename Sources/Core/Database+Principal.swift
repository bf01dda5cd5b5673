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
