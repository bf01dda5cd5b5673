import App
import Core
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import Platform
import Postgres
import TestSupport
import Testing
import Web

/// Wall 1: every route x every kind of caller x own/other creditor, with the exact status.
///
/// Targets always belong to creditor A. "own" callers are bound to A, "other" ones to B.
/// A route missing from `matrix` fails `everyRouteIsInTheMatrix`.
@Suite("Access matrix")
struct AccessMatrixTests {
    enum Caller: String, CaseIterable, Sendable {
        case anonymous, admin, supervisor, agent, dpo
        case creditorAdminOwn, creditorViewerOwn, creditorAdminOther, creditorViewerOther
        case apiKeyOwn, apiKeyOther
        /// Keys of creditor A holding a single scope: a route that needs another scope denies them.
        case apiKeyPlacementsOwn, apiKeyCasesOwn, apiKeyReportsOwn

        var singleScope: APIScope? {
            switch self {
            case .apiKeyPlacementsOwn: return .placements
            case .apiKeyCasesOwn: return .cases
            case .apiKeyReportsOwn: return .reports
            default: return nil
            }
        }
    }

    /// The callers allowed, with their status; everyone else gets `denied(caller)`.
    struct Row: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let expected: @Sendable (Caller) -> Int
        let body: (@Sendable (Caller) -> [String: Any])?
        var csv: [UInt8]? = nil
    }

    struct Targets: Sendable {
        let creditorA: UUID
        let agentUser: UUID
        let staffVictim: UUID
        let creditorVictim: UUID
        let keyVictim: UUID
        let mandate: UUID
        let placement: UUID
        /// Assignment: a team, an agent with a profile and no case (for cover and moves), the
        /// calling agent's case and another agent's.
        var team = UUID()
        var idleAgent = UUID()
        var caseOwn = UUID()
        var caseOther = UUID()
        /// The debtor of the calling agent's case.
        var debtorOwn = UUID()
    }

    static let staffRoles: [Caller] = [.admin, .supervisor, .agent, .dpo]

    /// The usual denial for a caller not in `allowed`: 401 anonymous, 404 another creditor's
    /// principal on a creditor's resource, 403 otherwise. A single-scope key of A is let in
    /// where `apiKeyOwn` (all scopes) is, when it holds `keyScope` (or the route takes any).
    static func rule(_ allowed: [Caller: Int], creditorScoped: Bool, keyScope: APIScope? = nil) -> @Sendable (Caller) -> Int {
        { caller in
            if let status = allowed[caller] { return status }
            if let scope = caller.singleScope, let status = allowed[.apiKeyOwn], keyScope == nil || keyScope == scope {
                return status
            }
            switch caller {
            case .anonymous: return 401
            case .creditorAdminOther, .creditorViewerOther, .apiKeyOther: return creditorScoped ? 404 : 403
            default: return 403
            }
        }
    }

    static func all(_ status: Int, anonymous: Int? = nil) -> @Sendable (Caller) -> Int {
        { caller in caller == .anonymous ? (anonymous ?? status) : status }
    }

    static func matrix(_ t: Targets) -> [Row] {
        let a = t.creditorA.uuidString.lowercased()
        let readers: [Caller: Int] = [.admin: 200, .supervisor: 200, .creditorAdminOwn: 200, .creditorViewerOwn: 200]
        var placementReaders = readers
        placementReaders[.apiKeyOwn] = 200
        let p = t.placement.uuidString.lowercased()
        let unique: @Sendable (Caller) -> String = { "\($0.rawValue)-\(UUID().uuidString.prefix(8).lowercased())@example.test" }
        let (team, agent, idle) = (t.team.uuidString.lowercased(), t.agentUser.uuidString.lowercased(), t.idleAgent.uuidString.lowercased())
        let (caseOwn, caseOther) = (t.caseOwn.uuidString.lowercased(), t.caseOther.uuidString.lowercased())
        let managers = { (status: Int) -> [Caller: Int] in [.admin: status, .supervisor: status] }
        // Cases: every member of staff, the creditors' users and keys (another creditor's sees
        // none of A's: an empty list, a 404 for one case).
        var caseListers: [Caller: Int] = [:]
        for caller in Caller.allCases where caller != .anonymous && caller.singleScope == nil { caseListers[caller] = 200 }
        let caseReaders: [Caller: Int] = [
            .admin: 200, .supervisor: 200, .agent: 200, .dpo: 200, .creditorAdminOwn: 200, .creditorViewerOwn: 200, .apiKeyOwn: 200]
        return [
            Row(method: .get, path: "/health/live", expected: all(200), body: nil),
            Row(method: .get, path: "/health/ready", expected: all(200), body: nil),
            Row(method: .get, path: "/metrics", expected: all(200), body: nil),
            Row(method: .get, path: "/openapi.json", expected: all(200), body: nil),
            Row(method: .post, path: "/v1/auth/token", expected: all(401), body: { ["email": "nobody-\($0.rawValue)@example.test", "password": "Wrong-password-123"] }),
            Row(method: .get, path: "/v1/me", expected: all(200, anonymous: 401), body: nil),
            Row(method: .post, path: "/v1/auth/password", expected: rule([
                .admin: 422, .supervisor: 422, .agent: 422, .dpo: 422, .creditorAdminOwn: 422, .creditorViewerOwn: 422,
                .creditorAdminOther: 422, .creditorViewerOther: 422], creditorScoped: false),
                body: { _ in ["currentPassword": "not-my-password", "newPassword": "Another-long-passphrase-7"] }),
            Row(method: .get, path: "/v1/staff", expected: rule([.admin: 200, .supervisor: 200], creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/staff", expected: rule([.admin: 201], creditorScoped: false),
                body: { ["email": unique($0), "role": "agent", "password": "A-long-enough-passphrase"] }),
            Row(method: .get, path: "/v1/staff/\(t.agentUser.uuidString.lowercased())", expected: rule([.admin: 200, .supervisor: 200], creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/staff/\(t.staffVictim.uuidString.lowercased())/disable", expected: rule([.admin: 204], creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/creditors", expected: rule([.admin: 201], creditorScoped: false), body: { _ in ["legalName": "Nouvelle Société SARL", "siren": "732829320"] }),
            Row(method: .get, path: "/v1/creditors", expected: all(200, anonymous: 401), body: nil),
            Row(method: .get, path: "/v1/creditors/\(a)", expected: rule([
                .admin: 200, .supervisor: 200, .agent: 200, .dpo: 200, .creditorAdminOwn: 200, .creditorViewerOwn: 200, .apiKeyOwn: 200], creditorScoped: true),
                body: nil),
            Row(method: .patch, path: "/v1/creditors/\(a)", expected: rule([.admin: 200], creditorScoped: true), body: { _ in ["legalName": "Fournitures Durand SAS"] }),
            Row(method: .get, path: "/v1/creditors/\(a)/users", expected: rule([.admin: 200, .creditorAdminOwn: 200], creditorScoped: true), body: nil),
            Row(method: .post, path: "/v1/creditors/\(a)/users", expected: rule([.admin: 201, .creditorAdminOwn: 201], creditorScoped: true),
                body: { ["email": unique($0), "role": "creditor_viewer", "password": "A-long-enough-passphrase"] }),
            Row(method: .get, path: "/v1/creditors/\(a)/users/\(t.creditorVictim.uuidString.lowercased())",
                expected: rule([.admin: 200, .creditorAdminOwn: 200], creditorScoped: true), body: nil),
            Row(method: .get, path: "/v1/creditors/\(a)/api-keys/\(t.keyVictim.uuidString.lowercased())",
                expected: rule([.admin: 200, .creditorAdminOwn: 200], creditorScoped: true), body: nil),
            Row(method: .post, path: "/v1/creditors/\(a)/users/\(t.creditorVictim.uuidString.lowercased())/disable",
                expected: rule([.admin: 204, .creditorAdminOwn: 204], creditorScoped: true), body: nil),
            Row(method: .get, path: "/v1/creditors/\(a)/api-keys", expected: rule([.admin: 200, .creditorAdminOwn: 200], creditorScoped: true), body: nil),
            Row(method: .post, path: "/v1/creditors/\(a)/api-keys", expected: rule([.admin: 201, .creditorAdminOwn: 201], creditorScoped: true),
                body: { _ in ["name": "ERP", "scopes": ["reports"]] }),
            Row(method: .delete, path: "/v1/creditors/\(a)/api-keys/\(t.keyVictim.uuidString.lowercased())",
                expected: rule([.admin: 204, .creditorAdminOwn: 204], creditorScoped: true), body: nil),
            Row(method: .post, path: "/v1/creditors/\(a)/mandates", expected: rule([.admin: 201], creditorScoped: true), body: { caller in
                ["reference": "MDT-\(caller.rawValue)", "signedOn": "2026-01-05", "validFrom": "2026-01-05", "powerToReceiveFunds": true,
                 "feeBasis": "15 % des sommes encaissées", "remittanceBasis": "net", "remittanceFrequency": "monthly",
                 "remittanceDaysAfterEncashment": 30, "insuranceReference": "RCP-2026-001"]
            }),
            Row(method: .get, path: "/v1/creditors/\(a)/mandates", expected: rule(readers, creditorScoped: true), body: nil),
            Row(method: .get, path: "/v1/creditors/\(a)/mandates/\(t.mandate.uuidString.lowercased())", expected: rule(readers, creditorScoped: true), body: nil),
            Row(method: .post, path: "/v1/creditors/\(a)/fee-schedules", expected: rule([.admin: 201], creditorScoped: true), body: { caller in
                ["effectiveFrom": "2026-0\(Caller.allCases.firstIndex(of: caller)! % 9 + 1)-01", "basis": "flat", "tiers": [["from": 0, "rateBasisPoints": 1500]]]
            }),
            Row(method: .get, path: "/v1/creditors/\(a)/fee-schedules", expected: rule(readers, creditorScoped: true), body: nil),
            Row(method: .post, path: "/v1/creditors/\(a)/placements", expected: rule([.admin: 202, .creditorAdminOwn: 202, .apiKeyOwn: 202], creditorScoped: true, keyScope: .placements),
                body: nil, csv: Array("reference;montant;echeance;nom\nM-1;10,00;01/01/2025;Dupont\n".utf8)),
            Row(method: .get, path: "/v1/creditors/\(a)/placements", expected: rule(placementReaders, creditorScoped: true, keyScope: .placements), body: nil),
            Row(method: .get, path: "/v1/placements/\(p)", expected: rule(placementReaders, creditorScoped: true, keyScope: .placements), body: nil),
            Row(method: .get, path: "/v1/placements/\(p)/rejects", expected: rule(placementReaders, creditorScoped: true, keyScope: .placements), body: nil),
            Row(method: .get, path: "/v1/placements/\(p)/acknowledgement", expected: rule(placementReaders, creditorScoped: true, keyScope: .placements), body: nil),
            Row(method: .post, path: "/v1/creditors/\(a)/recalls", expected: rule([.admin: 200, .creditorAdminOwn: 200, .apiKeyOwn: 200], creditorScoped: true, keyScope: .placements),
                body: { _ in ["references": ["NO-SUCH-REF"]] }),
            // After the uploads (whose file the saved mapping would otherwise read): each admitted
            // caller saves a new version, then the reads find one.
            Row(method: .put, path: "/v1/creditors/\(a)/column-mapping", expected: rule([.admin: 201, .creditorAdminOwn: 201], creditorScoped: true),
                body: { caller in ["columns": ["Code \(caller.rawValue)": "creditor_reference", "Echeance": "due_date", "Montant": "amount", "Nom": "debtor_name"]] }),
            Row(method: .get, path: "/v1/creditors/\(a)/column-mapping", expected: rule(placementReaders, creditorScoped: true, keyScope: .placements), body: nil),
            Row(method: .get, path: "/v1/creditors/\(a)/column-mapping/versions", expected: rule(placementReaders, creditorScoped: true, keyScope: .placements), body: nil),
            // Assignment and cases (the calling agent holds caseOwn, another agent caseOther).
            Row(method: .get, path: "/v1/teams", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/teams", expected: rule(managers(201), creditorScoped: false), body: { ["name": "Équipe \($0.rawValue)"] }),
            Row(method: .get, path: "/v1/teams/\(team)", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .patch, path: "/v1/teams/\(team)", expected: rule(managers(200), creditorScoped: false), body: { _ in ["sharesCases": false] }),
            Row(method: .get, path: "/v1/agents", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/agents/\(agent)", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .put, path: "/v1/agents/\(agent)/profile", expected: rule(managers(200), creditorScoped: false), body: { _ in
                ["teamId": team, "languages": ["fr"], "debtorKinds": ["person", "company"], "stages": ["amicable_calls"], "capacity": 100]
            }),
            Row(method: .get, path: "/v1/agents/\(agent)/absences", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/agents/\(agent)/absences", expected: rule(managers(201), creditorScoped: false), body: { _ in
                ["startsAt": "2099-07-01T00:00:00Z", "endsAt": "2099-07-15T00:00:00Z", "reason": "leave"]
            }),
            // An absence that does not exist: those admitted are told so.
            Row(method: .delete, path: "/v1/agents/\(agent)/absences/\(UUID().uuidString.lowercased())", expected: rule(managers(404), creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/agents/\(idle)/cover", expected: rule(managers(200), creditorScoped: false), body: { _ in ["to": ["teamId": team]] }),
            Row(method: .get, path: "/v1/assignment-rules", expected: rule(managers(200), creditorScoped: false), body: nil),
            // The first admitted caller makes a new version, the next sends the same rules: 200.
            Row(method: .put, path: "/v1/assignment-rules", expected: rule([.admin: 201, .supervisor: 200], creditorScoped: false), body: { _ in
                ["rules": [["name": "Créancier A", "when": ["creditorId": a], "team": team]], "default": ["team": team]]
            }),
            Row(method: .get, path: "/v1/assignment-rules/versions", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/assignment-rules/versions/1", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/assignments/unassigned", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/assignments/run", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/assignments/reassign", expected: rule(managers(200), creditorScoped: false), body: { _ in
                ["filter": ["agentId": idle], "to": ["teamId": team]]
            }),
            // The calling agent already holds the case: those admitted are told so.
            Row(method: .post, path: "/v1/cases/\(caseOwn)/assignment", expected: rule(managers(422), creditorScoped: false), body: { _ in ["agentId": agent] }),
            Row(method: .get, path: "/v1/cases/\(caseOwn)/assignments", expected: rule([.admin: 200, .supervisor: 200, .agent: 200], creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/cases/\(caseOther)/assignments", expected: rule([.admin: 200, .supervisor: 200, .agent: 404], creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/cases", expected: rule(caseListers, creditorScoped: false, keyScope: .cases), body: nil),
            Row(method: .get, path: "/v1/cases/\(caseOwn)", expected: rule(caseReaders, creditorScoped: true, keyScope: .cases), body: nil),
            Row(method: .get, path: "/v1/cases/\(caseOther)", expected: rule(caseReaders.merging([.agent: 404]) { $1 }, creditorScoped: true, keyScope: .cases), body: nil),
            // The work queue: only agents take cases (this one has one, or is told when one comes);
            // leases that do not exist; activities on another agent's case (the calling agent
            // cannot see it: 404); the gate's rules (changed by administrators; France's again).
            Row(method: .post, path: "/v1/work/next", expected: rule([.agent: 200], creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/work/leases/\(UUID().uuidString.lowercased())/renew", expected: rule([.agent: 404], creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/work/leases/\(UUID().uuidString.lowercased())/release", expected: rule([.agent: 404], creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/work/queues", expected: rule(managers(200), creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/cases/\(caseOther)/activities", expected: rule([.admin: 201, .supervisor: 201, .agent: 404], creditorScoped: false),
                body: { _ in ["kind": "note", "note": "Le débiteur a écrit."] }),
            Row(method: .get, path: "/v1/cases/\(caseOwn)/activities", expected: rule([.admin: 200, .supervisor: 200, .agent: 200], creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/cases/\(caseOwn)/contact", expected: rule([.admin: 200, .supervisor: 200, .agent: 200], creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/contact-rules", expected: rule([.admin: 200, .supervisor: 200, .agent: 200, .dpo: 200], creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/contact-rules/FR", expected: rule([.admin: 200, .supervisor: 200, .agent: 200, .dpo: 200], creditorScoped: false), body: nil),
            Row(method: .put, path: "/v1/contact-rules/FR", expected: rule([.admin: 200], creditorScoped: false), body: { _ in
                [
                    "name": "France", "hours": Dictionary(uniqueKeysWithValues: (1...6).map { (String($0), [["from": "08:00", "to": "20:00"]]) }),
                    "hoursChannels": ["call", "sms", "email"], "recurringHolidays": ["01-01", "05-01", "05-08", "07-14", "08-15", "11-01", "11-11", "12-25"],
                    "callAttemptsMax": 7, "callAttemptsWindowDays": 7, "quietDaysAfterConversation": 7, "minDaysBetween": ["registered_letter": 7],
                ]
            }),
            Row(method: .get, path: "/v1/debtors/\(t.debtorOwn.uuidString.lowercased())/contact-preferences",
                expected: rule([.admin: 200, .supervisor: 200, .agent: 200, .dpo: 200], creditorScoped: false), body: nil),
            Row(method: .put, path: "/v1/debtors/\(t.debtorOwn.uuidString.lowercased())/contact-preferences",
                expected: rule([.admin: 200, .supervisor: 200, .agent: 200, .dpo: 200], creditorScoped: false), body: { _ in ["optedOut": ["sms"]] }),
            // Commitments on another agent's case (the calling agent cannot see it); their lists on
            // the calling agent's case, read by staff and the creditor; a creditor's plan terms.
            Row(method: .post, path: "/v1/cases/\(caseOther)/promises", expected: rule([.admin: 201, .supervisor: 201, .agent: 404], creditorScoped: false),
                body: { _ in ["amountMinor": 100, "dueDate": CalendarDate(Date()).adding(days: 10).description] }),
            Row(method: .get, path: "/v1/cases/\(caseOwn)/promises", expected: rule(caseReaders, creditorScoped: true, keyScope: .cases), body: nil),
            // Instalments that do not add up to the balance: those admitted are told so.
            Row(method: .post, path: "/v1/cases/\(caseOther)/payment-plans", expected: rule([.admin: 422, .supervisor: 422, .agent: 404], creditorScoped: false),
                body: { _ in ["instalments": [["dueDate": CalendarDate(Date()).adding(days: 10).description, "amountMinor": 1]]] }),
            Row(method: .get, path: "/v1/cases/\(caseOwn)/payment-plans", expected: rule(caseReaders, creditorScoped: true, keyScope: .cases), body: nil),
            Row(method: .post, path: "/v1/cases/\(caseOther)/payment-plans/\(UUID().uuidString.lowercased())/approve", expected: rule(managers(404), creditorScoped: false), body: nil),
            Row(method: .post, path: "/v1/cases/\(caseOther)/payment-plans/\(UUID().uuidString.lowercased())/reject", expected: rule(managers(404), creditorScoped: false), body: nil),
            Row(method: .get, path: "/v1/creditors/\(a)/plan-policy", expected: rule([
                .admin: 200, .supervisor: 200, .agent: 200, .creditorAdminOwn: 200, .creditorViewerOwn: 200], creditorScoped: true), body: nil),
            Row(method: .put, path: "/v1/creditors/\(a)/plan-policy", expected: rule([.admin: 200], creditorScoped: true), body: { _ in
                ["minInstalmentMinor": 5000, "maxInstalments": 10, "approvalAboveMinor": 300000, "graceDays": 5]
            }),
            // Holds: the agency's and the creditor's (a pause); the first raised dispute wins.
            Row(method: .post, path: "/v1/cases/\(caseOther)/holds", expected: rule([
                .admin: 201, .supervisor: 201, .agent: 404, .creditorAdminOwn: 201, .apiKeyOwn: 201, .creditorAdminOther: 404, .apiKeyOther: 404,
            ], creditorScoped: false, keyScope: .placements), body: { _ in
                ["endsOn": CalendarDate(Date()).adding(days: 5).description, "reason": "creditor_request"]
            }),
            Row(method: .get, path: "/v1/cases/\(caseOwn)/holds", expected: rule(caseReaders, creditorScoped: true, keyScope: .cases), body: nil),
            Row(method: .post, path: "/v1/cases/\(caseOther)/holds/\(UUID().uuidString.lowercased())/release", expected: rule([
                .admin: 404, .supervisor: 404, .agent: 404, .creditorAdminOwn: 404, .apiKeyOwn: 404, .creditorAdminOther: 404, .apiKeyOther: 404,
            ], creditorScoped: false, keyScope: .placements), body: nil),
            Row(method: .post, path: "/v1/cases/\(caseOther)/disputes", expected: rule([.admin: 201, .supervisor: 409, .agent: 404], creditorScoped: false),
                body: { _ in ["reason": "amount_contested", "note": "Conteste le montant de la facture."] }),
            Row(method: .get, path: "/v1/cases/\(caseOwn)/disputes", expected: rule(caseReaders, creditorScoped: true, keyScope: .cases), body: nil),
            Row(method: .post, path: "/v1/cases/\(caseOther)/disputes/\(UUID().uuidString.lowercased())/resolve", expected: rule(managers(404), creditorScoped: false),
                body: { _ in ["outcome": "resumed"] }),
            Row(method: .post, path: "/v1/assignments/rebalance/preview", expected: rule(managers(200), creditorScoped: false), body: { _ in ["teamId": team] }),
            Row(method: .post, path: "/v1/assignments/rebalance", expected: rule(managers(200), creditorScoped: false), body: { _ in ["teamId": team] }),
            // Terminates the target mandate: after the reads of it and the uploads.
            Row(method: .post, path: "/v1/creditors/\(a)/mandates/\(t.mandate.uuidString.lowercased())/terminate",
                expected: rule([.admin: 200], creditorScoped: true), body: nil),
            // Last: it ends the callers' sessions.
            Row(method: .post, path: "/v1/auth/logout", expected: { caller in
                switch caller {
                case .anonymous: return 401
                case .apiKeyOwn, .apiKeyOther, .apiKeyPlacementsOwn, .apiKeyCasesOwn, .apiKeyReportsOwn: return 400
                default: return 204
                }
            }, body: nil),
        ]
    }

    /// `/v1/creditors/<uuid>/users` -> `/v1/creditors/{creditorId}/users`, to compare with the router.
    static func template(_ path: String) -> String {
        let names = [
            "creditors": "creditorId", "staff": "userId", "users": "userId", "api-keys": "keyId", "mandates": "mandateId", "placements": "placementId",
            "teams": "teamId", "agents": "userId", "absences": "absenceId", "cases": "caseId", "versions": "version",
            "leases": "leaseId", "debtors": "debtorId", "payment-plans": "planId", "holds": "holdId", "disputes": "disputeId",
        ]
        let parts = path.split(separator: "/").map(String.init)
        var out: [String] = []
        for (index, part) in parts.enumerated() {
            if index > 0, parts[index - 1] == "contact-rules" {
                out.append("{jurisdiction}")
            } else if UUID(uuidString: part) != nil || Int(part) != nil, index > 0, let name = names[parts[index - 1]] {
                out.append("{\(name)}")
            } else {
                out.append(part)
            }
        }
        return "/" + out.joined(separator: "/")
    }

    /// What every module declares, the platform's included: the declarations the router is built from.
    static func declarations(_ configuration: AppConfiguration, _ pool: PostgresPool) throws -> [any HTTPModule] {
        let platform = PlatformModule(
            pool: pool, readiness: Readiness(), expectedMigrations: 0, metricsToken: nil,
            openAPI: try OpenAPIDocument(yamlFile: configuration.openAPIPath))
        return [platform] + (try buildModules(configuration: configuration, pool: pool, logger: Logger(label: "test")).all)
    }

    static func key(_ method: HTTPRequest.Method, _ path: String) -> String {
        "\(method.rawValue) /\(path.trimmingCharacters(in: CharacterSet(charactersIn: "/")))"
    }

    /// The principal a caller of the matrix is, for asking a permission (A and B stand for the
    /// two creditors).
    static func principal(_ caller: Caller, a: UUID, b: UUID) -> Principal? {
        switch caller {
        case .anonymous: return nil
        case .admin: return Principal(kind: .staff, id: UUID(), role: .admin)
        case .supervisor: return Principal(kind: .staff, id: UUID(), role: .supervisor)
        case .agent: return Principal(kind: .staff, id: UUID(), role: .agent)
        case .dpo: return Principal(kind: .staff, id: UUID(), role: .dpo)
        case .creditorAdminOwn: return Principal(kind: .creditorUser, id: UUID(), role: .creditorAdmin, creditorID: a)
        case .creditorViewerOwn: return Principal(kind: .creditorUser, id: UUID(), role: .creditorViewer, creditorID: a)
        case .creditorAdminOther: return Principal(kind: .creditorUser, id: UUID(), role: .creditorAdmin, creditorID: b)
        case .creditorViewerOther: return Principal(kind: .creditorUser, id: UUID(), role: .creditorViewer, creditorID: b)
        case .apiKeyOwn: return Principal(kind: .apiKey, id: UUID(), creditorID: a, scopes: Set(APIScope.allCases))
        case .apiKeyOther: return Principal(kind: .apiKey, id: UUID(), creditorID: b, scopes: Set(APIScope.allCases))
        case .apiKeyPlacementsOwn, .apiKeyCasesOwn, .apiKeyReportsOwn:
            return Principal(kind: .apiKey, id: UUID(), creditorID: a, scopes: caller.singleScope.map { [$0] } ?? [])
        }
    }

    @Test func everyRouteIsDeclaredOnceAndInTheMatrix() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let openAPI = try OpenAPIDocument(yamlFile: configuration.openAPIPath)
            let router = try buildRouter(configuration: configuration, pool: pool, openAPI: openAPI, readiness: Readiness(), expectedMigrations: 0)
            let served = Set(router.routes.map { Self.key($0.method, $0.path.description) })
            let declared = try Self.declarations(configuration, pool).flatMap { $0.routes().declared.map { Self.key($0.method, $0.path) } }
            #expect(Set(declared) == served, "declared but not served: \(Set(declared).subtracting(served).sorted()); served but not declared: \(served.subtracting(declared).sorted())")
            #expect(declared.count == Set(declared).count, "routes declared twice: \(Dictionary(grouping: declared, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted())")
            let ids = Targets(creditorA: UUID(), agentUser: UUID(), staffVictim: UUID(), creditorVictim: UUID(), keyVictim: UUID(), mandate: UUID(), placement: UUID())
            let covered = Set(Self.matrix(ids).map { "\($0.method.rawValue) \(Self.template($0.path))" })
            for route in served.sorted() {
                #expect(covered.contains(route), "\(route) is served but not in the access matrix")
            }
            #expect(covered.isSubset(of: served), "matrix rows for routes that do not exist: \(covered.subtracting(served).sorted())")
        }
    }

    /// The matrix (what the API answers, checked over HTTP below) and each route's declared
    /// permission say the same: a caller the permission admits is never refused (401, 403), one
    /// it does not is refused with 403, or 404 when the route is about another creditor than the
    /// caller's. A permission widened or narrowed in code without the matrix fails here.
    @Test func theMatrixAgreesWithEveryRoutesDeclaredPermission() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let a = UUID(), b = UUID()
            let ids = Targets(creditorA: a, agentUser: UUID(), staffVictim: UUID(), creditorVictim: UUID(), keyVictim: UUID(), mandate: UUID(), placement: UUID())
            var access: [String: RouteAccess] = [:]
            for module in try Self.declarations(configuration, pool) {
                for route in module.routes().declared { access[Self.key(route.method, route.path)] = route }
            }
            var failures: [String] = []
            var checked = 0
            for row in Self.matrix(ids) {
                let route = "\(row.method.rawValue) \(Self.template(row.path))"
                guard let declaration = access[route] else {
                    failures.append("\(route): no module declares it")
                    continue
                }
                guard let permission = declaration.permission else { continue }
                for caller in Caller.allCases {
                    let status = row.expected(caller)
                    guard let principal = Self.principal(caller, a: a, b: b) else {
                        if status != 401 { failures.append("\(route) as \(caller): \(status), a route needing a caller answers 401") }
                        continue
                    }
                    let otherCreditor = principal.creditorID == b
                    let admitted = permission.admits(principal) && !(declaration.creditorParameter != nil && otherCreditor)
                    let refusal = declaration.creditorParameter != nil && otherCreditor ? 404 : 403
                    if admitted && (status == 401 || status == 403) {
                        failures.append("\(route) as \(caller): the matrix expects \(status), but \(permission) admits the caller")
                    } else if !admitted && status != refusal {
                        failures.append("\(route) as \(caller): the matrix expects \(status), but \(permission) refuses the caller (\(refusal))")
                    }
                    checked += 1
                }
            }
            #expect(checked > 300)
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }

    /// Every file of `Migrations/` belongs to exactly one module, and every file a module names exists.
    @Test func everyMigrationBelongsToOneModule() async throws {
        try await TestApp.withApp { configuration, pool, _ in
            let files = try FileManager.default.contentsOfDirectory(atPath: configuration.migrationsDirectory.path).filter { $0.hasSuffix(".sql") }
            let modules = try Self.declarations(configuration, pool)
            let claimed = modules.flatMap { module in module.migrations.map { (file: $0, module: module.name) } }
            for file in files.sorted() {
                let owners = claimed.filter { $0.file == file }.map(\.module)
                #expect(owners.count == 1, "\(file) is declared by \(owners.isEmpty ? "no module" : owners.joined(separator: ", "))")
            }
            for claim in claimed where !files.contains(claim.file) {
                Issue.record("\(claim.module) declares \(claim.file), which is not in Migrations/")
            }
        }
    }

    @Test func everyCallerGetsExactlyTheExpectedStatus() async throws {
        try await withRouter { client, fixtures, _, pool in
            // setup: two creditors, one caller of each kind, targets in creditor A
            let a = try await fixtures.creditor("Créancier A")
            let b = try await fixtures.creditor("Créancier B")
            var users: [Caller: Fixtures.User] = [:]
            users[.admin] = try await fixtures.user(.admin)
            users[.supervisor] = try await fixtures.user(.supervisor)
            users[.agent] = try await fixtures.user(.agent)
            users[.dpo] = try await fixtures.user(.dpo)
            users[.creditorAdminOwn] = try await fixtures.user(.creditorAdmin, creditor: a)
            users[.creditorViewerOwn] = try await fixtures.user(.creditorViewer, creditor: a)
            users[.creditorAdminOther] = try await fixtures.user(.creditorAdmin, creditor: b)
            users[.creditorViewerOther] = try await fixtures.user(.creditorViewer, creditor: b)
            var bearer: [Caller: String] = [:]
            for (caller, user) in users { bearer[caller] = try await client.login(user) }
            bearer[.apiKeyOwn] = try await fixtures.apiKey(creditor: a).1
            bearer[.apiKeyOther] = try await fixtures.apiKey(creditor: b).1
            for caller in Caller.allCases {
                if let scope = caller.singleScope { bearer[caller] = try await fixtures.apiKey(creditor: a, scopes: [scope.rawValue]).1 }
            }
            var targets = Targets(
                creditorA: a, agentUser: users[.agent]!.id, staffVictim: try await fixtures.user(.agent).id,
                creditorVictim: try await fixtures.user(.creditorViewer, creditor: a).id, keyVictim: try await fixtures.apiKey(creditor: a).0,
                mandate: try await fixtures.mandate(creditor: a), placement: try await fixtures.placement(creditor: a, pool: pool))
            // A team with the calling agent, an idle agent and another agent; the calling agent
            // holds one case of A, the other agent another.
            targets.idleAgent = try await fixtures.user(.agent).id
            let otherAgent = try await fixtures.user(.agent).id
            try await fixtures.admin.execute("INSERT INTO teams (id, name) VALUES (\(targets.team), 'Matrice')")
            for agent in [targets.agentUser, targets.idleAgent, otherAgent] {
                try await fixtures.admin.execute(
                    """
                    INSERT INTO agent_profiles (user_id, team_id, languages, debtor_kinds, stages, capacity)
                    VALUES (\(agent), \(targets.team), '{fr}', '{person,company}', '{amicable_calls}', 100)
                    """)
            }
            try await fixtures.admin.execute("INSERT INTO assignment_rule_versions (version, created_by_kind) VALUES (1, 'system')")
            try await fixtures.admin.execute(
                "INSERT INTO assignment_rules (version, position, name, is_default, team_id) VALUES (1, 1, 'default', true, \(targets.team))")
            _ = try await fixtures.placement(creditor: a, pool: pool)
            let cases = try await fixtures.admin.query("SELECT id FROM cases WHERE creditor_id = \(a) ORDER BY id").map { try $0.decode(UUID.self, "id") }
            (targets.caseOwn, targets.caseOther) = (cases[0], cases[1])
            targets.debtorOwn = try await fixtures.admin.one("SELECT debtor_id FROM cases WHERE id = \(cases[0])")!.decode(UUID.self, "debtor_id")
            for (id, agent) in [(targets.caseOwn, targets.agentUser), (targets.caseOther, otherAgent)] {
                try await fixtures.admin.execute("UPDATE cases SET assigned_agent_id = \(agent) WHERE id = \(id)")
            }
            // act + verify
            var failures: [String] = []
            for row in Self.matrix(targets) {
                for caller in Caller.allCases {
                    let reply = try await client.call(row.method, row.path, bearer: bearer[caller], json: row.body?(caller), raw: row.csv)
                    let expected = row.expected(caller)
                    if reply.status != expected {
                        failures.append("\(row.method) \(Self.template(row.path)) as \(caller): \(reply.status), expected \(expected)")
                    }
                    if reply.status >= 400 && reply.headers[.contentType] != "application/problem+json" {
                        failures.append("\(row.method) \(Self.template(row.path)) as \(caller): error without problem+json")
                    }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }
}
