import Foundation

/// What is due on a case, in the order an agent works it (Docs/work-queue.md). A level is the
/// first ordering of the queue; the score orders cases within it.
public enum QueueLevel: Int, Sendable, CaseIterable, Codable {
    /// The debtor asked to be called back at a time, and it has come.
    case callbackDue = 1
    /// A promise to pay falls due today: a courtesy call before it breaks.
    case promiseDue = 2
    /// A promise was broken: back to the top of the routine work.
    case brokenPromise = 3
    /// A payment plan's instalment was missed.
    case planMissed = 4
    /// A case never worked since its placement.
    case newPlacement = 5
    /// A follow-up the agent (or an outcome's default) scheduled.
    case followUp = 6
    /// A letter of the case's strategy is due (the strategies module schedules them).
    case letterStep = 7

    public var name: String {
        switch self {
        case .callbackDue: "callback_due"
        case .promiseDue: "promise_due"
        case .brokenPromise: "broken_promise"
        case .planMissed: "plan_missed"
        case .newPlacement: "new_placement"
        case .followUp: "follow_up"
        case .letterStep: "letter_step"
        }
    }

    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    /// The channel the level's work uses: a letter step writes, the others call.
    public var channel: Channel { self == .letterStep ? .letter : .call }

    public var explanation: String {
        switch self {
        case .callbackDue: "the debtor asked to be called back now"
        case .promiseDue: "a promise to pay falls due today"
        case .brokenPromise: "a promise to pay was broken"
        case .planMissed: "an instalment of the payment plan was missed"
        case .newPlacement: "a new case, not worked yet"
        case .followUp: "a follow-up is due"
        case .letterStep: "a letter of the strategy is due"
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let level = QueueLevel(name: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a queue level"))
        }
        self = level
    }
}

/// The parts of a case's score within its level (Docs/work-queue.md; one definition, the SQL
/// function `work_score_parts`).
public struct ScoreParts: Codable, Sendable, Equatable {
    /// 0-40: ten points per power of ten of the balance in major units.
    public var balance: Int
    /// 0-20: one point per 18 days past the oldest due date.
    public var age: Int
    /// 0-30: the limitation date is near (within 90 days: 30, 180: 20, a year: 10).
    public var limitation: Int
    /// 0-10: one point per three days since the last contact; never contacted: 10.
    public var lastContact: Int

    public var total: Int { balance + age + limitation + lastContact }

    init(_ parts: [Int]) {
        balance = parts.count > 0 ? parts[0] : 0
        age = parts.count > 1 ? parts[1] : 0
        limitation = parts.count > 2 ? parts[2] : 0
        lastContact = parts.count > 3 ? parts[3] : 0
    }
}
