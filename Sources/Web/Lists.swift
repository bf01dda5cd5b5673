import Foundation
import Hummingbird
import Core

/// Keyset pagination: `?limit=` (1-200, default 50) and `?after=<id>`.
public struct Page: Sendable {
    public let limit: Int
    public let after: UUID?

    public init(_ request: Request) throws {
        let query = request.uri.queryParameters
        if let text = query.get("limit") {
            guard let value = Int(text), (1...200).contains(value) else {
                throw Problem.validation([.init(field: "limit", reason: "must be a whole number from 1 to 200")])
            }
            limit = value
        } else {
            limit = 50
        }
        if let text = query.get("after") {
            guard let id = UUID(uuidString: text) else { throw Problem.validation([.init(field: "after", reason: "must be an ID from a previous page")]) }
            after = id
        } else {
            after = nil
        }
    }
}

extension Request {
    /// A UUID query parameter (`?teamId=`), nil when absent; anything else is a 422 naming it.
    public func uuidQuery(_ name: String, what: String) throws -> UUID? {
        try uri.queryParameters.get(name).map { text in
            guard let id = UUID(uuidString: text) else { throw Problem.validation([.init(field: name, reason: "must be \(what)'s ID")]) }
            return id
        }
    }
}

/// A page of results; `next` is the `after` value for the following page.
public struct Paged<Item: Encodable & Sendable>: ResponseEncodable, Sendable {
    public let items: [Item]
    public let next: UUID?

    /// A complete list, in one page: `{"items": [...]}` (a creditor's mandates, fee schedules,
    /// API keys: a few each).
    public init(all items: [Item]) {
        self.items = items
        self.next = nil
    }

    public init(items: [Item], limit: Int, id: (Item) -> UUID) {
        self.items = items
        self.next = items.count == limit ? items.last.map(id) : nil
    }
}
