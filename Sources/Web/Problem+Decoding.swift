import Core
import Foundation

extension Problem {
    /// Names the field at fault (its JSON path) without echoing the value.
    public static func decoding(_ error: DecodingError) -> Problem {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (last.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "body" : text.replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .validation([.init(field: path(context.codingPath, key), reason: "is required")])
        case .typeMismatch(let type, let context):
            return .validation([.init(field: path(context.codingPath), reason: "must be \(describe(type))")])
        case .valueNotFound(let type, let context):
            return .validation([.init(field: path(context.codingPath), reason: "must be \(describe(type)), not null")])
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return .badRequest("The body is not valid JSON.")
            }
            return .validation([.init(field: path(context.codingPath), reason: "has an invalid value")])
        @unknown default:
            return .badRequest("The body could not be decoded.")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: return "an integer"
        case is Bool.Type: return "true or false"
        case is Double.Type: return "a number"
        default: return "of type \(type)"
        }
    }
}
