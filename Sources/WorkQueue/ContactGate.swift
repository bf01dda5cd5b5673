import Foundation
import Portfolio
import Postgres

/// A way of reaching a debtor.
public enum Channel: String, Codable, Sendable, CaseIterable, PostgresDecodable {
    case call
    case sms
    case email
    case letter
    case registeredLetter = "registered_letter"
}

/// How contact is allowed in one jurisdiction (a country, or `*` for any other): the hours, in
/// the debtor's own time zone, per ISO weekday (1 Monday … 7 Sunday; a day absent allows none),
/// the public holidays, and the frequency caps. Data, changed by the agency's administrators
/// (Docs/work-queue.md).
public struct ContactRules: Codable, Sendable, Equatable {
    /// A local window, `from` included, `to` excluded ("08:00" to "20:00").
    public struct Window: Codable, Sendable, Equatable {
        public var from: String
        public var to: String

        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }
    }

    public var jurisdiction: String
    public var name: String
    /// By ISO weekday, "1" … "7".
    public var hours: [String: [Window]]
    /// The channels the hours apply to (letters go out whenever they are posted).
    public var hoursChannels: [Channel]
    /// Every year's holidays, "MM-DD".
    public var recurringHolidays: [String]
    /// Holidays of one year (Easter Monday, Ascension…).
    public var holidays: [CalendarDate]
    public var callAttemptsMax: Int
    public var callAttemptsWindowDays: Int
    /// No call for this many days after a conversation with the debtor.
    public var quietDaysAfterConversation: Int
    /// At least this many days between two contacts on a channel (`registered_letter`: 7).
    public var minDaysBetween: [String: Int]
    public var version: Int?

    public init(
        jurisdiction: String, name: String, hours: [String: [Window]], hoursChannels: [Channel], recurringHolidays: [String] = [],
        holidays: [CalendarDate] = [], callAttemptsMax: Int = 7, callAttemptsWindowDays: Int = 7, quietDaysAfterConversation: Int = 7,
        minDaysBetween: [String: Int] = ["registered_letter": 7], version: Int? = nil
    ) {
        self.jurisdiction = jurisdiction
        self.name = name
        self.hours = hours
        self.hoursChannels = hoursChannels
        self.recurringHolidays = recurringHolidays
        self.holidays = holidays
        self.callAttemptsMax = callAttemptsMax
        self.callAttemptsWindowDays = callAttemptsWindowDays
        self.quietDaysAfterConversation = quietDaysAfterConversation
        self.minDaysBetween = minDaysBetween
        self.version = version
    }

    /// "HH:MM" as minutes after midnight (24:00 allowed as a window's end); nil if malformed.
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440
        else { return nil }
        return h * 60 + m
    }

    /// Every fault, each naming its field.
    public func faults() -> [(field: String, reason: String)] {
        var faults: [(String, String)] = []
        if name.isEmpty || name.count > 100 { faults.append(("name", "must be 1 to 100 characters")) }
        for (day, windows) in hours {
            guard let d = Int(day), (1...7).contains(d) else {
                faults.append(("hours.\(day)", "must be an ISO weekday, 1 (Monday) to 7 (Sunday)"))
                continue
            }
            var last = -1
            for (i, w) in windows.enumerated() {
                guard let from = Self.minutes(w.from), let to = Self.minutes(w.to) else {
                    faults.append(("hours.\(day)[\(i)]", "must be times HH:MM, 00:00 to 24:00"))
                    continue
                }
                if from >= to { faults.append(("hours.\(day)[\(i)]", "from must be before to")) }
                if from < last { faults.append(("hours.\(day)[\(i)]", "windows must be in order and not overlap")) }
                last = to
            }
        }
        for (i, text) in recurringHolidays.enumerated() {
            let parts = text.split(separator: "-")
            if parts.count != 2 || parts[0].count != 2 || parts[1].count != 2 || CalendarDate(iso: "2000-" + text) == nil {
                faults.append(("recurringHolidays[\(i)]", "must be a month and day, MM-DD"))
            }
        }
        if !(1...100).contains(callAttemptsMax) { faults.append(("callAttemptsMax", "must be 1 to 100")) }
        if !(1...90).contains(callAttemptsWindowDays) { faults.append(("callAttemptsWindowDays", "must be 1 to 90")) }
        if !(0...90).contains(quietDaysAfterConversation) { faults.append(("quietDaysAfterConversation", "must be 0 to 90")) }
        for (channel, days) in minDaysBetween {
            if Channel(rawValue: channel) == nil {
                faults.append(("minDaysBetween.\(channel)", "must be a channel: \(Channel.allCases.map(\.rawValue).joined(separator: ", "))"))
            } else if !(0...365).contains(days) {
                faults.append(("minDaysBetween.\(channel)", "must be 0 to 365 days"))
            }
        }
        return faults
    }
}

