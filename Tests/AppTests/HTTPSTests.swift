import App
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("HTTPS end to end")
struct HTTPSTests {
    /// Runs `openssl s_client` against the server; true when the handshake succeeded.
    func handshake(port: Int, _ arguments: [String]) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost"] + arguments
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessLauncher.run(process)
        input.fileHandleForWriting.closeFile()
        process.waitUntilExit()
        ProcessLauncher.close(input)
        return process.terminationStatus == 0
    }

    /// The same, off the cooperative threads (`ProcessLauncher.offPool`).
    func handshake(port: Int, _ arguments: [String]) async throws -> Bool {
        try await ProcessLauncher.offPool { try handshake(port: port, arguments) as Bool }
    }

    /// Sends raw bytes over TLS and returns what the server answered before closing.
    func rawExchange(port: Int, _ bytes: [UInt8]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["timeout", "20", "openssl", "s_client", "-quiet", "-ign_eof", "-connect", "127.0.0.1:\(port)", "-servername", "localhost"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try ProcessLauncher.run(process)
        input.fileHandleForWriting.write(Data(bytes))
        input.fileHandleForWriting.closeFile()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        ProcessLauncher.close(input, output)
        return String(decoding: data, as: UTF8.self)
    }

    /// What the HTTP parser refuses is answered as a problem like any other refusal.
    @Test func requestsTheParserRefusesGetProblems() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let app = try await buildApplication(configuration: configuration, pool: pool, logger: TestApp.logger)
            try await app.test(.ahc(.https)) { client in
                let port = try #require(client.port)
                func send(_ head: String, raw: [UInt8]? = nil) async throws -> String {
                    let bytes = raw ?? Array(head.utf8)
                    return try await ProcessLauncher.offPool { try rawExchange(port: port, bytes) }
                }
                let longURL = try await send("GET /health/live?x=\(String(repeating: "a", count: 20 * 1024)) HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(longURL.hasPrefix("HTTP/1.1 414"), "\(longURL.prefix(200))")
                #expect(longURL.lowercased().contains("content-type: application/problem+json"))
                #expect(longURL.contains("uri-too-long"))
                let bigHeader = try await send("GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Padding: \(String(repeating: "b", count: 20 * 1024))\r\n\r\n")
                #expect(bigHeader.hasPrefix("HTTP/1.1 431"), "\(bigHeader.prefix(200))")
                #expect(bigHeader.contains("header-fields-too-large"))
                let rawByte = try await send("", raw: Array("GET /health/".utf8) + [0xFF] + Array(" HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
                #expect(rawByte.hasPrefix("HTTP/1.1 400"), "\(rawByte.prefix(200))")
                #expect(rawByte.contains("\"status\":400"))
                #expect(rawByte.lowercased().contains("content-type: application/problem+json"))
                // The server still serves normal requests.
                try await client.execute(uri: "/health/live", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }

    @Test func servesOverTLSAndRefusesOldProtocolsAndWeakCiphers() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let app = try await buildApplication(configuration: configuration, pool: pool, logger: TestApp.logger)
            try await app.test(.ahc(.https)) { client in
                // A real HTTPS request through the whole stack.
                try await client.execute(uri: "/health/ready", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.init("X-Request-ID")!] != nil)
                }
                let port = try #require(client.port)
                // SECLEVEL=0 lets the client offer old protocols, so a refusal is the server's.
                #expect(try await handshake(port: port, ["-tls1_2"]))
                #expect(try await handshake(port: port, ["-tls1_3"]))
                #expect(try await !handshake(port: port, ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]))
                #expect(try await !handshake(port: port, ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]))
                // TLS 1.2 with CBC or without forward secrecy: not in the intermediate list.
                #expect(try await !handshake(port: port, ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA"]))
                #expect(try await !handshake(port: port, ["-tls1_2", "-cipher", "AES128-GCM-SHA256"]))
                #expect(try await handshake(port: port, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]))
            }
        }
    }

    @Test func oversizedHeadersAreRefused() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let app = try await buildApplication(configuration: configuration, pool: pool, logger: TestApp.logger)
            try await app.test(.ahc(.https)) { client in
                let big = String(repeating: "a", count: 40 * 1024)
                let status = try? await client.execute(uri: "/health/live", method: .get, headers: [.init("X-Padding")!: big]).status
                #expect(status != .ok)
                // The server still serves normal requests afterwards.
                try await client.execute(uri: "/health/live", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test func listsEveryVariableAsSetOrUnsetWithoutValues() throws {
        // setup
        let env = [
            "RELANCE_DATABASE_URL": "postgresql://relance_app:hunter2-secret@db/relance",
            "RELANCE_PORT": "99999",
            "RELANCE_HOME": TestApp.repositoryRoot.path,
        ]
        // act
        let error = #expect(throws: AppConfiguration.Invalid.self) { try AppConfiguration.fromEnvironment(env) }
        let text = error?.description ?? ""
        // verify
        #expect(text.contains("RELANCE_TLS_CERT is required"))
        #expect(text.contains("RELANCE_TLS_KEY is required"))
        #expect(text.contains("RELANCE_PORT is not a whole number"))
        #expect(text.contains("RELANCE_DATABASE_URL"))
        #expect(text.range(of: #"RELANCE_DATABASE_URL\s+set"#, options: .regularExpression) != nil)
        #expect(text.range(of: #"RELANCE_TLS_CERT\s+unset"#, options: .regularExpression) != nil)
        #expect(!text.contains("hunter2"))
        #expect(!text.contains("99999"))
    }

    @Test func defaultsAndOverrides() throws {
        let env = [
            "RELANCE_DATABASE_URL": "postgresql://a@localhost/relance",
            "RELANCE_TLS_CERT": TestApp.certificate.cert,
            "RELANCE_TLS_KEY": TestApp.certificate.key,
            "RELANCE_HOME": TestApp.repositoryRoot.path,
            "RELANCE_DB_POOL_SIZE": "3",
            "RELANCE_DATA_KEY": TestApp.dataKey,
        ]
        let config = try AppConfiguration.fromEnvironment(env)
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 8443)
        #expect(config.poolSize == 3)
        #expect(config.migrationDatabaseURL == config.databaseURL)
        #expect(config.migrationsDirectory.lastPathComponent == "Migrations")
        let noTLS = try AppConfiguration.fromEnvironment(
            ["RELANCE_DATABASE_URL": "x", "RELANCE_HOME": TestApp.repositoryRoot.path], needsTLS: false, needsDataKey: false)
        #expect(noTLS.dataKey.isEmpty)
        let badKey = #expect(throws: AppConfiguration.Invalid.self) {
            try AppConfiguration.fromEnvironment(env.merging(["RELANCE_DATA_KEY": "c2hvcnQ="]) { _, new in new })
        }
        #expect(badKey?.description.contains("RELANCE_DATA_KEY is not base64 of 32 bytes") == true)
        #expect(noTLS.tlsCertificatePath.isEmpty)
    }
}

