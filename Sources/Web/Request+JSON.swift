import Core
import Foundation
import Hummingbird

extension Request {
    /// Decodes a JSON body of at most the context's body limit.
    /// - Throws: `Problem`: 413 over the limit, 415 when not JSON, 400 for unreadable JSON,
    ///   422 naming the field that is missing or of the wrong type.
    public func decodeJSON<T: Decodable>(_ type: T.Type, context: some RelanceRequestContext) async throws -> T {
        guard let contentType = headers[.contentType]?.lowercased(), contentType.hasPrefix("application/json") else {
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
        let data = Data(buffer: buffer)
        let value: T
        do {
            value = try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw Problem.decoding(error)
        }
        let nulFields = JSONNulScan.fields(in: data)
        if !nulFields.isEmpty {
            throw Problem.badRequest(
                "Text values cannot contain the NUL character (U+0000).",
                errors: nulFields.map { .init(field: $0, reason: "contains a NUL character (U+0000)") })
        }
        return value
    }
}

/// Finds the JSON strings (values or keys) that hold U+0000. PostgreSQL text cannot store it,
/// so such input is refused whole, naming each field, rather than stored cut at the NUL.
public enum JSONNulScan {
    /// The paths (`creditor.city`, `items[2].name`) of every string holding U+0000; empty for
    /// the usual body, which is checked by one byte scan for the `\u0000` escape.
    public static func fields(in data: Data) -> [String] {
        let escape = Array("\\u0000".utf8)
        guard data.firstRange(of: escape) != nil,
            let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        else { return [] }
        var found: [String] = []
        walk(object, path: "", into: &found)
        return found
    }

    private static func walk(_ value: Any, path: String, into found: inout [String]) {
        switch value {
        case let text as String:
            if text.unicodeScalars.contains("\u{0}") { found.append(path.isEmpty ? "body" : path) }
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                let child = path.isEmpty ? key : "\(path).\(key)"
                if key.unicodeScalars.contains("\u{0}") {
                    found.append((path.isEmpty ? "" : path + ".") + Problem.showable(key))
                    continue
                }
                walk(object[key]!, path: child, into: &found)
            }
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                walk(element, path: "\(path)[\(index)]", into: &found)
            }
        default:
            break
        }
    }
}
