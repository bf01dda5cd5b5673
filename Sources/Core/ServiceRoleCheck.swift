import Postgres

/// Row-level security is the second wall only if the service's database role is subject to
/// it: not a superuser, no BYPASSRLS, owner of no table. `relance serve` checks at start-up.
public enum ServiceRoleCheck {
    public struct Unsafe: Error, CustomStringConvertible {
        public let description: String
    }

    /// - Throws: `Unsafe` naming what is wrong with the connected role.
    public static func verify(_ pool: PostgresPool) async throws {
        let row = try await pool.one(
            """
            SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
                   (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND pg_has_role(current_user, c.relowner, 'USAGE'))::int8 AS owned
            FROM pg_roles r WHERE r.rolname = current_user
            """)
        guard let row else { throw Unsafe(description: "cannot read the connected role") }
        var problems: [String] = []
        if try row.decode(Bool.self, "superuser") { problems.append("is a superuser") }
        if try row.decode(Bool.self, "bypass") { problems.append("has BYPASSRLS") }
        let owned = try row.decode(Int.self, "owned")
        if owned > 0 { problems.append("owns (or inherits ownership of) \(owned) table(s)") }
        guard problems.isEmpty else {
            throw Unsafe(
                description: "RELANCE_DATABASE_URL connects as role \(try row.decode(String.self, "name")), which \(problems.joined(separator: ", ")): "
                    + "row-level security would not apply. Connect as relance_app (see Docs/operations.md).")
        }
    }
}
