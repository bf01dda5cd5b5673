import App
import Foundation
import HTTPTypes
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// The answer to an Idempotency-Key request commits with the write it describes: a failure
/// between the two can leave neither, never the write alone (a retry under the same key would
/// then answer "still running" for good, and one under a new key would create a second).
@Suite("Idempotency-Key under faults")
struct IdempotencyFaultTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    @Test func aWriteWhoseAnswerCannotBeStoredIsNotKept() async throws {
        try await withRouter { client, fixtures, _, _ in
            let token = try await client.login(try await fixtures.user(.admin))
            // The answer's record fails after the creditor was written, as a crash there would.
            try await fixtures.admin.execute(
                """
                CREATE FUNCTION refuse_answer() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'no answer stored'; END $$
                """)
            try await fixtures.admin.execute(
                "CREATE TRIGGER refuse_answer BEFORE INSERT OR UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION refuse_answer()")
            let body: [String: Any] = ["legalName": "Sans Réponse SARL", "siren": "732829320"]
            let failed = try await client.call(.post, "/v1/creditors", bearer: token, json: body, headers: [Self.key: "fault-1"])
            #expect(failed.status == 500)
            func creditors() async throws -> Int {
                try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM creditors WHERE legal_name = 'Sans Réponse SARL'")!.decode(Int.self, "n")
            }
            #expect(try await creditors() == 0)
            try await fixtures.admin.execute("DROP TRIGGER refuse_answer ON idempotency_keys")
            // The retry with the same key runs the request for the first time, once.
            let retried = try await client.call(.post, "/v1/creditors", bearer: token, json: body, headers: [Self.key: "fault-1"])
            #expect(retried.status == 201)
            #expect(retried.headers[.init("Idempotent-Replayed")!] == nil)
            let replayed = try await client.call(.post, "/v1/creditors", bearer: token, json: body, headers: [Self.key: "fault-1"])
            #expect(replayed.status == 201)
            #expect(replayed.text == retried.text)
            #expect(try await creditors() == 1)
            // The creditor's audit entry went with it: one creation audited, not two.
            let audited = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM audit_log WHERE action = 'creditor.create'")!
            #expect(try audited.decode(Int.self, "n") == 1)
        }
    }

    /// A request whose connection dies mid-way (a crashed or restarted PostgreSQL, a killed
    /// server) leaves its key free: nothing was committed.
    @Test func aKeyLeftInProgressByAnEarlierVersionIsReleased() async throws {
        try await withRouter { client, fixtures, _, _ in
            let admin = try await fixtures.user(.admin)
            let token = try await client.login(admin)
            try await fixtures.admin.execute(
                """
                INSERT INTO idempotency_keys (principal, key, request_hash, state)
                VALUES (\("staff:" + admin.id.uuidString.lowercased()), 'stuck-1', '\\x00'::bytea, 'in_progress')
                """)
            let reply = try await client.call(
                .post, "/v1/creditors", bearer: token, json: ["legalName": "Débloquée SAS", "siren": "732829320"], headers: [Self.key: "stuck-1"])
            #expect(reply.status == 201, "\(reply.text)")
        }
    }

    @Test func keysExpireAfterADay() async throws {
        try await TestApp.withApp { _, pool, database in
            let admin = PostgresPool(configuration: .init(conninfo: database.adminURL, maxConnections: 1))
            try await admin.execute(
                """
                INSERT INTO idempotency_keys (principal, key, request_hash, state, status, created_at) VALUES
                ('staff:a', 'old', '\\x00'::bytea, 'done', 201, now() - interval '25 hours'),
                ('staff:a', 'new', '\\x00'::bytea, 'done', 201, now() - interval '23 hours')
                """)
            let swept = try await IdempotencySweeper(pool: pool, logger: .init(label: "test")).sweep()
            #expect(swept == 1)
            let left = try await admin.query("SELECT key FROM idempotency_keys ORDER BY key").map { try $0.decode(String.self, "key") }
            #expect(left == ["new"])
            try await admin.close()
        }
    }
}
