import Core
import Foundation
import Hummingbird
import Onboarding
import Web

/// A creditor's saved column mapping: read, set (a new version), its versions.
struct ColumnMappingRoutes {
    let mappings: ColumnMappingBook

    struct MappingBody: Decodable {
        let columns: [String: String]
    }

    func add(to routes: ModuleRoutes) {
        routes.get("/v1/creditors/{creditorId}/column-mapping", .columnMappingRead, onCreditorIn: "creditorId") { _, context in
            guard let saved = try await mappings.current(creditor: try context.creditor(), as: context.principal) else {
                throw Problem(
                    status: 404, code: "not-found", title: "Not found",
                    detail: "This creditor has no saved column mapping: its files are read by the aliases (Docs/placements.md).")
            }
            return saved
        }
        routes.on(.put, "/v1/creditors/{creditorId}/column-mapping", .columnMappingManage, onCreditorIn: "creditorId") { request, context -> Response in
            let body = try await request.decodeJSON(MappingBody.self, context: context)
            let (saved, created) = try await mappings.save(
                body.columns, creditor: try context.creditor(), by: context.principal, requestID: context.requestID)
            var response = try saved.response(from: request, context: context)
            response.status = created ? .created : .ok
            return response
        }
        routes.get("/v1/creditors/{creditorId}/column-mapping/versions", .columnMappingRead, onCreditorIn: "creditorId") { _, context in
            Paged(all: try await mappings.versions(creditor: try context.creditor(), as: context.principal))
        }
    }
}
