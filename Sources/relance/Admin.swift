import App
import ArgumentParser
import Core
import Foundation
import Identity
import Postgres

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage agency staff from the command line.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a staff user; the password is read from standard input.",
            discussion: """
                This is how the first administrator of a new installation is made:
                  printf '%s' "$PASSWORD" | relance admin create --email ops@agency.fr --role admin
                For admin and dpo a TOTP secret is printed once as totp_secret=... (base32).
                """)

        @Option(help: "Email address (the login).")
        var email: String

        @Option(help: "admin, supervisor, agent or dpo.")
        var role: String

        @Option(help: "Name shown to colleagues.")
        var displayName: String = ""

        @Flag(help: "Enrol a TOTP second factor even when the role does not require one.")
        var totp = false

        func run() async throws {
            guard let role = Role(rawValue: role), role.isStaff else {
                throw ValidationError("--role must be one of admin, supervisor, agent, dpo")
            }
            var input: [UInt8] = []
            while let line = readLine(strippingNewline: true) {
                input += Array(line.utf8)
                break
            }
            let password = String(decoding: input, as: UTF8.self)
            let config = try loadConfiguration(needsTLS: false)
            let logger = bootstrapLogging(config)
            let pool = PostgresPool(configuration: .init(conninfo: config.databaseURL, maxConnections: 1), logger: logger)
            defer { Task { try? await pool.close() } }
            let directory = UserDirectory(pool: pool, secrets: try SecretBox(base64Key: config.dataKey))
            // The operator at the command line acts as an administrator of the installation.
            let installer = Principal(kind: .staff, id: nil, role: .admin)
            do {
                let created = try await directory.create(
                    .init(email: email, displayName: displayName, role: role, password: password, enrolTOTP: totp),
                    by: installer, requestID: "cli")
                print("user_id=\(created.user.id.uuidString.lowercased())")
                print("email=\(created.user.email)")
                print("role=\(created.user.role.rawValue)")
                if let secret = created.totpSecret {
                    print("totp_secret=\(secret)")
                    print("totp_uri=\(created.totpURI ?? "")")
                }
            } catch let problem as Problem {
                let reasons = problem.errors.map { "\($0.field) \($0.reason)" }.joined(separator: "; ")
                throw ValidationError("\(problem.title)\(reasons.isEmpty ? "" : ": \(reasons)")")
            }
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the audit log.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk every hash chain; name the first broken entry of each. Exit 1 when any is broken.")

        func run() async throws {
            let config = try loadConfiguration(needsTLS: false, needsDataKey: false)
            let logger = bootstrapLogging(config)
            let pool = PostgresPool(configuration: .init(conninfo: config.databaseURL, maxConnections: 1), logger: logger)
            let result: AuditLog.Verification
            do {
                result = try await AuditLog.verify(pool: pool)
                try await pool.close()
            } catch {
                try? await pool.close()
                throw error
            }
            print(result.description)
            if !result.isIntact { throw ExitCode(1) }
        }
    }
}
