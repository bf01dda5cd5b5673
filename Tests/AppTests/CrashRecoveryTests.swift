import Foundation
import Postgres
import TestSupport
import Testing

/// A server killed in the middle of an import leaves no half-visible placement: a killed
/// upload leaves nothing, a killed merge is rolled back and done again after restart, once.
@Suite("Crash recovery", .serialized)
struct CrashRecoveryTests {
    func startServer(_ database: TestDatabase.Database, port: Int) throws -> Process {
        try ServerProcess.start(database, port: port)
    }

    func waitUntilUp(port: Int) async throws {
        try await ServerProcess.waitUntilUp(port: port)
    }

    /// Starts `curl` uploading a file; returns the process (its stdout holds the response).
    func upload(file: URL, port: Int, creditor: UUID, key: String, output: URL) throws -> Process {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = [
            "curl", "-sk", "-o", output.path, "-H", "authorization: Bearer \(key)", "-H", "content-type: text/csv",
            "--data-binary", "@\(file.path)", "--limit-rate", "0", "https://127.0.0.1:\(port)/v1/creditors/\(creditor.uuidString.lowercased())/placements",
        ]
        try ProcessLauncher.run(curl)
        return curl
    }

    func writeFile(rows: Int) throws -> URL {
        var text = "reference;montant;echeance;nom;courriel\n"
        text.reserveCapacity(rows * 60)
        for i in 0..<rows { text += "K-\(i);\(i % 9000 + 1),50;0\(i % 9 + 1)/03/2025;Débiteur \(i);d\(i % 40000)@example.fr\n" }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString).csv")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func count(_ admin: PostgresPool, _ sql: SQL) async throws -> Int {
        try await admin.one(sql)!.decode(Int.self, at: 0)
    }

    @Test func aMergeKilledHalfWayIsRolledBackAndRedoneOnce() async throws {
        try await TestDatabase.withDatabase { database in
            // setup
            let fixtures = try Fixtures(database)
            let creditor = try await fixtures.creditor()
            try await fixtures.mandate(creditor: creditor)
            let (_, key) = try await fixtures.apiKey(creditor: creditor)
            let rows = 120_000
            let file = try writeFile(rows: rows)
            defer { try? FileManager.default.removeItem(at: file) }
            let port = try TestApp.freePort()
            var server = try startServer(database, port: port)
            try await waitUntilUp(port: port)
            // act: upload, then kill the server while the worker holds the placement
            let out = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
            let curl = try upload(file: file, port: port, creditor: creditor, key: key, output: out)
            // Polled, not waited for on a thread: on a loaded machine a blocked thread could
            // wake up after the merge's statements went by.
            while curl.isRunning { try await Task.sleep(for: .milliseconds(2)) }
            let response = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any]
            let placement = try #require((response?["id"] as? String).flatMap { UUID(uuidString: $0) })
            // Mid-merge: the merge transaction is writing debtors, cases or claims. The
            // placement's row lock is no sign: the finishing transaction takes one too, after
            // the merge has committed.
            var caught = false
            for _ in 0..<2000 {
                let merging = try await count(
                    fixtures.admin,
                    """
                    SELECT count(*)::int8 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'
                      AND (query LIKE 'INSERT INTO debtors%' OR query LIKE 'INSERT INTO cases%' OR query LIKE 'INSERT INTO claims%')
                    """)
                if merging > 0 {
                    kill(server.processIdentifier, SIGKILL)
                    caught = true
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            if !caught { server.terminate() }
            await ProcessLauncher.waitUntilExit(server)
            // verify: the kill landed mid-merge, and nothing of the placement is visible
            #expect(caught, "the merge finished before the kill: use a larger file")
            if caught {
                try await Task.sleep(for: .milliseconds(200))
                #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM claims WHERE creditor_id = \(creditor)") == 0)
                #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placements WHERE id = \(placement) AND status = 'staged'") == 1)
            }
            // restart: the placement is merged once
            server = try startServer(database, port: port)
            try await waitUntilUp(port: port)
            var completed = false
            for _ in 0..<600 {
                if try await count(fixtures.admin, "SELECT count(*)::int8 FROM placements WHERE id = \(placement) AND status = 'completed'") == 1 {
                    completed = true
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            server.terminate()
            await ProcessLauncher.waitUntilExit(server)
            #expect(completed)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM claims WHERE creditor_id = \(creditor)") == rows)
            #expect(try await count(fixtures.admin, "SELECT accepted::int8 FROM placements WHERE id = \(placement)") == rows)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placement_rows") == 0)
            try await fixtures.close()
        }
    }

    /// An all-new placement is merged by two transactions at once: the merge (debtors, cases,
    /// claims; the placement left `merged`) and its finishing (identifiers, acknowledgement;
    /// `completed`). Killed between the two commits, the server finishes it after restart, once,
    /// from the staged rows it kept.
    @Test func aServerKilledBetweenMergeAndFinishingFinishesOnRestart() async throws {
        try await TestDatabase.withDatabase { database in
            // setup: the finishing transaction's first insert will wait on this lock
            let fixtures = try Fixtures(database)
            let creditor = try await fixtures.creditor()
            try await fixtures.mandate(creditor: creditor)
            let (_, key) = try await fixtures.apiKey(creditor: creditor)
            let rows = 20_000
            let file = try writeFile(rows: rows)
            defer { try? FileManager.default.removeItem(at: file) }
            let (locked, lockedSignal) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
            let holder = Task {
                try await fixtures.admin.withTransaction { tx in
                    try await tx.execute("LOCK TABLE debtor_keys IN SHARE MODE")
                    lockedSignal.yield()
                    for await _ in release { break }
                }
            }
            for await _ in locked { break }
            let port = try TestApp.freePort()
            var server = try startServer(database, port: port)
            try await waitUntilUp(port: port)
            // act: upload; once the merge has committed `merged`, kill the server
            let out = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
            let curl = try upload(file: file, port: port, creditor: creditor, key: key, output: out)
            await ProcessLauncher.waitUntilExit(curl)
            let response = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any]
            let placement = try #require((response?["id"] as? String).flatMap { UUID(uuidString: $0) })
            var merged = false
            for _ in 0..<600 {
                if try await count(fixtures.admin, "SELECT count(*)::int8 FROM placements WHERE id = \(placement) AND status = 'merged'") == 1 {
                    merged = true
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            kill(server.processIdentifier, SIGKILL)
            await ProcessLauncher.waitUntilExit(server)
            releaseSignal.yield()
            try await holder.value
            // verify: merged, not finished; the claims are there, the acknowledgement is not
            #expect(merged)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM claims WHERE creditor_id = \(creditor)") == rows)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placement_outcomes WHERE placement_id = \(placement)") == 0)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placement_rows WHERE placement_id = \(placement)") == rows)
            // restart: finished once
            server = try startServer(database, port: port)
            try await waitUntilUp(port: port)
            var completed = false
            for _ in 0..<600 {
                if try await count(fixtures.admin, "SELECT count(*)::int8 FROM placements WHERE id = \(placement) AND status = 'completed'") == 1 {
                    completed = true
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            server.terminate()
            await ProcessLauncher.waitUntilExit(server)
            #expect(completed)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM claims WHERE creditor_id = \(creditor)") == rows)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placement_outcomes WHERE placement_id = \(placement)") == rows)
            // writeFile's rows give 20,000 distinct emails (d0 to d19999), one debtor each
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM debtor_keys WHERE creditor_id = \(creditor)") == 20_000)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placement_rows") == 0)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placements WHERE id = \(placement) AND completed_at IS NOT NULL") == 1)
            let placementID = placement.uuidString.lowercased()
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM audit_log WHERE action = 'placement.merge' AND object_id = \(placementID)") == 1)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM audit_log WHERE action = 'placement.finish' AND object_id = \(placementID)") == 1)
            try await fixtures.close()
        }
    }

    @Test func anUploadKilledHalfWayLeavesNothing() async throws {
        try await TestDatabase.withDatabase { database in
            let fixtures = try Fixtures(database)
            let creditor = try await fixtures.creditor()
            try await fixtures.mandate(creditor: creditor)
            let (_, key) = try await fixtures.apiKey(creditor: creditor)
            let file = try writeFile(rows: 400_000)
            defer { try? FileManager.default.removeItem(at: file) }
            let port = try TestApp.freePort()
            let server = try startServer(database, port: port)
            try await waitUntilUp(port: port)
            let out = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
            let curl = try upload(file: file, port: port, creditor: creditor, key: key, output: out)
            // kill once the upload is streaming into PostgreSQL
            var copying = false
            for _ in 0..<400 {
                if try await count(fixtures.admin, "SELECT count(*)::int8 FROM pg_stat_activity WHERE query LIKE 'COPY placement_rows%'") > 0 {
                    copying = true
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(copying, "the upload never reached COPY")
            kill(server.processIdentifier, SIGKILL)
            await ProcessLauncher.waitUntilExit(server)
            await ProcessLauncher.waitUntilExit(curl)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placements") == 0)
            #expect(try await count(fixtures.admin, "SELECT count(*)::int8 FROM placement_rows") == 0)
            try await fixtures.close()
        }
    }
}
