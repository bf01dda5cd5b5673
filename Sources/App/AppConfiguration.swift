import Foundation

/// Everything the server reads from its environment, read once at start-up.
///
/// A missing or invalid value stops start-up with one message that lists every variable as
/// set or unset (never its value, which may be a password).
public struct AppConfiguration: Sendable {
    public var databaseURL: String
    public var migrationDatabaseURL: String
    public var tlsCertificatePath: String
    public var tlsKeyPath: String
    public var host: String
    public var port: Int
    public var poolSize: Int
    public var statementTimeout: Duration
    public var maxBodyBytes: Int
    public var maxPlacementBytes: Int
    /// Placement uploads streaming at once on this node (each holds a database connection).
    public var maxUploads: Int
    /// Placement uploads streaming at once per creditor on this node.
    public var maxUploadsPerCreditor: Int
    /// An upload that sends less than this while the server waits for it is stopped (408).
    public var uploadMinBytesPerSecond: Int
    /// The time over which the upload rate is judged, and the longest wait for one chunk.
    public var uploadRateWindow: Duration
    public var idleTimeout: Duration
    /// How long an agent holds the case `POST /v1/work/next` hands out, renewable.
    public var leaseDuration: Duration
    /// How long this node trusts a bearer it resolved without asking the database again (0: off).
    public var credentialCacheLifetime: Duration
    public var shutdownDrain: Duration
    public var logLevel: String
    public var metricsToken: String?
    /// Base64 of 32 bytes: seals TOTP secrets at rest (AES-256-GCM).
    public var dataKey: String
    /// Where `Migrations/` and `Docs/openapi.yaml` are found.
    public var home: URL

    /// One documented variable: its name, whether it is required, and how to check it.
    struct Variable {
        let name: String
        let required: Bool
        let help: String
    }

