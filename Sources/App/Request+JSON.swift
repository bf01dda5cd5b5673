import Core
import Foundation
import Hummingbird

extension Request {
    /// Decodes a JSON body of at most the context's body limit.
    /// - Throws: `Problem`: 413 over the limit, 415 when not JSON, 400 for unreadable JSON,
    ///   422 naming the field that is missing or of the wrong type.
    func decodeJSON<T: Decodable>(_ type: T.Type, context: AppRequestContext) async throws -> T {
        if let contentType = headers[.contentType]?.lowercased(), !contentType.hasPrefix("application/json") {
            throw Problem(status: 415, code: "unsupported-media-type", title: "Unsupported media type", detail: "Send application/json.")
        }
        if let length = headers[.contentLength].flatMap(Int.init), length > context.maxBodyBytes {
            throw Problem.tooLarge(limit: context.maxBodyBytes)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxBodyBytes)
        } catch {
            throw Problem.tooLarge(limit: context.maxBodyBytes)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw ProblemMiddleware.decodingProblem(error)
        }
    }
}
