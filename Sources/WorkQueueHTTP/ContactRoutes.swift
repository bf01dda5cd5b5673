import Core
import Foundation
import Hummingbird
import Postgres
import Web
import WorkQueue

/// The rules of contact per jurisdiction, and a debtor's preferences.
struct ContactRoutes {
    let rules: ContactRuleBook
    let preferences: ContactPreferenceBook

    func add(to routes: ModuleRoutes) {
        routes.get("/v1/contact-rules", .contactRulesRead) { _, context in
            Paged(all: try await rules.list(as: context.principal))
        }
        routes.get("/v1/contact-rules/{jurisdiction}", .contactRulesRead) { _, context in
            try await rules.get(context.parameters.get("jurisdiction") ?? "", as: context.principal)
        }
        routes.on(.put, "/v1/contact-rules/{jurisdiction}", .contactRulesManage) { request, context in
            let jurisdiction = context.parameters.get("jurisdiction") ?? ""
            var body = try await request.decodeJSON(RulesBody.self, context: context).rules(jurisdiction)
            body.jurisdiction = jurisdiction
            return try await rules.put(jurisdiction, body, by: context.principal, requestID: context.requestID)
        }
        routes.get("/v1/debtors/{debtorId}/contact-preferences", .contactPreferences) { _, context in
            try await preferences.get(debtor: try context.parameters.requireUUID("debtorId", what: "debtor"), as: context.principal)
        }
        routes.on(.put, "/v1/debtors/{debtorId}/contact-preferences", .contactPreferences) { request, context in
            let id = try context.parameters.requireUUID("debtorId", what: "debtor")
            let body = try await request.decodeJSON(ContactPreferences.self, context: context)
            return try await preferences.put(debtor: id, body, by: context.principal, requestID: context.requestID)
        }
    }

    /// A jurisdiction's rules as sent: every field required but the holidays and intervals.
    struct RulesBody: Decodable {
        let name: String
        let hours: [String: [ContactRules.Window]]
        let hoursChannels: [Channel]
        let recurringHolidays: [String]?
        let holidays: [CalendarDate]?
        let callAttemptsMax: Int
        let callAttemptsWindowDays: Int
        let quietDaysAfterConversation: Int
        let minDaysBetween: [String: Int]?

        func rules(_ jurisdiction: String) throws -> ContactRules {
            ContactRules(
                jurisdiction: jurisdiction, name: name, hours: hours, hoursChannels: hoursChannels, recurringHolidays: recurringHolidays ?? [],
                holidays: holidays ?? [], callAttemptsMax: callAttemptsMax, callAttemptsWindowDays: callAttemptsWindowDays,
                quietDaysAfterConversation: quietDaysAfterConversation, minDaysBetween: minDaysBetween ?? [:])
        }
    }
}

extension ContactRules: ResponseEncodable {}
extension ContactPreferences: ResponseEncodable {}
