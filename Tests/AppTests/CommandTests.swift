import Foundation
import Identity
import Postgres
import TestSupport
import Testing

/// The `relance` executable as an operator runs it.
@Suite("relance command line", .serialized)
struct CommandTests {
    struct Run {
        let status: Int32
        let output: String
    }

    func relance(_ arguments: [String], environment: [String: String]) throws -> Run {
        let process = Process()
        process.executableURL = TestApp.executable
        process.arguments = arguments
        process.environment = environment.merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"]) { a, _ in a }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try ProcessLauncher.run(process)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        ProcessLauncher.close(pipe)
        return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    @Test func serveRefusesPendingMigrationsThenMigrateFixesIt() async throws {
        try await TestDatabase.withEmptyDatabase { database in
            let env = TestApp.environment(database)
            // act: serve on an empty database
            let refused = try relance(["serve"], environment: env)
            // verify
            #expect(refused.status != 0)
            #expect(refused.output.contains("pending migration"))
            // migrate --check reports, migrate applies, check is then clean
            #expect(try relance(["migrate", "--check"], environment: env).status == 1)
            let migrated = try relance(["migrate"], environment: env)
            #expect(migrated.status == 0, "\(migrated.output)")
            #expect(migrated.output.contains("applied"))
            #expect(try relance(["migrate", "--check"], environment: env).status == 0)
            #expect(try relance(["migrate"], environment: env).output.contains("up to date"))
        }
    }

    @Test func anUnreachableDatabaseStopsStartUpWithAFailureCode() async throws {
        try await TestDatabase.withDatabase { database in
            var env = TestApp.environment(database)
            env["RELANCE_DATABASE_URL"] = "postgresql://relance_app:x@127.0.0.1:1/none?connect_timeout=2"
            let run = try relance(["serve"], environment: env)
            #expect(run.status != 0)
            #expect(run.output.contains("cannot start"))
        }
    }

    @Test func missingConfigurationStopsStartUpWithTheList() throws {
        let run = try relance(["serve"], environment: ["RELANCE_DATABASE_URL": "postgresql://u:topsecret@127.0.0.1/x"])
        #expect(run.status == 78)
        #expect(run.output.contains("RELANCE_TLS_CERT"))
        #expect(!run.output.contains("topsecret"))
    }

    @Test func sigtermShutsDownGracefully() async throws {
        try await TestDatabase.withDatabase { database in
            // setup: a server on a free port
            let port = try TestApp.freePort()
            var env = TestApp.environment(database, ["RELANCE_PORT": "\(port)", "RELANCE_LOG_LEVEL": "info"])
            env["PATH"] = ProcessInfo.processInfo.environment["PATH"]
            let process = Process()
            process.executableURL = TestApp.executable
            process.arguments = ["serve"]
            process.environment = env
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try ProcessLauncher.run(process)
            // wait until it listens
            var up = false
            for _ in 0..<100 {
                try await Task.sleep(for: .milliseconds(100))
                if try listening(port) {
                    up = true
                    break
                }
            }
            #expect(up)
            // act
            process.terminate()  // SIGTERM
            let started = ContinuousClock.now
            while process.isRunning && ContinuousClock.now - started < .seconds(10) {
                try await Task.sleep(for: .milliseconds(50))
            }
            // verify: it exits cleanly, having closed its pool
            #expect(!process.isRunning)
            #expect(process.terminationStatus == 0)
            let log = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            ProcessLauncher.close(pipe)
            #expect(log.contains("readiness now fails"))
        }
    }

    func listening(_ port: Int) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-sk", "-o", "/dev/null", "https://127.0.0.1:\(port)/health/live"]
        try ProcessLauncher.run(process)
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}

@Suite("relance admin and audit commands", .serialized)
struct AdminCommandTests {
    func relance(_ arguments: [String], environment: [String: String], input: String = "") throws -> CommandTests.Run {
        let process = Process()
        process.executableURL = TestApp.executable
        process.arguments = arguments
        process.environment = environment.merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"]) { a, _ in a }
        let output = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = stdin
        try ProcessLauncher.run(process)
        stdin.fileHandleForWriting.write(Data(input.utf8))
        stdin.fileHandleForWriting.closeFile()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        ProcessLauncher.close(output, stdin)
        return CommandTests.Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    @Test func firstAdministratorThenLoginWithTheTOTPSecret() async throws {
        try await TestDatabase.withDatabase { database in
            let env = TestApp.environment(database)
            // act
            let weak = try relance(["admin", "create", "--email", "ops@agence.fr", "--role", "admin"], environment: env, input: "short\n")
            #expect(weak.status != 0)
            #expect(weak.output.contains("password"))
            let run = try relance(["admin", "create", "--email", "ops@agence.fr", "--role", "admin"], environment: env, input: "Une phrase de passe solide\n")
            // verify
            #expect(run.status == 0, "\(run.output)")
            let line = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("totp_secret=") })
            let secret = String(line.dropFirst("totp_secret=".count))
            #expect(!run.output.contains("Une phrase"))
            let pool = PostgresPool(configuration: .init(conninfo: database.appURL, maxConnections: 1))
            let identity = IdentityService(pool: pool, secrets: try SecretBox(base64Key: TestApp.dataKey))
            let code = TOTP(key: try #require(Base32.decode(secret))).code(counter: TOTP.counter(at: Date()))
            let session = try await identity.login(email: "ops@agence.fr", password: "Une phrase de passe solide", totp: code, clientAddress: "test", requestID: nil)
            #expect(session.principal.role == .admin)
            try await pool.close()
            // the audit chain is intact, then a tampered one is named
            let verified = try relance(["audit", "verify"], environment: env)
            #expect(verified.status == 0, "\(verified.output)")
            #expect(verified.output.contains("intact"))
            let admin = PostgresPool(configuration: .init(conninfo: database.adminURL, maxConnections: 1))
            try await admin.withTransaction { tx in
                try await tx.execute("SET LOCAL session_replication_role = replica")
                try await tx.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 1")
            }
            try await admin.close()
            let broken = try relance(["audit", "verify"], environment: env)
            #expect(broken.status == 1)
            #expect(broken.output.contains("first broken at seq 1"))
        }
    }
}
