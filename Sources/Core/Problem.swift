/// An RFC 9457 problem: the one error shape every module throws to clients.
///
/// `type` is a stable machine-readable code (`https://relance.dev/problems/<code>`), `title` a
/// short human summary of that code, `detail` this occurrence. Problems must never carry
/// personal data: name fields and rows, never quote their values.
public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var title: String
    public var detail: String?
    /// Which input was wrong: a JSON pointer-like field path, a header or a parameter name.
    public var errors: [FieldError]
    /// Seconds after which a retry may succeed (`Retry-After`), for 429 and 503.
    public var retryAfter: Int?

    public struct FieldError: Sendable, Equatable, Codable {
        /// The field, e.g. `creditor.siren`, or `row 42: amount`.
        public var field: String
        public var reason: String

        public init(field: String, reason: String) {
            self.field = field
            self.reason = reason
        }
    }

    public init(status: Int, code: String, title: String, detail: String? = nil, errors: [FieldError] = [], retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.retryAfter = retryAfter
    }

    public var type: String { "https://relance.dev/problems/\(code)" }

    public var description: String { "Problem(\(status) \(code))" }

    // MARK: - The common ones

    public static func validation(_ errors: [FieldError], detail: String? = nil) -> Problem {
        Problem(status: 422, code: "validation-failed", title: "The request is not valid", detail: detail, errors: errors)
    }

    public static func badRequest(_ detail: String, field: String? = nil) -> Problem {
        badRequest(detail, errors: field.map { [FieldError(field: $0, reason: detail)] } ?? [])
    }

    /// Several inputs that could not be read (400), each named.
    public static func badRequest(_ detail: String, errors: [FieldError]) -> Problem {
        Problem(status: 400, code: "bad-request", title: "The request could not be read", detail: detail, errors: errors)
    }

    /// A field name as it may be shown: U+0000, which a log or a terminal would cut the text at,
    /// written as the JSON escape `\u0000`.
    public static func showable(_ name: String) -> String {
        name.replacingOccurrences(of: "\u{0}", with: "\\u0000")
    }

    /// Missing and foreign objects answer the same, so existence never leaks across tenants.
    public static func notFound(_ what: String = "resource") -> Problem {
        Problem(status: 404, code: "not-found", title: "Not found", detail: "No such \(what).")
    }

    public static let unauthorized = Problem(
        status: 401, code: "unauthorized", title: "Authentication required", detail: "Send a valid bearer token.")

    public static let forbidden = Problem(
        status: 403, code: "forbidden", title: "Not allowed", detail: "Your role does not allow this action.")

    public static func conflict(_ detail: String) -> Problem {
        Problem(status: 409, code: "conflict", title: "Conflict", detail: detail)
    }

    public static func tooLarge(limit: Int) -> Problem {
        Problem(status: 413, code: "payload-too-large", title: "Request body too large", detail: "The limit is \(limit) bytes.")
    }

    public static let unavailable = Problem(
        status: 503, code: "unavailable", title: "Service unavailable", detail: "Try again shortly.")
}
