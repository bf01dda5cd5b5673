import Foundation
import TestSupport
import Testing

/// The `relance serve` executable run as a separate process over a test database, so a test can
/// kill it with SIGKILL and start it again, and `curl` run without blocking a thread.
enum ServerProcess {
    static func start(_ database: TestDatabase.Database, port: Int, _ extra: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = TestApp.executable
        process.arguments = ["serve"]
        var env = TestApp.environment(database, extra.merging(["RELANCE_PORT": "\(port)"]) { a, _ in a })
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try ProcessLauncher.run(process)
        return process
    }

    static func waitUntilUp(port: Int) async throws {
        for _ in 0..<200 {
            let (status, _) = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:\(port)/health/ready"])
            if status == "200" { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("server did not come up")
    }

    /// Runs `curl -k` with these arguments; returns what it printed (`-w`) and the body it
    /// saved when `-o` named a file. Reads its output to the end off the cooperative threads:
    /// curl closes it when it exits, after writing its `-o` file. Foundation's termination
    /// handler is not waited for: on Linux it was once never called for a curl that had
    /// exited (the full suite then hung in this test, every thread idle, no child left).
    static func curl(_ arguments: [String]) async throws -> (output: String, body: Data?) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-k", "--max-time", "15"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try ProcessLauncher.run(process)
        let reader = output.fileHandleForReading
        let printed = try await ProcessLauncher.offPool { String(decoding: reader.readDataToEndOfFile(), as: UTF8.self) }
        ProcessLauncher.close(output)
        let file = arguments.firstIndex(of: "-o").map { arguments[$0 + 1] }
        let body = file.flatMap { $0 == "/dev/null" ? nil : FileManager.default.contents(atPath: $0) }
        return (printed, body)
    }
}
