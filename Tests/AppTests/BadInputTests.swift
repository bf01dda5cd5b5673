import App
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Postgres
import TestSupport
import Testing

/// Input PostgreSQL cannot store as given, and request lines a handler should never see.
@Suite("Bad input")
struct BadInputTests {
    static let nul = "\u{0}"

    /// Every field named, nothing stored: a NUL anywhere in a text value answers 400.
    @Test func aNulInAnyTextFieldIsRefusedAndNamed() async throws {
        try await withRouter { client, fixtures, _, pool in
            let admin = try await client.login(try await fixtures.user(.admin))
            let creditor = try await fixtures.creditor()
            let c = creditor.uuidString.lowercased()
            func expectRefused(_ method: HTTPRequest.Method, _ path: String, _ body: [String: Any], field: String) async throws {
                let reply = try await client.call(method, path, bearer: admin, json: body)
                #expect(reply.status == 400, "\(path): \(reply.status) \(reply.text)")
                #expect(reply.headers[.contentType] == "application/problem+json")
                let fields = ((reply.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }
                #expect(fields == [field], "\(path): \(reply.text)")
            }
            try await expectRefused(.post, "/v1/creditors/\(c)/recalls", ["references": ["INV-1", "INV\(Self.nul)2"]], field: "references[1]")
            try await expectRefused(.post, "/v1/creditors/\(c)/api-keys", ["name": "ERP\(Self.nul)x", "scopes": ["reports"]], field: "name")
            try await expectRefused(.post, "/v1/creditors/\(c)/mandates", [
                "reference": "MDT\(Self.nul)1", "signedOn": "2026-01-05", "validFrom": "2026-01-05", "powerToReceiveFunds": true,
                "feeBasis": "15 %", "remittanceBasis": "net", "remittanceFrequency": "monthly", "remittanceDaysAfterEncashment": 30,
                "insuranceReference": "RCP-2026-001",
            ], field: "reference")
            try await expectRefused(.post, "/v1/staff", [
                "email": "new.agent@relance.test", "role": "agent", "password": "A-long-enough-passphrase",
                "displayName": "Jeanne\(Self.nul)Martin",
            ], field: "displayName")
            try await expectRefused(.post, "/v1/teams", ["name": "Nord\(Self.nul)Est"], field: "name")
            try await expectRefused(.patch, "/v1/creditors/\(c)", ["address": ["city": "Paris\(Self.nul)16e"]], field: "address.city")
            // Nothing was stored cut at the NUL.
            let stored = try await pool.transaction(as: .system) { tx in
                try await tx.one(
                    """
                    SELECT (SELECT count(*) FROM api_keys WHERE name = 'ERP') AS keys,
                           (SELECT count(*) FROM mandates WHERE reference = 'MDT') AS mandates,
                           (SELECT count(*) FROM users WHERE email IN ('new.agent@relance.test', 'other.agent@relance.test')) AS users,
                           (SELECT count(*) FROM creditors WHERE city = 'Paris') AS cities
                    """)
            }
            #expect(try stored?.decode(Int.self, "keys") == 0)
            #expect(try stored?.decode(Int.self, "mandates") == 0)
            #expect(try stored?.decode(Int.self, "users") == 0)
            #expect(try stored?.decode(Int.self, "cities") == 0)
        }
    }

    /// `someone@x.fr\0<n>` was a fresh throttle key on each try while the database looked up
    /// the account: the lockout must hold whatever follows the address.
    @Test func aNulAfterTheEmailDoesNotBypassTheLockout() async throws {
        try await withRouter { client, fixtures, _, _ in
            let agent = try await fixtures.user(.agent)
            for attempt in 0..<8 {
                let reply = try await client.call(
                    .post, "/v1/auth/token", json: ["email": "\(agent.email)\(Self.nul)\(attempt)", "password": "Wrong-password-\(attempt)"])
                #expect(reply.status == 400, "\(reply.text)")
            }
            for _ in 0..<5 {
                _ = try await client.call(.post, "/v1/auth/token", json: ["email": agent.email, "password": "Wrong-password-x"])
            }
            // Locked out now, with the right password too, and a NUL suffix changes nothing.
            let locked = try await client.call(.post, "/v1/auth/token", json: ["email": agent.email, "password": Fixtures.password])
            #expect(locked.status == 429)
            let suffixed = try await client.call(.post, "/v1/auth/token", json: ["email": "\(agent.email)\(Self.nul)9", "password": Fixtures.password])
            #expect(suffixed.status == 400)
        }
    }

    /// The database layer refuses a text parameter holding NUL, whoever calls it.
    @Test func theDatabaseLayerRefusesNulInTextParameters() async throws {
        try await TestApp.withApp { _, pool, _ in
            let value = "cut\u{0}here"
            await #expect {
                try await pool.query("SELECT \(value)::text AS v")
            } throws: { error in
                (error as? PostgresError)?.kind == .invalidParameter
            }
            let list = ["fine", "not\u{0}fine"]
            await #expect {
                try await pool.query("SELECT \(list)::text[] AS v")
            } throws: { error in
                (error as? PostgresError)?.kind == .invalidParameter
            }
            // Bytes are binary and may hold any byte.
            let row = try await pool.query("SELECT length(\(PostgresBytes([0, 1, 0]))) AS n").one()
            #expect(try row?.decode(Int.self, "n") == 3)
            // And the connection is still good.
            #expect(try await pool.query("SELECT 1 AS one").one()?.decode(Int.self, "one") == 1)
        }
    }

    @Test func aNulOrARepeatInTheQueryStringIsRefused() async throws {
        try await withRouter { client, fixtures, _, _ in
            let admin = try await client.login(try await fixtures.user(.admin))
            let repeated = try await client.call(.get, "/v1/creditors?limit=10&limit=-5", bearer: admin)
            #expect(repeated.status == 400)
            #expect(repeated.text.contains("\"field\":\"limit\""))
            let nul = try await client.call(.get, "/v1/creditors?limit=1%00", bearer: admin)
            #expect(nul.status == 400)
            #expect(nul.text.contains("\"field\":\"limit\""))
            let inPath = try await client.call(.get, "/v1/creditors/abc%00def", bearer: admin)
            #expect(inPath.status == 400)
            #expect(inPath.text.contains("\"field\":\"path\""))
            let once = try await client.call(.get, "/v1/creditors?limit=10", bearer: admin)
            #expect(once.status == 200)
        }
    }

    @Test func aJSONBodyWithoutAContentTypeIs415() async throws {
        try await withRouter { client, fixtures, _, _ in
            let admin = try await client.login(try await fixtures.user(.admin))
            let reply = try await client.execute(
                uri: "/v1/creditors", method: .post, headers: [.authorization: "Bearer \(admin)"],
                body: ByteBuffer(string: #"{"legalName":"Sans type SARL","siren":"732829320"}"#)
            ) { Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
            #expect(reply.status == 415)
            #expect(reply.headers[.contentType] == "application/problem+json")
        }
    }

    @Test func anUnsupportedMethodOnAKnownPathIs405WithAllow() async throws {
        try await withRouter { client, fixtures, _, _ in
            let admin = try await client.login(try await fixtures.user(.admin))
            let onList = try await client.call(.delete, "/v1/creditors", bearer: admin)
            #expect(onList.status == 405)
            #expect(onList.headers[.allow] == "GET, POST")
            #expect(onList.headers[.contentType] == "application/problem+json")
            let creditor = try await fixtures.creditor()
            let onOne = try await client.call(.put, "/v1/creditors/\(creditor)", bearer: admin, json: ["legalName": "X"])
            #expect(onOne.status == 405)
            #expect(onOne.headers[.allow] == "GET, PATCH")
            let unknown = try await client.call(.get, "/v1/nothing-here", bearer: admin)
            #expect(unknown.status == 404)
        }
    }
}
