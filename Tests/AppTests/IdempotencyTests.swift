import App
import Foundation
import HTTPTypes
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Idempotency-Key")
struct IdempotencyTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    @Test func aReplayReturnsTheFirstResponseAndCreatesNothing() async throws {
        try await withRouter { client, fixtures, _, _ in
            // setup
            let admin = try await fixtures.user(.admin)
            let token = try await client.login(admin)
            // act
            let first = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "Société Idem", "siren": "732829320"], headers: [Self.key: "create-idem-1"])
            let second = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "Société Idem", "siren": "732829320"], headers: [Self.key: "create-idem-1"])
            // verify
            #expect(first.status == 201)
            #expect(second.status == 201)
            #expect(second.text == first.text)
            #expect(second.headers[.init("Idempotent-Replayed")!] == "true")
            #expect(second.headers[.location] == first.headers[.location])
            #expect(first.headers[.location] != nil)
            let count = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM creditors WHERE legal_name = 'Société Idem'")!
            #expect(try count.decode(Int.self, "n") == 1)
            // The same key with another body is refused; another key creates anew.
            let different = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "Autre", "siren": "732829320"], headers: [Self.key: "create-idem-1"])
            #expect(different.status == 422)
            #expect(different.problemType == "idempotency-key-reused")
            let fresh = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "Société Idem", "siren": "732829320"], headers: [Self.key: "create-idem-2"])
            #expect(fresh.status == 201)
            // Keys are per caller: another admin's identical key is independent.
            let other = try await client.login(try await fixtures.user(.admin))
            let theirs = try await client.call(.post, "/v1/creditors", bearer: other, json: ["legalName": "Société Idem", "siren": "732829320"], headers: [Self.key: "create-idem-1"])
            #expect(theirs.status == 201)
            #expect(theirs.headers[.init("Idempotent-Replayed")!] == nil)
        }
    }

    @Test func validationErrorsAreReplayedButServerErrorsAreNot() async throws {
        try await withRouter { client, fixtures, _, _ in
            let admin = try await fixtures.user(.admin)
            let token = try await client.login(admin)
            let bad = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "", "siren": "732829320"], headers: [Self.key: "bad-1"])
            #expect(bad.status == 422)
            let again = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "", "siren": "732829320"], headers: [Self.key: "bad-1"])
            #expect(again.status == 422)
            #expect(again.headers[.init("Idempotent-Replayed")!] == "true")
            let tooLong = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "x", "siren": "732829320"], headers: [Self.key: String(repeating: "k", count: 256)])
            #expect(tooLong.status == 422)
        }
    }

    @Test func secretsShownOnceAreNotReplayed() async throws {
        try await withRouter { client, fixtures, _, _ in
            let creditor = try await fixtures.creditor()
            let owner = try await fixtures.user(.creditorAdmin, creditor: creditor)
            let token = try await client.login(owner)
            let first = try await client.call(.post, "/v1/creditors/\(creditor)/api-keys", bearer: token, json: ["name": "ERP", "scopes": ["placements"]], headers: [Self.key: "key-1"])
            #expect(first.status == 201)
            let replay = try await client.call(.post, "/v1/creditors/\(creditor)/api-keys", bearer: token, json: ["name": "ERP", "scopes": ["placements"]], headers: [Self.key: "key-1"])
            #expect(replay.status == 409)
            #expect(replay.problemType == "idempotent-secret-not-replayed")
            #expect(!replay.text.contains(first.json["key"] as? String ?? "-"))
            let stored = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM idempotency_keys WHERE body IS NOT NULL AND key = 'key-1'")!
            #expect(try stored.decode(Int.self, "n") == 0)
            let keys = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM api_keys WHERE creditor_id = \(creditor)")!
            #expect(try keys.decode(Int.self, "n") == 1)
        }
    }

    @Test func concurrentDuplicatesCreateOnce() async throws {
        try await withRouter { client, fixtures, _, _ in
            let admin = try await fixtures.user(.admin)
            let token = try await client.login(admin)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "Concurrente SA", "siren": "732829320"], headers: [Self.key: "race-1"]).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 201 || $0 == 409 })
            #expect(statuses.contains(201))
            let count = try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM creditors WHERE legal_name = 'Concurrente SA'")!
            #expect(try count.decode(Int.self, "n") == 1)
        }
    }

    @Test func loginsAndChangesAreAuditedWithoutPersonalData() async throws {
        try await withRouter { client, fixtures, _, _ in
            let admin = try await fixtures.user(.admin)
            let token = try await client.login(admin)
            _ = try await client.call(.post, "/v1/auth/token", json: ["email": "ghost@example.test", "password": "Wrong-password-123"])
            let created = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "Audit SARL", "siren": "732829320"])
            let id = try #require(created.json["id"] as? String)
            let rows = try await fixtures.admin.query("SELECT action, outcome, object_id, actor_kind FROM audit_log ORDER BY at")
            let entries = try rows.map { "\(try $0.decode(String.self, "action")):\(try $0.decode(String.self, "outcome"))" }
            #expect(entries.contains("auth.login:success"))
            #expect(entries.contains("auth.login:denied"))
            #expect(entries.contains("creditor.create:success"))
            let dump = try rows.map { row in (0..<row.columns.names.count).map { (try? row.decode(String?.self, at: $0)) ?? nil }.compactMap { $0 }.joined(separator: " ") }
                .joined(separator: "\n")
            #expect(!dump.contains("ghost"))
            #expect(!dump.contains(admin.email))
            #expect(!dump.contains("Audit SARL"))
            #expect(dump.contains(id.lowercased()))
        }
    }
}

@Suite("Body limits")
struct BodyLimitTests {
    @Test func anOversizedBodyIs413WithOrWithoutAnIdempotencyKey() async throws {
        try await withRouter(["RELANCE_MAX_BODY_BYTES": "1024"]) { client, fixtures, _, _ in
            let token = try await client.login(try await fixtures.user(.admin))
            let big = ["legalName": String(repeating: "x", count: 3000), "siren": "732829320"]
            let plain = try await client.call(.post, "/v1/creditors", bearer: token, json: big)
            #expect(plain.status == 413)
            let keyed = try await client.call(.post, "/v1/creditors", bearer: token, json: big, headers: [IdempotencyTests.key: "big-1"])
            #expect(keyed.status == 413)
            #expect(keyed.headers[.contentType] == "application/problem+json")
        }
    }
}
