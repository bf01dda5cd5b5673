import Foundation
import Portfolio
import Postgres
import Testing

@testable import WorkQueue

/// The gate alone, on situations made by hand: hours in the debtor's zone, holidays, daylight
/// saving, every cap, preferences, statuses.
@Suite struct ContactGateTests {
    static func window(_ from: String, _ to: String) -> [ContactRules.Window] { [.init(from: from, to: to)] }

    static let france = ContactRules(
        jurisdiction: "FR", name: "France",
        hours: Dictionary(uniqueKeysWithValues: (1...6).map { (String($0), window("08:00", "20:00")) }),
        hoursChannels: [.call, .sms, .email], recurringHolidays: ["01-01", "05-01", "05-08", "07-14", "08-15", "11-01", "11-11", "12-25"],
        holidays: [CalendarDate(iso: "2026-05-14")!])
    static let unitedStates = ContactRules(
        jurisdiction: "US", name: "United States",
        hours: Dictionary(uniqueKeysWithValues: (1...7).map { (String($0), window("08:00", "21:00")) }), hoursChannels: [.call, .sms, .email])

    static let paris = TimeZone(identifier: "Europe/Paris")!
    static let newYork = TimeZone(identifier: "America/New_York")!

    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    static func situation(
        _ rules: ContactRules = france, zone: TimeZone = paris, status: CaseStatus = .open, preferences: ContactPreferences = .none,
        history: ContactHistory = .init()
    ) -> ContactSituation {
        ContactSituation(caseStatus: status, rules: rules, timeZone: zone, preferences: preferences, history: history)
    }

    static func codes(_ d: ContactDecision) -> [String] { d.reasons.map(\.code) }

    @Test func franceAllowsCallsMondayToSaturdayEightToEightLocal() {
        // Monday 7 December 2026, 09:00 in Paris (08:00 UTC).
        let ok = ContactGate.decide(.call, at: Self.utc("2026-12-07T08:00:00Z"), Self.situation())
        #expect(ok.allowed && ok.reasons.isEmpty && ok.nextAllowedAt == nil)
        // 07:59 Paris: too early; next 08:00 Paris = 07:00 UTC.
        let early = ContactGate.decide(.call, at: Self.utc("2026-12-07T06:59:00Z"), Self.situation())
        #expect(!early.allowed && Self.codes(early) == ["outside_hours"])
        #expect(early.nextAllowedAt == Self.utc("2026-12-07T07:00:00Z"))
        // 20:00 Paris is closed (the window's end is excluded); next: Tuesday 08:00.
        let late = ContactGate.decide(.call, at: Self.utc("2026-12-07T19:00:00Z"), Self.situation())
        #expect(Self.codes(late) == ["outside_hours"] && late.nextAllowedAt == Self.utc("2026-12-08T07:00:00Z"))
        // Sunday: closed; Saturday evening's next window is Monday 08:00.
        let saturdayNight = ContactGate.decide(.call, at: Self.utc("2026-12-12T19:30:00Z"), Self.situation())
        #expect(saturdayNight.nextAllowedAt == Self.utc("2026-12-14T07:00:00Z"))
        // Letters are not bound by hours.
        #expect(ContactGate.decide(.letter, at: Self.utc("2026-12-13T03:00:00Z"), Self.situation()).allowed)
    }

    @Test func publicHolidaysFixedAndDatedAreClosed() {
        // Christmas (recurring), Friday 25 December 2026, 10:00 Paris; next: Saturday 26 08:00.
        let christmas = ContactGate.decide(.call, at: Self.utc("2026-12-25T09:00:00Z"), Self.situation())
        #expect(Self.codes(christmas) == ["public_holiday"])
        #expect(christmas.nextAllowedAt == Self.utc("2026-12-26T07:00:00Z"))
        // Ascension 2026 (dated): Thursday 14 May, 10:00 Paris (08:00 UTC, summer time).
        let ascension = ContactGate.decide(.sms, at: Self.utc("2026-05-14T08:00:00Z"), Self.situation())
        #expect(Self.codes(ascension) == ["public_holiday"] && ascension.nextAllowedAt == Self.utc("2026-05-15T06:00:00Z"))
        // 1 May falls on a Friday in 2026, 8 May too: the next window after 1 May is Saturday 2 May.
        let mayDay = ContactGate.decide(.email, at: Self.utc("2026-05-01T12:00:00Z"), Self.situation())
        #expect(mayDay.nextAllowedAt == Self.utc("2026-05-02T06:00:00Z"))
    }

