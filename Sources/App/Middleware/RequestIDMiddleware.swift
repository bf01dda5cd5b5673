import HTTPTypes
import Hummingbird
import Logging
import Postgres
import Web

/// Gives every request an ID: the caller's `X-Request-ID` when it is a safe token, else a new
/// random one. It goes into every log line of the request and back in the response.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[.requestID].flatMap(Self.acceptable) ?? Self.generate()
        context.requestID = id
        context.maxBodyBytes = maxBodyBytes
        context.logger[metadataKey: "request_id"] = .string(id)
        var response = try await next(request, context)
        response.headers[.requestID] = id
        return response
    }

    /// 1-64 characters of `[A-Za-z0-9._-]`: nothing that could smuggle text into logs.
    static func acceptable(_ value: String) -> String? {
        guard (1...64).contains(value.utf8.count),
            value.utf8.allSatisfy({ $0 == 45 || $0 == 46 || $0 == 95 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) })
        else { return nil }
        return value
    }

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexString
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-ID")!
}