    static let variables: [Variable] = [
        .init(name: "RELANCE_DATABASE_URL", required: true, help: "libpq URI or conninfo of the service role"),
        .init(name: "RELANCE_MIGRATION_DATABASE_URL", required: false, help: "conninfo of the schema owner (default: RELANCE_DATABASE_URL)"),
        .init(name: "RELANCE_DATA_KEY", required: true, help: "base64 of 32 random bytes sealing TOTP secrets (openssl rand -base64 32)"),
        .init(name: "RELANCE_TLS_CERT", required: true, help: "PEM certificate chain file"),
        .init(name: "RELANCE_TLS_KEY", required: true, help: "PEM private key file"),
        .init(name: "RELANCE_HOST", required: false, help: "listen address (default 127.0.0.1)"),
        .init(name: "RELANCE_PORT", required: false, help: "listen port, 0-65535, 0 picks a free one (default 8443)"),
        .init(name: "RELANCE_DB_POOL_SIZE", required: false, help: "database connections, 1-200 (default 10)"),
        .init(name: "RELANCE_STATEMENT_TIMEOUT_MS", required: false, help: "per-statement limit, 100-3600000 (default 30000)"),
        .init(name: "RELANCE_MAX_BODY_BYTES", required: false, help: "largest JSON body, 1024-104857600 (default 1048576)"),
        .init(name: "RELANCE_MAX_PLACEMENT_BYTES", required: false, help: "largest placement file, 1024-17179869184 (default 2147483648)"),
        .init(name: "RELANCE_UPLOADS_MAX", required: false, help: "placement uploads at once per node, 1-200 (default: half the pool, at least 1)"),
        .init(name: "RELANCE_UPLOADS_PER_CREDITOR", required: false, help: "placement uploads at once per creditor and node, 1-200 (default 2)"),
        .init(name: "RELANCE_UPLOAD_MIN_BYTES_PER_SECOND", required: false, help: "slowest accepted upload, 1-1073741824 (default 16384)"),
        .init(name: "RELANCE_UPLOAD_RATE_WINDOW_S", required: false, help: "seconds over which the upload rate is judged, 1-3600 (default 15)"),
        .init(name: "RELANCE_IDLE_TIMEOUT_S", required: false, help: "close idle client connections after, 1-3600 (default 30)"),
        .init(name: "RELANCE_LEASE_SECONDS", required: false, help: "an agent's lease on the next case, 30-7200 (default 600)"),
        .init(name: "RELANCE_CREDENTIAL_CACHE_S", required: false, help: "seconds a node trusts a bearer it resolved, 0-60, 0 off (default 5)"),
        .init(name: "RELANCE_SHUTDOWN_DRAIN_S", required: false, help: "seconds readiness fails before the listener closes, 0-120 (default 0)"),
        .init(name: "RELANCE_LOG_LEVEL", required: false, help: "trace|debug|info|notice|warning|error|critical (default info)"),
        .init(name: "RELANCE_METRICS_TOKEN", required: false, help: "if set, GET /metrics requires this bearer token"),
        .init(name: "RELANCE_HOME", required: false, help: "directory holding Migrations/ and Docs/ (default: found from the working directory)"),
    ]

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads and checks the environment.
    /// - Parameters:
    ///   - needsTLS: false for commands that do not serve (migrate, admin).
    ///   - needsDataKey: false for commands that touch no secret (migrate, audit).
    /// - Throws: `Invalid`, whose description lists every variable as set/unset and names
    ///   the problems, without values.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment, needsTLS: Bool = true, needsDataKey: Bool = true
    ) throws -> AppConfiguration {
        var problems: [String] = []
        func value(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
            guard let text = value(name) else { return fallback }
            guard let number = Int(text), range.contains(number) else {
                problems.append("\(name) is not a whole number in \(range.lowerBound)...\(range.upperBound)")
                return fallback
            }
            return number
        }
        let databaseURL = value("RELANCE_DATABASE_URL")
        if databaseURL == nil { problems.append("RELANCE_DATABASE_URL is required") }
        let dataKey = value("RELANCE_DATA_KEY")
        if needsDataKey {
            if let dataKey {
                if Data(base64Encoded: dataKey)?.count != 32 { problems.append("RELANCE_DATA_KEY is not base64 of 32 bytes") }
            } else {
                problems.append("RELANCE_DATA_KEY is required")
            }
        }
        let cert = value("RELANCE_TLS_CERT")
        let key = value("RELANCE_TLS_KEY")
        if needsTLS {
            for (name, path) in [("RELANCE_TLS_CERT", cert), ("RELANCE_TLS_KEY", key)] {
                if let path {
                    if !FileManager.default.isReadableFile(atPath: path) { problems.append("\(name) names a file that cannot be read") }
                } else {
                    problems.append("\(name) is required")
                }
            }
        }
        let logLevel = value("RELANCE_LOG_LEVEL") ?? "info"
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) {
            problems.append("RELANCE_LOG_LEVEL is not a known level")
        }
        let poolSize = integer("RELANCE_DB_POOL_SIZE", default: 10, range: 1...200)
        let config = AppConfiguration(
            databaseURL: databaseURL ?? "",
            migrationDatabaseURL: value("RELANCE_MIGRATION_DATABASE_URL") ?? databaseURL ?? "",
            tlsCertificatePath: cert ?? "",
            tlsKeyPath: key ?? "",
            host: value("RELANCE_HOST") ?? "127.0.0.1",
            port: integer("RELANCE_PORT", default: 8443, range: 0...65535),
            poolSize: poolSize,
            statementTimeout: .milliseconds(integer("RELANCE_STATEMENT_TIMEOUT_MS", default: 30_000, range: 100...3_600_000)),
            maxBodyBytes: integer("RELANCE_MAX_BODY_BYTES", default: 1 << 20, range: 1024...(100 << 20)),
            maxPlacementBytes: integer("RELANCE_MAX_PLACEMENT_BYTES", default: 2 << 30, range: 1024...(16 << 30)),
            maxUploads: integer("RELANCE_UPLOADS_MAX", default: max(1, poolSize / 2), range: 1...200),
            maxUploadsPerCreditor: integer("RELANCE_UPLOADS_PER_CREDITOR", default: 2, range: 1...200),
            uploadMinBytesPerSecond: integer("RELANCE_UPLOAD_MIN_BYTES_PER_SECOND", default: 16 * 1024, range: 1...(1 << 30)),
            uploadRateWindow: .seconds(integer("RELANCE_UPLOAD_RATE_WINDOW_S", default: 15, range: 1...3600)),
            idleTimeout: .seconds(integer("RELANCE_IDLE_TIMEOUT_S", default: 30, range: 1...3600)),
            leaseDuration: .seconds(integer("RELANCE_LEASE_SECONDS", default: 600, range: 30...7200)),
            credentialCacheLifetime: .seconds(integer("RELANCE_CREDENTIAL_CACHE_S", default: 5, range: 0...60)),
            shutdownDrain: .seconds(integer("RELANCE_SHUTDOWN_DRAIN_S", default: 0, range: 0...120)),
            logLevel: logLevel,
            metricsToken: value("RELANCE_METRICS_TOKEN"),
            dataKey: dataKey ?? "",
            home: locateHome(value("RELANCE_HOME"), problems: &problems)
        )
        guard problems.isEmpty else {
            throw Invalid(description: report(problems: problems, environment: environment))
        }
        return config
    }

    static func report(problems: [String], environment: [String: String]) -> String {
        var lines = ["Relance cannot start: the configuration is incomplete or invalid."]
        lines += problems.map { "  - \($0)" }
        lines.append("Environment (values are never shown):")
        for variable in variables {
            let set = environment[variable.name].map { !$0.isEmpty } ?? false
            lines.append("  \(variable.name.padding(toLength: 32, withPad: " ", startingAt: 0)) \(set ? "set  " : "unset") \(variable.required ? "required" : "optional")  \(variable.help)")
        }
        lines.append("See Docs/configuration.md.")
        return lines.joined(separator: "\n")
    }

    /// `RELANCE_HOME`, else the first of the working directory and the executable's ancestors
    /// that holds `Migrations/`.
    static func locateHome(_ explicit: String?, problems: inout [String]) -> URL {
        let fm = FileManager.default
        func hasMigrations(_ url: URL) -> Bool {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: url.appendingPathComponent("Migrations").path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        if let explicit {
            let url = URL(fileURLWithPath: explicit)
            if !hasMigrations(url) { problems.append("RELANCE_HOME has no Migrations/ directory") }
            return url
        }
        var candidates = [URL(fileURLWithPath: fm.currentDirectoryPath)]
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        if let found = candidates.first(where: hasMigrations) { return found }
        problems.append("no Migrations/ directory found: set RELANCE_HOME")
        return candidates[0]
    }

    public var migrationsDirectory: URL { home.appendingPathComponent("Migrations") }
    public var openAPIPath: URL { home.appendingPathComponent("Docs/openapi.yaml") }
}