    @Test func hoursFollowTheDebtorsZoneAcrossDaylightSavingChanges() {
        // New York, spring forward on Sunday 8 March 2026: 08:00 EDT is 12:00 UTC; the day before, 08:00 EST was 13:00 UTC.
        let us = Self.situation(Self.unitedStates, zone: Self.newYork)
        #expect(!ContactGate.decide(.call, at: Self.utc("2026-03-07T12:30:00Z"), us).allowed)  // 07:30 EST
        #expect(ContactGate.decide(.call, at: Self.utc("2026-03-07T13:00:00Z"), us).allowed)  // 08:00 EST
        #expect(ContactGate.decide(.call, at: Self.utc("2026-03-08T12:00:00Z"), us).allowed)  // 08:00 EDT
        let sundayEarly = ContactGate.decide(.call, at: Self.utc("2026-03-08T11:30:00Z"), us)  // 07:30 EDT
        #expect(sundayEarly.nextAllowedAt == Self.utc("2026-03-08T12:00:00Z"))
        // 21:00 EDT is 01:00 UTC the next day: 00:59 UTC is still 20:59.
        #expect(ContactGate.decide(.call, at: Self.utc("2026-03-09T00:59:00Z"), us).allowed)
        #expect(!ContactGate.decide(.call, at: Self.utc("2026-03-09T01:00:00Z"), us).allowed)
        // Paris, fall back on Sunday 25 October 2026 (Sunday: closed); Saturday 24 at 08:00 CEST = 06:00 UTC,
        // Monday 26 at 08:00 CET = 07:00 UTC.
        #expect(ContactGate.decide(.call, at: Self.utc("2026-10-24T06:00:00Z"), Self.situation()).allowed)
        let afterChange = ContactGate.decide(.call, at: Self.utc("2026-10-24T18:30:00Z"), Self.situation())
        #expect(afterChange.nextAllowedAt == Self.utc("2026-10-26T07:00:00Z"))
        #expect(!ContactGate.decide(.call, at: Self.utc("2026-10-26T06:30:00Z"), Self.situation()).allowed)
        // A French creditor's debtor living in New York: the US rules at New York's hours.
        #expect(ContactGate.decide(.call, at: Self.utc("2026-12-07T23:00:00Z"), us).allowed)  // 18:00 in New York
        #expect(!ContactGate.decide(.call, at: Self.utc("2026-12-07T23:00:00Z"), Self.situation()).allowed)  // midnight in Paris
        // A window at the spring change: 02:30 does not exist in Paris on 29 March 2026; a window from 02:30 opens at 03:30 CEST.
        var night = Self.france
        night.hours = ["7": Self.window("02:30", "04:00")]
        night.recurringHolidays = []
        let w = ContactGate.callWindow(at: Self.utc("2026-03-28T12:00:00Z"), rules: night, timeZone: Self.paris)
        #expect(w?.opens == Self.utc("2026-03-29T01:30:00Z") && w?.closes == Self.utc("2026-03-29T02:00:00Z"))
    }

    @Test func callAttemptsAreCappedPerWindow() {
        let now = Self.utc("2026-12-07T10:00:00Z")
        let day: TimeInterval = 86_400
        // Seven attempts in the last seven days: the eighth waits until the oldest leaves the window.
        let attempts = (0..<7).map { ContactHistory.Contact(channel: .call, at: now.addingTimeInterval(-Double($0) * day * 0.9 - 3600)) }
        let capped = ContactGate.decide(.call, at: now, Self.situation(history: .init(contacts: attempts)))
        #expect(Self.codes(capped) == ["call_attempts_cap"])
        let oldest = attempts.map(\.at).min()!
        #expect(capped.reasons[0].until == oldest.addingTimeInterval(7 * day))
        #expect(capped.nextAllowedAt! >= oldest.addingTimeInterval(7 * day))
        // Six: allowed; emails are not call attempts.
        #expect(ContactGate.decide(.call, at: now, Self.situation(history: .init(contacts: Array(attempts.prefix(6))))).allowed)
        #expect(ContactGate.decide(.email, at: now, Self.situation(history: .init(contacts: attempts))).allowed)
    }

    @Test func noCallWithinSevenDaysOfAConversation() {
        let now = Self.utc("2026-12-07T10:00:00Z")
        let talked = now.addingTimeInterval(-3 * 86_400)
        let d = ContactGate.decide(.call, at: now, Self.situation(history: .init(lastConversationAt: talked)))
        #expect(Self.codes(d) == ["after_conversation"] && d.reasons[0].until == talked.addingTimeInterval(7 * 86_400))
        // Writing is still allowed; eight days later, calling too.
        #expect(ContactGate.decide(.email, at: now, Self.situation(history: .init(lastConversationAt: talked))).allowed)
        #expect(ContactGate.decide(.call, at: now.addingTimeInterval(5 * 86_400), Self.situation(history: .init(lastConversationAt: talked))).allowed)
    }

