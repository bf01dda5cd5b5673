import App
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Postgres

/// Builds the real application against a fresh test database.
public enum TestApp {
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A self-signed certificate for the tests' HTTPS server, made once per process.
    public static let certificate: (cert: String, key: String) = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relance-test-tls-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = repositoryRoot.appendingPathComponent("scripts/dev-cert.sh")
        process.arguments = [dir.path]
        process.standardOutput = FileHandle.nullDevice
        try? ProcessLauncher.run(process)
        process.waitUntilExit()
        return (dir.appendingPathComponent("dev-cert.pem").path, dir.appendingPathComponent("dev-key.pem").path)
    }()

    /// A random data key per test process.
    public static let dataKey: String = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    /// The environment a test server runs with; `extra` overrides.
    public static func environment(_ database: TestDatabase.Database, _ extra: [String: String] = [:]) -> [String: String] {
        var env = [
            "RELANCE_DATABASE_URL": database.appURL,
            "RELANCE_MIGRATION_DATABASE_URL": database.ownerURL,
            "RELANCE_TLS_CERT": certificate.cert,
            "RELANCE_TLS_KEY": certificate.key,
            "RELANCE_HOME": repositoryRoot.path,
            "RELANCE_PORT": "0",
            "RELANCE_LOG_LEVEL": "warning",
            "RELANCE_DATA_KEY": dataKey,
        ]
        env.merge(extra) { _, new in new }
        return env
    }

    /// Runs `body` with a configuration and pool on a fresh migrated database.
    public static func withApp<T>(
        _ extra: [String: String] = [:], _ body: (AppConfiguration, PostgresPool, TestDatabase.Database) async throws -> T
    ) async throws -> T {
        try await TestDatabase.withDatabase { database in
            let configuration = try AppConfiguration.fromEnvironment(environment(database, extra))
            let pool = PostgresPool(
                configuration: .init(conninfo: configuration.databaseURL, maxConnections: 4, acquireTimeout: .seconds(60)), logger: logger)
            do {
                let result = try await body(configuration, pool, database)
                try await pool.close()
                return result
            } catch {
                try? await pool.close()
                throw error
            }
        }
    }

    public static let logger: Logger = {
        var logger = Logger(label: "relance.test.app")
        logger.logLevel = .warning
        return logger
    }()

    /// The `relance` executable built next to the test bundle.
    public static var executable: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("relance")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug/relance")
    }
}

extension TestDatabase {
    /// An empty database (no migrations applied), dropped after `body`.
    public static func withEmptyDatabase<T>(_ body: (Database) async throws -> T) async throws -> T {
        guard let admin = adminPool else { throw MissingEnvironment(description: "RELANCE_ADMIN_DATABASE_URL is unset") }
        let name = "e_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await admin.execute(SQL(unsafeRaw: "CREATE DATABASE \(name) OWNER relance_owner"))
        let database = Database(
            name: String(name),
            appURL: try url(try environment("RELANCE_DATABASE_URL"), database: String(name)),
            ownerURL: try url(try environment("RELANCE_MIGRATION_DATABASE_URL"), database: String(name)),
            adminURL: try url(try environment("RELANCE_ADMIN_DATABASE_URL"), database: String(name)))
        do {
            let result = try await body(database)
            try await admin.execute(SQL(unsafeRaw: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            return result
        } catch {
            _ = try? await admin.execute(SQL(unsafeRaw: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            throw error
        }
    }
}

/// Starts the tests' child processes, and closes their pipes after.
///
/// Foundation's `Process.run()` in Swift 6.3.1 lists `/proc/self/fd` with a 256-byte over-read
/// of each entry (swift-corelibs-foundation PR 5472): once a process holds about 1,300
/// descriptors, the listing fills glibc's buffer and the over-read can cross into an unmapped
/// page (a fresh clone's run crashed so, at 1,355 descriptors, most of them pipes of earlier
/// `curl` runs never closed). So every pipe is closed after use (`close`), and a launch with
/// 1,000 descriptors or more open fails clearly instead of risking the crash.
public enum ProcessLauncher {
    public struct TooManyDescriptors: Error, CustomStringConvertible {
        public let count: Int
        public var description: String { "\(count) file descriptors open: a leak; Process.run() could crash (see ProcessLauncher)" }
    }

    public static func run(_ process: Process) throws {
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        if open >= 1000 { throw TooManyDescriptors(count: open) }
        try process.run()
    }

    /// Runs blocking work (reading a child process's output, waiting for its exit) on a thread
    /// of its own, not on one of Swift's cooperative threads. There are as many of those as
    /// cores, two here: two tests blocked on them starve every other task of the test process,
    /// an in-process server the blocked test is waiting for included (seen: a raw TLS exchange
    /// read nothing for 20 s, and a dozen other tests timed out waiting for database
    /// connections meanwhile).
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// Waits for a child process to exit, off the cooperative threads (`offPool`).
    public static func waitUntilExit(_ process: Process) async {
        nonisolated(unsafe) let process = process
        _ = try? await offPool { process.waitUntilExit() }
    }

    /// Closes both ends of pipes once the child is done with them.
    public static func close(_ pipes: Pipe...) {
        for pipe in pipes {
            try? pipe.fileHandleForReading.close()
            try? pipe.fileHandleForWriting.close()
        }
    }
}

extension TestApp {
    /// A TCP port free on 127.0.0.1 now: the kernel's pick for a socket bound to port 0, closed
    /// again. (A random port from a range can be held by another test's server or by one of the
    /// outgoing connections the kernel numbers from the same ranges.)
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