/// What a debtor asked for, and whether their data is restricted (GDPR Art. 18).
public struct ContactPreferences: Codable, Sendable, Equatable {
    public var doNotContact: Bool
    public var optedOut: [Channel]
    /// Letters and emails only: no call, no SMS.
    public var writtenOnly: Bool
    /// Only on these ISO weekdays…
    public var preferredDays: [Int]?
    /// … between these local times ("HH:MM").
    public var preferredFrom: String?
    public var preferredTo: String?
    public var restricted: Bool

    public init(
        doNotContact: Bool = false, optedOut: [Channel] = [], writtenOnly: Bool = false, preferredDays: [Int]? = nil,
        preferredFrom: String? = nil, preferredTo: String? = nil, restricted: Bool = false
    ) {
        self.doNotContact = doNotContact
        self.optedOut = optedOut
        self.writtenOnly = writtenOnly
        self.preferredDays = preferredDays
        self.preferredFrom = preferredFrom
        self.preferredTo = preferredTo
        self.restricted = restricted
    }

    public static let none = ContactPreferences()

    enum CodingKeys: String, CodingKey { case doNotContact, optedOut, writtenOnly, preferredDays, preferredFrom, preferredTo, restricted }

    /// Absent fields are false, empty or no wish (a PUT replaces the whole record).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        doNotContact = try c.decodeIfPresent(Bool.self, forKey: .doNotContact) ?? false
        optedOut = try c.decodeIfPresent([Channel].self, forKey: .optedOut) ?? []
        writtenOnly = try c.decodeIfPresent(Bool.self, forKey: .writtenOnly) ?? false
        preferredDays = try c.decodeIfPresent([Int].self, forKey: .preferredDays)
        preferredFrom = try c.decodeIfPresent(String.self, forKey: .preferredFrom)
        preferredTo = try c.decodeIfPresent(String.self, forKey: .preferredTo)
        restricted = try c.decodeIfPresent(Bool.self, forKey: .restricted) ?? false
    }
}

/// Past contacts of a case that the caps count: outbound, not blocked.
public struct ContactHistory: Sendable, Equatable {
    public struct Contact: Sendable, Equatable {
        public var channel: Channel
        public var at: Date

        public init(channel: Channel, at: Date) {
            self.channel = channel
            self.at = at
        }
    }

    public var contacts: [Contact]
    /// The last conversation with the debtor (a right-party contact, or a refusal), either way.
    public var lastConversationAt: Date?

    public init(contacts: [Contact] = [], lastConversationAt: Date? = nil) {
        self.contacts = contacts
        self.lastConversationAt = lastConversationAt
    }
}

/// Everything the gate weighs for one case.
public struct ContactSituation: Sendable {
    public var caseStatus: CaseStatus
    public var rules: ContactRules
    public var timeZone: TimeZone
    public var preferences: ContactPreferences
    public var history: ContactHistory

    public init(caseStatus: CaseStatus, rules: ContactRules, timeZone: TimeZone, preferences: ContactPreferences = .none, history: ContactHistory = .init()) {
        self.caseStatus = caseStatus
        self.rules = rules
        self.timeZone = timeZone
        self.preferences = preferences
        self.history = history
    }
}

/// The gate's answer for one channel.
public struct ContactDecision: Codable, Sendable, Equatable {
    public struct Reason: Codable, Sendable, Equatable {
        /// Stable code (Docs/work-queue.md lists them).
        public var code: String
        /// In words, without personal data.
        public var detail: String
        /// When this reason lifts by itself; nil when a person must lift it.
        public var until: Date?
    }

    public var channel: Channel
    public var allowed: Bool
    public var reasons: [Reason]
    /// When contact on this channel becomes allowed, if nothing else changes; nil when allowed
    /// now, or when only a person can lift a reason (a dispute, do not contact…).
    public var nextAllowedAt: Date?
}