    @Test func registeredLettersAtLeastSevenDaysApart() {
        let now = Self.utc("2026-12-07T10:00:00Z")
        let sent = now.addingTimeInterval(-6 * 86_400)
        let history = ContactHistory(contacts: [.init(channel: .registeredLetter, at: sent)])
        let d = ContactGate.decide(.registeredLetter, at: now, Self.situation(history: history))
        #expect(Self.codes(d) == ["min_interval"] && d.nextAllowedAt == sent.addingTimeInterval(7 * 86_400))
        #expect(ContactGate.decide(.letter, at: now, Self.situation(history: history)).allowed)
        #expect(ContactGate.decide(.registeredLetter, at: now.addingTimeInterval(86_400), Self.situation(history: history)).allowed)
    }

    @Test func preferencesAndStatusesBlockUntilAPersonActs() {
        let now = Self.utc("2026-12-07T10:00:00Z")
        let dnc = ContactGate.decide(.letter, at: now, Self.situation(preferences: .init(doNotContact: true)))
        #expect(Self.codes(dnc) == ["do_not_contact"] && dnc.nextAllowedAt == nil)
        let optOut = Self.situation(preferences: .init(optedOut: [.sms]))
        #expect(Self.codes(ContactGate.decide(.sms, at: now, optOut)) == ["channel_opted_out"])
        #expect(ContactGate.decide(.call, at: now, optOut).allowed)
        let written = Self.situation(preferences: .init(writtenOnly: true))
        #expect(Self.codes(ContactGate.decide(.call, at: now, written)) == ["written_only"])
        #expect(Self.codes(ContactGate.decide(.sms, at: now, written)) == ["written_only"])
        #expect(ContactGate.decide(.email, at: now, written).allowed && ContactGate.decide(.letter, at: now, written).allowed)
        #expect(Self.codes(ContactGate.decide(.call, at: now, Self.situation(preferences: .init(restricted: true)))) == ["restricted"])
        for (status, code) in [(CaseStatus.paused, "case_paused"), (.disputed, "case_disputed"), (.recalled, "case_recalled"), (.closed, "case_closed")] {
            let d = ContactGate.decide(.letter, at: now, Self.situation(status: status))
            #expect(Self.codes(d) == [code] && d.nextAllowedAt == nil)
        }
        // Every reason at once, not the first only.
        let all = ContactGate.decide(
            .call, at: Self.utc("2026-12-07T22:00:00Z"),
            Self.situation(status: .disputed, preferences: .init(doNotContact: true, writtenOnly: true), history: .init(lastConversationAt: now)))
        #expect(Set(Self.codes(all)) == ["case_disputed", "do_not_contact", "written_only", "after_conversation", "outside_hours"])
    }

    @Test func aDebtorsPreferredHoursNarrowTheWindow() {
        // Only Tuesdays and Thursdays, 18:00-19:30 Paris.
        let prefs = ContactPreferences(preferredDays: [2, 4], preferredFrom: "18:00", preferredTo: "19:30")
        let monday = ContactGate.decide(.call, at: Self.utc("2026-12-07T10:00:00Z"), Self.situation(preferences: prefs))
        #expect(Self.codes(monday) == ["outside_preferred_hours"])
        #expect(monday.nextAllowedAt == Self.utc("2026-12-08T17:00:00Z"))  // Tuesday 18:00 Paris
        #expect(ContactGate.decide(.call, at: Self.utc("2026-12-08T17:30:00Z"), Self.situation(preferences: prefs)).allowed)
        #expect(!ContactGate.decide(.call, at: Self.utc("2026-12-08T18:30:00Z"), Self.situation(preferences: prefs)).allowed)
    }

    @Test func theNextAllowedTimeWeighsEveryReasonTogether() {
        // Capped until Saturday 12 December 22:00 UTC (23:00 Paris): the next window is Monday 14 at 08:00.
        let now = Self.utc("2026-12-07T10:00:00Z")
        let talked = Self.utc("2026-12-05T22:00:00Z")
        let d = ContactGate.decide(.call, at: now, Self.situation(history: .init(lastConversationAt: talked)))
        #expect(d.nextAllowedAt == Self.utc("2026-12-14T07:00:00Z"))
    }

    @Test func rulesNameEveryFault() {
        var bad = Self.france
        bad.name = ""
        bad.hours = ["8": Self.window("08:00", "20:00"), "1": [.init(from: "20:00", to: "08:00"), .init(from: "7h", to: "09:00")]]
        bad.recurringHolidays = ["02-30", "1-1"]
        bad.callAttemptsMax = 0
        bad.minDaysBetween = ["fax": 3, "letter": 400]
        let fields = Set(bad.faults().map(\.field))
        #expect(fields == ["name", "hours.8", "hours.1[0]", "hours.1[1]", "recurringHolidays[0]", "recurringHolidays[1]", "callAttemptsMax", "minDaysBetween.fax", "minDaysBetween.letter"])
        #expect(Self.france.faults().isEmpty && Self.unitedStates.faults().isEmpty)
    }
}
