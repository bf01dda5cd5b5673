import App
import Foundation
import HummingbirdTesting
import TestSupport
import Testing

@Suite("Creditor onboarding")
struct CreditorOnboardingTests {
    nonisolated(unsafe) static let durand: [String: Any] = [
        "legalName": "Fournitures Durand SAS", "siren": "732 829 320", "siret": "73282932000074", "vatNumber": "FR44732829320",
        "address": ["line1": "12 rue de la Paix", "postalCode": "75002", "city": "Paris", "country": "fr"],
        "contact": ["name": "Claire Durand", "email": "Claire@Durand.fr", "phone": "01 42 00 00 00"],
        "defaultCurrency": "eur", "remittanceIban": "FR76 3000 6000 0112 3456 7890 189",
    ]

    @Test func onboardsACreditorWithCheckedAndNormalisedDetails() async throws {
        try await withRouter { client, fixtures, _, _ in
            let token = try await client.login(try await fixtures.user(.admin))
            let created = try await client.call(.post, "/v1/creditors", bearer: token, json: Self.durand)
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["siren"] as? String == "732829320")
            #expect(created.json["remittanceIban"] as? String == "FR7630006000011234567890189")
            #expect((created.json["contact"] as? [String: Any])?["phone"] as? String == "+33142000000")
            #expect((created.json["address"] as? [String: Any])?["country"] as? String == "FR")
            #expect(created.json["defaultCurrency"] as? String == "EUR")
        }
    }

    @Test func everyInvalidFieldIsNamed() async throws {
        try await withRouter { client, fixtures, _, _ in
            let token = try await client.login(try await fixtures.user(.admin))
            var bad = Self.durand
            bad["siren"] = "732829321"
            bad["siret"] = "73282932000075"
            bad["remittanceIban"] = "FR76 3000 6000 0112 3456 7890 188"
            bad["vatNumber"] = "FR45732829320"
            bad["defaultCurrency"] = "EUROS"
            bad["contact"] = ["email": "claire@"]
            let reply = try await client.call(.post, "/v1/creditors", bearer: token, json: bad)
            #expect(reply.status == 422)
            let fields = Set(((reply.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["siren", "siret", "remittanceIban", "vatNumber", "defaultCurrency", "contact.email"])
            let noSiren = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "Sans SIREN"])
            #expect(noSiren.status == 422)
            #expect(noSiren.text.contains("\"siren\""))
            let foreign = try await client.call(.post, "/v1/creditors", bearer: token, json: ["legalName": "Müller GmbH", "jurisdiction": "DE", "defaultCurrency": "EUR"])
            #expect(foreign.status == 201)
        }
    }

    @Test func suspendAndOffboard() async throws {
        try await withRouter { client, fixtures, _, _ in
            let token = try await client.login(try await fixtures.user(.admin))
            let created = try await client.call(.post, "/v1/creditors", bearer: token, json: Self.durand)
            let id = try #require(created.json["id"] as? String)
            #expect(try await client.call(.patch, "/v1/creditors/\(id)", bearer: token, json: ["status": "suspended"]).json["status"] as? String == "suspended")
            #expect(try await client.call(.patch, "/v1/creditors/\(id)", bearer: token, json: ["status": "active"]).json["status"] as? String == "active")
            #expect(try await client.call(.patch, "/v1/creditors/\(id)", bearer: token, json: ["status": "offboarded"]).status == 200)
            let back = try await client.call(.patch, "/v1/creditors/\(id)", bearer: token, json: ["status": "active"])
            #expect(back.status == 422)
            let wrongSiret = try await client.call(.patch, "/v1/creditors/\(id)", bearer: token, json: ["siret": "55208131766522"])
            #expect(wrongSiret.status == 422)
        }
    }

    static func mandate(_ overrides: [String: Any] = [:]) -> [String: Any] {
        var body: [String: Any] = [
            "reference": "MDT-2026-001", "signedOn": "2026-01-05", "validFrom": "2026-01-05", "powerToReceiveFunds": true,
            "feeBasis": "15 % HT des sommes encaissées", "remittanceBasis": "net", "remittanceFrequency": "monthly",
            "remittanceDaysAfterEncashment": 30, "insuranceReference": "RCP-2026-001",
        ]
        body.merge(overrides) { _, new in new }
        return body
    }

    @Test func mandatesFollowR124() async throws {
        try await withRouter { client, fixtures, _, _ in
            let creditor = try await fixtures.creditor()
            let token = try await client.login(try await fixtures.user(.admin))
            let path = "/v1/creditors/\(creditor)/mandates"
            let bad = try await client.call(.post, path, bearer: token, json: Self.mandate([
                "powerToReceiveFunds": false, "remittanceDaysAfterEncashment": 45, "validUntil": "2025-12-31", "signedOn": "2099-01-01",
            ]))
            #expect(bad.status == 422)
            let fields = Set(((bad.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
            #expect(fields.isSuperset(of: ["powerToReceiveFunds", "remittanceDaysAfterEncashment", "validUntil", "signedOn"]))
            let badDate = try await client.call(.post, path, bearer: token, json: Self.mandate(["validFrom": "31/02/2026"]))
            #expect(badDate.status == 422)
            #expect(badDate.text.contains("validFrom"))
            let ok = try await client.call(.post, path, bearer: token, json: Self.mandate())
            #expect(ok.status == 201, "\(ok.text)")
            #expect(ok.json["active"] as? Bool == true)
            #expect(try await client.call(.post, path, bearer: token, json: Self.mandate()).status == 409)
            let id = try #require(ok.json["id"] as? String)
            let ended = try await client.call(.post, "\(path)/\(id)/terminate", bearer: token)
            #expect(ended.json["active"] as? Bool == false)
            let viewer = try await client.login(try await fixtures.user(.creditorViewer, creditor: creditor))
            let listed = try await client.call(.get, path, bearer: viewer)
            #expect((listed.json["items"] as? [Any])?.count == 1)
        }
    }

    @Test func feeSchedulesAreVersionedAndChecked() async throws {
        try await withRouter { client, fixtures, _, _ in
            let creditor = try await fixtures.creditor()
            let token = try await client.login(try await fixtures.user(.admin))
            let path = "/v1/creditors/\(creditor)/fee-schedules"
            let bad = try await client.call(.post, path, bearer: token, json: [
                "effectiveFrom": "2026-01-01", "basis": "age_at_placement",
                "tiers": [["from": 10, "rateBasisPoints": 1200], ["from": 5, "rateBasisPoints": 20_000]],
                "minimumFeeMinor": 5000, "maximumFeeMinor": 100,
            ])
            #expect(bad.status == 422)
            let fields = Set(((bad.json["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["tiers[0].from", "tiers[1].rateBasisPoints", "tiers[1].from", "maximumFeeMinor"])
            let v1 = try await client.call(.post, path, bearer: token, json: [
                "effectiveFrom": "2026-01-01", "basis": "age_at_placement",
                "tiers": [["from": 0, "rateBasisPoints": 1200], ["from": 91, "rateBasisPoints": 1800], ["from": 366, "rateBasisPoints": 2500]],
                "minimumFeeMinor": 1500, "maximumFeeMinor": 500_000,
            ])
            #expect(v1.status == 201, "\(v1.text)")
            #expect(v1.json["currency"] as? String == "EUR")
            #expect(try await client.call(.post, path, bearer: token, json: ["effectiveFrom": "2026-01-01", "basis": "flat", "tiers": [["from": 0, "rateBasisPoints": 1000]]]).status == 409)
            #expect(try await client.call(.post, path, bearer: token, json: ["effectiveFrom": "2026-07-01", "basis": "flat", "tiers": [["from": 0, "rateBasisPoints": 1000]]]).status == 201)
            let listed = try await client.call(.get, path, bearer: token)
            #expect((listed.json["items"] as? [[String: Any]])?.first?["effectiveFrom"] as? String == "2026-07-01")
        }
    }
}

@Suite("Commission")
struct CommissionTests {
    @Test func tiersMinimumAndMaximum() {
        let schedule = FeeScheduleBookSchedule.make(basis: .ageAtPlacement, tiers: [(0, 1200), (91, 1800), (366, 2500)], min: 1500, max: 50_000)
        #expect(schedule.commission(collectedMinor: 100_000, daysPastDueAtPlacement: 30, balanceAtPlacementMinor: 0) == 12_000)
        #expect(schedule.commission(collectedMinor: 100_000, daysPastDueAtPlacement: 91, balanceAtPlacementMinor: 0) == 18_000)
        #expect(schedule.commission(collectedMinor: 100_000, daysPastDueAtPlacement: 400, balanceAtPlacementMinor: 0) == 25_000)
        #expect(schedule.commission(collectedMinor: 1_000_000, daysPastDueAtPlacement: 400, balanceAtPlacementMinor: 0) == 50_000)  // capped
        #expect(schedule.commission(collectedMinor: 5_000, daysPastDueAtPlacement: 10, balanceAtPlacementMinor: 0) == 1_500)  // minimum
        #expect(schedule.commission(collectedMinor: 1_000, daysPastDueAtPlacement: 10, balanceAtPlacementMinor: 0) == 1_000)  // never above collected
        #expect(schedule.commission(collectedMinor: 1_234, daysPastDueAtPlacement: 10, balanceAtPlacementMinor: 0) >= 148)
    }
}