/// The compliance gate (domain: "Contact must never become harassment"): one function decides
/// whether contacting a case's debtor on a channel is allowed at an instant, and gives every
/// reason when it is not. Every path that contacts a debtor asks it: the agent's next case, an
/// agent recording a contact, and the automatic channels to come.
public enum ContactGate {
    public static func decide(_ channel: Channel, at now: Date, _ s: ContactSituation) -> ContactDecision {
        var reasons: [ContactDecision.Reason] = []
        var permanent = false
        func block(_ code: String, _ detail: String, until: Date? = nil) {
            reasons.append(.init(code: code, detail: detail, until: until))
            if until == nil { permanent = true }
        }
        switch s.caseStatus {
        case .open: break
        case .paused: block("case_paused", "the case is paused")
        case .disputed: block("case_disputed", "the case is disputed: collection waits for the dispute to be resolved")
        case .recalled: block("case_recalled", "the creditor recalled the case")
        case .closed: block("case_closed", "the case is closed")
        }
        let p = s.preferences
        if p.restricted { block("restricted", "the debtor's data are restricted (GDPR Art. 18): no contact") }
        if p.doNotContact { block("do_not_contact", "the debtor is not to be contacted") }
        if p.optedOut.contains(channel) { block("channel_opted_out", "the debtor opted out of \(channel.rawValue)") }
        if p.writtenOnly && (channel == .call || channel == .sms) {
            block("written_only", "the debtor asked to be contacted in writing only (letters, email)")
        }
        let day: TimeInterval = 86_400
        let r = s.rules
        if channel == .call {
            let since = now.addingTimeInterval(-Double(r.callAttemptsWindowDays) * day)
            let calls = s.history.contacts.filter { $0.channel == .call && $0.at > since && $0.at <= now }.map(\.at).sorted()
            if calls.count >= r.callAttemptsMax {
                let lifts = calls[calls.count - r.callAttemptsMax].addingTimeInterval(Double(r.callAttemptsWindowDays) * day)
                block("call_attempts_cap", "\(calls.count) call attempts in the last \(r.callAttemptsWindowDays) days (at most \(r.callAttemptsMax))", until: lifts)
            }
            if let talked = s.history.lastConversationAt, r.quietDaysAfterConversation > 0 {
                let lifts = talked.addingTimeInterval(Double(r.quietDaysAfterConversation) * day)
                if lifts > now {
                    block("after_conversation", "no call within \(r.quietDaysAfterConversation) days of a conversation with the debtor", until: lifts)
                }
            }
        }
        if let days = r.minDaysBetween[channel.rawValue], days > 0,
            let last = s.history.contacts.filter({ $0.channel == channel && $0.at <= now }).map(\.at).max()
        {
            let lifts = last.addingTimeInterval(Double(days) * day)
            if lifts > now { block("min_interval", "at least \(days) days between two \(channel.rawValue) contacts", until: lifts) }
        }
        if r.hoursChannels.contains(channel) {
            let calendar = calendar(s.timeZone)
            let local = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: now)
            let date = CalendarDate(year: local.year!, month: local.month!, day: local.day!)!
            let minute = local.hour! * 60 + local.minute!
            let weekday = isoWeekday(local.weekday!)
            if isHoliday(date, r) {
                block("public_holiday", "\(date) is a public holiday in \(r.name)", until: nextWindow(from: now, s, preferred: false))
            } else if !windows(weekday, r).contains(where: { $0.contains(minute) }) {
                block("outside_hours", "outside \(r.name)'s contact hours in the debtor's time zone (\(s.timeZone.identifier))",
                    until: nextWindow(from: now, s, preferred: false))
            }
            if preferredWindows(weekday, p) != nil, !(preferredWindows(weekday, p)!.contains(where: { $0.contains(minute) })) {
                block("outside_preferred_hours", "outside the hours the debtor asked to be contacted in", until: nextWindow(from: now, s, preferred: true))
            }
        }
        if reasons.isEmpty { return ContactDecision(channel: channel, allowed: true, reasons: [], nextAllowedAt: nil) }
        var next: Date?
        if !permanent {
            let start = reasons.compactMap(\.until).max() ?? now
            next = r.hoursChannels.contains(channel) ? nextWindow(from: start, s, preferred: true) : start
        }
        return ContactDecision(channel: channel, allowed: false, reasons: reasons, nextAllowedAt: next)
    }

    /// Every channel at once (what a case shows before a call).
    public static func decideAll(at now: Date, _ s: ContactSituation) -> [ContactDecision] {
        Channel.allCases.map { decide($0, at: now, s) }
    }

    /// The calling window a zone is in at `now`, or the next one (jurisdiction hours, holidays;
    /// not a debtor's own wishes): what the queue's clock writes in `contact_zones`. Nil when
    /// the rules allow no call in the coming year.
    public static func callWindow(at now: Date, rules: ContactRules, timeZone: TimeZone) -> (opens: Date, closes: Date)? {
        let s = ContactSituation(caseStatus: .open, rules: rules, timeZone: timeZone)
        return window(from: now, s, preferred: false)
    }

    // MARK: windows

    struct Span {
        var from: Int
        var to: Int
        func contains(_ minute: Int) -> Bool { minute >= from && minute < to }
    }

    static func calendar(_ zone: TimeZone) -> Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = zone
        return c
    }

    /// Foundation's weekday (1 Sunday … 7 Saturday) as ISO (1 Monday … 7 Sunday).
    static func isoWeekday(_ foundation: Int) -> Int { foundation == 1 ? 7 : foundation - 1 }

    static func isHoliday(_ date: CalendarDate, _ r: ContactRules) -> Bool {
        let monthDay = String(format: "%02d-%02d", date.month, date.day)
        return r.recurringHolidays.contains(monthDay) || r.holidays.contains(date)
    }

    static func windows(_ weekday: Int, _ r: ContactRules) -> [Span] {
        (r.hours[String(weekday)] ?? []).compactMap { w in
            guard let from = ContactRules.minutes(w.from), let to = ContactRules.minutes(w.to), from < to else { return nil }
            return Span(from: from, to: to)
        }
    }

    /// The debtor's wished hours on a weekday; nil when they expressed none.
    static func preferredWindows(_ weekday: Int, _ p: ContactPreferences) -> [Span]? {
        guard p.preferredDays != nil || p.preferredFrom != nil else { return nil }
        if let days = p.preferredDays, !days.contains(weekday) { return [] }
        guard let fromText = p.preferredFrom, let toText = p.preferredTo, let from = ContactRules.minutes(fromText),
            let to = ContactRules.minutes(toText)
        else { return [Span(from: 0, to: 1440)] }
        return [Span(from: from, to: to)]
    }

    /// The first instant at or after `start` inside an allowed window, `preferred` adding the
    /// debtor's wishes to the jurisdiction's hours.
    static func nextWindow(from start: Date, _ s: ContactSituation, preferred: Bool) -> Date? {
        window(from: start, s, preferred: preferred).map { max($0.opens, start) }
    }

    static func window(from start: Date, _ s: ContactSituation, preferred: Bool) -> (opens: Date, closes: Date)? {
        let calendar = calendar(s.timeZone)
        let first = calendar.startOfDay(for: start)
        for offset in 0..<370 {
            guard let dayStart = calendar.date(byAdding: .day, value: offset, to: first) else { return nil }
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: dayStart)
            let date = CalendarDate(year: parts.year!, month: parts.month!, day: parts.day!)!
            if isHoliday(date, s.rules) { continue }
            let weekday = isoWeekday(parts.weekday!)
            var spans = windows(weekday, s.rules)
            if preferred, let wished = preferredWindows(weekday, s.preferences) {
                spans = spans.flatMap { a in
                    wished.compactMap { b in
                        let from = max(a.from, b.from), to = min(a.to, b.to)
                        return from < to ? Span(from: from, to: to) : nil
                    }
                }
            }
            for span in spans {
                let opens = at(span.from, on: parts, calendar)
                let closes = at(span.to, on: parts, calendar)
                if closes > start { return (opens, closes) }
            }
        }
        return nil
    }

    /// A local wall-clock minute of a day as an instant. A time a daylight-saving change skips
    /// is moved forward (02:30 on the spring change is 03:30); 24:00 is the next midnight.
    static func at(_ minute: Int, on day: DateComponents, _ calendar: Calendar) -> Date {
        var c = DateComponents(year: day.year, month: day.month, day: day.day, hour: 0, minute: 0)
        let midnight = calendar.date(from: c)!
        if minute == 1440 { return calendar.date(byAdding: .day, value: 1, to: midnight)! }
        c.hour = minute / 60
        c.minute = minute % 60
        return calendar.nextDate(after: midnight.addingTimeInterval(-1), matching: DateComponents(hour: c.hour, minute: c.minute), matchingPolicy: .nextTimePreservingSmallerComponents)
            ?? calendar.date(from: c)!
    }
}
