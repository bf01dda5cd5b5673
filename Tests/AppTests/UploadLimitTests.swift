import App
import Foundation
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// Slow uploads hold database connections while their files come in: they are bounded in number
/// and in pace, so the API keeps answering everyone else.
@Suite("Upload limits")
struct UploadLimitTests {
    /// A `curl` upload of `file`, sent at `rate` bytes per second; its status lands in `status`.
    func upload(port: Int, creditor: UUID, key: String, file: URL, rate: Int?, status: URL) throws -> Process {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = [
            "timeout", "60", "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "-H", "authorization: Bearer \(key)",
            "-H", "content-type: text/csv", "--data-binary", "@\(file.path)",
            "https://127.0.0.1:\(port)/v1/creditors/\(creditor.uuidString.lowercased())/placements",
        ]
        if let rate { arguments.insert(contentsOf: ["--limit-rate", "\(rate)"], at: 3) }
        curl.arguments = arguments
        FileManager.default.createFile(atPath: status.path, contents: nil)
        let output = try FileHandle(forWritingTo: status)
        curl.standardOutput = output
        curl.standardError = FileHandle.nullDevice
        try ProcessLauncher.run(curl)
        try output.close()  // the child has its own copy
        return curl
    }

    func file(rows: Int) throws -> URL {
        var text = "reference;montant;echeance;nom\n"
        for i in 0..<rows { text += "SL-\(i);\(i % 900 + 1),00;01/03/2025;Débiteur \(i)\n" }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("slow-\(UUID().uuidString).csv")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func trickledUploadsAreBoundedAndStoppedWhileTheAPIAnswers() async throws {
        let settings = [
            "RELANCE_DB_POOL_SIZE": "4", "RELANCE_UPLOADS_MAX": "2", "RELANCE_UPLOADS_PER_CREDITOR": "1",
            // The window is the time the second upload below has to find the first one still
            // streaming: 3 s was once too short in a loaded full suite run (the first upload was
            // already stopped, and the second accepted).
            "RELANCE_UPLOAD_MIN_BYTES_PER_SECOND": "20000", "RELANCE_UPLOAD_RATE_WINDOW_S": "6",
        ]
        try await TestApp.withApp(settings) { configuration, _, database in
            let fixtures = try Fixtures(database)
            // The server's own pool, as `serve` sizes it.
            let pool = PostgresPool(configuration: .init(conninfo: configuration.databaseURL, maxConnections: configuration.poolSize, acquireTimeout: .seconds(3)))
            var made: [(UUID, String)] = []
            for n in 0..<5 {
                let creditor = try await fixtures.creditor("Lente \(n) SARL")
                try await fixtures.mandate(creditor: creditor)
                made.append((creditor, try await fixtures.apiKey(creditor: creditor).1))
            }
            let creditors = made
            let slowFile = try file(rows: 3000)
            defer { try? FileManager.default.removeItem(at: slowFile) }
            let app = try await buildApplication(configuration: configuration, pool: pool, logger: TestApp.logger)
            try await app.test(.ahc(.https)) { client in
                let port = try #require(client.port)
                let dir = FileManager.default.temporaryDirectory
                // Five creditors trickle a file each at 2 kB/s, more than the pool has connections.
                var slow: [(Process, URL)] = []
                for (creditor, key) in creditors {
                    let status = dir.appendingPathComponent("status-\(UUID().uuidString)")
                    slow.append((try upload(port: port, creditor: creditor, key: key, file: slowFile, rate: 2000, status: status), status))
                }
                // Wait until two uploads stream (their COPY runs) and the three others were refused.
                for _ in 0..<200 {
                    let copying = try await fixtures.admin.one(
                        "SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE datname = \(database.name) AND query LIKE 'COPY placement_rows%' AND state = 'active'"
                    )!.decode(Int.self, "n")
                    if copying == 2 && slow.filter({ !$0.0.isRunning }).count == 3 { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                // A second upload of a creditor already uploading: 429, with Retry-After.
                let streaming = try #require(slow.indices.first { slow[$0].0.isRunning })
                let (first, firstKey) = creditors[streaming]
                let again = try await client.execute(
                    uri: "/v1/creditors/\(first.uuidString.lowercased())/placements", method: .post,
                    headers: [.authorization: "Bearer \(firstKey)", .contentType: "text/csv"], body: ByteBuffer(string: "reference;montant;echeance;nom\nX;1,00;01/03/2025;Y\n"))
                #expect(again.status.code == 429)
                #expect(again.headers[.retryAfter] == "30")
                // Everyone else is answered while the uploads trickle: with the pool taken by
                // uploads, these would wait out the 3-second acquire timeout and answer 503.
                for (creditor, key) in creditors {
                    let response = try await client.execute(
                        uri: "/v1/creditors/\(creditor.uuidString.lowercased())", method: .get, headers: [.authorization: "Bearer \(key)"])
                    #expect(response.status == .ok)
                }
                // The trickles end: refused at once beyond the limit (503), stopped when too slow (408).
                var statuses: [String] = []
                let waiting = ContinuousClock.now
                for (curl, status) in slow {
                    await ProcessLauncher.waitUntilExit(curl)
                    statuses.append(String(decoding: try Data(contentsOf: status), as: UTF8.self))
                    try? FileManager.default.removeItem(at: status)
                }
                // A stopped upload's client reads the 408 if it looks before its connection is
                // closed; curl, still sending at its limited rate, may not ("000"). Either way it
                // ended long before its file would have (65 s at 2 kB/s): the 60 s timeout of
                // each curl would show "000" only after it.
                #expect(statuses.filter { $0 == "408" || $0 == "000" }.count == 2, "\(statuses)")
                #expect(statuses.filter { $0 == "503" }.count == 3, "\(statuses)")
                #expect(ContinuousClock.now - waiting < .seconds(40), "the trickled uploads were not stopped")
                // Nothing of the stopped uploads was kept, and a normal upload goes through.
                #expect(try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM placements")!.decode(Int.self, "n") == 0)
                #expect(try await fixtures.admin.one("SELECT count(*)::int8 AS n FROM placement_rows")!.decode(Int.self, "n") == 0)
                let normal = try upload(port: port, creditor: first, key: firstKey, file: slowFile, rate: nil, status: dir.appendingPathComponent("status-normal"))
                await ProcessLauncher.waitUntilExit(normal)
                #expect(String(decoding: try Data(contentsOf: dir.appendingPathComponent("status-normal")), as: UTF8.self) == "202")
            }
            try await fixtures.close()
            try await pool.close()
        }
    }
}
