import App
import ArgumentParser
import Assignment
import Core
import Foundation
import Identity
import Onboarding
import Postgres
import WorkQueue

/// `relance demo seed`: a demo agency for a newcomer's `make run`.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Development helpers.", subcommands: [Seed.self])

    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a demo agency (staff of every role, a creditor, its admin and an API key) once; print the credentials.")

        @Option(help: "File that keeps the credentials (mode 600); printed again on later runs.")
        var output: String

        static let adminEmail = "admin@demo.relance.test"
        /// How the demo creditor's ERP names its columns.
        static let demoMapping = [
            "Code affaire": "creditor_reference", "Client": "debtor_name", "Centre de coût": "ignore",
            "Echéance prévue": "due_date", "Solde": "amount",
        ]

        func run() async throws {
            let config = try loadConfiguration(needsTLS: false)
            let logger = bootstrapLogging(config)
            let pool = PostgresPool(configuration: .init(conninfo: config.databaseURL, maxConnections: 2), logger: logger)
            defer { Task { try? await pool.close() } }
            let installer = Principal(kind: .staff, id: nil, role: .admin)
            let users = UserDirectory(pool: pool, secrets: try SecretBox(base64Key: config.dataKey))
            let existing = try await pool.transaction(as: installer) { tx in
                try await tx.one("SELECT id FROM users WHERE email = \(Self.adminEmail)")
            }
            if existing != nil {
                if let text = try? String(contentsOfFile: output, encoding: .utf8) {
                    print(text)
                } else {
                    print("The demo agency exists but \(output) is gone: reset with `make db-reset`.")
                }
                return
            }
            var lines = ["Demo agency (development only; kept in \(output))", ""]
            func password() -> String { "Demo-" + Tokens.random(byteCount: 12) }
            var staff: [Role: UUID] = [:]
            for (role, name) in [(Role.admin, "admin"), (.supervisor, "supervisor"), (.agent, "agent"), (.dpo, "dpo")] {
                let secret = password()
                let created = try await users.create(
                    .init(email: "\(name)@demo.relance.test", displayName: "Demo \(name)", role: role, password: secret),
                    by: installer, requestID: "demo-seed")
                staff[role] = created.user.id
                var line = "  \(role.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(created.user.email)  password: \(secret)"
                if let totp = created.totpSecret { line += "  totp_secret: \(totp)" }
                lines.append(line)
            }
            let creditor = try await CreditorDirectory(pool: pool).create(
                .init(legalName: "Démo Fournitures SAS", siren: "732829320"), by: installer, requestID: "demo-seed")
            // Its mandate (placements need one in force) and the column mapping of its ERP's
            // export, whose headers no alias knows (Docs/placements.md, "Column mappings").
            let today = CalendarDate(Date()).description
            let mandate = try JSONDecoder().decode(MandateBook.Input.self, from: Data("""
                {"reference": "MDT-DEMO-001", "signedOn": "\(today)", "validFrom": "\(today)", "powerToReceiveFunds": true,
                 "feeBasis": "15 % des sommes encaissées", "remittanceBasis": "net", "remittanceFrequency": "monthly",
                 "remittanceDaysAfterEncashment": 30, "insuranceReference": "RCP-DEMO-2026"}
                """.utf8))
            _ = try await MandateBook(pool: pool).record(mandate, creditor: creditor.id, by: installer, requestID: "demo-seed")
            _ = try await ColumnMappingBook(pool: pool).save(
                Self.demoMapping, creditor: creditor.id, by: installer, requestID: "demo-seed")
            // Its first file, in the ERP's columns, placed and assigned: the demo agent has a queue.
            let assigned = try await Self.seedWork(pool: pool, creditor: creditor.id, supervisor: staff[.supervisor]!, agent: staff[.agent]!, by: installer)
            let commitments = try await Self.seedCommitments(pool: pool, creditor: creditor.id, supervisor: staff[.supervisor]!)
            let creditorSecret = password()
            let creditorAdmin = try await users.create(
                .init(email: "creditor@demo.relance.test", displayName: "Demo creditor admin", role: .creditorAdmin, creditorID: creditor.id, password: creditorSecret),
                by: installer, requestID: "demo-seed")
            lines.append("  \("creditor_admin".padding(toLength: 16, withPad: " ", startingAt: 0)) \(creditorAdmin.user.email)  password: \(creditorSecret)")
            let (_, key) = try await users.createAPIKey(creditor: creditor.id, name: "demo", scopes: APIScope.allCases, by: installer, requestID: "demo-seed")
            lines += [
                "", "  creditor: \(creditor.legalName)  id: \(creditor.id.uuidString.lowercased())", "  API key:  \(key)", "",
                "  The creditor has a mandate in force and a saved column mapping for its ERP's export",
                "  (\(Self.demoMapping.keys.sorted().joined(separator: ";"))): see the README.",
                "  Its first file is placed: \(assigned) cases, assigned to agent@demo.relance.test (team « Équipe A »).",
                "  Worked already: \(commitments). The rest wait in the agent's queue",
                "  (POST /v1/work/next; calls only in the debtor's hours: France Mon-Sat 08:00-20:00).",
                "",
                "  Log in (admin and dpo need a TOTP code: relance totp --secret <totp_secret>):",
                "    curl --cacert .relance/tls/dev-cert.pem https://localhost:8443/v1/auth/token -H 'content-type: application/json' \\",
                "      -d '{\"email\":\"supervisor@demo.relance.test\",\"password\":\"<password>\"}'",
            ]
            let text = lines.joined(separator: "\n")
            FileManager.default.createFile(atPath: output, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            print(text)
        }
    }
}

