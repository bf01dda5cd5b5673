import Postgres

/// Where a case stands (Docs/placements.md, domain "Life of a case"). A case is **live** while
/// open, paused or disputed: a debtor has at most one live case per currency, and new claims of
/// that debtor join it. Closed and recalled cases are over.
public enum CaseStatus: String, Codable, Sendable, CaseIterable, PostgresDecodable {
    case open
    case paused
    case disputed
    case closed
    case recalled

    public var isLive: Bool { Self.live.contains(self) }

    public static let live: [CaseStatus] = [.open, .paused, .disputed]

    /// `('open', 'paused', 'disputed')`, for `status IN \(CaseStatus.liveList)` in set-based
    /// statements (a literal list, so the partial index on live cases can be used).
    public static let liveList = SQL(unsafeRaw: "(" + live.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")")
}
