import Core
import Foundation
import Hummingbird
import Web

/// Refuses request lines the handlers should never have to reason about, naming what is wrong:
/// a path or query holding U+0000 (PostgreSQL text cannot store it: it would be cut there), and a
/// query parameter given twice (`?limit=10&limit=-5` would otherwise be read as its first value,
/// and a proxy or cache in front may read the other one).
struct RequestInputMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let problem = Self.problem(path: request.uri.path, query: request.uri.query) {
            throw problem
        }
        return try await next(request, context)
    }

    /// The problem with a request's path and raw query string, or nil when they are fine.
    static func problem(path: String, query: String?) -> Problem? {
        if path.utf8.contains(0) || path.lowercased().contains("%00") {
            return .badRequest("The path contains a NUL character (U+0000).", field: "path")
        }
        guard let query, !query.isEmpty else { return nil }
        var seen: Set<String> = []
        var errors: [Problem.FieldError] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            let shown = Problem.showable(name)
            if name.unicodeScalars.contains("\u{0}") || value.unicodeScalars.contains("\u{0}") {
                errors.append(.init(field: shown, reason: "contains a NUL character (U+0000)"))
            } else if !seen.insert(name).inserted {
                errors.append(.init(field: shown, reason: "is given more than once; give each query parameter once"))
            }
        }
        guard !errors.isEmpty else { return nil }
        return .badRequest("The query string is not valid.", errors: errors)
    }

    /// Percent-decoding as HTML forms send it (`+` is a space); an invalid escape stays as written.
    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