extension Demo.Seed {
    /// The demo creditor's first file (its ERP's columns, read by the saved mapping).
    static let demoFile = """
        Code affaire;Client;Centre de coût;Echéance prévue;Solde
        AFF-1001;Boulangerie Martin SARL;CC-12;15/09/2025;1 234,56
        AFF-1002;Garage du Centre SAS;CC-12;30/09/2025;980,00
        AFF-1003;Jeanne Dupont;CC-40;05/10/2025;149,90
        AFF-1004;Hôtel des Voyageurs;CC-40;12/10/2025;4 870,00
        AFF-1005;Pierre Lefèvre;CC-12;20/10/2025;75,00
        AFF-1006;Librairie Lumière;CC-31;31/10/2025;612,40

        """

    /// A team with the demo agent, the rules, and the first file placed and assigned.
    /// - Returns: the cases assigned.
    static func seedWork(pool: PostgresPool, creditor: UUID, supervisor: UUID, agent: UUID, by installer: Principal) async throws -> Int {
        let team = try await TeamBook(pool: pool).create(.init(name: "Équipe A", supervisorId: .some(supervisor)), by: installer, requestID: "demo-seed")
        _ = try await AgentBook(pool: pool).put(
            agent, .init(teamId: team.id, languages: ["fr", "en"], debtorKinds: ["person", "company"], stages: ["amicable_calls", "letters"], capacity: 200),
            by: installer, requestID: "demo-seed")
        _ = try await RuleBook(pool: pool).save(.init(rules: [], default: .init(team: team.id)), by: installer, requestID: "demo-seed")
        let placements = PlacementService(pool: pool)
        let bytes = Array(demoFile.replacingOccurrences(of: "\n", with: "\r\n").utf8)
        _ = try await placements.stage(
            creditor: creditor, format: .csv, body: AsyncStream { c in c.yield(bytes); c.finish() }, idempotencyKey: nil, by: installer,
            requestID: "demo-seed")
        while try await placements.processNext() != nil {}
        return try await Assigner(pool: pool).run().assigned
    }
}

extension Demo.Seed {
    /// What the supervisor already did on the demo cases, so a newcomer's case files are alive:
    /// a payment plan, a promise, a dispute, a hold, and a debtor who asked to be written to.
    /// - Returns: a line saying so.
    static func seedCommitments(pool: PostgresPool, creditor: UUID, supervisor: UUID) async throws -> String {
        let by = Principal(kind: .staff, id: supervisor, role: .supervisor)
        let cases = try await pool.transaction(as: by, .init(readOnly: true)) { tx in
            try await tx.query("SELECT creditor_reference, case_id FROM claims WHERE creditor_id = \(creditor)").reduce(into: [String: UUID]()) {
                $0[try $1.decode(String.self, "creditor_reference")] = try $1.decode(UUID.self, "case_id")
            }
        }
        let today = CalendarDate(Date())
        if let id = cases["AFF-1001"] {
            _ = try await PaymentPlans(pool: pool).create(
                case: id, .init(instalments: [
                    .init(dueDate: today.adding(days: 7), amountMinor: 41_152), .init(dueDate: today.adding(days: 37), amountMinor: 41_152),
                    .init(dueDate: today.adding(days: 67), amountMinor: 41_152),
                ]), by: by, requestID: "demo-seed")
        }
        if let id = cases["AFF-1002"] {
            _ = try await Promises(pool: pool).create(case: id, .init(amountMinor: 98_000, dueDate: today.adding(days: 3), graceDays: 2), by: by, requestID: "demo-seed")
        }
        if let id = cases["AFF-1004"] {
            _ = try await Disputes(pool: pool).open(
                case: id, .init(reason: "amount_contested", note: "Le client conteste la facture de séminaire."), by: by, requestID: "demo-seed")
        }
        if let id = cases["AFF-1006"] {
            _ = try await Holds(pool: pool).create(
                case: id, .init(endsOn: today.adding(days: 10), reason: "creditor_request", note: "Le créancier négocie directement."), by: by, requestID: "demo-seed")
        }
        if let id = cases["AFF-1003"] {
            let debtor = try await pool.transaction(as: by, .init(readOnly: true)) { tx in
                try await tx.one("SELECT debtor_id FROM cases WHERE id = \(id)")!.decode(UUID.self, "debtor_id")
            }
            _ = try await ContactPreferenceBook(pool: pool).put(
                debtor: debtor, .init(optedOut: [.sms], preferredDays: [1, 2, 3, 4, 5], preferredFrom: "09:00", preferredTo: "12:00"), by: by, requestID: "demo-seed")
        }
        return "AFF-1001 has a payment plan, AFF-1002 a promise, AFF-1004 a dispute, AFF-1006 a hold; Jeanne Dupont (AFF-1003) takes calls on weekday mornings only"
    }
}

/// `relance totp --secret BASE32`: the current code, for logging in from a terminal.
struct TOTPCode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "totp", abstract: "Print the current TOTP code of a base32 secret.")

    @Option(help: "The base32 secret printed at enrolment.")
    var secret: String

    func run() throws {
        guard let key = Base32.decode(secret), key.count >= 10 else { throw ValidationError("--secret is not a base32 TOTP secret") }
        print(TOTP(key: key).code(counter: TOTP.counter(at: Date())))
    }
}
