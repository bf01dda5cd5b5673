import Foundation
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
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
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

    @Test func missingConfigurationStopsStartUpWithTheList() throws {
        let run = try relance(["serve"], environment: ["RELANCE_DATABASE_URL": "postgresql://u:topsecret@127.0.0.1/x"])
        #expect(run.status == 78)
        #expect(run.output.contains("RELANCE_TLS_CERT"))
        #expect(!run.output.contains("topsecret"))
    }

    @Test func sigtermShutsDownGracefully() async throws {
        try await TestDatabase.withDatabase { database in
            // setup: a server on a free port
            let port = Int.random(in: 30000...39999)
            var env = TestApp.environment(database, ["RELANCE_PORT": "\(port)", "RELANCE_LOG_LEVEL": "info"])
            env["PATH"] = ProcessInfo.processInfo.environment["PATH"]
            let process = Process()
            process.executableURL = TestApp.executable
            process.arguments = ["serve"]
            process.environment = env
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
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
            #expect(log.contains("readiness now fails"))
        }
    }

    func listening(_ port: Int) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-sk", "-o", "/dev/null", "https://127.0.0.1:\(port)/health/live"]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