@Suite("Slow clients")
struct SlowClientTests {
    /// Connects over plain TCP and trickles bytes; returns the seconds until the server closed.
    func secondsUntilClosed(port: Int, trickleEvery: Duration, giveUpAfter: Duration) async throws -> Double? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let start = ContinuousClock.now
        var byte: UInt8 = 0x16  // looks like the start of a TLS record, never completed
        while ContinuousClock.now - start < giveUpAfter {
            _ = send(fd, &byte, 1, Int32(MSG_NOSIGNAL))
            try await Task.sleep(for: trickleEvery)
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                let elapsed = ContinuousClock.now - start
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
        }
        return nil
    }

    @Test func aTricklingClientIsCutOffAtTheIdleTimeout() async throws {
        try await TestApp.withApp(["RELANCE_IDLE_TIMEOUT_S": "1"]) { configuration, pool, _ in
            let app = try await buildApplication(configuration: configuration, pool: pool, logger: TestApp.logger)
            try await app.test(.ahc(.https)) { client in
                let port = try #require(client.port)
                let closedAfter = try await secondsUntilClosed(port: port, trickleEvery: .milliseconds(200), giveUpAfter: .seconds(8))
                #expect(closedAfter != nil, "the server kept a trickling connection open")
                #expect((closedAfter ?? 99) < 4)
            }
        }
    }
}
