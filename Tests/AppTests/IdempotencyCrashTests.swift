import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Postgres
import TestSupport
import Testing

/// Clients that retry each request with its Idempotency-Key until a definite answer, while the
/// server is killed (SIGKILL) and restarted and every database connection is cut (as when
/// PostgreSQL restarts or crashes): every key ends with one answer, every answer with its one
/// write, and no write without its answer.
@Suite("Idempotency-Key across crashes", .serialized)
struct IdempotencyCrashTests {
    @Test func retriedCreationsSurviveKillsAndLostConnectionsExactlyOnce() async throws {
        try await TestDatabase.withDatabase { database in
            let fixtures = try Fixtures(database)
            let admin = try await fixtures.user(.admin)
            let port = try TestApp.freePort()
            let server = ServerBox(try ServerProcess.start(database, port: port))
            try await ServerProcess.waitUntilUp(port: port)
            let base = "https://127.0.0.1:\(port)"
            let login = #"{"email":"\#(admin.email)","password":"\#(Fixtures.password)","totp":"\#(Fixtures.code(admin)!)"}"#
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("idem-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let tokenFile = dir.appendingPathComponent("token").path
            _ = try await ServerProcess.curl(["-s", "-o", tokenFile, "-H", "content-type: application/json", "-d", login, "\(base)/v1/auth/token"])
            let session = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tokenFile)))) as? [String: Any]
            let token = try #require(session?["token"] as? String)
            let keys = 120

            let retried = Counter()
            // Four clients, thirty keys each, each request retried until a definite answer.
            let answers = try await withThrowingTaskGroup(of: [(Int, String, String?)].self) { group in
                for client in 0..<4 {
                    group.addTask {
                        var results: [(Int, String, String?)] = []
                        for k in stride(from: client, to: keys, by: 4) {
                            let out = dir.appendingPathComponent("answer-\(k)").path
                            var status = ""
                            var tries = 0
                            for _ in 0..<300 {
                                tries += 1
                                let reply = try await ServerProcess.curl([
                                    "-s", "-o", out, "-w", "%{http_code}", "-H", "authorization: Bearer \(token)",
                                    "-H", "content-type: application/json", "-H", "Idempotency-Key: crash-\(k)",
                                    "-d", #"{"legalName":"Panne \#(k) SARL","siren":"732829320"}"#, "\(base)/v1/creditors",
                                ])
                                status = reply.output
                                // No answer, a server error, or the first request still running: retry.
                                if status == "000" || status.hasPrefix("5") || status == "409" {
                                    try await Task.sleep(for: .milliseconds(100))
                                    continue
                                }
                                break
                            }
                            let answer = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out)))) as? [String: Any]
                            results.append((k, status, status == "201" ? answer?["id"] as? String : (try? String(contentsOfFile: out, encoding: .utf8))))
                            if tries > 1 { retried.add(1) }
                        }
                        return results
                    }
                }
                // Faults meanwhile: kill the server, cut every connection, three times each.
                group.addTask {
                    for round in 0..<6 {
                        try await Task.sleep(for: .milliseconds(Int.random(in: 200...500)))
                        if round % 2 == 0 {
                            kill(server.process.processIdentifier, SIGKILL)
                            await ProcessLauncher.waitUntilExit(server.process)
                            server.process = try ServerProcess.start(database, port: port)
                        } else {
                            _ = try await fixtures.admin.query(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(database.name) AND pid <> pg_backend_pid()")
                        }
                    }
                    return []
                }
                return try await group.reduce(into: [(Int, String, String?)]()) { $0 += $1 }
            }
            server.process.terminate()
            await ProcessLauncher.waitUntilExit(server.process)

            // The faults landed: some requests had to be sent again.
            #expect(retried.value > 0)
            // Every key got its answer, a creation, each of a creditor that exists once.
            #expect(answers.count == keys)
            #expect(answers.allSatisfy { $0.1 == "201" }, "\(answers.filter { $0.1 != "201" })")
            let ids = Set(answers.filter { $0.1 == "201" }.compactMap(\.2))
            #expect(ids.count == keys)
            let created = try await fixtures.admin.query("SELECT id FROM creditors WHERE legal_name LIKE 'Panne % SARL'")
                .map { try $0.decode(UUID.self, "id").uuidString.lowercased() }
            let answered = Set(ids.map { $0.lowercased() })
            #expect(created.count == keys, "\(created.count) creditors for \(keys) keys")
            #expect(Set(created) == answered)
            // Every write has its stored answer; no key is left in progress.
            let stored = try await fixtures.admin.one(
                "SELECT count(*) FILTER (WHERE state = 'done' AND status = 201)::int8 AS done, count(*) FILTER (WHERE state <> 'done')::int8 AS open FROM idempotency_keys WHERE key LIKE 'crash-%'")!
            #expect(try stored.decode(Int.self, "done") == keys)
            #expect(try stored.decode(Int.self, "open") == 0)
            try await fixtures.close()
        }
    }
}

/// How many keys needed more than one request.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.withLock { count += n } }
    var value: Int { lock.withLock { count } }
}

/// The server process, replaced on restart by the fault task and read by the test after.
final class ServerBox: @unchecked Sendable {
    var process: Process
    init(_ process: Process) { self.process = process }
}
