import Core
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Postgres
import Synchronization
import Web

/// Turns every error into an RFC 9457 `application/problem+json` response.
///
/// Known errors keep their status and say what was wrong with the input; anything unexpected
/// becomes a 500 that carries the request ID and nothing else. Logs name the error's type and
/// safe description only (`PostgresError.description` never quotes row data).
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    /// The router's own routes, so a served path asked with another method answers 405 with
    /// `Allow` instead of the router's 404.
    var routes = RouteTable()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else {
                return Self.response(Self.problem(for: error, context: context), requestID: context.requestID)
            }
            var response = Self.response(
                Problem(
                    status: 405, code: "method-not-allowed", title: "Method not allowed",
                    detail: "\(request.method.rawValue) is not allowed here; see Allow."),
                requestID: context.requestID)
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        } catch {
            let problem = Self.problem(for: error, context: context)
            if problem.status >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(Self.safeDescription(error))", "status": "\(problem.status)"])
            }
            return Self.response(problem, requestID: context.requestID)
        }
    }

    static func problem(for error: any Error, context: Context) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as HTTPError:
            return problem(for: error, limit: context.maxBodyBytes)
        case let error as DecodingError:
            return Problem.decoding(error)
        case let error as PostgresError where error.kind == .commitOutcomeUnknown:
            return Problem(
                status: 500, code: "outcome-unknown", title: "Outcome unknown",
                detail: "The database connection was lost while saving; check before retrying, or retry with the same Idempotency-Key.")
        case let error as PostgresError where error.kind == .invalidParameter || error.sqlState == "22021":
            // A text value PostgreSQL cannot hold (U+0000): refused before it was stored.
            return .badRequest("A text value contains a NUL character (U+0000), which cannot be stored.")
        case let error as PostgresError where error.kind == .poolTimeout || error.kind == .poolClosed || error.isConnectionLoss:
            return .unavailable
        case is NIOTooManyBytesError:
            return .tooLarge(limit: context.maxBodyBytes)
        default:
            return Problem(status: 500, code: "internal", title: "Internal error", detail: "Quote the request ID to support.")
        }
    }

    static func problem(for error: HTTPError, limit: Int) -> Problem {
        let status = Int(error.status.code)
        switch status {
        case 404: return .notFound()
        case 405: return Problem(status: 405, code: "method-not-allowed", title: "Method not allowed")
        case 413: return .tooLarge(limit: limit)
        case 401: return .unauthorized
        case 403: return .forbidden
        default:
            // Hummingbird's own messages describe the request's form, never its content.
            return Problem(
                status: status, code: status >= 500 ? "internal" : "bad-request",
                title: error.status.reasonPhrase, detail: status >= 500 ? nil : error.body)
        }
    }

    static func safeDescription(_ error: any Error) -> String {
        if let error = error as? PostgresError { return error.description }
        if let error = error as? Problem { return error.description }
        return String(describing: type(of: error))
    }

    static func response(_ problem: Problem, requestID: String) -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if problem.status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        if let seconds = problem.retryAfter {
            headers[.retryAfter] = String(seconds)
        } else if problem.status == 429 {
            headers[.retryAfter] = "900"  // the login throttle's window
        }
        return Response(status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: body(problem, requestID: requestID)))
    }

    static func body(_ problem: Problem, requestID: String) -> ByteBuffer {
        struct Body: Encodable {
            let type: String
            let title: String
            let status: Int
            let detail: String?
            let errors: [Problem.FieldError]?
            let requestId: String
        }
        let body = Body(
            type: problem.type, title: problem.title, status: problem.status, detail: problem.detail,
            errors: problem.errors.isEmpty ? nil : problem.errors, requestId: requestID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        return ByteBuffer(bytes: data)
    }
}

/// Path templates (`/v1/creditors/{creditorId}`) and their methods, read from the router once
/// its routes are added (`load`): the middleware is built before them.
final class RouteTable: Sendable {
    private let templates = Mutex<[(segments: [Substring], methods: Set<String>)]>([])

    /// Takes the router's routes: `(method, path template)`.
    func load(_ routes: [(method: String, path: String)]) {
        var byPath: [String: Set<String>] = [:]
        for route in routes { byPath[route.path, default: []].insert(route.method) }
        let loaded = byPath.map { (path, methods) in (segments: path.split(separator: "/"), methods: methods) }
        templates.withLock { $0 = loaded }
    }

    /// The methods served for the template a path matches, sorted; empty when none does.
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        var found: Set<String> = []
        for template in templates.withLock({ $0 }) where template.segments.count == segments.count {
            let matches = zip(template.segments, segments).allSatisfy { pattern, segment in
                (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern == segment
            }
            if matches { found.formUnion(template.methods) }
        }
        return found.sorted()
    }
}
